"""Suite `resize`: 8 raw COCO-like BGR images (about 640x480, both orientations) -> keep-ratio resize into
(1333, 800) -> normalize -> pad to /32, fp32, RGB.

- fastload: `resize_pad_batch`, one kernel;
- opencv + mmengine: cv2.resize (INTER_LINEAR) per image, then mmengine's ImgDataPreprocessor (BGR->RGB, float,
  normalize, stack_batch);
- torchvision: v2 resize (bilinear, antialias=False) per image on uint8 tensors, then ToDtype + Normalize, pad, stack.
Bilinear implementations differ in their fixed-point details, so the equality check allows 1 grey level
(1 / 57 in normalized units).
"""

from __future__ import annotations

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
SCALE = (1333, 800)
RAW_SIZES = [(480, 640), (427, 640), (640, 480), (375, 500), (640, 427), (424, 640), (512, 640), (480, 600)]


def _new_sizes(images):
    return [fl.rescale_size((img.shape[1], img.shape[0]), SCALE)[0] for img in images]  # (w, h)


def _torchvision(images, device):
    from torchvision.transforms import v2

    chw = [torch.from_numpy(img).to(device).permute(2, 0, 1) for img in images]
    sizes = _new_sizes(images)
    hp, wp = fl.functional._geometry.batch_extent([(h, w) for w, h in sizes], 32, None)
    to_float = v2.ToDtype(torch.float32, scale=True)
    normalize = v2.Normalize(MEAN_UNIT, STD_UNIT)

    def run():
        out = []
        for t, (w, h) in zip(chw, sizes):
            x = v2.functional.resize(t.flip(0), [h, w], antialias=False)
            x = normalize(to_float(x)).as_subclass(torch.Tensor)
            out.append(torch.nn.functional.pad(x, (0, wp - w, 0, hp - h)))
        return torch.stack(out)

    return run


def _opencv_mmengine(images):
    mmengine, reason = peers.load("mmengine")
    if mmengine is None:
        return None, reason
    import cv2
    from mmengine.model import ImgDataPreprocessor

    pre = ImgDataPreprocessor(mean=NORM.mean, std=NORM.std, bgr_to_rgb=True, pad_size_divisor=32)
    sizes = _new_sizes(images)

    def run():
        resized = [cv2.resize(img, size, interpolation=cv2.INTER_LINEAR) for img, size in zip(images, sizes)]
        inputs = [torch.from_numpy(r).permute(2, 0, 1) for r in resized]
        return pre({"inputs": inputs}, training=False)["inputs"]

    return run, None


@suite("resize")
def cases(settings) -> list[Case]:
    device, s = settings.device, settings.scale
    images = settings.source.images(RAW_SIZES, len(RAW_SIZES), s, minimum=2)
    on_device = [torch.from_numpy(img).to(device) for img in images]
    out = fl.resize_pad_batch(on_device, NORM, scale=SCALE, size_divisor=32)
    bytes_moved = sum(img.size for img in images) + out.images.numel() * 4
    impls = [
        Impl(FASTLOAD, lambda: fl.resize_pad_batch(on_device, NORM, scale=SCALE, size_divisor=32).images),
        Impl(
            REFERENCE,
            with_backend(
                "reference", lambda: fl.resize_pad_batch(on_device, NORM, scale=SCALE, size_divisor=32).images
            ),
        ),
        Impl(TORCHVISION, _torchvision(images, device), note="v2 resize(antialias=False) + normalize + pad + stack"),
    ]
    unavailable = {}
    if device == "cpu":
        run, reason = _opencv_mmengine(images)
        if run is None:
            unavailable["opencv + mmengine"] = reason
        else:
            impls.append(Impl("opencv + mmengine", run, note="cv2.resize + ImgDataPreprocessor"))
    impls.append(copy_floor(bytes_moved, device))
    impls.append(fresh_output_fill(out.images.numel() * 4, device))
    label = "8 COCO-like raw -> (1333, 800), /32" + ("" if s == 1 else f" (x{s:g})")
    return [
        Case(
            suite="resize",
            name=label,
            device=device,
            bytes_moved=bytes_moved,
            items=len(images),
            impls=impls,
            unavailable=unavailable,
            tolerance=1.0 / 57.0 + 1e-4,
        )
    ]
