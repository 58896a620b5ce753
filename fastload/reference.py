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


def denormalize_output(x: torch.Tensor) -> torch.Tensor:
    """Empty result of `denormalize` for `x` (C, H, W) / (N, C, H, W): uint8 (H, W, C) / (N, H, W, C)."""
    *lead, c, h, w = x.shape
    return x.new_empty((*lead, h, w, c), dtype=torch.uint8)


def denormalize(x: torch.Tensor, mean: list[float], std: list[float], channel_map: list[int]) -> torch.Tensor:
    """float `x` (C, H, W) / (N, C, H, W) -> uint8 (H, W, C) / (N, H, W, C), output channel k =
    clamp(round_half_even(x[channel_map[k]] * std[k] + mean[k]), 0, 255) in fp32; NaN -> 0, +-inf clip."""
    x = x.detach()
    if list(channel_map) != list(range(x.shape[-3])):
        x = x[..., list(channel_map), :, :]
    shape = (len(mean), 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=x.device).view(shape)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=x.device).view(shape)
    v = x.to(torch.float32) * std_t + mean_t
    v = torch.nan_to_num(v, nan=0.0).clamp_(0.0, 255.0).round_()
    return v.to(torch.uint8).movedim(-3, -1).contiguous()
