"""Image geometry as plain Python (no tensors): the keep-ratio rescale of detection pipelines and the padded extent
of a batch; torchvision's RandomResizedCrop sampling and Resize + CenterCrop sizes; the checks of their arguments
(each error names the argument)."""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from fastload import _backend
from fastload import _validation as V
from fastload._validation import MAX_SIDE, check_size


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    value = float(value)
    # Comparisons rather than math.isfinite, so that torch.compile can trace symbolic image sizes (NaN fails both).
    if not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return value


def rescale_size(size, scale) -> tuple[tuple[int, int], float]:
    """The keep-ratio size of an image, exactly as OpenMMLab's `mmcv.rescale_size` computes it.

    Args:
        size: the image's (w, h) — width first, as OpenCV and mmcv configs write sizes.
        scale: a (w, h)-style pair such as (1333, 800): the image is scaled to fit inside max(scale) x min(scale)
            whichever way it is turned (long edge <= max(scale), short edge <= min(scale)); or a positive number,
            the scale factor itself.

    Returns:
        ((new_w, new_h), scale_factor) with new = int(old * scale_factor + 0.5).
    """
    if not hasattr(size, "__len__") or len(size) != 2:
        raise ValueError(f"size must be a (w, h) pair, got {size!r}")
    w, h = _positive("size[0] (w)", size[0]), _positive("size[1] (h)", size[1])
    if hasattr(scale, "tolist") and not isinstance(scale, (str, bytes)):  # numpy scalars/arrays, tensors
        scale = scale.tolist()
    if isinstance(scale, numbers.Real) and not isinstance(scale, bool):
        factor = _positive("scale", scale)
    elif hasattr(scale, "__len__") and not isinstance(scale, str):
        if len(scale) != 2:
            raise ValueError(f"scale must be a (w, h) pair or a number, got {scale!r}")
        a, b = _positive("scale[0]", scale[0]), _positive("scale[1]", scale[1])
        factor = min(max(a, b) / max(h, w), min(a, b) / min(h, w))
    else:
        raise ValueError(f"scale must be a (w, h) pair or a positive number, got {scale!r}")
    return (int(w * factor + 0.5), int(h * factor + 0.5)), factor


def resized_size(h: int, w: int, scale, what: str = "the image") -> tuple[int, int]:
    """(new_h, new_w) of an h x w image under `rescale_size`, refused with a ValueError naming `what` and `scale` when
    a side rounds to 0 (a 1 x 5000 strip at scale (1333, 800)) or grows past 2^31 - 1."""
    (new_w, new_h), _ = rescale_size((w, h), scale)
    if min(new_h, new_w) < 1 or max(new_h, new_w) > MAX_SIDE:
        raise ValueError(
            f"{what} ({h}x{w}, h x w) resized with scale={scale!r} would be {new_h}x{new_w}; every side "
            f"must end up between 1 and {MAX_SIDE}"
        )
    return new_h, new_w


def batch_extent(sizes, size_divisor: int, pad_to) -> tuple[int, int]:
    """(Hp, Wp) of a padded batch of images with (h, w) `sizes`: `pad_to`, or the largest h and w rounded up to a
    multiple of `size_divisor` (detectron2's and mmengine's rule)."""
    if pad_to is not None:
        if not hasattr(pad_to, "__len__") or len(pad_to) != 2:
            raise ValueError(f"pad_to must be an (h, w) pair, got {pad_to!r}")
        ph, pw = (check_size(f"pad_to[{i}]", v, maximum=MAX_SIDE) for i, v in enumerate(pad_to))
        for i, (h, w) in enumerate(sizes):
            if h > ph or w > pw:
                raise ValueError(f"images[{i}] is {h}x{w} (h x w), larger than pad_to={ph, pw}")
        return ph, pw
    # No image: (0, 0). Lists, not generators with max(..., default=): torch 2.11's dynamo cannot trace those.
    d, heights, widths = size_divisor, [0] + [h for h, _ in sizes], [0] + [w for _, w in sizes]
    return -(-max(heights) // d) * d, -(-max(widths) // d) * d


def check_range(name: str, value) -> tuple[float, float]:
    """A (low, high) pair of positive finite numbers with low <= high (RandomResizedCrop's scale and ratio); bools,
    NaN and pairs of another length are refused."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    items = list(value) if isinstance(value, (tuple, list)) else None
    if (
        items is None
        or len(items) != 2
        or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in items)
    ):
        raise ValueError(f"{name} must be a (low, high) pair of numbers, got {value!r}")
    low, high = float(items[0]), float(items[1])
    if not (0.0 < low <= high < math.inf):
        raise ValueError(f"{name} must be a (low, high) pair with 0 < low <= high (finite), got {value!r}")
    return low, high


def check_probability(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


def check_pair(name: str, value) -> tuple[int, int]:
    """An int n (meaning (n, n)) or an (h, w) pair of ints, each >= 1."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return (
            V.check_size(f"{name}[0]", value[0], minimum=1, maximum=V.MAX_SIDE),
            V.check_size(f"{name}[1]", value[1], minimum=1, maximum=V.MAX_SIDE),
        )
    if isinstance(value, (tuple, list)):
        raise ValueError(f"{name} must be an int or an (h, w) pair, got {value!r}")
    side = V.check_size(name, value, minimum=1, maximum=V.MAX_SIDE)
    return side, side


