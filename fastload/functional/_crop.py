"""Classification crops of whole batches in one pass: `resized_crop_batch` (RandomResizedCrop's boxes + resize +
flip + normalize) and `resize_center_crop_batch` (Resize + CenterCrop + normalize), on separable tap tables
(fastload.functional._crop_taps) built from the geometry of fastload.functional._geometry.

Under torch.compile the geometry (image sizes, boxes and flips given as tensors) is traced into the tables' op;
checks that read tensor values then run in the ops (C++), which refuse a tap outside its image.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from fastload import _backend
from fastload import _validation as V
from fastload.functional._crop_taps import axis_table, table_mode
from fastload.functional._geometry import (
    center_crop_anchor,
    check_crop_fits,
    check_pair,
    check_resize,
    resized_short_side,
)
from fastload.functional._pad import BatchSource
from fastload.normalization import Normalization

INTERPOLATIONS = ("bilinear", "bicubic", "nearest")


def check_resampling(interpolation, antialias) -> tuple[str, bool]:
    """A crop's checked `interpolation` (one of INTERPOLATIONS) and `antialias` (a bool); "bicubic" is the
    antialiased one only (torchvision's default, and timm's), so it refuses antialias=False."""
    interpolation = V.check_interpolation(interpolation, INTERPOLATIONS)
    antialias = V.check_bool("antialias", antialias)
    if interpolation == "bicubic" and not antialias:
        raise ValueError(
            "interpolation='bicubic' is torchvision's antialiased bicubic only; antialias=False is supported with "
            "'bilinear' (OpenCV INTER_LINEAR) and 'nearest'"
        )
    return interpolation, antialias


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _box_tensor(boxes, sizes: list[tuple[int, int]]) -> torch.Tensor:
    """(N, 4) int64 CPU tensor of (top, left, height, width) boxes, each non-empty and inside its image. Given as a
    tensor, its values are checked here in eager mode and by the ops under torch.compile."""
    n = len(sizes)
    if isinstance(boxes, torch.Tensor):
        if boxes.is_floating_point() or boxes.is_complex() or boxes.dtype == torch.bool:
            raise ValueError(f"boxes must hold integers (top, left, height, width), got dtype {boxes.dtype}")
        if tuple(boxes.shape) != (n, 4):
            raise ValueError(
                f"boxes must be an (N, 4) array of ints (top, left, height, width) for {n} images, "
                f"got shape {tuple(boxes.shape)}"
            )
        tensor = boxes.to("cpu", torch.int64)
        if torch.compiler.is_compiling():
            return tensor
        rows = tensor.tolist()
    else:
        if isinstance(boxes, np.ndarray):
            if not np.issubdtype(boxes.dtype, np.integer):
                raise ValueError(f"boxes must hold integers (top, left, height, width), got dtype {boxes.dtype}")
            boxes = boxes.tolist()
        if isinstance(boxes, (str, bytes)) or not isinstance(boxes, (list, tuple)):
            raise ValueError(f"boxes must be an (N, 4) array of ints, got {type(boxes).__name__}")
        rows = [b if isinstance(b, (list, tuple)) else (b,) for b in boxes]
        if len(rows) != n or any(len(r) != 4 for r in rows):
            raise ValueError(
                f"boxes must be an (N, 4) array of ints (top, left, height, width) for {n} images, got {boxes!r}"
            )
        for i, r in enumerate(rows):
            for v in r:
                if type(v) is not int and not _is_int(v):  # bools are ints to Python, not to a box
                    raise ValueError(
                        f"boxes[{i}] must hold ints (top, left, height, width), got {v!r} ({type(v).__name__})"
                    )
        tensor = None
    for i, ((top, left, h, w), (ih, iw)) in enumerate(zip(rows, sizes)):
        if h <= 0 or w <= 0 or top < 0 or left < 0 or top + h > ih or left + w > iw:
            raise ValueError(
                f"boxes[{i}] = (top={top}, left={left}, height={h}, width={w}) must be non-empty and lie "
                f"inside images[{i}] ({ih}x{iw})"
            )
    return tensor if tensor is not None else torch.tensor(rows, dtype=torch.int64).reshape(n, 4)


def _flip_tensor(flips, n: int) -> torch.Tensor | None:
    """None, or an (N,) bool CPU tensor (from N bools, or a bool tensor)."""
    if flips is None:
        return None
    if isinstance(flips, torch.Tensor):
        if flips.dtype != torch.bool or tuple(flips.shape) != (n,):
            raise ValueError(
                f"flips must be {n} bools (one per image), got a {flips.dtype} tensor of shape {tuple(flips.shape)}"
            )
        return flips.cpu()
    values = flips.tolist() if isinstance(flips, np.ndarray) else flips
    if (
        not isinstance(values, (list, tuple))
        or len(values) != n
        or not all(isinstance(v, (bool, np.bool_)) for v in values)
    ):
        raise ValueError(f"flips must be {n} bools (one per image), got {flips!r}")
    return torch.tensor([bool(v) for v in values], dtype=torch.bool)


def _checked_source(images, norm, interpolation, antialias):
    """The checked images (a BatchSource), norm, interpolation and antialias of a crop op."""
    if norm is not None:
        norm = V.check_norm(norm)
    interpolation, antialias = check_resampling(interpolation, antialias)
    return BatchSource.of(images, norm), norm, interpolation, antialias


def _check_batch(src, out_hw: tuple[int, int], norm, dtype, culprit: str) -> torch.dtype:
    """The checked dtype, and the batch's size refused (naming `culprit`) before any table is built."""
    dtype = V.check_float_dtype(dtype)
    V.check_batch_bytes([len(src.sizes), src.channels, *out_hw], dtype if norm is not None else torch.uint8, culprit)
    return dtype


