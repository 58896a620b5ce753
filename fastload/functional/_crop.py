"""Classification crops of whole batches in one pass: `resized_crop_batch` (RandomResizedCrop's boxes + resize +
flip + normalize) and the resampling every crop and resize op shares (`resample_batch`; the evaluation crop,
`resize_center_crop_batch`, is in fastload.functional._center_crop), on separable tap tables
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
from fastload.functional._color import FUSED_STEPS, step_tables
from fastload.functional._crop_taps import axis_table, table_mode
from fastload.functional._geometry import check_pair
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


def checked_source(images, norm, interpolation, antialias):
    """The checked images (a BatchSource), norm, interpolation and antialias of a crop op."""
    if norm is not None:
        norm = V.check_norm(norm)
    interpolation, antialias = check_resampling(interpolation, antialias)
    return BatchSource.of(images, norm), norm, interpolation, antialias


def check_batch(src, out_hw: tuple[int, int], norm, dtype, culprit: str) -> torch.dtype:
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
    color: tuple | None = None,
) -> torch.Tensor:
    """Runs fastload::resized_crop_batch on the checked images (a BatchSource) with the (starts, weights) tables of
    each axis: every separable resampling of the package (crops, resizes, blurs) goes through here. With `color`
    (adjust_color's (steps, factors, rgb); norm given), fastload::resized_crop_color instead."""
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
    op, args = "resized_crop_batch", (tensors, masks, *tables, mean, inv_std, cmap, out_dtype, channels_last)
    if color is not None:
        args = (tensors, masks, *tables, *color, mean, inv_std, cmap, out_dtype, channels_last)
        op = "resized_crop_color"
    if out is None:
        return _backend.pick(op, src.device)(*args)
    _backend.pick(f"{op}_into", src.device)(*args, out)
    return out


def _color_tables(color, norm, n: int, channels: int, input_order: str) -> tuple | None:
    """resized_crop_batch's checked `color` as the op's (steps, factors, rgb), or None."""
    if color is None:
        return None
    if not isinstance(color, dict):
        raise TypeError(f"color must be a dict of adjust_color's step arguments, got {type(color).__name__}")
    if norm is None:
        raise ValueError("color needs norm: the adjusted crops are normalized in the same pass")
    unknown = sorted(set(color) - {*FUSED_STEPS, "order"})
    if unknown:
        raise ValueError(
            f"color takes {', '.join(FUSED_STEPS)} and order (adjust_color's arguments), got {', '.join(unknown)} "
            "(for sharpness, autocontrast or equalize, crop to uint8 and call adjust_color)"
        )
    given = {name: value for name, value in color.items() if name != "order"}
    return step_tables(n, channels, input_order, color.get("order"), given)


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
    color: dict | None = None,
) -> torch.Tensor:
    """Crop a box of each image, resize it to `size`, optionally flip it horizontally, and normalize, for a whole
    batch in one pass: torchvision's `resized_crop` + `horizontal_flip` + `to_dtype` + `normalize` per image, fused;
    with `color`, each uint8 crop's colour adjusted (`adjust_color`) in the same pass, before it is normalized.

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
        color: None, or a dict of `adjust_color`'s arguments (brightness, contrast, saturation, hue, order,
            grayscale, solarize, posterize, solarize_add, invert: one value or one per image), with norm: the
            result equals `adjust_color(<the uint8 crops>.permute(0, 3, 1, 2), **color, input_order=input_order,
            norm=norm, dtype=dtype, channels_last=channels_last)` bit for bit, without the uint8 batch in between
            (a contrast step's mean grey is of each crop).

    Returns:
        (N, C, h, w) `dtype` normalized with channels in `norm.order`, or (N, h, w, C) uint8 without `norm`
            (rounded half to even).

    Raises:
        ValueError: a box outside its image, an empty box, a box of bools or floats, a bad size or flips, an output
            too large for any machine (naming the argument and the image); color without norm, with a step it does
            not take, or with a factor out of range.
        TypeError: non-uint8 images or a wrong argument type, naming the parameter.
    """
    src, norm, interpolation, antialias = checked_source(images, norm, interpolation, antialias)
    out_h, out_w = check_pair("size", size)
    boxes = _box_tensor(boxes, src.sizes)
    flips = _flip_tensor(flips, len(src.sizes))
    color = _color_tables(color, norm, len(src.sizes), src.channels, input_order)
    dtype = check_batch(src=src, out_hw=(out_h, out_w), norm=norm, dtype=dtype, culprit="size")
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
        color=color,
    )
