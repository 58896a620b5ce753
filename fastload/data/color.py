"""The colour and blur transforms of a training pipeline as `CropCollate` draws and applies them: RandomApply +
ColorJitter, RandomGrayscale, RandomApply + GaussianBlur and RandomSolarize, drawn with torchvision's RNG calls in
a pipeline's order after each image's box and flip (in C++ when the extension is built), applied to the uint8 crops
(`adjust_color`, `gaussian_blur`) before they are normalized."""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import torch

from fastload import _backend
from fastload.functional import _geometry as G
from fastload.functional._blur import blur_views
from fastload.functional._color import JITTER, STEPS, adjust_color


class ColorSettings(NamedTuple):
    """A collate's colour transforms: ColorJitter's four (low, high) ranges (None: not drawn) or None (no jitter),
    RandomApply's p for it, RandomGrayscale's p, GaussianBlur's RandomApply p, sigma range and kernel size, and
    RandomSolarize's p and threshold (a p of 0: the transform is not in the pipeline)."""

    ranges: tuple | None
    jitter_p: float
    grayscale_p: float
    blur_p: float
    blur_sigma: tuple[float, float]
    blur_kernel_size: int
    solarize_p: float
    threshold: float


class ColorDraw(NamedTuple):
    """One image's draws (what `CropCollate` puts in a dict batch's `color`): the four ColorJitter factors (None where
    not drawn or not applied), their order (ColorJitter's fn_idx), whether to convert to grey, the blur's sigma (None:
    no blur) and the solarize threshold (None: not solarized)."""

    brightness: float | None
    contrast: float | None
    saturation: float | None
    hue: float | None
    order: tuple
    grayscale: bool
    blur: float | None
    solarize: float | None


def _jitter_range(name: str, value) -> tuple[float, float] | None:
    """torchvision's ColorJitter range for one factor: a number v gives [max(0, 1 - v), 1 + v] (hue: [-v, v]), a pair
    is taken as is; None where the range is the identity (torchvision draws nothing for it)."""
    hue = name == "hue"
    center, bound = (0.0, 0.5) if hue else (1.0, math.inf)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"color_jitter's {name} must be non-negative, got {value}")
        lo, hi = center - float(value), center + float(value)
        lo = lo if hue else max(lo, 0.0)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        lo, hi = (float(v) for v in value)
    else:
        raise TypeError(f"color_jitter's {name} must be a number or a (min, max) pair, got {value!r}")
    if not (-bound if hue else 0.0) <= lo <= hi <= bound:
        raise ValueError(f"color_jitter's {name} range {(lo, hi)} must lie in [{-bound if hue else 0}, {bound}]")
    return None if lo == hi == center else (lo, hi)


def check_settings(
    color_jitter, jitter_p, grayscale_p, blur_p, blur_sigma, blur_kernel_size, solarize_p, threshold, size
) -> ColorSettings | None:
    """The checked settings of a collate producing `size` (h, w) crops, or None when none of them is on."""
    ranges = None
    if color_jitter is not None:
        values = list(color_jitter) if isinstance(color_jitter, (tuple, list)) else None
        if values is None or len(values) != 4:
            raise ValueError(f"color_jitter must be (brightness, contrast, saturation, hue), got {color_jitter!r}")
        ranges = tuple(_jitter_range(name, v) for name, v in zip(JITTER, values))
    jitter_p, grayscale_p = (
        G.check_probability("color_jitter_p", jitter_p),
        G.check_probability("grayscale_p", grayscale_p),
    )
    blur_p, solarize_p = G.check_probability("blur_p", blur_p), G.check_probability("solarize_p", solarize_p)
    sigma = list(blur_sigma) if isinstance(blur_sigma, (tuple, list)) else []
    if (
        len(sigma) != 2
        or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in sigma)
        or not (0 < sigma[0] <= sigma[1] < math.inf)
    ):
        raise ValueError(f"blur_sigma must be a (min, max) pair with 0 < min <= max, got {blur_sigma!r}")
    k = blur_kernel_size
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1 or k % 2 == 0:
        raise ValueError(f"blur_kernel_size must be an odd int > 0, got {k!r}")
    if blur_p > 0 and k // 2 >= min(size):
        raise ValueError(f"blur_kernel_size {k} is too large for {size[0]}x{size[1]} crops (k // 2 must be below both)")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold <= 255:
        raise ValueError(f"solarize_threshold must be a number <= 255, got {threshold!r}")
    if color_jitter is None and grayscale_p == 0 and blur_p == 0 and solarize_p == 0:
        return None
    sigma = (float(sigma[0]), float(sigma[1]))
    return ColorSettings(ranges, jitter_p, grayscale_p, blur_p, sigma, int(k), solarize_p, float(threshold))


def _below(p: float) -> bool:
    """torch.rand(1) < p: RandomApply's, RandomGrayscale's and RandomSolarize's draw."""
    return bool(torch.rand(1) < p)


def draw_color(s: ColorSettings) -> ColorDraw:
    """One image's draws with torchvision's calls, in a pipeline's order: RandomApply (when jitter_p < 1) and
    ColorJitter (`torch.randperm(4)`, then `uniform_` for each drawn range), RandomGrayscale, RandomApply (when
    blur_p < 1) and GaussianBlur (`uniform_` for sigma), RandomSolarize; a transform with p 0 draws nothing."""
    factors, order = [None] * 4, (0, 1, 2, 3)
    if s.ranges is not None and (s.jitter_p >= 1 or _below(s.jitter_p)):
        order = tuple(torch.randperm(4).tolist())
        factors = [None if r is None else float(torch.empty(1).uniform_(r[0], r[1]).item()) for r in s.ranges]
    grey = s.grayscale_p > 0 and _below(s.grayscale_p)
    blur = None
    if s.blur_p > 0 and (s.blur_p >= 1 or _below(s.blur_p)):
        blur = float(torch.empty(1).uniform_(*s.blur_sigma).item())
    solarize = s.threshold if s.solarize_p > 0 and _below(s.solarize_p) else None
    return ColorDraw(*factors, order=order, grayscale=grey, blur=blur, solarize=solarize)