def resample_batch(
    src,
    ys: tuple,
    xs: tuple,
    out_hw: tuple[int, int],
    *,
    norm,
    input_order: str,
    dtype,
    channels_last: bool,
    device,
    out,
) -> torch.Tensor:
    """Runs fastload::resized_crop_batch on the checked images (a BatchSource) with the (starts, weights) tables of
    each axis: every separable resampling of the package (crops, resizes, blurs) goes through here."""
    channels_last = V.check_bool("channels_last", channels_last)
    input_order = V.check_order("input_order", input_order)
    n = len(src.sizes)
    cmap, mean, inv_std, out_dtype = src.normalization(norm, input_order, dtype)
    src.check_out(out, out_hw, out_dtype, channels_last, device)
    if n == 0:
        return src.empty_result(
            out=out, out_dtype=out_dtype, channels_last=channels_last, batch_hw=out_hw, device=device
        )
    src = src.to(device)
    tables = [*ys, *xs]  # host tensors on every device: the CUDA op uploads them with its image descriptors
    if src.packed is not None:
        tensors, masks = src.packed.unpack(), [0] * n
    else:
        tensors, masks = src.tensors, src.masks
    args = (tensors, masks, *tables, mean, inv_std, cmap, out_dtype, channels_last)
    if out is None:
        return _backend.pick("resized_crop_batch", src.device)(*args)
    _backend.pick("resized_crop_batch_into", src.device)(*args, out)
    return out


