"""The resampling taps of the classification crops: one separable table per axis for a whole batch.

Every output pixel is a separable weighted sum of source pixels: along each axis, output index d reads K
consecutive source indices from `start[d]` with weights `weights[d, :]` (zero-padded). The tables are computed in
float64 and rounded to float32 once, and every backend applies them in the same order (horizontal sums of each
source row, then the vertical sum, in fp32 without fma), so CPU, CUDA and the reference agree bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch

from fastload import _backend

MODES = ("nearest", "linear", "antialias", "bicubic")


def table_mode(interpolation: str, antialias: bool) -> str:
    """The table mode of a crop's `interpolation` ("bilinear", "bicubic" or "nearest") and `antialias`."""
    if interpolation == "bicubic":
        return "bicubic"  # antialiased only (checked by the callers)
    return "nearest" if interpolation == "nearest" else "antialias" if antialias else "linear"


def axis_table(
    src: torch.Tensor,
    dst: int,
    resized: torch.Tensor,
    offset: torch.Tensor,
    mode: str,
    flips: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One axis of the resample of N images at once: image i's `src[i]`-long source span resized to `resized[i]`
    samples, of which output indices 0..dst-1 are samples offset[i]..offset[i]+dst-1 (a centre crop of the resized
    image; offset 0 and resized == dst for a plain resize). `src`, `resized`, `offset`: int64 (N,) CPU tensors;
    `flips`: bool (N,) or None, reversing image i's output order (a horizontal flip after the crop); `mode` one of
    MODES. Returns (N, dst)
    int64 starts (relative to the span) and (N, dst, K) float32 weights: output d of image i reads source indices
    starts[i, d] + k with weights[i, d, k] (zero where unused).

    - "antialias": torch's antialiased bilinear (PIL's triangle filter, its support widened by the downscale
      factor), what torchvision's `resize(..., antialias=True)` computes; weights in float64, normalized, rounded
      once to float32;
    - "bicubic": torch's antialiased bicubic (Keys' cubic, a = -0.5, PIL's), support 2 widened the same way, with
      the fixed-point weights of torch's uint8 resampling (what torchvision's `resize(..., interpolation=BICUBIC,
      antialias=True)` runs on uint8 CPU images); weights may be negative, so the crop ops store each pass as bytes
      (rounded half up, clamped), as torch does, and give its bits;
    - "linear": OpenCV INTER_LINEAR coordinates, as `resize_pad_batch` (resize_math.h's linear_tap);
    - "nearest": torch's `interpolate(mode="nearest")`: floor(d * (src / resized)) in fp32, clamped.

    `numpy_axis_table` is the definition; with the extension loaded the same bits come from C++
    (`fastload::_crop_axis_table`, tested equal, and several times faster for a batch), an op with a fake kernel,
    so torch.compile traces the tables with the crop (K is then a data-dependent size).
    """
    flips = torch.zeros(0, dtype=torch.bool) if flips is None else flips
    if _backend.extension_loaded():
        return torch.ops.fastload._crop_axis_table(src, dst, resized, offset, mode, flips)
    return numpy_axis_table(
        src=src.numpy(),
        dst=dst,
        resized=resized.numpy(),
        offset=offset.numpy(),
        mode=mode,
        flips=flips.numpy() if flips.numel() else None,
    )


def numpy_axis_table(src, dst: int, resized, offset, mode: str, flips=None) -> tuple[torch.Tensor, torch.Tensor]:
    """`axis_table` in numpy (array-likes of ints), with `mode` one of MODES."""
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
        starts, weights = _filtered(src, resized, d, mode)
        if mode == "bicubic":  # torch's uint8 weights: fixed point, the precision set by the axis's largest weight
            largest = [_filtered(src[i], resized[i], np.arange(resized[i, 0]), mode)[1].max() for i in range(len(src))]
            weights = _fixed_point(weights, np.asarray(largest, np.float64))
    if flips is not None:
        reverse = np.asarray(flips, bool)
        starts[reverse] = starts[reverse, ::-1]
        weights[reverse] = weights[reverse, ::-1]
    return torch.from_numpy(np.ascontiguousarray(starts)), torch.from_numpy(weights.astype(np.float32))


def _filtered(src, resized, d, mode: str):
    """Starts and float64 weights (normalized) of torch's antialiased triangle ("antialias") or cubic ("bicubic")
    filter for output indices `d` of spans `src` resized to `resized` (broadcasting int64 arrays)."""
    scale = src / resized
    # the filter's half width (1 for the triangle, 2 for the cubic), widened by the factor when downscaling
    support = (1.0 if mode == "antialias" else 2.0) * np.maximum(scale, 1.0)
    inv = np.where(scale > 1.0, 1.0 / scale, 1.0)
    center = scale * (d + 0.5)
    starts = np.maximum((center - support + 0.5).astype(np.int64), 0)
    taps = np.minimum((center + support + 0.5).astype(np.int64), src) - starts
    j = np.arange(max(int(taps.max()), 1) if taps.size else 1)
    x = (j + starts[..., None] - center[..., None] + 0.5) * inv[..., None]
    weights = np.clip(1.0 - np.abs(x), 0, None) if mode == "antialias" else _cubic(x)
    weights[j >= taps[..., None]] = 0.0
    total = weights[..., 0].copy()
    for k in range(1, weights.shape[-1]):  # left to right (numpy's sum pairs them from 8 taps on)
        total += weights[..., k]
    return starts, weights / total[..., None]


def _fixed_point(weights: np.ndarray, largest: np.ndarray) -> np.ndarray:
    """torch's int16 weights of its uint8 resampling, as values: image i's weights times 2^p rounded half away
    from zero, over 2^p, p the most bits (at most 22) that keep 2 x largest[i] x 2^p under 2^15. Exact in float32
    (15 bits), so the kernels' fp32 sums of bytes times them are torch's integer sums, shifted."""
    bits = np.zeros(len(largest), np.int64)
    for i, top in enumerate(largest.tolist()):
        while bits[i] < 22 and int(0.5 + top * (1 << int(bits[i] + 1))) < (1 << 15):
            bits[i] += 1
    one = np.ldexp(1.0, bits)[:, None, None]
    v = weights * one
    return np.where(v < 0, np.trunc(v - 0.5), np.trunc(v + 0.5)) / one


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution with a = -0.5 (PIL's and torch's antialiased bicubic), in torch's operation order."""
    a, x = -0.5, np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def table_fake(src, dst, resized, offset, mode, flips):
    """The tables' shapes for torch.compile / meta tensors: (N, dst) starts, (N, dst, K) weights, K data-dependent
    for "antialias" and "bicubic" (it grows with the downscale factor)."""
    n = src.shape[0]
    k = {"nearest": 1, "linear": 2}.get(mode)  # "antialias" and "bicubic" grow with the downscale factor
    if k is None:
        k = torch.library.get_ctx().new_dynamic_size()
    return src.new_empty((n, dst), dtype=torch.int64), src.new_empty((n, dst, k), dtype=torch.float32)


if _backend.extension_loaded():
    torch.library.register_fake("fastload::_crop_axis_table")(table_fake)
