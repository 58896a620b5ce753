"""Colour adjustments of uint8 batches: torchvision v2's `adjust_brightness`, `adjust_contrast`,
`adjust_saturation`, `adjust_hue`, `rgb_to_grayscale` and `solarize`, per image with its own factors and order, in one
op (`fastload::adjust_color`); and the draws of `ColorJitter`, `RandomGrayscale` and `RandomSolarize`, made with
torchvision's RNG calls, for the collates."""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import torch

from fastload import _backend
from fastload import _validation as V
from fastload.functional import _geometry as G

STEPS = ("brightness", "contrast", "saturation", "hue", "grayscale", "solarize")
JITTER = STEPS[:4]


class ColorDraw(NamedTuple):
    """One image's drawn colour parameters (what `CropCollate` puts in a batch's metadata): the four ColorJitter
    factors (None where not drawn or not applied), their order (ColorJitter's fn_idx), whether to convert to grey, and
    the solarize threshold (None: not solarized)."""

    brightness: float | None
    contrast: float | None
    saturation: float | None
    hue: float | None
    order: tuple
    grayscale: bool
    solarize: float | None


def _per_image(name: str, value, n: int, kind=numbers.Real) -> list | None:
    """`value` as n entries: None (the step not applied), one value for every image, or a sequence of n (an entry of
    None skips that image)."""
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n
    if len(values) != n:
        raise ValueError(f"{name} must be one value or one per image ({n}), got {len(values)}")
    for v in values:
        if v is not None and (isinstance(v, bool) != (kind is bool) or not isinstance(v, kind)):
            raise TypeError(f"{name} must hold {'bools' if kind is bool else 'numbers'}, got {v!r}")
    return values


def _check_factor(name: str, v: float) -> float:
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if name == "hue" and not -0.5 <= v <= 0.5:
        raise ValueError(f"hue must lie in [-0.5, 0.5], got {v}")
    if name == "solarize" and v > 255:
        raise ValueError(f"solarize (the threshold) must be at most 255, got {v}")
    if name in ("brightness", "contrast", "saturation") and v < 0:
        raise ValueError(f"{name} must be non-negative, got {v}")
    return v


def _check_order(order, n: int) -> list[list[int]]:
    """Per image, a permutation of 0..3 (brightness, contrast, saturation, hue: torchvision's `fn_idx`)."""
    if order is None:
        return [[0, 1, 2, 3]] * n
    if isinstance(order, torch.Tensor):
        order = order.tolist()
    rows = [list(r) if isinstance(r, (list, tuple)) else r for r in order]
    if len(rows) == 4 and all(isinstance(v, numbers.Integral) for v in rows):
        rows = [rows] * n
    if len(rows) != n or any(not isinstance(r, list) or sorted(r) != [0, 1, 2, 3] for r in rows):
        raise ValueError(f"order must be a permutation of 0..3 (ColorJitter's fn_idx) or one per image ({n})")
    return [[int(v) for v in r] for r in rows]


