"""Suite `files`: from JPEG files on disk to a model-ready batch, end to end: a DataLoader with 2 workers over an
ImageNet-style tree written from the bundled photos (ImageNet sizes, quality 75-95), one epoch a timed call.

Classification (train): RandomResizedCrop 224 + horizontal flip + ImageNet normalize, float32, batches of 32.
- fastload from files: `fl.ImageFolder` (the files' bytes) + `CropCollate(224, norm)`: each header read, the crops
  drawn torchvision's way, only each crop's box decoded (libjpeg-turbo), the fused crop into the worker's ring;
- fastload today's way: `cv2.imread` in the worker + the same `CropCollate` on the decoded arrays;
- torchvision: `ImageFolder`-style PIL decode + v2 RandomResizedCrop, RandomHorizontalFlip, PILToTensor, ToDtype,
  Normalize per sample in the workers, default collate;
- timm (its own RNG: values not compared) and DALI CPU (readers.file -> decoders.image_random_crop -> resize ->
  crop_mirror_normalize, 2 threads, its own RNG), where installed;
- decode only: `cv2.imread` of every full image in the workers and nothing else (the floor the issue measures
  against: a pipeline faster than it decodes less).
Every loader's workers start from a forkserver (a clean process: workers forked from the benchmark's own process
would inherit a heap that earlier peers have shaped, which made the decode-only floor 30% faster). Each batch seeds
the workers' torch RNG with its first index, so fastload's and torchvision's loaders draw the same boxes and flips:
fastload from files equals the cv2 path bit for bit, torchvision within 1 grey level.

High resolution (train): 64 photos of about 2000 x 1500, the same crop: fastload exact from files vs
`CropCollate(draft=True)`, which decodes each box at the largest DCT scale (1/2, 1/4, 1/8) that keeps it at least
224 x 224 (what PIL's draft picks): faster, not exact (its mean and largest difference from the exact path, in grey
levels, are measured once and shown in its note), vs torchvision, the decode-only floor, and the entropy decoding
of each file down to its box's last row: the Huffman data a baseline JPEG must read in order, whatever the scale,
so the bound of any reduced-scale decode (strict=True, which reads the whole file, would move that bound).

Detection: COCO-like files -> `fl.ImageFiles` + `PadCollate(pack=True)` (each file decoded straight into the ring
slot) + `DevicePrefetcher(norm, size_divisor=32)` vs torchvision (PIL decode, v2 ToImage + ToDtype + Normalize in the
workers, pad + stack collate), batches of 8.
"""

from __future__ import annotations

import os

import torch
from torch.utils.data import DataLoader

import fastload as fl
from fastload.bench import peers
from fastload.bench.core import FASTLOAD, REFERENCE, TORCHVISION, Case, Impl, copy_floor, epoch, suite, with_backend
from fastload.bench.file_loaders import (
    NORM,
    EntropyOnly,
    Seeded,
    TimmCrop,
    TorchvisionCrop,
    TorchvisionDetection,
    case_tree,
    cv2_image,
    dali_loader,
    labels_only,
    loader_options,
    write_tree,
)
from fastload.bench.suites.crop import GREY_LEVEL
from fastload.bench.suites.crop import RAW_SIZES as CROP_SIZES
from fastload.bench.suites.loader import RAW_SIZES as DETECTION_SIZES
from fastload.bench.suites.loader import pad_stack_collate

BATCH, DETECTION_BATCH = 32, 8
HIGH_RES_SIZES = [(1500, 2000), (2000, 1500), (1536, 2048), (1200, 1600), (1944, 2592), (2448, 3264)]


@suite("files")
def cases(settings) -> list[Case]:
    return [_classification(settings), _high_resolution(settings), _detection(settings)]