def check_resize(value) -> int | tuple[int, int]:
    """Resize's target: an int (the short side, as torchvision's `Resize(int)`) or an (h, w) pair."""
    if isinstance(value, (tuple, list)):
        return check_pair("resize", value)
    return V.check_size("resize", value, minimum=1, maximum=V.MAX_SIDE)


def check_crop_fits(resize, crop: tuple[int, int]) -> None:
    """Refuses an eval geometry no image can satisfy: the (h, w) `crop` larger than an (h, w) `resize`, or, for an
    int `resize` (the short side), both crop sides longer than it (a landscape image is then `resize` high, a portrait
    one `resize` wide)."""
    ch, cw = crop
    if isinstance(resize, tuple):
        if ch > resize[0] or cw > resize[1]:
            raise ValueError(f"crop {ch}x{cw} does not fit in images resized to {resize[0]}x{resize[1]} (resize)")
    elif min(ch, cw) > resize:
        raise ValueError(f"crop {ch}x{cw} does not fit in any image whose short side is resized to {resize} (resize)")


def random_resized_crop_params(
    height: int, width: int, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), generator: torch.Generator | None = None
) -> tuple[int, int, int, int]:
    """A random crop box drawn exactly as torchvision's `RandomResizedCrop` draws it (v1 `get_params` and v2 alike).

    The same RNG calls in the same order, ten attempts, then the central crop clamped to `ratio`: a pipeline seeded
    like a torchvision one crops the same boxes.

    Args:
        height: the image's height, an int >= 1.
        width: the image's width, an int >= 1.
        scale: (low, high) fraction of the image's area, 0 < low <= high.
        ratio: (low, high) aspect ratio (w / h) range, 0 < low <= high.
        generator: a torch.Generator; None uses the global torch RNG, as torchvision does.

    Returns:
        (top, left, h, w) ints, the box `resized_crop_batch` takes.

    Raises:
        TypeError: a size that is not an int (bools refused).
        ValueError: a size < 1, a reversed, NaN or 3-value `scale` or `ratio` (naming the argument).
    """
    height = V.check_size("height", height, minimum=1, maximum=V.MAX_SIDE)
    width = V.check_size("width", width, minimum=1, maximum=V.MAX_SIDE)
    scale, ratio = check_range("scale", scale), check_range("ratio", ratio)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return _sample_box(height=height, width=width, scale=scale, ratio=ratio, generator=generator)


def _sample_box(
    height: int, width: int, scale: tuple[float, float], ratio: tuple[float, float], generator: torch.Generator | None
) -> tuple[int, int, int, int]:
    """`random_resized_crop_params` on checked arguments."""
    area = height * width
    log_ratio = torch.log(torch.tensor(ratio))
    for _ in range(10):
        target_area = area * torch.empty(1).uniform_(scale[0], scale[1], generator=generator).item()
        aspect_ratio = torch.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1], generator=generator)).item()
        w = int(round(math.sqrt(target_area * aspect_ratio)))
        h = int(round(math.sqrt(target_area / aspect_ratio)))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, size=(1,), generator=generator).item())
            left = int(torch.randint(0, width - w + 1, size=(1,), generator=generator).item())
            return top, left, h, w
    in_ratio = float(width) / float(height)
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


