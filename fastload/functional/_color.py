"""Colour adjustments of uint8 batches: torchvision v2's `adjust_brightness`, `adjust_contrast`,
`adjust_saturation`, `adjust_hue`, `rgb_to_grayscale` and `solarize`, and RandAugment's `adjust_sharpness`,
`posterize`, `autocontrast`, `equalize` and `invert`, per image with its own factors and order, in one op
(`fastload::adjust_color`). `fastload.data.color` draws them as torchvision's transforms do, for the collates."""

from __future__ import annotations

import itertools
import math
import numbers

import numpy as np
import torch

from fastload import _backend, reference
from fastload import _validation as V
from fastload.normalization import channel_map, kernel_stats

STEPS = ("brightness", "contrast", "saturation", "hue", "grayscale", "solarize")
JITTER = STEPS[:4]
VALUE_STEPS = ("sharpness", "posterize", "autocontrast", "equalize", "invert", "solarize_add")
CODES = {name: k for k, name in enumerate(STEPS + VALUE_STEPS)}  # the op's step codes (color_math.h)
_FLAGS = ("grayscale", "autocontrast", "equalize", "invert")  # steps without a factor: a bool per image
_STATS = ("contrast", "autocontrast", "equalize")  # steps that reduce over the image: one per image and call
# The steps resized_crop_batch's `color` takes in the crop's pass: all but those that read more than the pixel and
# one mean (sharpness: neighbours; autocontrast and equalize: histograms).
FUSED_STEPS = tuple(name for name in CODES if name not in ("sharpness", "autocontrast", "equalize"))


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
    if name in ("brightness", "contrast", "saturation", "sharpness") and v < 0:
        raise ValueError(f"{name} must be non-negative, got {v}")
    if name == "posterize" and (v != int(v) or not 0 <= v <= 8):
        raise ValueError(f"posterize (the bits kept) must be an integer in [0, 8], got {v}")
    if name == "solarize_add" and (v != int(v) or not 0 <= v <= 255):
        raise ValueError(f"solarize_add (the amount) must be an integer in [0, 255], got {v}")
    return v


_PERMUTATIONS = {p: p for p in itertools.permutations(range(4))}  # a row's tuple -> the permutation as ints


def _check_order(order, n: int) -> list[tuple[int, ...]]:
    """Per image, a permutation of 0..3 (brightness, contrast, saturation, hue: torchvision's `fn_idx`)."""
    if order is None:
        return [(0, 1, 2, 3)] * n
    if isinstance(order, torch.Tensor):
        order = order.tolist()
    rows = list(order)
    if len(rows) == 4 and all(isinstance(v, numbers.Integral) for v in rows):
        rows = [rows] * n
    # A row is found by its tuple (equal numbers hash alike: NumPy's ints, or 2.0, find (..., 2, ...) as sorted() did).
    found = [_PERMUTATIONS.get(tuple(r)) if isinstance(r, (list, tuple)) else None for r in rows]
    if len(found) != n or None in found:
        raise ValueError(f"order must be a permutation of 0..3 (ColorJitter's fn_idx) or one per image ({n})")
    return found


