"""Suite `loader`: end to end, a DataLoader with 2 workers over in-memory decoded images (COCO-like raw sizes),
images per second until a normalized, padded (divisor 32) batch of 8 is on the target device.

- fastload: workers return the raw BGR uint8 image; PadCollate(pack=True) writes one packed uint8 buffer per batch
  into the worker's shared-memory ring (fastload.ring); DevicePrefetcher moves it (non_blocking on CUDA, from the
  page-locked ring) and normalizes + pads it there with one kernel. "ring off": the same with a new shared-memory
  segment per batch (torch's path).
- torchvision: the usual way: each worker runs ToImage + BGR flip + ToDtype + Normalize, a collate function pads and
  stacks the float images, then `.to(device)`: four times the bytes through the workers and over PCIe.
The timed call is one epoch; the last batch of each is compared.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

import fastload as fl
from fastload.bench.core import FASTLOAD, REFERENCE, TORCHVISION, Case, Impl, copy_floor, suite, with_backend

NORM = fl.IMAGENET
MEAN_UNIT, STD_UNIT = NORM.unit()
RAW_SIZES = [(480, 640), (427, 640), (640, 480), (375, 500), (640, 427), (424, 640), (512, 640), (480, 600)]
BATCH = 8


class RawImages(Dataset):
    """Decoded BGR uint8 images held in memory (what a decoder cache or a fast decoder hands over)."""

    def __init__(self, images: list[np.ndarray]):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], i


class TorchvisionImages(RawImages):
    """The same images through torchvision v2 transforms in the worker: float32 CHW RGB, normalized."""

    def __getitem__(self, i):
        from torchvision.transforms import v2

        x = v2.functional.to_image(self.images[i]).flip(0)
        x = v2.functional.to_dtype(x, torch.float32, scale=True)
        return v2.functional.normalize(x, MEAN_UNIT, STD_UNIT).as_subclass(torch.Tensor), i


def pad_stack_collate(samples: list) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad float CHW images to the batch's max size rounded up to 32 (right/bottom, value 0) and stack."""
    images = [img for img, _ in samples]
    hp = -(-max(t.shape[1] for t in images) // 32) * 32
    wp = -(-max(t.shape[2] for t in images) // 32) * 32
    padded = [torch.nn.functional.pad(t, (0, wp - t.shape[2], 0, hp - t.shape[1])) for t in images]
    return torch.stack(padded), torch.tensor([i for _, i in samples])


def _epoch(loader, device: str) -> torch.Tensor:
    """Runs one epoch; returns the last batch's images on `device`."""
    last = None
    for images, _ in loader:
        last = images.to(device, non_blocking=True)
    if device == "cuda":
        torch.cuda.synchronize()
    return last


@suite("loader")
def cases(settings) -> list[Case]:
    device = settings.device
    count = 64 if settings.scale < 1 or settings.min_time < 0.1 else 256
    s = min(1.0, settings.scale)
    sizes = [(max(1, round(h * s)), max(1, round(w * s))) for h, w in RAW_SIZES]
    images = [settings.source.image(*sizes[i % len(sizes)], i) for i in range(count)]
    pin = device == "cuda"
    common = dict(batch_size=BATCH, num_workers=2, persistent_workers=True, pin_memory=pin)
    fast_loader = DataLoader(RawImages(images), collate_fn=fl.PadCollate(pack=True), **common)
    prefetcher = fl.DevicePrefetcher(fast_loader, device, NORM, size_divisor=32)
    no_ring_loader = DataLoader(RawImages(images), collate_fn=fl.PadCollate(pack=True, ring=False), **common)
    no_ring = fl.DevicePrefetcher(no_ring_loader, device, NORM, size_divisor=32)
    tv_loader = DataLoader(TorchvisionImages(images), collate_fn=pad_stack_collate, **common)
    worker_loader = DataLoader(RawImages(images), collate_fn=fl.PadCollate(NORM, size_divisor=32), **common)

    raw_bytes = sum(img.size for img in images)
    float_bytes = 0
    for i in range(0, count, BATCH):
        group = images[i : i + BATCH]
        hp, wp = fl.geometry.batch_extent([img.shape[:2] for img in group], 32, None)
        float_bytes += len(group) * 3 * hp * wp * 4
    batches = -(-count // BATCH)
    impls = [
        Impl(FASTLOAD, lambda: _epoch(prefetcher, device),
             note=f"PadCollate(pack=True) + DevicePrefetcher; {raw_bytes / batches / 1e6:.1f} MB uint8 per batch "
                  "to the device"),
        Impl(f"{FASTLOAD} (ring off)", lambda: _epoch(no_ring, device),
             note="the same pipeline with PadCollate(ring=False): a new shared-memory segment per batch"),
        Impl(REFERENCE, with_backend("reference", lambda: _epoch(prefetcher, device)),
             note="the same pipeline with the pure-PyTorch ops"),
        Impl(f"{FASTLOAD} (PadCollate(norm) in workers)", lambda: _epoch(worker_loader, device),
             note="one fused pass per batch in the workers; float batches to the device"),
        Impl(TORCHVISION, lambda: _epoch(tv_loader, device),
             note=f"v2 in workers + pad/stack collate + .to(); {float_bytes / batches / 1e6:.1f} MB float per batch "
                  "to the device"),
        copy_floor(raw_bytes + float_bytes, device),
    ]
    label = f"{count} COCO-like raw images, batches of {BATCH}" + ("" if s == 1 else f" (x{s:g})")
    return [Case("loader", label, device, raw_bytes + float_bytes, count, impls, {}, tolerance=1e-4, reps=3)]
