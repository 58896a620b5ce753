"""normalize and its inverse: HWC uint8 images <-> normalized CHW float, one pass each way."""

from __future__ import annotations

import numpy as np
import torch

from fastload import _backend
from fastload import _validation as V
from fastload.normalization import Normalization, channel_map, kernel_stats


def _check_normalized(x, norm: Normalization) -> torch.Tensor:
    """A normalized float (C, H, W) / (N, C, H, W) tensor with norm's channel count, detached."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in V.FLOAT_DTYPES:
        raise TypeError(f"x must be a normalized float32, float16 or bfloat16 tensor, got {x.dtype}")
    if x.dim() not in (3, 4):
        raise ValueError(f"x must be (C, H, W) or (N, C, H, W), got shape {tuple(x.shape)}")
    if x.shape[-3] != norm.channels:
        raise ValueError(f"x has {x.shape[-3]} channel(s) in dim -3 but norm describes {norm.channels}: {norm}")
    return x.detach()


def _check_sizes(sizes, x: torch.Tensor) -> list[tuple[int, int]]:
    """`sizes` as a list of (h, w) ints: one per image of the 4-D `x`, each inside the tensor."""
    if x.dim() != 4:
        raise ValueError(f"sizes needs a batch x of shape (N, C, H, W), got shape {tuple(x.shape)}")
    if isinstance(sizes, torch.Tensor):
        if sizes.dtype.is_floating_point or sizes.dtype == torch.bool:
            raise TypeError(f"sizes must hold integers, got {sizes.dtype}")
        sizes = sizes.tolist()
    elif isinstance(sizes, np.ndarray):
        sizes = sizes.tolist()
    try:
        pairs = [tuple(pair) for pair in sizes]
    except TypeError:
        raise TypeError("sizes must be an (N, 2) tensor or a sequence of (h, w) pairs") from None
    n, _, height, width = x.shape
    if len(pairs) != n:
        raise ValueError(f"sizes must have one (h, w) per image: x holds {n} images, got {len(pairs)} sizes")
    out = []
    for i, pair in enumerate(pairs):
        if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair):
            raise ValueError(f"sizes[{i}] must be an (h, w) pair of ints, got {pair!r}")
        h, w = int(pair[0]), int(pair[1])
        if h < 0 or w < 0:
            raise ValueError(f"sizes[{i}] = {(h, w)} is negative")
        if h > height or w > width:
            raise ValueError(f"sizes[{i}] = {(h, w)} is larger than the tensor's (H, W) = {(height, width)}")
        out.append((h, w))
    return out


def normalize(
    img,
    norm: Normalization,
    *,
    input_order: str = "bgr",
    dtype: torch.dtype | None = None,
    channels_last: bool = False,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """HWC uint8 image(s) -> normalized CHW float, in one pass.

    Args:
        img: uint8 tensor or numpy array, (H, W, C) or (N, H, W, C), C = 1 or 3, any strides (including negative
            numpy strides), on CPU or CUDA.
        norm: the model's `Normalization` (mean/std in pixel units, channel order the model expects).
        input_order: channel order of `img`, "bgr" (OpenCV) or "rgb" (PIL); ignored for 1 channel.
        dtype: torch.float32 (default), torch.float16 or torch.bfloat16 (computed in fp32, rounded once).
        channels_last: 4-D output with channels_last strides (3-D: an HWC-strided CHW tensor).
        out: optional preallocated result (the shape below, on img's device, contiguous or channels_last); its
            dtype and layout are used, and it is returned. Reusing one buffer per batch avoids an allocation and
            its page faults.

    Returns:
        (C, H, W) or (N, C, H, W) tensor of `dtype` on img's device, channels in `norm.order`,
            value `(x - mean[c]) / std[c]`.
    """
    norm = V.check_norm(norm)
    input_order = V.check_order("input_order", input_order)
    if dtype is not None or out is None:
        dtype = V.check_float_dtype(torch.float32 if dtype is None else dtype)
    channels_last = V.check_bool("channels_last", channels_last)
    tensor, flip_mask = V.as_image_tensor(img, "img")
    channels = tensor.shape[-1]
    V.check_channels(channels, norm, "img has")
    args = (tensor, *kernel_stats(norm), channel_map(channels, input_order, norm.order), flip_mask)
    if out is None:
        return _backend.pick("normalize", tensor.device)(*args, dtype, channels_last)
    V.check_out(out, tensor, dtype, channels_last)
    _backend.pick("normalize_into", tensor.device)(*args, out)
    return out


def denormalize(
    x: torch.Tensor, norm: Normalization, *, output_order: str = "bgr", sizes=None, out: torch.Tensor | None = None
):
    """Normalized CHW float -> HWC uint8 image(s), in one pass: the inverse of `normalize`.

    Args:
        x: float32/float16/bfloat16 tensor (C, H, W) or (N, C, H, W), any strides (contiguous, channels_last,
            sliced), any device, channels in `norm.order`; requires_grad is fine (the result is detached).
        norm: the `Normalization` that produced `x`.
        output_order: channel order of the result, "bgr" (OpenCV, the default) or "rgb".
        sizes: optional (N, 2) int tensor or list of (h, w), e.g. `pad_batch(...).sizes`: crop each image to its
            true size (padding removed).
        out: optional contiguous uint8 (H, W, C) / (N, H, W, C) buffer on x's device to write the result into (not
            with `sizes`); returned.

    Returns:
        uint8 (H, W, C) / (N, H, W, C) on x's device, value clamp(round_half_even(x * std + mean), 0, 255), NaN -> 0,
            +-inf clipped; with `sizes`, a list of N contiguous (h_i, w_i, C) uint8 tensors.
    """
    norm = V.check_norm(norm)
    output_order = V.check_order("output_order", output_order)
    x = _check_normalized(x, norm)
    cmap = channel_map(norm.channels, norm.order, output_order)
    mean = [norm.mean[k] for k in cmap]
    std = [norm.std[k] for k in cmap]
    if out is not None:
        if sizes is not None:
            raise ValueError("out cannot be combined with sizes (which returns a list of cropped images)")
        *lead, c, h, w = x.shape
        V.check_out_as(out, torch.empty((*lead, h, w, c), dtype=torch.uint8, device="meta"), x.device, [x])
        _backend.pick("denormalize_into", x.device)(x, mean, std, cmap, out)
        return out
    op = _backend.pick("denormalize", x.device)
    if sizes is None:
        return op(x, mean, std, cmap)
    return [op(x[i, :, :h, :w], mean, std, cmap) for i, (h, w) in enumerate(_check_sizes(sizes, x))]


def to_numpy_images(x: torch.Tensor, norm: Normalization, *, output_order: str = "bgr", sizes=None) -> list:
    """Normalized CHW float image(s) -> a list of contiguous numpy HWC uint8 arrays on the CPU, ready for `cv2.imwrite`.

    The conversion runs on x's device; only uint8 crosses to the host, in one copy.

    Args:
        x: (C, H, W) or (N, C, H, W) float32, float16 or bfloat16, channels in `norm.order`, any device.
        norm: the `Normalization` x was normalized with.
        output_order: channel order of the arrays ("bgr", the default, for OpenCV; "rgb").
        sizes: optional (N, 2) int tensor or list of (h, w): crop each image to its true size (padding dropped).

    Returns:
        A list of N (1 for a 3-D `x`) numpy arrays of shape (h, w, C), uint8.

    Raises:
        TypeError: a non-float `x` or a wrong argument type.
        ValueError: as in `denormalize` (channels, ndim, sizes).
    """
    norm = V.check_norm(norm)
    output_order = V.check_order("output_order", output_order)
    x = _check_normalized(x, norm)
    crops = _check_sizes(sizes, x) if sizes is not None else None
    host = denormalize(x, norm, output_order=output_order).cpu().numpy()
    if host.ndim == 3:
        return [host]
    if crops is None:
        return list(host)
    return [np.ascontiguousarray(host[i, :h, :w]) for i, (h, w) in enumerate(crops)]