def color_tables(n: int, factors: dict, order=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The op's (N, 12) int64 steps and (N, 12) float64 factors for `factors` (step name -> per-image list or None;
    a name left out is None): sharpness, the jitter steps in each image's `order`, grayscale, posterize, solarize,
    solarize_add, autocontrast, equalize, invert."""
    orders = _check_order(order, n)
    given = {name: factors.get(name) for name in CODES}
    for name, values in given.items():  # every factor checked once, before any table is built
        if values is not None and name not in _FLAGS:
            given[name] = [None if v is None else _check_factor(name, v) for v in values]
    # Per image only what it needs: the steps' (code, values) in the op's order, names without values left out
    # (a loop over every name for every image cost ~5 us an image; a collate adjusts hundreds of crops a batch).
    first = [(CODES[name], given[name]) for name in ("sharpness",) if given[name] is not None]
    jitter = [(CODES[name], given[name]) for name in JITTER]
    later = ("grayscale", "posterize", "solarize", "solarize_add", "autocontrast", "equalize", "invert")
    last = [(CODES[name], given[name]) for name in later if given[name] is not None]
    stats = {CODES[name] for name in _STATS}
    width = len(CODES)
    # Flat lists, one array each (element-wise tensor writes cost ~15 us an image; NumPy reads a flat list of
    # numbers 3x faster than torch.tensor reads nested ones).
    steps, table = [], []
    for i in range(n):
        codes, row = [], [0.0] * width
        for code, values in first + [jitter[k] for k in orders[i]] + last:
            v = None if values is None else values[i]
            if v is None or v is False:  # not applied (a flag's False included)
                continue
            codes.append(code)
            if v is not True:
                row[code] = v
        if len(stats.intersection(codes)) > 1:
            raise ValueError(
                f"image {i} has more than one of contrast, autocontrast and equalize: each reduces over the image, "
                "and one call takes one per image (call adjust_color twice)"
            )
        steps += codes + [-1] * (width - len(codes))
        table += row
    return (
        torch.from_numpy(np.array(steps, dtype=np.int64)).reshape(n, width),
        torch.from_numpy(np.array(table, dtype=np.float64)).reshape(n, width),
    )


def step_tables(n: int, channels: int, input_order: str, order, given: dict) -> tuple:
    """The op's (steps, factors, rgb) for n images of `channels` channels in `input_order`, from `adjust_color`'s
    per-step arguments `given` (step name -> None, one value, or one per image; checked here) and `order`."""
    factors = {
        name: _per_image(name, value, n, kind=bool if name in _FLAGS else numbers.Real) for name, value in given.items()
    }
    steps, table = color_tables(n, factors, order)
    order_name = V.check_order("input_order", input_order)
    return steps, table, [0] if channels == 1 else ([0, 1, 2] if order_name == "rgb" else [2, 1, 0])


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
    sharpness=None,
    posterize=None,
    solarize_add=None,
    autocontrast=None,
    equalize=None,
    invert=None,
    input_order: str = "rgb",
    norm=None,
    dtype: torch.dtype | None = None,
    channels_last: bool = False,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """torchvision v2's colour adjustments of a uint8 batch, each image with its own factors, in one op; with
    `norm`, the adjusted bytes normalized in the same pass.

    Image i gets `adjust_sharpness(sharpness[i])`, then `adjust_brightness`, `adjust_contrast`,
    `adjust_saturation` and `adjust_hue` with its factors in its `order` (ColorJitter's), then
    `rgb_to_grayscale(num_output_channels=3)` if `grayscale[i]`, `posterize(posterize[i])`,
    `solarize(threshold=solarize[i])`, timm's `solarize_add(solarize_add[i])`, `autocontrast`, `equalize`, `invert`
    where asked: each step truncated to bytes as torchvision's, equal to torchvision v2's functions on uint8 tensors
    (on the CPU bit for bit; within 1 grey level wherever ATen does not fuse the multiply-adds of its blends). One
    image takes at most one of contrast, autocontrast and equalize (each reduces over the image as it is before
    that step).

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
        solarize: None, a threshold <= 255, or one per image (None skips): invert values >= threshold.
        sharpness: as brightness, applied first (torchvision's 3 x 3 smoothing blend; the border kept). Not in
            place.
        posterize: None, the bits kept (an int in [0, 8]), or one per image (None skips).
        solarize_add: None, an int in [0, 255], or one per image (None skips): timm's `solarize_add`, values under
            128 raised by it (capped at 255).
        autocontrast: None, a bool, or one per image: stretch each channel's [min, max] to [0, 255].
        equalize: as autocontrast: PIL's histogram equalization of each channel.
        invert: as autocontrast: 255 - value, last.
        input_order: the channel order of images, "rgb" or "bgr".
        norm: None (a uint8 result), or a `Normalization`: the result is the adjusted batch normalized, as
            `normalize(adjusted.permute(0, 2, 3, 1), norm, input_order=input_order)` gives it (channels in
            norm.order), without the uint8 batch in between.
        dtype: with norm, torch.float32 (default), torch.float16 or torch.bfloat16.
        channels_last: with norm, a channels_last result.
        out: without norm, None for a new tensor in images' layout; `images` itself (or a view of the same memory
            with the same strides) to adjust in place; or another uint8 tensor of images' shape and device that
            shares no memory with it. With norm, None or a float (N, C, H, W) tensor on images' device, contiguous or
            channels_last, sharing no memory with images (its dtype and layout are used).

    Returns:
        The adjusted (N, C, H, W) uint8 batch, or with norm the normalized float batch (`out` when given).

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
    given = dict(brightness=brightness, contrast=contrast, saturation=saturation, hue=hue, solarize=solarize)
    given.update(sharpness=sharpness, posterize=posterize, solarize_add=solarize_add, grayscale=grayscale)
    given.update(autocontrast=autocontrast, equalize=equalize, invert=invert)
    steps, table, rgb = step_tables(images.shape[0], images.shape[1], input_order, order, given)
    order_name = V.check_order("input_order", input_order)
    if norm is not None or dtype is not None or channels_last is not False:
        return _normalized(images, (steps, table, rgb), order_name, norm, dtype, channels_last, out)
    if out is None:
        return _backend.pick("adjust_color", images.device)(images, steps, table, rgb)
    V.check_image_out(out, images)  # images itself (in place) or a tensor apart from it
    compiling = torch.compiler.is_compiling()  # dynamo cannot compare data pointers: there, only `images` itself
    same = out is images or (not compiling and out.data_ptr() == images.data_ptr() and out.stride() == images.stride())
    if same and V.expanded(images):
        raise ValueError("images is expanded (one value at several indices): it cannot be adjusted in place")
    if same and images.numel() and bool((steps[:, 0] == CODES["sharpness"]).any()):
        raise ValueError("sharpness reads each pixel's neighbours: out must not be images (no in-place sharpening)")
    if not same and not compiling and out.numel() and V.overlaps(out, images):
        raise ValueError("out shares memory with images without being images itself: pass out=images for in place")
    _backend.pick("adjust_color_into", images.device)(images, steps, table, rgb, out)
    return out


def _normalized(images: torch.Tensor, args: tuple, input_order: str, norm, dtype, channels_last, out):
    """adjust_color with norm: the op's (steps, table, rgb) `args` through `adjust_color_normalize`, into `out` (a
    float (N, C, H, W) batch, its dtype and layout used) or a new batch."""
    if norm is None:
        raise ValueError("dtype and channels_last need norm (without it, adjust_color returns the uint8 batch)")
    norm = V.check_norm(norm)
    V.check_channels(images.shape[1], norm, "images has")
    channels_last = V.check_bool("channels_last", channels_last)
    if isinstance(out, torch.Tensor) and dtype is None:
        if out.dtype not in V.FLOAT_DTYPES:
            raise ValueError(f"out must be a float32, float16 or bfloat16 tensor with norm, got {out.dtype}")
        dtype = out.dtype
    dtype = V.check_float_dtype(torch.float32 if dtype is None else dtype)
    if isinstance(out, torch.Tensor) and out.dim() == 4 and not channels_last:
        channels_last = out.is_contiguous(memory_format=torch.channels_last) and not out.is_contiguous()
    args = (images, *args, *kernel_stats(norm), channel_map(images.shape[1], input_order, norm.order))
    if out is None:
        return _backend.pick("adjust_color_normalize", images.device)(*args, dtype, channels_last)
    n, c, h, w = images.shape
    expected = reference.pad_batch_output(n, c, (h, w), True, dtype, channels_last, "meta")  # the op's result
    V.check_out_as(out, expected, images.device, [images])
    _backend.pick("adjust_color_normalize_into", images.device)(*args, dtype, channels_last, out)
    return out
