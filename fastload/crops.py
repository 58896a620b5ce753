"""Classification crops: torchvision's RandomResizedCrop sampling and Resize + CenterCrop geometry, and the
resampling taps that let one separable kernel crop, resize (antialiased, bilinear or nearest), flip and normalize a
whole batch in one pass (`resized_crop_batch`, `resize_center_crop_batch`).

Every output pixel is a separable weighted sum of source pixels: along each axis, output index d reads `taps`
consecutive source indices from `start[d]` with weights `weights[d, :]` (zero-padded). The tables are computed here
once per image, in float64 and rounded to float32, and every backend applies them in the same order (horizontal
sums of each source row, then the vertical sum, in fp32 without fma), so CPU, CUDA and the reference agree bit for
bit.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from fastload import _ops, reference
from fastload import _validation as V
from fastload.batching import BatchSource
from fastload.normalization import Normalization, channel_map, kernel_stats

INTERPOLATIONS = ("bilinear", "nearest")


def random_resized_crop_params(height: int, width: int, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                               generator: torch.Generator | None = None) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a random crop of an image of `height` x `width`, drawn exactly as torchvision's
    `RandomResizedCrop` draws it (v1 `get_params` and v2 alike): the same RNG calls in the same order, ten attempts,
    then the central crop clamped to `ratio`. With `generator=None` the global torch RNG is used, as torchvision
    does, so a pipeline seeded like a torchvision one crops the same boxes."""
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


def resized_short_side(height: int, width: int, size: int) -> tuple[int, int]:
    """torchvision's `Resize(size)` with an int: the short side becomes `size`, the long side
    int(size * long / short) (truncated). Returns (h, w)."""
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    return (new_long, new_short) if width <= height else (new_short, new_long)


def center_crop_anchor(height: int, width: int, crop_h: int, crop_w: int) -> tuple[int, int]:
    """torchvision's `CenterCrop` anchor (top, left) of a crop_h x crop_w window in a height x width image."""
    return int(round((height - crop_h) / 2.0)), int(round((width - crop_w) / 2.0))


def axis_taps(src: int, dst: int, resized: int, offset: int, interpolation: str, antialias: bool
              ) -> tuple[np.ndarray, np.ndarray]:
    """One axis of a resample: a `src`-long source span resized to `resized` samples, of which output indices
    0..dst-1 are samples offset..offset+dst-1 (a centre crop of the resized image; offset 0 and resized == dst for
    a plain resize). Returns int64 starts (dst,) and float64 weights (dst, K): output d reads source indices
    starts[d] + k with weights[d, k] (zero where unused).

    - bilinear, antialias: torch's antialiased bilinear (PIL's triangle filter, its support widened by the
      downscale factor), what torchvision's `resize(..., antialias=True)` computes;
    - bilinear, no antialias: OpenCV INTER_LINEAR coordinates, as `resize_pad_batch` (torch's align_corners=False);
    - nearest: torch's `interpolate(mode="nearest")`: floor(d * (src / resized)) in fp32, clamped.
    """
    d = np.arange(offset, offset + dst, dtype=np.int64)
    if interpolation == "nearest":
        scale = np.float32(src) / np.float32(resized)
        starts = np.minimum(np.floor(d.astype(np.float32) * scale).astype(np.int64), src - 1)
        return starts, np.ones((dst, 1))
    scale = src / resized
    if not antialias:
        # resize_math.h's linear_tap: the position rounded to fp32, the weight of the right neighbour in fp32.
        pos = ((d + 0.5) * (1.0 / (resized / src)) - 0.5).astype(np.float32)
        base = np.floor(pos)
        frac = (pos - base).astype(np.float32)
        i0 = base.astype(np.int64)
        edge = (i0 < 0) | (i0 >= src - 1)
        i0 = np.clip(i0, 0, src - 1)
        frac = np.where(edge, np.float32(0), frac)
        w = np.stack([1.0 - frac.astype(np.float64), frac.astype(np.float64)], axis=1)
        return i0, w
    support = max(scale, 1.0)  # the triangle's half width (1 for bilinear), widened when downscaling
    inv = 1.0 / scale if scale > 1.0 else 1.0
    center = scale * (d + 0.5)
    lo = np.maximum((center - support + 0.5).astype(np.int64), 0)
    hi = np.minimum((center + support + 0.5).astype(np.int64), src)
    k = int((hi - lo).max()) if dst else 1
    j = np.arange(k)[None, :]
    w = np.clip(1.0 - np.abs((j + lo[:, None] - center[:, None] + 0.5) * inv), 0.0, None)
    w[j >= (hi - lo)[:, None]] = 0.0
    return lo, w / w.sum(axis=1, keepdims=True)


