"""Suite `loader`: end to end, a DataLoader with 2 workers over in-memory decoded images, images per second until
the batch is on the target device. The timed call is one epoch; the last batch of each is compared.

Detection: COCO-like raw sizes -> a normalized batch padded to /32, batches of 8.
- fastload: workers return the raw BGR uint8 image; PadCollate(pack=True) writes one packed uint8 buffer per batch
  into the worker's shared-memory ring (fastload.memory.ring); DevicePrefetcher moves it (non_blocking on CUDA, from the
  ring's page-locked mapping; no pin_memory) and normalizes + pads it there with one kernel. "ring off": the same
  with a new shared-memory segment per batch (torch's path; pinned by the DataLoader on CUDA).
- torchvision: the usual way: each worker runs ToImage + BGR flip + ToDtype + Normalize, a collate function pads and
  stacks the float images, then `.to(device)`: four times the bytes through the workers and over PCIe.

Classification (train): ImageNet-like sizes -> RandomResizedCrop 224 + horizontal flip + normalize, batches of 32.
- fastload: CropCollate(224) draws the boxes and flips in the workers and ships the raw images packed through the
  ring; DevicePrefetcher runs the fused crop + resize + flip + normalize (one kernel). Also CropCollate(224, norm):
  the fused pass in the workers.
- torchvision: v2 Compose([RandomResizedCrop(224, antialias=True), RandomHorizontalFlip(), ToDtype, Normalize]) per
  sample in the workers, default collate (stack), `.to(device)`.
Each batch seeds the worker's torch RNG with its first index before anything draws (the datasets' `__getitems__`),
so every epoch of every loader draws the same boxes and flips (CropCollate draws torchvision's way): the last
batches agree within 1 grey level.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

import fastload as fl
from fastload.bench.core import FASTLOAD, REFERENCE, TORCHVISION, Case, Impl, copy_floor, epoch, suite, with_backend
from fastload.bench.suites.crop import GREY_LEVEL
from fastload.bench.suites.crop import RAW_SIZES as CROP_SIZES

NORM = fl.IMAGENET
MEAN_UNIT, STD_UNIT = NORM.unit()
RAW_SIZES = [(480, 640), (427, 640), (640, 480), (375, 500), (640, 427), (424, 640), (512, 640), (480, 600)]
BATCH = 8
CROP, CROPS = 224, 32  # classification output side, batch size


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


class SeededBatches(RawImages):
    """RawImages fetched a batch at a time, the torch RNG seeded by the batch's first index: the random crops of a
    batch are the same in every epoch, whichever worker runs it."""

    def __getitems__(self, indices: list) -> list:
        torch.manual_seed(indices[0])
        return [self[i] for i in indices]


class TorchvisionCrops(SeededBatches):
    """The same images through torchvision v2's classification training transforms in the worker."""

    def __init__(self, images: list[np.ndarray], size: int):
        from torchvision.transforms import v2

        super().__init__(images)
        self.transform = v2.Compose(
            [
                v2.RandomResizedCrop(size, antialias=True),
                v2.RandomHorizontalFlip(),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(MEAN_UNIT, STD_UNIT),
            ]
        )

    def __getitem__(self, i):
        from torchvision.transforms import v2

        x = v2.functional.to_image(self.images[i]).flip(0)  # BGR -> RGB, a view
        return self.transform(x).as_subclass(torch.Tensor), i