def color_tables(n: int, factors: dict, order=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The op's (N, 6) int64 steps and (N, 6) float64 factors for `factors` (step name -> per-image list or None):
    the jitter steps in each image's `order`, then grayscale, then solarize."""
    orders = _check_order(order, n)
    steps = torch.full((n, 6), -1, dtype=torch.int64)
    table = torch.zeros((n, 6), dtype=torch.float64)
    for i in range(n):
        codes = [k for k in orders[i] if factors[JITTER[k]] is not None and factors[JITTER[k]][i] is not None]
        if factors["grayscale"] is not None and factors["grayscale"][i]:
            codes.append(4)
        if factors["solarize"] is not None and factors["solarize"][i] is not None:
            codes.append(5)
        steps[i, : len(codes)] = torch.tensor(codes, dtype=torch.int64)
        for k, name in enumerate(STEPS):
            if k != 4 and k in codes:
                table[i, k] = _check_factor(name, factors[name][i])
    return steps, table


def adjust_color(
    images: torch.Tensor,
    *,
    brightness=None,
    contrast=None,
    saturation=None,
    hue=None,
    order=None,
    grayscale=None,
    solarize=None,
    input_order: str = "rgb",
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """torchvision v2's colour adjustments of a uint8 batch, each image with its own factors, in one op.

    Image i gets `adjust_brightness`, `adjust_contrast`, `adjust_saturation` and `adjust_hue` with its factors in
    its `order` (ColorJitter's), then `rgb_to_grayscale(num_output_channels=3)` if `grayscale[i]`, then
    `solarize(threshold=solarize[i])`: each step truncated to bytes as torchvision's, equal to torchvision v2's
    functions on uint8 tensors (on the CPU bit for bit; within 1 grey level wherever ATen does not fuse the
    multiply-adds of its blends).

    Args:
        images: an (N, C, H, W) uint8 tensor (C = 1 or 3; any strides, e.g. an (N, H, W, C) batch `.permute(0, 3,
            1, 2)`), on any device.
        brightness: None (not applied), a factor >= 0, or one per image (an entry None skips that image).
        contrast: as brightness; the mean grey is of the image as it is before this step.
        saturation: as brightness.
        hue: as brightness, in [-0.5, 0.5].
        order: None (brightness, contrast, saturation, hue), a permutation of 0..3, or one per image (N, 4):
            ColorJitter's `fn_idx`.
        grayscale: None, a bool, or one per image: convert to grey (3 equal channels) after the jitter.
        solarize: None, a threshold <= 255, or one per image (None skips): invert values >= threshold, last.
        input_order: the channel order of images, "rgb" or "bgr".
        out: None for a new tensor in images' layout; `images` itself (or a view of the same memory with the same
            strides) to adjust in place; or another uint8 tensor of images' shape and device that shares no memory
            with it.

    Returns:
        The adjusted (N, C, H, W) uint8 batch (`out` when given).

    Raises:
        TypeError: images not a uint8 tensor, a factor not a number, out not a tensor.
        ValueError: images not (N, 1|3, H, W), a factor out of range, a bad order, out of the wrong shape or sharing
            memory with images.
    """
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        what = f"a {images.dtype} tensor" if isinstance(images, torch.Tensor) else type(images).__name__
        raise TypeError(f"images must be a uint8 tensor, got {what}")
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be an (N, C, H, W) batch with C = 1 or 3, got shape {tuple(images.shape)}")
    n = images.shape[0]
    given = dict(brightness=brightness, contrast=contrast, saturation=saturation, hue=hue, solarize=solarize)
    factors = {name: _per_image(name, value, n) for name, value in given.items()}
    factors["grayscale"] = _per_image("grayscale", grayscale, n, kind=bool)
    steps, table = color_tables(n, factors, order)
    order_name = V.check_order("input_order", input_order)
    rgb = [0] if images.shape[1] == 1 else ([0, 1, 2] if order_name == "rgb" else [2, 1, 0])
    if out is None:
        return _backend.pick("adjust_color", images.device)(images, steps, table, rgb)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"out must be a torch.Tensor, got {type(out).__name__}")
    if out.shape != images.shape or out.dtype != torch.uint8 or out.device != images.device:
        raise ValueError(
            f"out must be images itself or a uint8 tensor of shape {tuple(images.shape)} on {images.device}, "
            f"got {out.dtype} {tuple(out.shape)} on {out.device}"
        )
    compiling = torch.compiler.is_compiling()  # dynamo cannot compare data pointers: there, only `images` itself
    same = out is images or (not compiling and out.data_ptr() == images.data_ptr() and out.stride() == images.stride())
    if same and V.expanded(images):
        raise ValueError("images is expanded (one value at several indices): it cannot be adjusted in place")
    if not same and not compiling and out.numel() and V.overlaps(out, images):
        raise ValueError("out shares memory with images without being images itself: pass out=images for in place")
    _backend.pick("adjust_color_into", images.device)(images, steps, table, rgb, out)
    return out


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


def jitter_ranges(color_jitter) -> tuple | None:
    """(brightness, contrast, saturation, hue) as ColorJitter takes them -> the four ranges (None: not drawn)."""
    if color_jitter is None:
        return None
    values = list(color_jitter) if isinstance(color_jitter, (tuple, list)) else None
    if values is None or len(values) != 4:
        raise ValueError(f"color_jitter must be (brightness, contrast, saturation, hue), got {color_jitter!r}")
    return tuple(_jitter_range(name, v) for name, v in zip(JITTER, values))


def draw_color(ranges, jitter_p: float, grayscale_p: float, solarize_p: float, threshold: float) -> ColorDraw:
    """One image's draws with torchvision's calls, in a pipeline's order: RandomApply (when jitter_p < 1:
    `torch.rand(1) < p`), ColorJitter (`torch.randperm(4)`, then `uniform_` for each drawn range), RandomGrayscale
    and RandomSolarize (`torch.rand(1) < p` each, when their p > 0)."""
    factors, order = [None] * 4, (0, 1, 2, 3)
    if ranges is not None and (jitter_p >= 1 or bool(torch.rand(1) < jitter_p)):
        order = tuple(torch.randperm(4).tolist())
        factors = [None if r is None else float(torch.empty(1).uniform_(r[0], r[1]).item()) for r in ranges]
    grey = grayscale_p > 0 and bool(torch.rand(1) < grayscale_p)
    solarize = threshold if solarize_p > 0 and bool(torch.rand(1) < solarize_p) else None
    return ColorDraw(*factors, order=order, grayscale=grey, solarize=solarize)


def apply_color(images: torch.Tensor, draws: list[ColorDraw], input_order: str) -> torch.Tensor:
    """`draws` applied in place to the uint8 (N, C, H, W) `images` (one draw per image) with `adjust_color`."""
    n = len(draws)
    factors = {name: [getattr(d, name) for d in draws] for name in STEPS}
    factors["grayscale"] = [d.grayscale for d in draws]
    steps, table = color_tables(n, factors, [list(d.order) for d in draws])
    c = images.shape[1]
    rgb = [0] if c == 1 else ([0, 1, 2] if input_order == "rgb" else [2, 1, 0])
    _backend.pick("adjust_color_into", images.device)(images, steps, table, rgb, images)
    return images


def draw_crops_color(sizes, scale, ratio, flip_p: float, settings: tuple, name: str) -> tuple[list, list, list]:
    """RandomResizedCrop boxes, flips and `draw_color(*settings)` for images of (h, w) `sizes`, image after image
    (box, flip, colour) as a torchvision pipeline draws them: in C++ (`fastload::_draw_crops_color`, the same ATen
    calls) when it is built, else through `draw_crops`' per-image hook."""
    ranges, jitter_p, grayscale_p, solarize_p, threshold = settings
    if not _backend.defines("fastload::_draw_crops_color") or torch.compiler.is_compiling():
        draws = []
        boxes, flips = G.draw_crops(
            sizes, scale, ratio, flip_p, name, after_each=lambda: draws.append(draw_color(*settings))
        )
        return boxes, flips, draws
    scale, ratio = G.check_range("scale", scale), G.check_range("ratio", ratio)
    sizes = G.croppable_sizes(sizes, name)
    flat = [] if ranges is None else [v for r in ranges for v in ((math.nan, math.nan) if r is None else r)]
    boxes, flips, table = torch.ops.fastload._draw_crops_color(
        torch.tensor(sizes, dtype=torch.int64).reshape(-1, 2),
        *scale,
        *ratio,
        float(flip_p),
        flat,
        float(jitter_p),
        float(grayscale_p),
        float(solarize_p),
    )
    draws = [
        ColorDraw(
            *(None if math.isnan(v) else v for v in row[:4]),
            order=tuple(int(v) for v in row[4:8]),
            grayscale=bool(row[8]),
            solarize=threshold if row[9] else None,
        )
        for row in table.tolist()
    ]
    return [tuple(b) for b in boxes.tolist()], flips.tolist(), draws
