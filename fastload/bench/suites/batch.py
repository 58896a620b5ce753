"""Suite `batch`: variable-size BGR uint8 images -> one normalized, padded RGB float32 batch.

Cases:
- detection: 8 COCO-like keep-ratio sizes (<= 1333x800, both orientations), size divisor 32, against mmengine's
  ImgDataPreprocessor (per image BGR->RGB, float, normalize, then stack_batch) and torchvision v2 per image
  (ToImage, flip, ToDtype, Normalize) + pad + torch.stack;
- classification: 64 x 224x224 from a list, against torchvision's ToTensor + Normalize per sample + default_collate.
"""

from __future__ import annotations

import numpy as np
import torch

import fastload as fl
from fastload.bench import peers
from fastload.bench.core import (
    FASTLOAD,
    REFERENCE,
    TORCHVISION,
    Case,
    Impl,
    copy_floor,
    fresh_output_fill,
    suite,
    with_backend,
)

NORM = fl.IMAGENET
MEAN_UNIT, STD_UNIT = NORM.unit()
# (h, w) after a keep-ratio resize into 1333x800, as COCO images come out of mmdet's Resize.
DETECTION_SIZES = [
    (800, 1067),
    (800, 1199),
    (750, 1333),
    (800, 1201),
    (608, 1333),
    (800, 1066),
    (1333, 800),
    (800, 800),
]


def _torchvision_detection(images, device):
    from torchvision.transforms import v2

    pipeline = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN_UNIT, STD_UNIT)])
    chw = [torch.from_numpy(img).to(device).permute(2, 0, 1) for img in images]
    hp = -(-max(t.shape[1] for t in chw) // 32) * 32
    wp = -(-max(t.shape[2] for t in chw) // 32) * 32

    def run():
        out = []
        for t in chw:
            x = pipeline(t.contiguous().flip(0)).as_subclass(torch.Tensor)  # ToImage = contiguous CHW; BGR -> RGB
            out.append(v2.functional.pad(x, [0, 0, wp - x.shape[2], hp - x.shape[1]], fill=0.0))
        return torch.stack(out)

    return run


def _mmengine(images, device):
    mmengine, reason = peers.load("mmengine")
    if mmengine is None:
        return None, reason
    from mmengine.model import ImgDataPreprocessor

    pre = ImgDataPreprocessor(mean=NORM.mean, std=NORM.std, bgr_to_rgb=True, pad_size_divisor=32).to(device)
    inputs = [torch.from_numpy(img).permute(2, 0, 1).to(device) for img in images]
    return (lambda: pre({"inputs": inputs}, training=False)["inputs"]), None


def _torchvision_classification(images):
    from torch.utils.data import default_collate
    from torchvision import transforms as T

    pipeline = T.Compose([T.ToTensor(), T.Normalize(MEAN_UNIT, STD_UNIT)])
    rgb = [np.ascontiguousarray(img[..., ::-1]) for img in images]  # what cv2.cvtColor gives a torchvision user
    return lambda: default_collate([pipeline(img) for img in rgb])


def _detection_case(settings) -> Case:
    device, s = settings.device, settings.scale
    images = settings.source.images(DETECTION_SIZES, len(DETECTION_SIZES), s)
    hp, wp = fl.functional._geometry.batch_extent([img.shape[:2] for img in images], 32, None)
    bytes_moved = sum(img.size for img in images) + len(images) * 3 * hp * wp * 4
    on_device = [torch.from_numpy(img).to(device) for img in images]
    impls = [
        Impl(FASTLOAD, lambda: fl.pad_batch(on_device, NORM, size_divisor=32).images),
        Impl(REFERENCE, with_backend("reference", lambda: fl.pad_batch(on_device, NORM, size_divisor=32).images)),
        Impl(TORCHVISION, _torchvision_detection(images, device), note="v2 per image + pad + stack"),
    ]
    unavailable = {}
    run, reason = _mmengine(images, device)
    if run is None:
        unavailable["mmengine"] = reason
    else:
        impls.append(Impl("mmengine", run, note="ImgDataPreprocessor(bgr_to_rgb, pad_size_divisor=32)"))
    impls.append(copy_floor(bytes_moved, device))
    impls.append(fresh_output_fill(len(images) * 3 * hp * wp * 4, device))
    label = "detection 8 COCO-like, /32" + ("" if s == 1 else f" (x{s:g})")
    return Case(
        suite="batch",
        name=label,
        device=device,
        bytes_moved=bytes_moved,
        items=len(images),
        impls=impls,
        unavailable=unavailable,
        tolerance=1e-4,
    )


def _classification_case(settings) -> Case:
    device = settings.device
    side = max(1, round(224 * settings.scale))
    images = [settings.source.image(side, side, i) for i in range(64)]
    bytes_moved = 64 * side * side * 3 * (1 + 4)
    on_device = [torch.from_numpy(img).to(device) for img in images]
    impls = [
        Impl(FASTLOAD, lambda: fl.pad_batch(on_device, NORM).images),
        Impl(REFERENCE, with_backend("reference", lambda: fl.pad_batch(on_device, NORM).images)),
    ]
    unavailable = {}
    if device == "cpu":
        impls.append(
            Impl(
                TORCHVISION,
                _torchvision_classification(images),
                note="ToTensor + Normalize per sample + default_collate",
            )
        )
    else:
        unavailable[TORCHVISION] = "per-sample ToTensor runs on the CPU"
    impls.append(copy_floor(bytes_moved, device))
    impls.append(fresh_output_fill(64 * side * side * 3 * 4, device))
    return Case(
        suite="batch",
        name=f"classification 64x{side}x{side} list",
        device=device,
        bytes_moved=bytes_moved,
        items=64,
        impls=impls,
        unavailable=unavailable,
        tolerance=1e-4,
    )


@suite("batch")
def cases(settings) -> list[Case]:
    return [_detection_case(settings), _classification_case(settings)]