def pad_stack_collate(samples: list) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad float CHW images to the batch's max size rounded up to 32 (right/bottom, value 0) and stack."""
    images = [img for img, _ in samples]
    hp = -(-max(t.shape[1] for t in images) // 32) * 32
    wp = -(-max(t.shape[2] for t in images) // 32) * 32
    padded = [torch.nn.functional.pad(t, (0, wp - t.shape[2], 0, hp - t.shape[1])) for t in images]
    return torch.stack(padded), torch.tensor([i for _, i in samples])


def _loader_options(device: str, batch_size: int, prefetched: bool = False) -> dict:
    """DataLoader arguments of a case's loaders: pinned batches for a plain `.to(device)` on CUDA; none for those
    DevicePrefetcher moves (`prefetched`), which copies straight from the rings' page-locked mapping."""
    return dict(
        batch_size=batch_size, num_workers=2, persistent_workers=True, pin_memory=device == "cuda" and not prefetched
    )


def _rows(device: str, prefetcher, note: str, workers: tuple, torchvision: tuple, moved: int, extra=()) -> list:
    """The rows every case has: fastload's prefetcher pipeline (compiled, then `extra`, then the reference), the
    fused pass in the workers (`workers`: (collate name, loader)), torchvision ((loader, note)) and the copy floor."""
    return [
        Impl(FASTLOAD, lambda: epoch(prefetcher, device), note=note),
        *extra,
        Impl(
            REFERENCE,
            with_backend("reference", lambda: epoch(prefetcher, device)),
            note="the same pipeline with the pure-PyTorch ops",
        ),
        Impl(
            f"{FASTLOAD} ({workers[0]} in workers)",
            lambda: epoch(workers[1], device),
            note="one fused pass per batch in the workers; float batches to the device",
        ),
        Impl(TORCHVISION, lambda: epoch(torchvision[0], device), note=torchvision[1]),
        copy_floor(moved, device),
    ]


@suite("loader")
def cases(settings) -> list[Case]:
    return [_detection(settings), _classification(settings)]


def _detection(settings) -> Case:
    device = settings.device
    count = 64 if settings.scale < 1 or settings.min_time < 0.1 else 256
    s = min(1.0, settings.scale)
    images = settings.source.images(RAW_SIZES, count, s)
    common, prefetched = _loader_options(device, BATCH), _loader_options(device, BATCH, prefetched=True)
    fast_loader = DataLoader(RawImages(images), collate_fn=fl.PadCollate(pack=True), **prefetched)
    prefetcher = fl.DevicePrefetcher(fast_loader, device, NORM, size_divisor=32)
    no_ring_loader = DataLoader(RawImages(images), collate_fn=fl.PadCollate(pack=True, ring=False), **common)
    no_ring = fl.DevicePrefetcher(no_ring_loader, device, NORM, size_divisor=32)
    tv_loader = DataLoader(TorchvisionImages(images), collate_fn=pad_stack_collate, **common)
    worker_loader = DataLoader(RawImages(images), collate_fn=fl.PadCollate(NORM, size_divisor=32), **common)

    raw_bytes = sum(img.size for img in images)
    float_bytes = 0
    for i in range(0, count, BATCH):
        group = images[i : i + BATCH]
        hp, wp = fl.functional._geometry.batch_extent([img.shape[:2] for img in group], 32, None)
        float_bytes += len(group) * 3 * hp * wp * 4
    batches = -(-count // BATCH)
    ring_off = Impl(
        f"{FASTLOAD} (ring off)",
        lambda: epoch(no_ring, device),
        note="the same pipeline with PadCollate(ring=False): a new shared-memory segment per batch",
    )
    impls = _rows(
        device=device,
        prefetcher=prefetcher,
        note=f"PadCollate(pack=True) + DevicePrefetcher; {raw_bytes / batches / 1e6:.1f} MB uint8 per batch "
        "to the device",
        workers=("PadCollate(norm)", worker_loader),
        torchvision=(
            tv_loader,
            f"v2 in workers + pad/stack collate + .to(); {float_bytes / batches / 1e6:.1f} MB float "
            "per batch to the device",
        ),
        moved=raw_bytes + float_bytes,
        extra=[ring_off],
    )
    label = f"{count} COCO-like raw images, batches of {BATCH}" + ("" if s == 1 else f" (x{s:g})")
    return Case(
        suite="loader",
        name=label,
        device=device,
        bytes_moved=raw_bytes + float_bytes,
        items=count,
        impls=impls,
        unavailable={},
        tolerance=1e-4,
        reps=3,
    )


def _classification(settings) -> Case:
    device = settings.device
    count = 64 if settings.scale < 1 or settings.min_time < 0.1 else 256
    s = min(1.0, settings.scale)
    images = settings.source.images(CROP_SIZES, count, s)
    size = max(8, round(CROP * s))
    common = _loader_options(device, CROPS)
    fast_loader = DataLoader(
        SeededBatches(images), collate_fn=fl.CropCollate(size), **_loader_options(device, CROPS, prefetched=True)
    )
    prefetcher = fl.DevicePrefetcher(fast_loader, device, NORM)
    worker_loader = DataLoader(SeededBatches(images), collate_fn=fl.CropCollate(size, NORM), **common)
    tv_loader = DataLoader(TorchvisionCrops(images, size), **common)
    raw_bytes, float_bytes = sum(img.size for img in images), count * 3 * size * size * 4
    batches = -(-count // CROPS)
    impls = _rows(
        device=device,
        prefetcher=prefetcher,
        note=f"CropCollate + DevicePrefetcher; {raw_bytes / batches / 1e6:.1f} MB uint8 per batch to the device",
        workers=("CropCollate(norm)", worker_loader),
        torchvision=(
            tv_loader,
            "v2 RandomResizedCrop + RandomHorizontalFlip + ToDtype + Normalize in workers, stack, "
            f".to(); {float_bytes / batches / 1e6:.1f} MB float per batch to the device",
        ),
        moved=raw_bytes + float_bytes,
    )
    label = f"{count} ImageNet-like images -> RandomResizedCrop {size}, flip, batches of {CROPS}" + (
        "" if s == 1 else f" (x{s:g})"
    )
    return Case(
        suite="loader",
        name=label,
        device=device,
        bytes_moved=raw_bytes + float_bytes,
        items=count,
        impls=impls,
        unavailable={},
        tolerance=GREY_LEVEL,
        reps=3,
    )