def tap_table(axes: list[tuple[np.ndarray, np.ndarray]], flips=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Stacks the per-image taps of one axis into (N, D) int64 starts and (N, D, K) float32 weights, K the most taps
    any output index uses (shorter rows zero-padded). `flips[i]` reverses image i's output order (a horizontal flip
    after the crop)."""
    k = max((w.shape[1] for _, w in axes), default=1)
    n, dst = len(axes), axes[0][0].shape[0] if axes else 0
    starts = np.zeros((n, dst), np.int64)
    weights = np.zeros((n, dst, k), np.float64)
    for i, (s, w) in enumerate(axes):
        order = slice(None, None, -1) if flips is not None and flips[i] else slice(None)
        starts[i] = s[order]
        weights[i, :, : w.shape[1]] = w[order]
    return torch.from_numpy(starts), torch.from_numpy(weights.astype(np.float32))


def _check_pair(name: str, value) -> tuple[int, int]:
    """An int n (meaning (n, n)) or an (h, w) pair of ints, each >= 1."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return (V.check_size(f"{name}[0]", value[0], minimum=1, maximum=V.MAX_SIDE),
                V.check_size(f"{name}[1]", value[1], minimum=1, maximum=V.MAX_SIDE))
    if isinstance(value, (tuple, list)):
        raise ValueError(f"{name} must be an int or an (h, w) pair, got {value!r}")
    side = V.check_size(name, value, minimum=1, maximum=V.MAX_SIDE)
    return side, side


def _check_boxes(boxes, sizes: list[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """(N, 4) integer (top, left, height, width) boxes, each non-empty and inside its image."""
    if isinstance(boxes, torch.Tensor) and (boxes.is_floating_point() or boxes.is_complex() or
                                            boxes.dtype == torch.bool):
        raise ValueError(f"boxes must hold integers (top, left, height, width), got dtype {boxes.dtype}")
    try:
        array = np.asarray(boxes.cpu() if isinstance(boxes, torch.Tensor) else boxes)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"boxes must be an (N, 4) array of ints, got {type(boxes).__name__}") from exc
    if array.shape != (len(sizes), 4) or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"boxes must be an (N, 4) array of ints (top, left, height, width) for {len(sizes)} images, "
                         f"got shape {array.shape} of {array.dtype}")
    out = []
    for i, ((top, left, h, w), (ih, iw)) in enumerate(zip(array.tolist(), sizes)):
        if h <= 0 or w <= 0 or top < 0 or left < 0 or top + h > ih or left + w > iw:
            raise ValueError(f"boxes[{i}] = (top={top}, left={left}, height={h}, width={w}) must be non-empty and lie "
                             f"inside images[{i}] ({ih}x{iw})")
        out.append((top, left, h, w))
    return out


def _check_flips(flips, n: int) -> list[bool]:
    if flips is None:
        return [False] * n
    values = flips.tolist() if isinstance(flips, (torch.Tensor, np.ndarray)) else list(flips)
    if len(values) != n or not all(isinstance(v, (bool, np.bool_)) for v in values):
        raise ValueError(f"flips must be {n} bools (one per image), got {flips!r}")
    return [bool(v) for v in values]


def _resample_batch(src, ys: list, xs: list, flips: list[bool], out_hw: tuple[int, int], norm, input_order: str,
                    dtype, channels_last: bool, device, out) -> torch.Tensor:
    """Runs fastload::resized_crop_batch on the checked images with per-image (starts, weights) of each axis."""
    dtype = V.check_float_dtype(dtype)
    channels_last = V.check_bool("channels_last", channels_last)
    input_order = V.check_order("input_order", input_order)
    normalized = norm is not None
    V.check_batch_bytes([len(ys), src.channels, *out_hw], dtype if normalized else torch.uint8, "size")
    if normalized:
        cmap = channel_map(src.channels, input_order, norm.order)
        (mean, inv_std), out_dtype = kernel_stats(norm), dtype
    else:
        cmap, mean, inv_std, out_dtype = list(range(src.channels)), None, None, None
    if out is not None:
        src.check_out(out, reference.pad_batch_output(len(ys), src.channels, out_hw, normalized, out_dtype,
                                                      channels_last, "meta"), device)
    src = src.to(device)
    y_starts, y_weights = tap_table(ys)
    x_starts, x_weights = tap_table(xs, flips)
    tables = [t.to(src.device) for t in (y_starts, y_weights, x_starts, x_weights)]
    if src.packed is not None:
        tensors, masks = src.packed.unpack(), [0] * len(ys)
    else:
        tensors, masks = src.tensors, src.masks
    args = (tensors, masks, *tables, mean, inv_std, cmap, out_dtype, channels_last)
    if out is None:
        return _ops.pick("resized_crop_batch", src.device)(*args)
    _ops.pick("resized_crop_batch_into", src.device)(*args, out)
    return out


def _shift(taps: tuple[np.ndarray, np.ndarray], by: int) -> tuple[np.ndarray, np.ndarray]:
    return taps[0] + by, taps[1]


