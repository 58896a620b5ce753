"""Pure-PyTorch implementation of every fastload op: the fallback when the extension is missing, and the oracle the
compiled kernels are tested against. Each function has the signature of its `torch.ops.fastload` twin and computes the
same fp32 arithmetic, so on the same device they agree bit for bit."""

from __future__ import annotations

import torch


def normalize_output(img: torch.Tensor, dtype: torch.dtype, channels_last: bool) -> torch.Tensor:
    """Empty result of `normalize` for `img` (H, W, C) / (N, H, W, C): (C, H, W) / (N, C, H, W), contiguous, or
    HWC / NHWC memory when `channels_last` (the layout the compiled op allocates)."""
    *lead, h, w, c = img.shape
    if channels_last:
        return img.new_empty((*lead, h, w, c), dtype=dtype).movedim(-1, -3)
    return img.new_empty((*lead, c, h, w), dtype=dtype)


def normalize(
    img: torch.Tensor,
    mean: list[float],
    inv_std: list[float],
    channel_map: list[int],
    flip_dims: list[int],
    dtype: torch.dtype,
    channels_last: bool,
) -> torch.Tensor:
    """uint8 `img` (H, W, C) or (N, H, W, C), read with `flip_dims` reversed -> `dtype` (C, H, W) / (N, C, H, W),
    output channel k = (img[..., channel_map[k]] - mean[k]) * inv_std[k] computed in fp32, rounded once to `dtype`."""
    x = img.flip(flip_dims) if flip_dims else img
    if list(channel_map) != list(range(x.shape[-1])):
        x = x[..., list(channel_map)]
    mean_t = torch.tensor(mean, dtype=torch.float32, device=x.device)
    inv_std_t = torch.tensor(inv_std, dtype=torch.float32, device=x.device)
    y = ((x.to(torch.float32) - mean_t) * inv_std_t).to(dtype)
    out = normalize_output(img, dtype, channels_last)
    # copy_ into the op's own layout: HWC order for channels_last, CHW otherwise.
    out.copy_(y.movedim(-1, -3))
    return out


def normalize_into(
    img: torch.Tensor,
    mean: list[float],
    inv_std: list[float],
    channel_map: list[int],
    flip_dims: list[int],
    out: torch.Tensor,
) -> None:
    """`normalize` written into `out` (its dtype and layout decide the result's); returns None like the op."""
    out.copy_(normalize(img, mean, inv_std, channel_map, flip_dims, out.dtype, False))
