"""How long building an ImageFolder takes on a large tree: torchvision's scan, fastload's scan, fastload writing its
index, and fastload reusing it (one stat per folder instead of listing every file). Each with a warm page cache and,
when this process may drop the kernel's caches (root on Linux), a cold one: the nearest this machine comes to a
network filesystem, where every listing is a round trip.

Usage: python scripts/folder_index_bench.py [--files 100000] [--classes 100] [--repeat 3] [--dir DIR] [--json F]
The tree (empty files: a scan reads names, not contents) is made in DIR (default: a temporary folder) and kept there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

from torchvision.datasets import ImageFolder as TorchvisionFolder

import fastload as fl


def make_tree(root: str, files: int, classes: int) -> None:
    if os.path.isdir(os.path.join(root, f"c{classes - 1:04d}")):
        return
    per_class = files // classes
    for c in range(classes):
        folder = os.path.join(root, f"c{c:04d}")
        os.makedirs(folder)
        for i in range(per_class):
            open(os.path.join(folder, f"img_{c:04d}_{i:07d}.JPEG"), "wb").close()
    past = time.time() - 60  # an older tree than the index (a folder changed in the last 2 s is always rescanned)
    for dirpath, _, _ in os.walk(root):
        os.utime(dirpath, (past, past))


def drop_caches() -> bool:
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def timed(build, cold: bool, repeat: int) -> float:
    """Median seconds of `build()` over `repeat` runs, each after dropping the caches when `cold`."""
    times = []
    for _ in range(repeat):
        if cold:
            drop_caches()
        start = time.perf_counter()
        build()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    root = os.path.join(args.dir or tempfile.mkdtemp(prefix="fastload_index_"), "tree")
    make_tree(root, args.files, args.classes)
    index = root + ".index"

    def write():
        if os.path.exists(index):
            os.unlink(index)
        assert fl.ImageFolder(root, index=index).index_state == "written"

    def reuse():
        assert fl.ImageFolder(root, index=index).index_state == "reused"

    cases = {
        "torchvision ImageFolder (scan)": lambda: TorchvisionFolder(root, loader=lambda path: path),
        "fastload ImageFolder, no index (scan)": lambda: fl.ImageFolder(root),
        "fastload, index written (scan + write)": write,
        "fastload, index reused (stat per folder)": reuse,
    }
    cold_ok = drop_caches()
    results = {}
    print(f"{len(fl.ImageFolder(root))} files in {args.classes} class folders")
    print(f"{'case':44s} {'warm ms':>9s} {'cold ms':>9s}")
    for name, build in cases.items():
        warm = timed(build, False, args.repeat)
        cold = timed(build, True, args.repeat) if cold_ok else None
        results[name] = {"warm_s": warm, "cold_s": cold}
        print(f"{name:44s} {warm * 1e3:9.1f} {'-' if cold is None else f'{cold * 1e3:9.1f}':>9s}")
    base = results["torchvision ImageFolder (scan)"]
    reused = results["fastload, index reused (stat per folder)"]
    for key in ("warm_s", "cold_s"):
        if base[key] and reused[key]:
            print(f"reused index vs torchvision's scan, {key[:-2]}: {base[key] / reused[key]:.1f}x faster")
    print(f"index: {os.path.getsize(index):,} B")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"files": args.files, "classes": args.classes, "index_bytes": os.path.getsize(index), "cases": results},
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
