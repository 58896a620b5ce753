"""What crosses PCIe, and GPU decoding (a step of scripts/gpu_check.sh).

Per batch of a DevicePrefetcher over a 2-worker DataLoader, from torch.profiler's memcpy events: PadCollate(pack=True)
(8 COCO-like images), CropCollate(224) without norm (32 ImageNet-like images) and CropCollate(224,
decode_on="device") (32 JPEG files): host-to-device should be the packed uint8 (or the files' bytes) plus the
descriptors and tap tables, device-to-host nothing.

Then a batch of 256 ImageNet-style JPEG files, decoded and cropped on the device the way DevicePrefetcher does it
for `CropCollate(224, decode_on="device")` (nvJPEG through torchvision + the fused crop), against the exact CPU path
(`CropCollate(224, norm)`, the same boxes):

- the time of the collate's share (headers read, boxes drawn, bytes packed) and of decode + crop on the device
  (median of 5 after a warm-up);
- the bytes each direction over PCIe during one decode + crop, from torch.profiler's memcpy events (host-to-device
  should be about the files' bytes plus descriptors; device-to-host none);
- how far nvJPEG's pixels put the uint8 crops from the exact path (mean and largest difference, grey levels);
- host-to-device copy rates from pageable and from pinned memory.

Usage: python scripts/gpu_transfers.py OUT.json [--device cuda|cpu] (cpu: the same steps without nvJPEG, to try
the script on a machine without a GPU; no PCIe figures).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import torch

import fastload as fl
from fastload.bench.data import ImageSource
from fastload.bench.file_loaders import write_tree
from fastload.bench.suites.crop import RAW_SIZES
from fastload.bench.suites.loader import RAW_SIZES as DETECTION_SIZES


def timed(fn, device, runs: int = 5) -> tuple[float, object]:
    result = fn()  # warm-up: nvJPEG handles, the output cache, the kernels' first launch
    times = []
    for _ in range(runs):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        result = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, result


def copied_bytes(fn) -> dict:
    """Bytes of each memcpy kind during fn(), read from the profiler's trace (its events' 'bytes' argument)."""
    from torch.profiler import ProfilerActivity, profile

    cuda = torch.cuda.is_available()
    with profile(activities=[ProfilerActivity.CPU] + [ProfilerActivity.CUDA] * cuda) as prof:
        fn()
        if cuda:
            torch.cuda.synchronize()
    path = os.path.join(tempfile.mkdtemp(), "trace.json")
    prof.export_chrome_trace(path)
    totals: dict = {}
    for event in json.load(open(path)).get("traceEvents", []):
        name = event.get("name", "")
        if event.get("cat") in ("gpu_memcpy", "Memcpy") or name.startswith("Memcpy"):
            kind = "HtoD" if "HtoD" in name else "DtoH" if "DtoH" in name else "DtoD" if "DtoD" in name else name
            totals[kind] = totals.get(kind, 0) + int(event.get("args", {}).get("bytes", 0))
    return totals


def copy_rates(device) -> dict:
    """GB/s of a 64 MiB host-to-device copy from pageable and from pinned memory (median of 5): what page-locking
    the rings buys."""
    if device.type != "cuda":
        return {}
    n = 64 << 20
    dst = torch.empty(n, dtype=torch.uint8, device=device)
    rates = {}
    for name, pinned in (("pageable", False), ("pinned", True)):
        src = torch.empty(n, dtype=torch.uint8, pin_memory=pinned)
        ms, _ = timed(lambda src=src: dst.copy_(src, non_blocking=True), device)
        rates[f"h2d_{name}_gb_s"] = round(n / ms / 1e6, 2)
    return rates


def per_batch_bytes(loader, device, norm, **kw) -> dict:
    """Memcpy bytes of one DevicePrefetcher batch (the second: the first warms the ring up), and the bytes of the
    host batch's images (packed uint8 or files)."""
    prefetcher = fl.DevicePrefetcher(loader, device, norm, **kw)
    it = iter(prefetcher)
    next(it)
    totals = copied_bytes(lambda: next(it))
    it.close()
    return totals


class Files(torch.utils.data.Dataset):
    """(EncodedImage, index) samples over a list of files."""

    def __init__(self, folder):
        self.folder = folder

    def __len__(self):
        return len(self.folder)

    def __getitem__(self, i):
        return self.folder[i][0], i


def pcie(device, folder) -> dict:
    source = ImageSource()
    detection = [(img, i) for i, img in enumerate(source.images(DETECTION_SIZES, 32))]
    crops = [(img, i) for i, img in enumerate(source.images(RAW_SIZES, 96))]
    loaders = {
        "pad_collate_pack_8": (
            torch.utils.data.DataLoader(detection, batch_size=8, num_workers=2, collate_fn=fl.PadCollate(pack=True)),
            {"size_divisor": 32},
            sum(img.nbytes for img, _ in detection[8:16]),
        ),
        "crop_collate_32": (
            torch.utils.data.DataLoader(crops, batch_size=32, num_workers=2, collate_fn=fl.CropCollate(224)),
            {},
            sum(img.nbytes for img, _ in crops[32:64]),
        ),
        "crop_collate_files_32": (
            torch.utils.data.DataLoader(
                Files(folder), batch_size=32, num_workers=2, collate_fn=fl.CropCollate(224, decode_on="device")
            ),
            {},
            sum(folder[i][0].data.numel() for i in range(32, 64)),
        ),
    }
    return {
        name: dict(images_bytes=nbytes, memcpy=per_batch_bytes(loader, device, fl.IMAGENET, **kw))
        for name, (loader, kw, nbytes) in loaders.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--count", type=int, default=256)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_transfers: no CUDA GPU here", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    folder = fl.ImageFolder(write_tree(ImageSource(), RAW_SIZES, args.count, 1.0))
    samples = [folder[i] for i in range(len(folder))]
    shipped, exact = fl.CropCollate(224, decode_on="device"), fl.CropCollate(224)

    def collate():
        torch.manual_seed(0)
        return shipped(samples)[0]

    collate_ms, batch = timed(collate, torch.device("cpu"))
    decode_ms, crops = timed(lambda: batch.finish(fl.IMAGENET, device=device), device)

    def exact_batch():
        torch.manual_seed(0)
        return exact(samples)[0].finish(fl.IMAGENET)

    exact_ms, _ = timed(exact_batch, torch.device("cpu"), runs=3)
    torch.manual_seed(0)
    reference = exact(samples)[0]  # its decoded regions live until this collate's next call
    diff = (batch.finish(None, device=device).cpu().int() - reference.finish(None).int()).abs()
    result = dict(
        device=str(torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"),
        images=len(samples),
        file_bytes=batch.images.nbytes,
        decoded_bytes=int(sum(h * w * 3 for h, w in batch.images.sizes.tolist())),
        output_shape=list(crops.shape),
        collate_ms=round(collate_ms, 2),
        decode_crop_ms=round(decode_ms, 2),
        images_per_s=round(len(samples) / decode_ms * 1e3, 1),
        exact_cpu_decode_crop_ms_1_thread=round(exact_ms, 2),
        uint8_diff_mean=round(float(diff.float().mean()), 3),
        uint8_diff_max=int(diff.max()),
    )
    result["memcpy_bytes"] = copied_bytes(lambda: batch.finish(fl.IMAGENET, device=device))
    result.update(copy_rates(device))
    json.dump(result, open(args.out, "w"), indent=1)  # written now too: the per-batch loaders take longest
    result["per_batch"] = pcie(device, folder)  # on the CPU: the same steps, no memcpy events
    json.dump(result, open(args.out, "w"), indent=1)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