def _classification(settings) -> Case:
    device = settings.device
    count, s, size, root = case_tree(settings, CROP_SIZES, 256, 64)
    folder = fl.ImageFolder(root)
    collate = fl.CropCollate(size, NORM)
    files = DataLoader(Seeded(folder.samples, fl.EncodedImage.from_file), collate_fn=collate, **loader_options(BATCH))
    files_reference = DataLoader(
        Seeded(folder.samples, fl.EncodedImage.from_file),
        collate_fn=with_backend("reference", collate),
        **loader_options(BATCH),
    )
    arrays = DataLoader(Seeded(folder.samples, cv2_image), collate_fn=collate, **loader_options(BATCH))
    tv = DataLoader(Seeded(folder.samples, TorchvisionCrop(size)), **loader_options(BATCH))
    impls = [
        Impl(
            FASTLOAD,
            lambda: epoch(files, device),
            note=f"fl.ImageFolder + CropCollate({size}, norm): each crop's box decoded, fused crop in the workers",
        ),
        Impl(REFERENCE, lambda: epoch(files_reference, device), note="the same pipeline with the pure-PyTorch crop"),
        Impl(
            f"{FASTLOAD} (cv2.imread + CropCollate)",
            lambda: epoch(arrays, device),
            note="today's way: cv2.imread of every full image in the workers, the same collate",
        ),
        Impl(
            TORCHVISION,
            lambda: epoch(tv, device),
            note="ImageFolder-style PIL decode + v2 RandomResizedCrop, flip, PILToTensor, ToDtype, Normalize",
        ),
    ]
    unavailable = {}
    timm, reason = peers.load("timm")
    if timm is None:
        unavailable["timm"] = reason
    else:
        timm_loader = DataLoader(Seeded(folder.samples, TimmCrop(size)), **loader_options(BATCH))
        impls.append(
            Impl(
                "timm",
                lambda: epoch(timm_loader, device),
                checked=False,
                note="create_transform(is_training=True) on PIL images; its own RNG (not compared)",
            )
        )
    dali, reason = peers.load("dali")
    if dali is None:
        unavailable["dali"] = reason
    elif device == "cpu":
        impls.append(
            Impl(
                "dali",
                dali_loader(root, size, settings.threads, BATCH),
                checked=False,
                note="readers.file -> decoders.image_random_crop -> resize -> crop_mirror_normalize (CPU, "
                "its own RNG: not compared)",
            )
        )
    return classification_case(
        "files",
        f"RandomResizedCrop {size}, flip, batches of {BATCH}",
        settings,
        folder.samples,
        size,
        impls,
        unavailable,
        GREY_LEVEL,
    )


def classification_case(suite_name, job, settings, samples, size, impls, unavailable, tolerance) -> Case:
    """A classification case over the suite's JPEG tree (`samples`): `impls`, then the decode-only loader (every
    full image decoded in the workers and nothing else: faster than this decodes less) and the copy floor, each
    timed over 3 epochs; named "<count> ImageNet-style JPEG files -> <job>"."""
    device, count = settings.device, len(samples)
    decode_only = DataLoader(Seeded(samples, cv2_image), collate_fn=labels_only, **loader_options(BATCH))
    moved = sum(os.path.getsize(p) for p, _ in samples) + count * 3 * size * size * 4
    impls = impls + [
        Impl(
            "decode only (cv2.imread in workers)",
            lambda: epoch(decode_only, device),
            checked=False,
            note="every full image decoded in the workers and nothing else: faster than this decodes less",
        ),
        copy_floor(moved, device),
    ]
    s = min(1.0, settings.scale)
    return Case(
        suite=suite_name,
        name=f"{count} ImageNet-style JPEG files -> {job}" + ("" if s == 1 else f" (x{s:g})"),
        device=device,
        bytes_moved=moved,
        items=count,
        impls=impls,
        unavailable=unavailable,
        tolerance=tolerance,
        reps=3,
    )


