"""RSS of the main process and new /dev/shm entries over 2,000 batches of the documented CPU pipeline
(PadCollate(pack=True) + DevicePrefetcher, 2 workers, COCO-like random images, glibc's default allocator).

Usage: python scripts/loader_memory.py ring|off
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
from torch.utils.data import DataLoader

import fastload as fl
from fastload.bench.suites.loader import RAW_SIZES, RawImages

BATCHES = 2000


def rss_mib() -> int:
    with open("/proc/self/statm") as f:
        return (int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")) >> 20


def main() -> None:
    use_ring = sys.argv[1:] != ["off"]
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (*RAW_SIZES[i % len(RAW_SIZES)], 3), dtype=np.uint8) for i in range(256)]
    loader = DataLoader(
        RawImages(images),
        batch_size=8,
        num_workers=2,
        persistent_workers=True,
        collate_fn=fl.PadCollate(pack=True, ring=use_ring),
    )
    batches = fl.DevicePrefetcher(loader, "cpu", fl.IMAGENET, size_divisor=32)
    shm_before = set(os.listdir("/dev/shm"))
    n, marks, start = 0, [], time.perf_counter()
    while n < BATCHES:
        for _ in batches:
            n += 1
            if n in (100, 500, 1000, 1500, BATCHES):
                marks.append((n, rss_mib()))
            if n >= BATCHES:
                break
    print(
        f"ring={'on' if use_ring else 'off'}: {n} batches in {time.perf_counter() - start:.1f} s; "
        f"RSS MiB at batch {marks}; new /dev/shm entries: {len(set(os.listdir('/dev/shm')) - shm_before)}"
    )


if __name__ == "__main__":
    main()