def draw_crops_color(
    sizes, scale, ratio, flip_p: float, s: ColorSettings, name: str, entries: list | None = None
) -> tuple[list, list, list]:
    """RandomResizedCrop boxes, flips and `draw_color(s)` for images of (h, w) `sizes`, image after image (box,
    flip, colour) as a torchvision pipeline draws them: in C++ (`fastload::_draw_crops_color`, the same ATen calls)
    when it is built, else through `draw_crops`' per-image hook. `entries`, if given, holds each entry's own
    (scale_lo, scale_hi, blur_p, solarize_p) in place of `scale`, `s.blur_p` and `s.solarize_p` (a multi-crop: an
    image's crops one after another)."""
    if not _backend.defines("fastload::_draw_crops_color") or torch.compiler.is_compiling():
        if entries is None:
            draws = []
            after_each = lambda: draws.append(draw_color(s))  # noqa: E731
            boxes, flips = G.draw_crops(sizes, scale, ratio, flip_p, name, after_each=after_each)
            return boxes, flips, draws
        boxes, flips, draws = [], [], []
        for hw, (lo, hi, blur_p, solarize_p) in zip(sizes, entries):
            one = s._replace(blur_p=blur_p, solarize_p=solarize_p)
            b, f, d = draw_crops_color([hw], (lo, hi), ratio, flip_p, one, name)
            boxes, flips, draws = boxes + b, flips + f, draws + d
        return boxes, flips, draws
    scale, ratio = G.check_range("scale", scale), G.check_range("ratio", ratio)
    sizes = G.croppable_sizes(sizes, name)
    flat = [] if s.ranges is None else [v for r in s.ranges for v in ((math.nan, math.nan) if r is None else r)]
    probabilities = (s.jitter_p, s.grayscale_p, s.blur_p, *s.blur_sigma, s.solarize_p)
    own = None if entries is None else torch.tensor(entries, dtype=torch.float64).reshape(-1, 4)
    boxes, flips, table = torch.ops.fastload._draw_crops_color(
        torch.tensor(sizes, dtype=torch.int64).reshape(-1, 2), *scale, *ratio, float(flip_p), flat, *probabilities, own
    )
    draws = [
        ColorDraw(
            *(None if math.isnan(v) else v for v in row[:4]),
            order=tuple(int(v) for v in row[4:8]),
            grayscale=bool(row[8]),
            blur=None if math.isnan(row[9]) else row[9],
            solarize=s.threshold if row[10] else None,
        )
        for row in table.tolist()
    ]
    return [tuple(b) for b in boxes.tolist()], flips.tolist(), draws


def color_steps(draws: list[ColorDraw]) -> dict | None:
    """`adjust_color`'s step arguments (one value per image and step, and the jitter orders) for `draws`, as
    `resized_crop_batch(..., color=)` takes them; None when some image is blurred (the blur comes between the jitter
    and solarize, outside a pointwise pass)."""
    return None if any(d.blur is not None for d in draws) else _step_arguments(draws)


def _step_arguments(draws: list[ColorDraw]) -> dict:
    """`adjust_color`'s step arguments for `draws` (their blurs left out)."""
    return {**{name: [getattr(d, name) for d in draws] for name in STEPS}, "order": [list(d.order) for d in draws]}


def _adjust(images: torch.Tensor, draws: list[ColorDraw], input_order: str, norm=None, **normalized) -> torch.Tensor:
    """The colour steps of `draws` (their blurs left out) applied to the uint8 (N, C, H, W) `images`: in place
    (returns images), or with `norm` into the normalized batch `adjust_color` returns (dtype, channels_last, out in
    `normalized`)."""
    if norm is None:
        normalized = dict(out=images)
    return adjust_color(images, **_step_arguments(draws), input_order=input_order, norm=norm, **normalized)


def apply_draws(
    images: torch.Tensor, draws: list[ColorDraw], kernel_size: int, input_order: str, norm=None, **normalized
) -> torch.Tensor:
    """`draws` (one per image) applied to the uint8 (N, C, H, W) crops in a pipeline's order: jitter and grayscale,
    then the blur (of the images drawn to be blurred only), then solarize. Without `norm`, in place; returns images.
    With `norm` (a `Normalization`), the last colour call also normalizes (`adjust_color(..., norm=norm,
    **normalized)`: dtype, channels_last, out) and returns that float batch; images may be changed on the way."""
    blurred = [i for i, d in enumerate(draws) if d.blur is not None]
    if not blurred:
        return _adjust(images, draws, input_order, norm, **normalized)
    _adjust(images, [d._replace(solarize=None) for d in draws], input_order)
    views = [images[i].permute(1, 2, 0) for i in blurred]  # read in place: no gathered copy
    out = blur_views(views, (kernel_size, kernel_size), [draws[i].blur for i in blurred])
    for k, i in enumerate(blurred):  # image by image: index_copy_ into the permuted batch runs 4x slower
        images[i].copy_(out[k])
    if norm is not None or any(d.solarize is not None for d in draws):
        only = ColorDraw(None, None, None, None, (0, 1, 2, 3), False, None, None)
        return _adjust(images, [only._replace(solarize=d.solarize) for d in draws], input_order, norm, **normalized)
    return images
