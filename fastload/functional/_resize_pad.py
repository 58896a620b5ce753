"""resize_pad_batch: keep-ratio resize, channel swap, normalize and pad of a whole batch in one kernel (bicubic:
the crop kernels' resample to bytes, then pad_batch's normalize and pad)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fastload import _validation as V
from fastload.functional._crop import resample_batch
from fastload.functional._crop_taps import axis_table
from fastload.functional._geometry import batch_extent, resized_size
from fastload.functional._pad import BatchSource, PaddedBatch
from fastload.normalization import Normalization

INTERPOLATIONS = ("bilinear", "nearest", "bicubic")


def resize_pad_batch(
    images,
    norm: Normalization,
    *,
    scale=(1333, 800),
    input_order: str = "bgr",
    size_divisor: int = 32,
    pad_value=0.0,
    dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
    interpolation: str = "bilinear",
    device=None,
    out: torch.Tensor | None = None,
) -> PaddedBatch:
    """Keep-ratio resize -> channel swap -> normalize -> pad of a whole batch, in one kernel.

    Args:
        images: a sequence of (H, W, C) uint8 images (numpy or torch, any strides, equal C) or a `PackedImages`.
        norm: the model's `Normalization` (channels in `norm.order`).
        scale: a (w, h)-style bound such as (1333, 800) (orientation agnostic, see `rescale_size`) or a factor.
        interpolation: "bilinear" (OpenCV INTER_LINEAR: half-pixel centres, no antialias; within 1 grey level of
            cv2.resize), "nearest" (OpenCV INTER_NEAREST exactly) or "bicubic" (torchvision's antialiased bicubic,
            a = -0.5, not OpenCV's INTER_CUBIC: within 1 grey level of torchvision v2's `resize` on uint8; run as
            two passes, the resample to bytes as torch's uint8 bicubic rounds, then the normalize and pad).
        input_order: channel order of the images ("bgr" or "rgb").
        size_divisor: Hp and Wp are the largest resized h and w rounded up to a multiple of this (default 32).
        pad_value: the padding in output (normalized) space, one number or one per channel (0.0 = the mean colour).
        dtype: torch.float32, float16 or bfloat16.
        channels_last: give the output channels_last strides.
        device: where the batch is built (default: where the images are); CPU images go over in one copy.
        out: optional buffer exactly like the result's `images`, written into and returned.

    Returns:
        PaddedBatch(images (N, C, Hp, Wp), sizes = resized (h, w), scale_factors = (new_w / w, new_h / h)).

    Raises:
        ValueError: a scale that is not positive and finite, an image whose side would round to 0 or grow past
            2^31 - 1, a batch no machine could hold (each names the image and `scale`), and the `pad_batch` errors.
        TypeError: non-uint8 images or a wrong argument type, naming the parameter.
    """
    norm = V.check_norm(norm)
    dtype = V.check_float_dtype(dtype)
    input_order = V.check_order("input_order", input_order)
    size_divisor = V.check_size("size_divisor", size_divisor, minimum=1, maximum=V.MAX_SIDE)
    interpolation = V.check_interpolation(interpolation, INTERPOLATIONS)
    channels_last = V.check_bool("channels_last", channels_last)
    src = BatchSource.of(images, norm)
    new_sizes, factors = [], []
    for i, (h, w) in enumerate(src.sizes):
        if h == 0 or w == 0:
            raise ValueError(f"images[{i}] is empty ({h}x{w}) and cannot be resized")
        new_h, new_w = resized_size(h, w, scale, f"images[{i}]")
        new_sizes.append((new_h, new_w))
        factors.append((new_w / w, new_h / h))
    batch_hw = list(batch_extent(new_sizes, size_divisor, None))
    V.check_batch_bytes([len(new_sizes), src.channels, *batch_hw], dtype, "scale or size_divisor")
    pad = V.check_pad_value(pad_value, src.channels, True, dtype)
    cmap, mean, inv_std, dtype = src.normalization(norm, input_order, dtype)
    src.check_out(out, batch_hw, dtype, channels_last, device)
    if not new_sizes:
        images = src.empty_result(
            out=out, out_dtype=dtype, channels_last=channels_last, batch_hw=batch_hw, device=device
        )
    elif interpolation == "bicubic":
        resized = _bicubic_bytes(src, new_sizes, device)
        views = BatchSource.of([resized[i, :h, :w] for i, (h, w) in enumerate(new_sizes)], norm)
        images = views.run("pad_batch", batch_hw, mean, inv_std, cmap, pad, dtype, channels_last, out=out)
    else:
        images = src.to(device).run(
            "resize_pad_batch",
            [v for hw in new_sizes for v in hw],
            batch_hw,
            mean,
            inv_std,
            cmap,
            pad,
            interpolation,
            dtype,
            channels_last,
            out=out,
        )
    return PaddedBatch(
        images,
        torch.tensor(new_sizes, dtype=torch.int64).reshape(-1, 2),
        torch.tensor(factors, dtype=torch.float32).reshape(-1, 2),
    )


def _bicubic_bytes(src: BatchSource, new_sizes: list, device) -> torch.Tensor:
    """(N, max h, max w, C) uint8 on `device`: image i resized to new_sizes[i] with torchvision's antialiased
    bicubic at its top-left (zeros after), in the input's channel order."""
    extent = [max(hw[axis] for hw in new_sizes) for axis in (0, 1)]
    ys, xs = (
        _padded_table([hw[axis] for hw in src.sizes], [hw[axis] for hw in new_sizes], extent[axis]) for axis in (0, 1)
    )
    kw = dict(norm=None, input_order="bgr", dtype=None, channels_last=False, device=device, out=None)
    return resample_batch(src, ys, xs, tuple(extent), **kw)


def _padded_table(sides: list, new_sides: list, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One axis's bicubic tap tables ((N, length) starts, (N, length, K) weights) of spans `sides` resized to
    `new_sides`: each image's own table, its outputs past its new side reading pixel 0 with weight 0."""
    tables = {}  # a batch has a few distinct (side, new side) pairs
    for side, new in zip(sides, new_sides):
        if (side, new) not in tables:
            one = torch.tensor([side], dtype=torch.int64)
            resized, offset = one.new_tensor([new]), 0 * one
            tables[side, new] = axis_table(src=one, dst=new, resized=resized, offset=offset, mode="bicubic")
    k = max(w.shape[-1] for _, w in tables.values())
    starts, weights = [], []
    for side, new in zip(sides, new_sides):
        s, w = tables[side, new]
        starts.append(F.pad(s, (0, length - new)))
        weights.append(F.pad(w, (0, k - w.shape[-1], 0, length - new)))
    return torch.cat(starts), torch.cat(weights)