def _grey_levels(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """Mean and largest |a - b| of two normalized batches, in grey levels (x std x 255)."""
    std = torch.tensor(NORM.std, dtype=torch.float32)[:, None, None]
    diff = (a - b).abs() * std
    return float(diff.mean()), float(diff.max())


def _high_resolution(settings) -> Case:
    device = settings.device
    count, s, size, root = case_tree(settings, HIGH_RES_SIZES, 64, 16)
    samples = fl.ImageFolder(root).samples
    exact_collate, draft_collate = fl.CropCollate(size, NORM), fl.CropCollate(size, NORM, draft=True)
    files = Seeded(samples, fl.EncodedImage.from_file)
    exact = DataLoader(files, collate_fn=exact_collate, **loader_options(BATCH))
    draft = DataLoader(files, collate_fn=draft_collate, **loader_options(BATCH))
    reference = DataLoader(files, collate_fn=with_backend("reference", exact_collate), **loader_options(BATCH))
    tv = DataLoader(Seeded(samples, TorchvisionCrop(size)), **loader_options(BATCH))
    decode_only = DataLoader(Seeded(samples, cv2_image), collate_fn=labels_only, **loader_options(BATCH))
    entropy_only = DataLoader(files, collate_fn=EntropyOnly(exact_collate), **loader_options(BATCH))
    mean, largest = 0.0, 0.0  # draft vs exact over one epoch, same seeds (not timed)
    for (a, _), (b, _) in zip(
        DataLoader(files, collate_fn=draft_collate, batch_size=BATCH),
        DataLoader(files, collate_fn=exact_collate, batch_size=BATCH),
    ):
        m, x = _grey_levels(a, b)
        mean, largest = max(mean, m), max(largest, x)
    encoded = sum(os.path.getsize(p) for p, _ in samples)
    impls = [
        Impl(
            FASTLOAD, lambda: epoch(exact, device), note="fl.ImageFolder + CropCollate(norm): each box decoded exactly"
        ),
        Impl(REFERENCE, lambda: epoch(reference, device), note="the same pipeline with the pure-PyTorch crop"),
        Impl(
            f"{FASTLOAD} (draft=True)",
            lambda: epoch(draft, device),
            checked=False,
            note=f"boxes decoded at 1/2-1/8 scale: mean {mean:.2f}, largest {largest:.0f} grey levels from the exact "
            "path",
        ),
        Impl(TORCHVISION, lambda: epoch(tv, device), note="PIL decode + v2 RandomResizedCrop, flip, ... per sample"),
        Impl(
            "decode only (cv2.imread in workers)",
            lambda: epoch(decode_only, device),
            checked=False,
            note="every full image decoded in the workers and nothing else",
        ),
        Impl(
            "entropy decoding only (draft's bound)",
            lambda: epoch(entropy_only, device),
            checked=False,
            note="each file's Huffman data down to its box's last row, which any decode of the box reads: no DCT "
            "scale makes a crop faster than this",
        ),
        copy_floor(encoded + count * 3 * size * size * 4, device),
    ]
    label = f"{count} high-resolution JPEG files (~2000x1500) -> RandomResizedCrop {size}, flip" + (
        "" if s == 1 else f" (x{s:g})"
    )
    return Case(
        suite="files",
        name=label,
        device=device,
        bytes_moved=encoded + count * 3 * size * size * 4,
        items=count,
        impls=impls,
        unavailable={},
        tolerance=GREY_LEVEL,
        reps=3,
    )


def _detection(settings) -> Case:
    device = settings.device
    count = 32 if settings.scale < 1 or settings.min_time < 0.1 else 128
    s = min(1.0, settings.scale)
    root = write_tree(settings.source, DETECTION_SIZES, count, s, classes=1)
    paths = [p for p, _ in fl.ImageFolder(root).samples]
    files = fl.ImageFiles(paths, labels=list(range(count)))
    packed = DataLoader(files, collate_fn=fl.PadCollate(pack=True), **loader_options(DETECTION_BATCH))
    prefetcher = fl.DevicePrefetcher(packed, device, NORM, size_divisor=32)
    tv = DataLoader(
        Seeded([(p, i) for i, p in enumerate(paths)], TorchvisionDetection()),
        collate_fn=pad_stack_collate,
        pin_memory=device == "cuda",
        **loader_options(DETECTION_BATCH),
    )
    encoded = sum(os.path.getsize(p) for p in paths)
    impls = [
        Impl(
            FASTLOAD,
            lambda: epoch(prefetcher, device),
            note="fl.ImageFiles + PadCollate(pack=True): each file decoded into the ring slot; DevicePrefetcher "
            "normalizes + pads to /32",
        ),
        Impl(
            REFERENCE,
            with_backend("reference", lambda: epoch(prefetcher, device)),
            note="the same pipeline with the pure-PyTorch pad",
        ),
        Impl(
            TORCHVISION,
            lambda: epoch(tv, device),
            note="PIL decode + v2 ToImage/ToDtype/Normalize in the workers, pad + stack collate",
        ),
        copy_floor(encoded, device),
    ]
    label = f"{count} COCO-like JPEG files -> normalized batches padded to /32, batches of {DETECTION_BATCH}" + (
        "" if s == 1 else f" (x{s:g})"
    )
    return Case(
        suite="files",
        name=label,
        device=device,
        bytes_moved=encoded,
        items=count,
        impls=impls,
        unavailable={},
        tolerance=1e-4,
        reps=3,
    )