def croppable_sizes(sizes, name: str) -> list[tuple[int, int]]:
    """(h, w) `sizes` of checked images as ints; an empty one is a ValueError naming it (`name` formatted with its
    index)."""
    sizes = [(int(h), int(w)) for h, w in sizes]
    for i, (h, w) in enumerate(sizes):
        if h == 0 or w == 0:
            raise ValueError(f"{name.format(i)} is empty ({h}x{w}) and cannot be cropped")
    return sizes


def draw_crops(sizes, scale, ratio, flip_p: float, name: str = "images[{}]", after_each=None) -> tuple[list, list]:
    """RandomResizedCrop boxes and RandomHorizontalFlip draws for images of (h, w) `sizes`, in torchvision's order
    (the box, then the flip, image after image); an empty image is a ValueError naming it (`name` formatted with
    its index). `after_each()`, if given, is called after each image's flip: the draws of the transforms that follow
    in a pipeline (colour), interleaved as torchvision's per-image pipeline makes them."""
    scale, ratio = check_range("scale", scale), check_range("ratio", ratio)
    sizes = croppable_sizes(sizes, name)
    if after_each is None and _backend.defines("fastload::_draw_crops") and not torch.compiler.is_compiling():
        # The same ATen calls in C++ (tested draw for draw): a dozen Python-level torch calls per image cost more
        # than decoding a tenth of the image.
        boxes, flips = torch.ops.fastload._draw_crops(
            torch.tensor(sizes, dtype=torch.int64).reshape(-1, 2), *scale, *ratio, float(flip_p)
        )
        return [tuple(b) for b in boxes.tolist()], flips.tolist()
    boxes, flips = [], []
    for h, w in sizes:
        boxes.append(_sample_box(height=h, width=w, scale=scale, ratio=ratio, generator=None))
        flips.append(bool(torch.rand(1) < flip_p))  # RandomHorizontalFlip's draw
        if after_each is not None:
            after_each()
    return boxes, flips


def resize_need(resize, size: tuple[int, int]) -> tuple[int, int]:
    """The (h, w) an image of `size` must keep under a draft decode so that Resize(resize) does not upscale it."""
    if isinstance(resize, tuple):
        return resize
    h, w = size
    return (resize, resize * w // h) if h <= w else (resize * h // w, resize)


def draft_reduce(size: tuple[int, int], need: tuple[int, int]) -> int:
    """The largest DCT scale 1/f (f in 8, 4, 2) that leaves `size` (a box's h, w) at least `need` (the output's
    h, w) on both sides, else 1: what PIL's `draft` picks."""
    return next((f for f in (8, 4, 2) if size[0] // f >= need[0] and size[1] // f >= need[1]), 1)


def reduced_box(box: tuple[int, int, int, int], f: int, reduced: tuple[int, int]) -> tuple[int, int, int, int]:
    """`box` (top, left, h, w) of a full-size image in the pixels of that image decoded at 1/f (`reduced` h, w):
    the smallest whole-pixel box holding it."""
    top, left, h, w = box
    t, lft = top // f, left // f
    return t, lft, min(-(-(top + h) // f), reduced[0]) - t, min(-(-(left + w) // f), reduced[1]) - lft


def resized_short_side(height: int, width: int, size: int) -> tuple[int, int]:
    """The size torchvision's `Resize(size)` with an int gives an image.

    Args:
        height: the image's height.
        width: the image's width.
        size: the short side after resizing.

    Returns:
        (h, w): the short side becomes `size`, the long side int(size * long / short) (truncated).
    """
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    return (new_long, new_short) if width <= height else (new_short, new_long)


def center_crop_anchor(height: int, width: int, crop_h: int, crop_w: int) -> tuple[int, int]:
    """torchvision's `CenterCrop` anchor of a crop_h x crop_w window in a height x width image.

    Args:
        height: the image's height.
        width: the image's width.
        crop_h: the window's height.
        crop_w: the window's width.

    Returns:
        (top, left) of the window, rounded as torchvision rounds it.
    """
    return int(round((height - crop_h) / 2.0)), int(round((width - crop_w) / 2.0))
