"""The peers' pipelines the `crop` suite times (fastload/bench/suites/crop.py says what each does and how it is
checked): torchvision v2 per image, timm's PIL path, albumentations, DALI's operators. Each builder returns the
callables to time, or the reason the peer is unavailable."""

from __future__ import annotations

import numpy as np
import torch

import fastload as fl
from fastload.bench import peers

NORM = fl.IMAGENET
MEAN_UNIT, STD_UNIT = NORM.unit()


def torchvision_train(chw, boxes, flips, size, interpolation: str = "bilinear"):
    """torchvision v2 per image (BGR CHW tensors): resized_crop (antialiased), flip, to_dtype, normalize; stack."""
    from torchvision.transforms import v2

    mode = getattr(v2.InterpolationMode, interpolation.upper())
    to_float, normalize = v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN_UNIT, STD_UNIT)

    def run():
        out = []
        for x, box, flip in zip(chw, boxes, flips):
            y = v2.functional.resized_crop(x.flip(0), *box, size=[size, size], interpolation=mode, antialias=True)
            if flip:
                y = v2.functional.horizontal_flip(y)
            out.append(normalize(to_float(y)).as_subclass(torch.Tensor))
        return torch.stack(out)

    return run


def torchvision_eval(chw, resize, size):
    """torchvision v2 per image: resize (antialiased), center_crop, to_dtype, normalize; stack."""
    from torchvision.transforms import v2

    to_float, normalize = v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN_UNIT, STD_UNIT)

    def run():
        out = []
        for x in chw:
            y = v2.functional.center_crop(v2.functional.resize(x.flip(0), [resize], antialias=True), [size, size])
            out.append(normalize(to_float(y)).as_subclass(torch.Tensor))
        return torch.stack(out)

    return run


def timm(images, boxes, flips, size, resize):
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


def albumentations(images, boxes, flips, size, resize):
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


def dali(images, boxes, flips, size, resize, device: str, threads: int):
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
