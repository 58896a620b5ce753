"""The figures a GPU check must print to count as a pass (the last step of scripts/gpu_check.sh), read from what the
earlier steps left in its log folder; exits 1 naming every figure that is missing:

- each kernel suite's fastload row on CUDA as a fraction of a same-bytes device copy (bench_cuda.json, `x_floor`);
- decode + crop of 256 JPEG files on the GPU, images/s, and its distance from the exact CPU path (gpu_transfers.json);
- bytes over PCIe per batch, host to device and device to host, for each collate (gpu_transfers.json `per_batch`);
- host-to-device GB/s from pageable and from pinned memory (gpu_transfers.json);
- the error count of each compute-sanitizer tool over the kernel driver (<tool>.log: "ERROR SUMMARY: N errors").

Usage: python scripts/gpu_figures.py LOG_DIR
"""

from __future__ import annotations

import json
import os
import re
import sys

SUITES = ("normalize", "denormalize", "batch", "resize", "crop")
SANITIZERS = ("memcheck", "racecheck", "synccheck", "initcheck")


def load(path: str) -> dict | None:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main() -> int:
    logs = sys.argv[1]
    lines, missing = [], []
    bench = load(os.path.join(logs, "bench_cuda.json")) or {"cases": []}
    for suite in SUITES:
        rows = [
            (case["case"], result["x_floor"])
            for case in bench["cases"]
            if case["suite"] == suite and case["device"] == "cuda"
            for result in case["results"]
            if result["impl"] == "fastload" and result.get("x_floor")
        ]
        if not rows:
            missing.append(f"bench {suite} on CUDA")
        lines += [f"{suite}: {case}: {x:.2f}x the time of a same-bytes device copy" for case, x in rows]
    transfers = load(os.path.join(logs, "gpu_transfers.json")) or {}
    if "images_per_s" in transfers and transfers.get("device", "cpu") != "cpu":
        lines.append(
            f"decode + crop of {transfers['images']} JPEG files on the GPU: {transfers['images_per_s']} images/s "
            f"({transfers['decode_crop_ms']} ms); uint8 crops vs the exact CPU path: mean "
            f"{transfers['uint8_diff_mean']}, max {transfers['uint8_diff_max']} grey levels"
        )
    else:
        missing.append("decode + crop images/s on the GPU")
    per_batch = transfers.get("per_batch") or {}
    for name, figures in per_batch.items():
        memcpy = figures.get("memcpy", {})
        lines.append(
            f"PCIe per batch, {name}: {memcpy.get('HtoD', 0)} bytes host to device ({figures['images_bytes']} bytes "
            f"of images or files), {memcpy.get('DtoH', 0)} device to host"
        )
    if not any(figures.get("memcpy") for figures in per_batch.values()):
        missing.append("bytes over PCIe per batch")
    if "h2d_pinned_gb_s" in transfers:
        pageable, pinned = transfers["h2d_pageable_gb_s"], transfers["h2d_pinned_gb_s"]
        lines.append(f"host to device: {pageable} GB/s pageable, {pinned} GB/s pinned")
    else:
        missing.append("pinned vs pageable copy rates")
    for tool in SANITIZERS:
        try:
            text = open(os.path.join(logs, f"{tool}.log"), errors="replace").read()
        except OSError:
            text = ""
        found = re.findall(r"ERROR SUMMARY: (\d+) error", text)
        if found and "driver: ok" in text:
            lines.append(f"compute-sanitizer {tool}: {found[-1]} errors over the kernel driver")
        else:
            missing.append(f"compute-sanitizer {tool} count")
    print("\n".join(lines))
    if missing:
        print("missing: " + "; ".join(missing))
        return 1
    print("figures: all there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
