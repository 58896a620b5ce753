"""Suite `crop`: the ImageNet classification input pipeline. 64 decoded BGR images of about 500x375 (both
orientations) -> a 224x224 fp32 RGB normalized batch:

- train: RandomResizedCrop boxes (drawn once, as torchvision draws them) and horizontal flips -> fastload
  `resized_crop_batch` (one pass, antialiased) vs torchvision v2 per image (resized_crop with antialias=True,
  horizontal_flip, to_dtype, normalize) + stack;
- eval: Resize(256) + CenterCrop(224) -> fastload `resize_center_crop_batch` vs torchvision v2 per image + stack.

Peers, where installed, on the same images, boxes and flips (each with its own filter, and checked against fastload
computing that filter):
- timm's PIL path on RGB PIL images prepared up front: eval is `create_transform(224, is_training=False,
  crop_pct=0.875, interpolation="bilinear")`; train is what its RandomResizedCropAndInterpolation does once it has
  drawn a box (`resized_crop` on the PIL image, bilinear), then flip, MaybeToTensor, Normalize;
- albumentations (CPU) on cv2.cvtColor'd RGB arrays: train is RandomResizedCrop's and HorizontalFlip's `apply` with
  the drawn boxes, then Normalize and ToTensorV2; eval is Compose([SmallestMaxSize(256), CenterCrop(224),
  Normalize, ToTensorV2]). Both resize with OpenCV INTER_LINEAR (no antialiasing): checked against fastload with
  antialias=False, and SmallestMaxSize's rounding of the long side;
- DALI's operators (CPU, or GPU on CUDA), one pipeline run per batch: color_space_conversion, slice (the box),
  resize (antialiased linear), crop_mirror_normalize (flip, normalize; eval: the centre crop, at torchvision's
  anchor, after a resize to torchvision's size). DALI's resize extends an image past its edges by repeating the
  edge pixels where torchvision drops the taps outside and renormalizes, so the train batch is compared inside a
  1-pixel border (its outermost pixels differ by up to ~7 grey levels).
torchvision's uint8 antialiased resize, PIL, OpenCV and DALI round to uint8; fastload keeps fp32, so values may
differ by 1 grey level (1 / 57 in normalized units).
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
RAW_SIZES = [(375, 500), (500, 375), (333, 500), (500, 333), (375, 499), (400, 500), (500, 400), (360, 480)]
COUNT, SIZE = 64, 224
GREY_LEVEL = 1.0 / 57.0 + 1e-4  # one uint8 step in normalized units (1 / (255 * min std)): the peers' tolerance


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
    evaluate = create_transform(
        size, is_training=False, crop_pct=size / resize, interpolation="bilinear", mean=MEAN_UNIT, std=STD_UNIT
    )
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


def _albumentations(images, boxes, flips, size, resize):
    """(train run, eval run, eval sizes, None), or (None, None, None, reason) without albumentations. The eval sizes
    are SmallestMaxSize's (its long side is rounded, torchvision's truncated)."""
    A, reason = peers.load("albumentations")
    if A is None:
        return None, None, None, reason
    import cv2
    from albumentations.pytorch import ToTensorV2

    crop, flip = A.RandomResizedCrop(size=(size, size)), A.HorizontalFlip(p=1.0)
    finish = [A.Normalize(mean=MEAN_UNIT, std=STD_UNIT, max_pixel_value=255.0), ToTensorV2()]
    normalize = A.Compose(finish)
    evaluate = A.Compose([A.SmallestMaxSize(max_size=resize), A.CenterCrop(size, size), *finish])
    coords = [(left, top, left + w, top + h) for top, left, h, w in boxes]  # its (x_min, y_min, x_max, y_max)

    def train():
        out = []
        for img, box, mirror in zip(images, coords, flips):
            x = crop.apply(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), crop_coords=box)
            if mirror:
                x = flip.apply(x)
            out.append(normalize(image=x)["image"])
        return torch.stack(out)

    def evaluate_all():
        return torch.stack([evaluate(image=cv2.cvtColor(img, cv2.COLOR_BGR2RGB))["image"] for img in images])

    sizes = []
    for img in images:
        scale = resize / min(img.shape[:2])
        sizes.append((max(1, round(img.shape[0] * scale)), max(1, round(img.shape[1] * scale))))
    return train, evaluate_all, sizes, None


def _dali(images, boxes, flips, size, resize, device: str, threads: int):
    """(train run, eval run, None), or (None, None, reason) without DALI. Each run feeds the batch and returns DALI's
    output batch (on the device); conversion to torch is not timed."""
    dali, reason = peers.load("dali")
    if dali is None:
        return None, None, reason
    from nvidia.dali import fn, pipeline_def, types

    dali_device = "cpu" if device == "cpu" else "gpu"

    def pipeline(graph):
        pipe = pipeline_def(
            graph,
            batch_size=len(images),
            num_threads=max(1, threads),
            device_id=0 if device == "cuda" else None,
            prefetch_queue_depth=1,
        )()
        pipe.build()  # DALI 2 builds on first use; older releases need it
        return pipe

    def rgb():
        x = fn.external_source(name="images", device=dali_device, layout="HWC")
        return fn.color_space_conversion(x, image_type=types.BGR, output_type=types.RGB)

    def normalize(x, **crop):
        return fn.crop_mirror_normalize(
            x, dtype=types.FLOAT, output_layout="CHW", mean=list(NORM.mean), std=list(NORM.std), **crop
        )

    def train_graph():
        anchor, shape = fn.external_source(name="anchor"), fn.external_source(name="shape")
        x = fn.slice(rgb(), anchor, shape, axes=[0, 1], normalized_anchor=False, normalized_shape=False)
        x = fn.resize(x, size=[size, size], antialias=True, interp_type=types.INTERP_LINEAR)
        return normalize(x, mirror=fn.external_source(name="mirror"))

    def eval_graph():
        x = fn.resize(rgb(), size=fn.external_source(name="size"), antialias=True, interp_type=types.INTERP_LINEAR)
        return normalize(
            x,
            crop=(size, size),
            crop_pos_y=fn.external_source(name="pos_y"),
            crop_pos_x=fn.external_source(name="pos_x"),
        )

    train_pipe, eval_pipe = pipeline(train_graph), pipeline(eval_graph)
    feed = images if device == "cpu" else [torch.from_numpy(img).to(device) for img in images]
    per_image = lambda values, dtype=np.float32: [np.array(v, dtype) for v in values]  # noqa: E731
    train_args = {
        "anchor": per_image([(top, left) for top, left, _, _ in boxes]),
        "shape": per_image([(h, w) for _, _, h, w in boxes]),
        "mirror": per_image(flips, np.int32),
    }
    eval_args = {"size": [], "pos_y": [], "pos_x": []}
    for img in images:  # torchvision's resized size and centre-crop anchor, as DALI's relative crop position
        rh, rw = fl.resized_short_side(img.shape[0], img.shape[1], resize)
        top, left = fl.center_crop_anchor(rh, rw, size, size)
        eval_args["size"].append(np.array((rh, rw), np.float32))
        eval_args["pos_y"].append(np.array(top / max(1, rh - size), np.float32))
        eval_args["pos_x"].append(np.array(left / max(1, rw - size), np.float32))

    def runner(pipe, args):
        def run():
            pipe.feed_input("images", feed)
            for name, values in args.items():
                pipe.feed_input(name, values)
            (out,) = pipe.run()
            return out

        return run

    return runner(train_pipe, train_args), runner(eval_pipe, eval_args), None


def _inside(x: torch.Tensor) -> torch.Tensor:
    """x without its outermost pixel rows and columns (N, C, H, W)."""
    return x[..., 1:-1, 1:-1]


@suite("crop")
def cases(settings) -> list[Case]:
    device, s = settings.device, min(1.0, settings.scale)
    images = settings.source.images(RAW_SIZES, COUNT, s, minimum=8)
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
        Impl(
            TORCHVISION,
            _torchvision_train(chw, boxes, flips, size),
            note="v2 resized_crop(antialias=True) + horizontal_flip + to_dtype + normalize, per image; stack",
        ),
        copy_floor(read + out_bytes, device),
        fresh_output_fill(out_bytes, device),
    ]
    eval_impls = [
        Impl(FASTLOAD, evaluate),
        Impl(REFERENCE, with_backend("reference", evaluate)),
        Impl(
            TORCHVISION,
            _torchvision_eval(chw, resize, size),
            note=f"v2 resize({resize}, antialias=True) + center_crop({size}) + to_dtype + normalize, per image; stack",
        ),
        copy_floor(read + out_bytes, device),
        fresh_output_fill(out_bytes, device),
    ]
    unavailable = {}
    peer_train, peer_eval = [], []
    if device == "cpu":
        timm_train, timm_eval, reason = _timm(images, boxes, flips, size, resize)
        if reason is not None:
            unavailable["timm"] = reason
        else:
            peer_train.append(
                Impl(
                    "timm",
                    timm_train,
                    note="PIL resized_crop (bilinear) + hflip + ToTensor + Normalize, per image; stack",
                )
            )
            peer_eval.append(Impl("timm", timm_eval, note="create_transform(is_training=False), per image; stack"))
        alb_train, alb_eval, alb_sizes, reason = _albumentations(images, boxes, flips, size, resize)
        if reason is not None:
            unavailable["albumentations"] = reason
        else:
            peer_train.append(
                Impl(
                    "albumentations",
                    alb_train,
                    expected=lambda: fl.resized_crop_batch(images, boxes, size, NORM, flips=flips, antialias=False),
                    note="cvtColor + RandomResizedCrop.apply (INTER_LINEAR) + HorizontalFlip.apply + Normalize + "
                    "ToTensorV2, per image; stack (vs fastload antialias=False)",
                )
            )
            peer_eval.append(
                Impl(
                    "albumentations",
                    alb_eval,
                    expected=lambda: torch.cat(
                        [
                            fl.resize_center_crop_batch([img], hw, size, NORM, antialias=False)
                            for img, hw in zip(images, alb_sizes)
                        ]
                    ),
                    note="cvtColor + SmallestMaxSize + CenterCrop + Normalize + ToTensorV2, per image; stack "
                    "(vs fastload antialias=False at SmallestMaxSize's sizes)",
                )
            )
    else:
        unavailable["albumentations"] = unavailable["timm"] = "CPU only"
    dali_train, dali_eval, reason = _dali(images, boxes, flips, size, resize, device, settings.threads)
    if reason is not None:
        unavailable["dali"] = reason
    else:
        peer_train.append(
            Impl(
                "dali",
                dali_train,
                compare=lambda out: _inside(peers.dali_to_torch(out)),
                expected=lambda: _inside(train()),
                note="color_space_conversion + slice + resize(antialias) + crop_mirror_normalize, "
                "one pipeline run; compared inside a 1-pixel border",
            )
        )
        peer_eval.append(
            Impl(
                "dali",
                dali_eval,
                compare=peers.dali_to_torch,
                note="color_space_conversion + resize(antialias) + crop_mirror_normalize(crop), one pipeline run",
            )
        )
    train_impls[3:3], eval_impls[3:3] = peer_train, peer_eval
    suffix = "" if s == 1 else f" (x{s:g})"
    return [
        Case(
            suite="crop",
            name=f"train {COUNT} ImageNet-like -> RandomResizedCrop {size}, flip{suffix}",
            device=device,
            bytes_moved=read + out_bytes,
            items=COUNT,
            impls=train_impls,
            unavailable=unavailable,
            tolerance=GREY_LEVEL,
        ),
        Case(
            suite="crop",
            name=f"eval {COUNT} ImageNet-like -> Resize {resize}, CenterCrop {size}{suffix}",
            device=device,
            bytes_moved=read + out_bytes,
            items=COUNT,
            impls=eval_impls,
            unavailable=unavailable,
            tolerance=GREY_LEVEL,
        ),
    ]