def resized_crop_batch(
    images,
    boxes,
    size,
    norm: Normalization | None = None,
    *,
    flips=None,
    interpolation: str = "bilinear",
    antialias: bool = True,
    input_order: str = "bgr",
    dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
    device=None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Crop a box of each image, resize it to `size`, optionally flip it horizontally, and normalize, for a whole
    batch in one pass: torchvision's `resized_crop` + `horizontal_flip` + `to_dtype` + `normalize` per image, fused.

    Args:
        images: a sequence of (H, W, C) uint8 images (numpy or torch, any strides, equal C) or a `PackedImages`.
        boxes: (N, 4) ints (int tensor, array or nested lists; bools refused) of (top, left, height, width) in each
            image's pixels, as torchvision's `resized_crop` takes them (`random_resized_crop_params` draws them).
        size: the output (h, w), or an int for a square.
        norm: the model's `Normalization`; None gives an (N, h, w, C) uint8 batch in the input's channel order.
        flips: optional N bools (a list or a bool tensor): flip image i horizontally after the crop.
        interpolation: "bilinear", "bicubic" (torchvision's antialiased bicubic, a = -0.5, timm's choice for ViT
            and ConvNeXt) or "nearest" (torch's nearest, exactly).
        antialias: with "bilinear", True is torchvision's `resize(..., antialias=True)` (within 1 grey level of it
            on uint8 images), False OpenCV INTER_LINEAR coordinates, like `resize_pad_batch`; "bicubic" needs
            True (within 1 grey level of torchvision's on uint8 images).
        input_order: channel order of the images ("bgr" or "rgb").
        dtype: of the normalized output: torch.float32, float16 or bfloat16.
        channels_last: give the output channels_last strides.
        device: where the batch is built (default: where the images are).
        out: optional buffer exactly like the result, written into and returned.

    Returns:
        (N, C, h, w) `dtype` normalized with channels in `norm.order`, or (N, h, w, C) uint8 without `norm`
            (rounded half to even).

    Raises:
        ValueError: a box outside its image, an empty box, a box of bools or floats, a bad size or flips, an output
            too large for any machine (naming the argument and the image).
        TypeError: non-uint8 images or a wrong argument type, naming the parameter.
    """
    src, norm, interpolation, antialias = _checked_source(images, norm, interpolation, antialias)
    out_h, out_w = check_pair("size", size)
    boxes = _box_tensor(boxes, src.sizes)
    flips = _flip_tensor(flips, len(src.sizes))
    dtype = _check_batch(src=src, out_hw=(out_h, out_w), norm=norm, dtype=dtype, culprit="size")
    top, left, bh, bw = boxes.unbind(1)
    mode, zero = table_mode(interpolation, antialias), torch.zeros_like(bh)
    y_starts, y_weights = axis_table(src=bh, dst=out_h, resized=torch.full_like(bh, out_h), offset=zero, mode=mode)
    x_starts, x_weights = axis_table(
        src=bw, dst=out_w, resized=torch.full_like(bw, out_w), offset=zero, mode=mode, flips=flips
    )
    ys, xs = (y_starts + top[:, None], y_weights), (x_starts + left[:, None], x_weights)
    return resample_batch(
        src,
        ys,
        xs,
        (out_h, out_w),
        norm=norm,
        input_order=input_order,
        dtype=dtype,
        channels_last=channels_last,
        device=device,
        out=out,
    )


def resize_center_crop_batch(
    images,
    resize,
    crop,
    norm: Normalization | None = None,
    *,
    interpolation: str = "bilinear",
    antialias: bool = True,
    input_order: str = "bgr",
    dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
    device=None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """The evaluation pipeline `Resize(resize)` -> `CenterCrop(crop)` -> normalize of a whole batch, in one pass:
    each output pixel is computed straight from the source, exactly where torchvision's resized image would have
    it (no intermediate image).

    Args:
        images: a sequence of (H, W, C) uint8 images (numpy or torch, any strides, equal C) or a `PackedImages`.
        resize: an int (the short side becomes `resize`, the long side int(resize * long / short), as torchvision's
            `Resize(int)`) or an (h, w) pair.
        crop: the centre crop (h, w), or an int for a square; it must fit in the resized image.
        norm: the model's `Normalization`; None gives a uint8 batch in the input's channel order.
        interpolation: "bilinear", "bicubic" or "nearest", as in `resized_crop_batch`.
        antialias: as in `resized_crop_batch` (True: torchvision's antialiased resize).
        input_order: channel order of the images ("bgr" or "rgb").
        dtype: of the normalized output: torch.float32, float16 or bfloat16.
        channels_last: give the output channels_last strides.
        device: where the batch is built (default: where the images are).
        out: optional buffer exactly like the result, written into and returned.

    Returns:
        (N, C, crop_h, crop_w) normalized, or (N, crop_h, crop_w, C) uint8 without `norm`.

    Raises:
        ValueError: an empty image, a `crop` that does not fit in a resized image, bad sizes (naming the argument).
        TypeError: non-uint8 images or a wrong argument type, naming the parameter.
    """
    return resize_center_crop_regions(
        images=images,
        regions=None,
        resize=resize,
        crop=crop,
        norm=norm,
        interpolation=interpolation,
        antialias=antialias,
        input_order=input_order,
        dtype=dtype,
        channels_last=channels_last,
        device=device,
        out=out,
    )


def _eval_tables(sizes, resize, crop: tuple[int, int], mode: str) -> tuple[tuple, tuple]:
    """The y and x tap tables of Resize(resize) + CenterCrop(crop) over images of (h, w) `sizes` (checked)."""
    crop_h, crop_w = crop
    geometry = []  # per image: (h, w, resized h, resized w, crop top, crop left); SymInts under torch.compile
    known = {}  # the geometry of each size met (a batch has a few sizes)
    for i, (h, w) in enumerate(sizes):
        if (h, w) in known:
            geometry.append(known[h, w])
            continue
        if h == 0 or w == 0:
            raise ValueError(f"images[{i}] is empty ({h}x{w}) and cannot be resized")
        rh, rw = resize if isinstance(resize, tuple) else resized_short_side(h, w, resize)
        if crop_h > rh or crop_w > rw:
            raise ValueError(f"crop {crop_h}x{crop_w} does not fit in images[{i}] resized to {rh}x{rw} (resize)")
        geometry.append(known.setdefault((h, w), (h, w, rh, rw, *center_crop_anchor(rh, rw, crop_h, crop_w))))
    g = torch.tensor(geometry, dtype=torch.int64).reshape(-1, 6)
    return axis_table(src=g[:, 0], dst=crop_h, resized=g[:, 2], offset=g[:, 4], mode=mode), axis_table(
        src=g[:, 1], dst=crop_w, resized=g[:, 3], offset=g[:, 5], mode=mode
    )


def resize_center_crop_regions(
    images, regions, resize, crop, norm, *, interpolation, antialias, input_order, dtype, channels_last, device, out
) -> torch.Tensor:
    """`resize_center_crop_batch`; with `regions` ((top, left, full h, full w) per image), image i holds only that
    region of a full_h x full_w source (what `eval_regions` asks a decoder for): the tables are the full images',
    shifted to the regions."""
    src, norm, interpolation, antialias = _checked_source(images, norm, interpolation, antialias)
    crop_h, crop_w = check_pair("crop", crop)
    resize = check_resize(resize)
    check_crop_fits(resize, (crop_h, crop_w))
    dtype = _check_batch(src=src, out_hw=(crop_h, crop_w), norm=norm, dtype=dtype, culprit="crop")
    full = src.sizes if regions is None else [(fh, fw) for _, _, fh, fw in regions]
    ys, xs = _eval_tables(full, resize, (crop_h, crop_w), table_mode(interpolation, antialias))
    if regions is not None:
        origin = torch.tensor([r[:2] for r in regions], dtype=torch.int64).reshape(-1, 2)
        ys, xs = (ys[0] - origin[:, :1], ys[1]), (xs[0] - origin[:, 1:], xs[1])
    return resample_batch(
        src,
        ys,
        xs,
        (crop_h, crop_w),
        norm=norm,
        input_order=input_order,
        dtype=dtype,
        channels_last=channels_last,
        device=device,
        out=out,
    )


def _taps_span(starts: torch.Tensor, weights: torch.Tensor) -> list[tuple[int, int]]:
    """Per image, the (first, count) source indices its weighted taps read."""
    k = torch.arange(weights.shape[-1])
    last = torch.where(weights != 0, k, -1).amax(-1)  # each output's last weighted tap
    first, end = starts.amin(-1), (starts + last + 1).amax(-1)
    return [(int(a), int(b - a)) for a, b in zip(first.tolist(), end.tolist())]


def eval_regions(sizes, resize, crop, interpolation: str = "bilinear", antialias: bool = True) -> list:
    """Per image of (h, w) `sizes`, the (top, left, height, width) source region Resize(resize) + CenterCrop(crop)
    reads (every weighted tap): decoding only that region and cropping it with `CropBatch(..., regions=...)` gives
    the same bits as the whole image."""
    mode = table_mode(*check_resampling(interpolation, antialias))
    ys, xs = _eval_tables(sizes, check_resize(resize), check_pair("crop", crop), mode)
    return [(top, left, h, w) for (top, h), (left, w) in zip(_taps_span(*ys), _taps_span(*xs))]
