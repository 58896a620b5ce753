"""Classification crops: torchvision's RandomResizedCrop sampling and Resize + CenterCrop geometry, and the
resampling taps that let one separable kernel crop, resize (antialiased, bilinear or nearest), flip and normalize a
whole batch in one pass (`resized_crop_batch`, `resize_center_crop_batch`).

Every output pixel is a separable weighted sum of source pixels: along each axis, output index d reads K
consecutive source indices from `start[d]` with weights `weights[d, :]` (zero-padded). The tables are computed here
for the whole batch at once, in float64 and rounded to float32, and every backend applies them in the same order
(horizontal sums of each source row, then the vertical sum, in fp32 without fma), so CPU, CUDA and the reference
agree bit for bit.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from fastload import _ops
from fastload import _validation as V
from fastload.batching import BatchSource
from fastload.normalization import Normalization
from fastload.packed import PackedImages

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


def axis_table(src, dst: int, resized, offset, interpolation: str, antialias: bool, flips=None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """One axis of the resample of N images at once: image i's `src[i]`-long source span resized to `resized[i]`
    samples, of which output indices 0..dst-1 are samples offset[i]..offset[i]+dst-1 (a centre crop of the resized
    image; offset 0 and resized == dst for a plain resize). Returns (N, dst) int64 starts (relative to the span) and
    (N, dst, K) float32 weights: output d of image i reads source indices starts[i, d] + k with weights[i, d, k]
    (zero where unused). `flips[i]` reverses image i's output order (a horizontal flip after the crop).

    - bilinear, antialias: torch's antialiased bilinear (PIL's triangle filter, its support widened by the
      downscale factor), what torchvision's `resize(..., antialias=True)` computes; weights in float64, normalized,
      rounded once to float32;
    - bilinear, no antialias: OpenCV INTER_LINEAR coordinates, as `resize_pad_batch` (resize_math.h's linear_tap);
    - nearest: torch's `interpolate(mode="nearest")`: floor(d * (src / resized)) in fp32, clamped.

    This numpy code is the definition; with the extension loaded the same bits come from C++
    (`fastload::_crop_axis_table`, tested equal), about four times faster for a 64-image antialiased batch.
    """
    mode = "nearest" if interpolation == "nearest" else "antialias" if antialias else "linear"
    if _ops.extension_loaded():
        ints = lambda values: np.asarray(values, np.int64).ravel().tolist()  # noqa: E731
        return torch.ops.fastload._crop_axis_table(ints(src), int(dst), ints(resized), ints(offset), mode,
                                                   [] if flips is None else ints(np.asarray(flips, bool)))
    return numpy_axis_table(src, dst, resized, offset, mode, flips)


def numpy_axis_table(src, dst: int, resized, offset, mode: str, flips=None) -> tuple[torch.Tensor, torch.Tensor]:
    """`axis_table` in numpy, with `mode` "nearest", "linear" or "antialias"."""
    src = np.asarray(src, np.int64)[:, None]
    resized = np.asarray(resized, np.int64)[:, None]
    d = np.asarray(offset, np.int64)[:, None] + np.arange(dst, dtype=np.int64)[None, :]
    if mode == "nearest":
        scale = src.astype(np.float32) / resized.astype(np.float32)
        starts = np.minimum(np.floor(d.astype(np.float32) * scale).astype(np.int64), src - 1)
        weights = np.ones(starts.shape + (1,))
    elif mode == "linear":
        pos = ((d + 0.5) * (1.0 / (resized / src)) - 0.5).astype(np.float32)
        base = np.floor(pos)
        frac = (pos - base).astype(np.float32)
        starts = base.astype(np.int64)
        frac = np.where((starts < 0) | (starts >= src - 1), np.float32(0), frac).astype(np.float64)
        starts = np.clip(starts, 0, src - 1)
        weights = np.stack([1.0 - frac, frac], axis=-1)
    else:
        scale = src / resized
        support = np.maximum(scale, 1.0)  # the triangle's half width (1 for bilinear), widened when downscaling
        inv = np.where(scale > 1.0, 1.0 / scale, 1.0)
        center = scale * (d + 0.5)
        starts = np.maximum((center - support + 0.5).astype(np.int64), 0)
        taps = np.minimum((center + support + 0.5).astype(np.int64), src) - starts
        j = np.arange(max(int(taps.max()), 1) if taps.size else 1)
        weights = np.clip(1.0 - np.abs((j + starts[..., None] - center[..., None] + 0.5) * inv[..., None]), 0, None)
        weights[j >= taps[..., None]] = 0.0
        total = weights[..., 0].copy()
        for k in range(1, weights.shape[-1]):  # left to right (numpy's sum pairs them from 8 taps on)
            total += weights[..., k]
        weights /= total[..., None]
    if flips is not None:
        reverse = np.asarray(flips, bool)
        starts[reverse] = starts[reverse, ::-1]
        weights[reverse] = weights[reverse, ::-1]
    return torch.from_numpy(np.ascontiguousarray(starts)), torch.from_numpy(weights.astype(np.float32))


def check_range(name: str, value) -> tuple[float, float]:
    """A (low, high) pair of positive finite numbers with low <= high (RandomResizedCrop's scale and ratio)."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a (low, high) pair of numbers, got {value!r}") from exc
    if not (0.0 < low <= high < math.inf):
        raise ValueError(f"{name} must be a (low, high) pair with 0 < low <= high, got {value!r}")
    return low, high


def check_probability(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


def check_pair(name: str, value) -> tuple[int, int]:
    """An int n (meaning (n, n)) or an (h, w) pair of ints, each >= 1."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return (V.check_size(f"{name}[0]", value[0], minimum=1, maximum=V.MAX_SIDE),
                V.check_size(f"{name}[1]", value[1], minimum=1, maximum=V.MAX_SIDE))
    if isinstance(value, (tuple, list)):
        raise ValueError(f"{name} must be an int or an (h, w) pair, got {value!r}")
    side = V.check_size(name, value, minimum=1, maximum=V.MAX_SIDE)
    return side, side


def check_resize(value) -> int | tuple[int, int]:
    """Resize's target: an int (the short side, as torchvision's `Resize(int)`) or an (h, w) pair."""
    if isinstance(value, (tuple, list)):
        return check_pair("resize", value)
    return V.check_size("resize", value, minimum=1, maximum=V.MAX_SIDE)


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


def _checked_source(images, norm, interpolation, antialias):
    """The checked images (a BatchSource), norm, interpolation and antialias of a crop op."""
    if norm is not None:
        norm = V.check_norm(norm)
    interpolation = V.check_interpolation(interpolation, INTERPOLATIONS)
    antialias = V.check_bool("antialias", antialias)
    return BatchSource.of(images, norm), norm, interpolation, antialias


def _resample_batch(src, ys: tuple, xs: tuple, out_hw: tuple[int, int], norm, input_order: str, dtype,
                    channels_last: bool, device, out) -> torch.Tensor:
    """Runs fastload::resized_crop_batch on the checked images with the (starts, weights) tables of each axis."""
    dtype = V.check_float_dtype(dtype)
    channels_last = V.check_bool("channels_last", channels_last)
    input_order = V.check_order("input_order", input_order)
    normalized = norm is not None
    n = len(src.sizes)
    V.check_batch_bytes([n, src.channels, *out_hw], dtype if normalized else torch.uint8, "size")
    cmap, mean, inv_std, out_dtype = src.normalization(norm, input_order, dtype)
    src.check_out(out, out_hw, out_dtype, channels_last, device)
    src = src.to(device)
    tables = [*ys, *xs]  # host tensors on every device: the CUDA op uploads them with its image descriptors
    if src.packed is not None:
        tensors, masks = src.packed.unpack(), [0] * n
    else:
        tensors, masks = src.tensors, src.masks
    args = (tensors, masks, *tables, mean, inv_std, cmap, out_dtype, channels_last)
    if out is None:
        return _ops.pick("resized_crop_batch", src.device)(*args)
    _ops.pick("resized_crop_batch_into", src.device)(*args, out)
    return out


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
    src, norm, interpolation, antialias = _checked_source(images, norm, interpolation, antialias)
    out_h, out_w = check_pair("size", size)
    boxes = _check_boxes(boxes, src.sizes)
    flips = _check_flips(flips, len(boxes))
    top, left, bh, bw = np.asarray(boxes, np.int64).reshape(-1, 4).T
    y_starts, y_weights = axis_table(bh, out_h, np.full_like(bh, out_h), 0 * bh, interpolation, antialias)
    x_starts, x_weights = axis_table(bw, out_w, np.full_like(bw, out_w), 0 * bw, interpolation, antialias, flips)
    ys = (y_starts + torch.from_numpy(top)[:, None], y_weights)
    xs = (x_starts + torch.from_numpy(left)[:, None], x_weights)
    return _resample_batch(src, ys, xs, (out_h, out_w), norm, input_order, dtype, channels_last, device, out)


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
    src, norm, interpolation, antialias = _checked_source(images, norm, interpolation, antialias)
    crop_h, crop_w = check_pair("crop", crop)
    resize = check_resize(resize)
    geometry = []  # per image: (h, w, resized h, resized w, crop top, crop left)
    for i, (h, w) in enumerate(src.sizes):
        if h == 0 or w == 0:
            raise ValueError(f"images[{i}] is empty ({h}x{w}) and cannot be resized")
        rh, rw = resize if isinstance(resize, tuple) else resized_short_side(h, w, resize)
        if crop_h > rh or crop_w > rw:
            raise ValueError(f"crop {crop_h}x{crop_w} does not fit in images[{i}] resized to {rh}x{rw} (resize)")
        geometry.append((h, w, rh, rw, *center_crop_anchor(rh, rw, crop_h, crop_w)))
    h, w, rh, rw, top, left = np.asarray(geometry, np.int64).reshape(-1, 6).T
    ys = axis_table(h, crop_h, rh, top, interpolation, antialias)
    xs = axis_table(w, crop_w, rw, left, interpolation, antialias)
    return _resample_batch(src, ys, xs, (crop_h, crop_w), norm, input_order, dtype, channels_last, device, out)


class CropBatch(NamedTuple):
    """Raw images and the crops to take from them, as `CropCollate` ships them without `norm`: `finish(norm)` (or
    `DevicePrefetcher(norm=...)`, on the device) runs the fused crop + resize + flip + normalize. `resize` None:
    train crops (`boxes`, `flips`); else the eval pipeline Resize(resize) + CenterCrop(size)."""

    images: PackedImages
    boxes: list
    flips: list
    size: tuple
    resize: object = None
    interpolation: str = "bilinear"
    antialias: bool = True

    def to(self, device, non_blocking: bool = False) -> CropBatch:
        return self._replace(images=self.images.to(device, non_blocking=non_blocking))

    def shapes(self) -> dict:
        """Per-image geometry, for dict batches: `ori_shape` (h, w) of each source image and `img_shape` (the
        output h, w); train crops add `crop_box` (top, left, height, width) and `flip` (bool), eval crops
        `resized_shape` (h, w of the resized image the centre crop is taken from)."""
        sizes = self.images.sizes.tolist() if isinstance(self.images, PackedImages) else \
            [img.shape[:2] for img in self.images]
        sizes = [(int(h), int(w)) for h, w in sizes]
        out = {"ori_shape": sizes, "img_shape": [tuple(self.size)] * len(sizes)}
        if self.resize is None:
            return {**out, "crop_box": [tuple(int(v) for v in box) for box in self.boxes], "flip": list(self.flips)}
        resized = [self.resize if isinstance(self.resize, tuple) else resized_short_side(h, w, self.resize)
                   for h, w in sizes]
        return {**out, "resized_shape": resized}

    def finish(self, norm: Normalization | None, **kwargs) -> torch.Tensor:
        """The batch: `resized_crop_batch` / `resize_center_crop_batch` of the images, with `kwargs` (input_order,
        dtype, channels_last, device, out) passed on."""
        if self.resize is None:
            return resized_crop_batch(self.images, self.boxes, self.size, norm, flips=self.flips,
                                      interpolation=self.interpolation, antialias=self.antialias, **kwargs)
        return resize_center_crop_batch(self.images, self.resize, self.size, norm, interpolation=self.interpolation,
                                        antialias=self.antialias, **kwargs)
