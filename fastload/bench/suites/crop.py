"""Suite `crop`: the ImageNet classification input pipeline. 64 decoded BGR images of about 500x375 (both
orientations) -> a 224x224 fp32 RGB normalized batch:

- train: RandomResizedCrop boxes (drawn once, as torchvision draws them) and horizontal flips -> fastload
  `resized_crop_batch` (one pass, antialiased) vs torchvision v2 per image (resized_crop with antialias=True,
  horizontal_flip, to_dtype, normalize) + stack;
- eval: Resize(256) + CenterCrop(224) -> fastload `resize_center_crop_batch` vs torchvision v2 per image + stack.
timm (where installed) runs its PIL path on RGB PIL images prepared up front: eval is `create_transform(224,
is_training=False, crop_pct=0.875, interpolation="bilinear")`; train is what its RandomResizedCropAndInterpolation
does once it has drawn a box (`resized_crop` on the PIL image, bilinear), then flip, MaybeToTensor, Normalize.
torchvision's uint8 antialiased resize and PIL round to uint8 in fixed point; fastload keeps fp32, so values may
differ by 1 grey level (1 / 57 in normalized units).
"""

from __future__ import annotations

import torch

import fastload as fl
from fastload.bench import peers
from fastload.bench.core import FASTLOAD, REFERENCE, TORCHVISION, Case, Impl, copy_floor, fresh_output_fill, suite, with_backend

NORM = fl.IMAGENET
MEAN_UNIT, STD_UNIT = NORM.unit()
RAW_SIZES = [(375, 500), (500, 375), (333, 500), (500, 333), (375, 499), (400, 500), (500, 400), (360, 480)]
COUNT, SIZE = 64, 224


def _torchvision_train(chw, boxes, flips, size):
    from torchvision.transforms import v2

    to_float, normalize = v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN_UNIT, STD_UNIT)

    def run():
        out = []
        for x, box, flip in zip(chw, boxes, flips):
            y = v2.functional.resized_crop(x.flip(0), *box, size=[size, size], antialias=True)
            if flip:
                y = v2.functional.horizontal_flip(y)
            out.append(normalize(to_float(y)).as_subclass(torch.Tensor))
        return torch.stack(out)

    return run


def _torchvision_eval(chw, resize, size):
    from torchvision.transforms import v2

    to_float, normalize = v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN_UNIT, STD_UNIT)

    def run():
        out = []
        for x in chw:
            y = v2.functional.center_crop(v2.functional.resize(x.flip(0), [resize], antialias=True), [size, size])
            out.append(normalize(to_float(y)).as_subclass(torch.Tensor))
        return torch.stack(out)

    return run


def _timm(images, boxes, flips, size, resize):
    """(train run, eval run, None), or (None, None, reason) without timm."""
    timm, reason = peers.load("timm")
    if timm is None:
        return None, None, reason
    from PIL import Image
    from timm.data import create_transform
    from torchvision.transforms import functional as F1

    pil = [Image.fromarray(img[..., ::-1].copy()) for img in images]  # RGB, as timm's datasets decode
    evaluate = create_transform(size, is_training=False, crop_pct=size / resize, interpolation="bilinear",
                                mean=MEAN_UNIT, std=STD_UNIT)
    finish = create_transform(size, is_training=False, crop_pct=1.0, mean=MEAN_UNIT, std=STD_UNIT).transforms[-2:]

    def train():
        out = []
        for img, box, flip in zip(pil, boxes, flips):
            x = F1.resized_crop(img, *box, [size, size], interpolation=F1.InterpolationMode.BILINEAR)
            if flip:
                x = F1.hflip(x)
            for t in finish:  # MaybeToTensor, Normalize
                x = t(x)
            out.append(x)
        return torch.stack(out)

    return train, lambda: torch.stack([evaluate(img) for img in pil]), None


@suite("crop")
def cases(settings) -> list[Case]:
    device, s = settings.device, min(1.0, settings.scale)
    sizes = [(max(8, round(h * s)), max(8, round(w * s))) for h, w in RAW_SIZES]
    images = [settings.source.image(*sizes[i % len(sizes)], i) for i in range(COUNT)]
    on_device = [torch.from_numpy(img).to(device) for img in images]
    chw = [t.permute(2, 0, 1) for t in on_device]
    generator = torch.Generator().manual_seed(0)
    boxes = [fl.random_resized_crop_params(img.shape[0], img.shape[1], generator=generator) for img in images]
    flips = (torch.rand(COUNT, generator=generator) < 0.5).tolist()
    size = round(SIZE * s) if s < 1 else SIZE
    resize = round(256 * size / SIZE)
    out_bytes = COUNT * 3 * size * size * 4
    read = sum(img.size for img in images)

    def train():
        return fl.resized_crop_batch(on_device, boxes, size, NORM, flips=flips)

    def evaluate():
        return fl.resize_center_crop_batch(on_device, resize, size, NORM)

    train_impls = [
        Impl(FASTLOAD, train),
        Impl(REFERENCE, with_backend("reference", train)),
        Impl(TORCHVISION, _torchvision_train(chw, boxes, flips, size),
             note="v2 resized_crop(antialias=True) + horizontal_flip + to_dtype + normalize, per image; stack"),
        copy_floor(read + out_bytes, device),
        fresh_output_fill(out_bytes, device),
    ]
    eval_impls = [
        Impl(FASTLOAD, evaluate),
        Impl(REFERENCE, with_backend("reference", evaluate)),
        Impl(TORCHVISION, _torchvision_eval(chw, resize, size),
             note=f"v2 resize({resize}, antialias=True) + center_crop({size}) + to_dtype + normalize, per image; "
                  "stack"),
        copy_floor(read + out_bytes, device),
        fresh_output_fill(out_bytes, device),
    ]
    unavailable = {}
    if device == "cpu":
        timm_train, timm_eval, reason = _timm(images, boxes, flips, size, resize)
        if reason is not None:
            unavailable["timm"] = reason
        else:
            train_impls.insert(3, Impl("timm", timm_train, note="PIL resized_crop (bilinear) + hflip + ToTensor + "
                                                               "Normalize, per image; stack"))
            eval_impls.insert(3, Impl("timm", timm_eval, note="create_transform(is_training=False), per image; "
                                                             "stack"))
    tolerance = 1.0 / 57.0 + 1e-4
    suffix = "" if s == 1 else f" (x{s:g})"
    return [Case("crop", f"train {COUNT} ImageNet-like -> RandomResizedCrop {size}, flip{suffix}", device,
                 read + out_bytes, COUNT, train_impls, unavailable, tolerance=tolerance),
            Case("crop", f"eval {COUNT} ImageNet-like -> Resize {resize}, CenterCrop {size}{suffix}", device,
                 read + out_bytes, COUNT, eval_impls, unavailable, tolerance=tolerance)]