def resized_crop_batch(images, boxes, size, norm: Normalization | None = None, *, flips=None,
                       interpolation: str = "bilinear", antialias: bool = True, input_order: str = "bgr",
                       dtype: torch.dtype = torch.float32, channels_last: bool = False, device=None,
                       out: torch.Tensor | None = None) -> torch.Tensor:
    """Crop a box of each image, resize it to `size`, optionally flip it horizontally, and normalize, for a whole
    batch in one pass: torchvision's `resized_crop` + `horizontal_flip` + `to_dtype` + `normalize` per image, fused.

    Args:
        images: a sequence of (H, W, C) uint8 images (numpy or torch, any strides, equal C) or a `PackedImages`.
        boxes: (N, 4) ints (tensor, array or list) of (top, left, height, width) in each image's pixels, as
            torchvision's `resized_crop` takes them (`random_resized_crop_params` draws them).
        size: the output (h, w), or an int for a square.
        norm: the model's `Normalization`; None gives an (N, h, w, C) uint8 batch in the input's channel order.
        flips: optional N bools: flip image i horizontally after the crop.
        interpolation, antialias: "bilinear" with antialias=True is torchvision's `resize(..., antialias=True)`
            (within 1 grey level of it on uint8 images); antialias=False uses OpenCV INTER_LINEAR coordinates, like
            `resize_pad_batch`; "nearest" is torch's nearest.
        input_order, dtype, channels_last, device, out: as in `pad_batch`.

    Returns:
        (N, C, h, w) `dtype` normalized with channels in `norm.order`, or (N, h, w, C) uint8 without `norm`.
    """
    if norm is not None:
        norm = V.check_norm(norm)
    interpolation = V.check_interpolation(interpolation, INTERPOLATIONS)
    antialias = V.check_bool("antialias", antialias)
    src = BatchSource.of(images, norm)
    out_h, out_w = _check_pair("size", size)
    boxes = _check_boxes(boxes, src.sizes)
    flips = _check_flips(flips, len(boxes))
    ys = [_shift(axis_taps(bh, out_h, out_h, 0, interpolation, antialias), top) for top, _, bh, _ in boxes]
    xs = [_shift(axis_taps(bw, out_w, out_w, 0, interpolation, antialias), left) for _, left, _, bw in boxes]
    return _resample_batch(src, ys, xs, flips, (out_h, out_w), norm, input_order, dtype, channels_last, device, out)


def resize_center_crop_batch(images, resize, crop, norm: Normalization | None = None, *,
                             interpolation: str = "bilinear", antialias: bool = True, input_order: str = "bgr",
                             dtype: torch.dtype = torch.float32, channels_last: bool = False, device=None,
                             out: torch.Tensor | None = None) -> torch.Tensor:
    """The evaluation pipeline `Resize(resize)` -> `CenterCrop(crop)` -> normalize of a whole batch, in one pass:
    each output pixel is computed straight from the source, exactly where torchvision's resized image would have
    it (no intermediate image).

    Args:
        resize: an int (the short side becomes `resize`, the long side int(resize * long / short), as torchvision's
            `Resize(int)`) or an (h, w) pair.
        crop: the centre crop (h, w), or an int for a square; it must fit in the resized image.
        Others as in `resized_crop_batch`.

    Returns:
        (N, C, crop_h, crop_w) normalized, or (N, crop_h, crop_w, C) uint8 without `norm`.
    """
    if norm is not None:
        norm = V.check_norm(norm)
    interpolation = V.check_interpolation(interpolation, INTERPOLATIONS)
    antialias = V.check_bool("antialias", antialias)
    src = BatchSource.of(images, norm)
    crop_h, crop_w = _check_pair("crop", crop)
    short = None if isinstance(resize, (tuple, list)) else V.check_size("resize", resize, minimum=1,
                                                                         maximum=V.MAX_SIDE)
    pair = _check_pair("resize", resize) if short is None else None
    ys, xs = [], []
    for i, (h, w) in enumerate(src.sizes):
        if h == 0 or w == 0:
            raise ValueError(f"images[{i}] is empty ({h}x{w}) and cannot be resized")
        rh, rw = pair or resized_short_side(h, w, short)
        if crop_h > rh or crop_w > rw:
            raise ValueError(f"crop {crop_h}x{crop_w} does not fit in images[{i}] resized to {rh}x{rw} (resize)")
        top, left = center_crop_anchor(rh, rw, crop_h, crop_w)
        ys.append(axis_taps(h, crop_h, rh, top, interpolation, antialias))
        xs.append(axis_taps(w, crop_w, rw, left, interpolation, antialias))
    return _resample_batch(src, ys, xs, [False] * len(ys), (crop_h, crop_w), norm, input_order, dtype,
                           channels_last, device, out)
