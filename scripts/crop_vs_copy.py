"""The fused crop against a copy of its output, per SIMD path: issue 22's "crop <= 2.5x a copy" measurement.

64 ImageNet-like images (the crop suite's sizes and boxes) -> 224x224 fp32 normalized, written into a preallocated
`out=` batch with 2 threads (or --threads), train (RandomResizedCrop boxes + flips) and eval (Resize 256 +
CenterCrop 224). Each round times a copy of the output's 38.5 MB into preallocated memory right before each crop,
so the two share the machine's state of the moment; the ratio printed is the median of the per-round ratios.

    .venv/bin/python scripts/crop_vs_copy.py [--rounds 60] [--threads 2] [--dtype float32]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import fastload as fl
from fastload.bench.data import ImageSource
from fastload.bench.suites.crop import COUNT, RAW_SIZES, SIZE

CAPS = {"avx512": "AVX-512 (VBMI where the CPU has it)", "avx2": "AVX2", "none": "portable"}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--caps", nargs="+", default=["avx512", "avx2"], choices=list(CAPS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    images = [torch.from_numpy(img) for img in ImageSource().images(RAW_SIZES, COUNT)]
    generator = torch.Generator().manual_seed(0)
    boxes = [fl.random_resized_crop_params(img.shape[0], img.shape[1], generator=generator) for img in images]
    flips = (torch.rand(COUNT, generator=generator) < 0.5).tolist()
    out = torch.empty(COUNT, 3, SIZE, SIZE, dtype=dtype)
    src, dst = torch.ones_like(out), torch.empty_like(out)
    crops = {
        "train": lambda: fl.resized_crop_batch(images, boxes, SIZE, fl.IMAGENET, flips=flips, dtype=dtype, out=out),
        "eval": lambda: fl.resize_center_crop_batch(images, 256, SIZE, fl.IMAGENET, dtype=dtype, out=out),
    }
    print(
        f"{COUNT} images -> {SIZE}x{SIZE} {args.dtype}, {args.threads} threads, {args.rounds} rounds; "
        f"copy of the output: {out.numel() * out.element_size() / 1e6:.1f} MB"
    )
    for cap in args.caps:
        with fl._backend.cpu_simd(cap):
            for name, crop in crops.items():
                crop(), dst.copy_(src)  # warm: caches, page faults
                copies, times = [], []
                for _ in range(args.rounds):
                    copies.append(_timed(lambda: dst.copy_(src)))
                    times.append(_timed(crop))
                ratio = float(np.median(np.array(times) / np.array(copies)))
                print(
                    f"  {CAPS[cap]:<36} {name:<5}: crop median {np.median(times) * 1e3:6.2f} ms, copy median "
                    f"{np.median(copies) * 1e3:5.2f} ms, crop / copy (median of rounds) {ratio:.2f}x"
                )


if __name__ == "__main__":
    main()
