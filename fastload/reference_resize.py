"""The pure-PyTorch `resize_pad_batch` and its packed twin (re-exported by `fastload.reference`, where the op table
finds them): OpenCV's bilinear / nearest coordinates, computed in fp32 as the kernels do."""

from __future__ import annotations

import numpy as np
import torch

from fastload.reference_images import fill_channels, flip, pad_batch_output, unpack


def _linear_taps(new: int, old: int):
    """OpenCV INTER_LINEAR taps for `new` destination indices over `old` source ones: (i0, i1, frac) with frac fp32,
    computed as the kernels do ((d + 0.5) * scale - 0.5 in double, rounded to fp32, clamped at the borders)."""
    scale = 1.0 / (new / old)
    pos = ((np.arange(new, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    base = np.floor(pos)
    frac = (pos - base).astype(np.float32)
    i0 = base.astype(np.int64)
    frac[i0 < 0] = 0.0
    i0[i0 < 0] = 0
    high = i0 >= old - 1
    frac[high] = 0.0
    i0[high] = old - 1
    i1 = np.minimum(i0 + 1, old - 1)
    return torch.from_numpy(i0), torch.from_numpy(i1), torch.from_numpy(frac)


def _nearest_index(new: int, old: int) -> torch.Tensor:
    scale = 1.0 / (new / old)
    return torch.from_numpy(np.minimum(np.floor(np.arange(new, dtype=np.float64) * scale).astype(np.int64), old - 1))


def _blend(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return a * (1.0 - w) + b * w  # separate fp32 products and sum, as the kernels


def resize_pad_batch(
    images: list[torch.Tensor],
    flip_masks: list[int],
    new_sizes: list[int],
    batch_hw: list[int],
    mean: list[float],
    inv_std: list[float],
    channel_map: list[int],
    pad_value: list[float],
    interpolation: str,
    dtype: torch.dtype,
    channels_last: bool,
) -> torch.Tensor:
    """Resize image i to (new_sizes[2i], new_sizes[2i+1]) ("bilinear" or "nearest", OpenCV coordinates: half-pixel
    centres, no antialias), swap channels, normalize, and pad into one (N, C, Hp, Wp) `dtype` batch."""
    c = images[0].shape[-1]
    device = images[0].device
    out = pad_batch_output(
        n=len(images), c=c, batch_hw=batch_hw, normalized=True, dtype=dtype, channels_last=channels_last, device=device
    )
    fill_channels(out, pad_value)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=device)
    inv_std_t = torch.tensor(inv_std, dtype=torch.float32, device=device)
    for i, img in enumerate(images):
        img = flip(img, flip_masks[i])[..., list(channel_map)]
        h, w = img.shape[:2]
        nh, nw = new_sizes[2 * i], new_sizes[2 * i + 1]
        if nh == 0 or nw == 0:
            continue
        if interpolation == "nearest":
            v = img[_nearest_index(nh, h).to(device)][:, _nearest_index(nw, w).to(device)].to(torch.float32)
        else:
            y0, y1, fy = (t.to(device) for t in _linear_taps(nh, h))
            x0, x1, fx = (t.to(device) for t in _linear_taps(nw, w))
            src = img.to(torch.float32)
            fx = fx.view(1, -1, 1)
            top = _blend(src[y0][:, x0], src[y0][:, x1], fx)
            bottom = _blend(src[y1][:, x0], src[y1][:, x1], fx)
            v = _blend(top, bottom, fy.view(-1, 1, 1))
        out[i, :, :nh, :nw] = ((v - mean_t) * inv_std_t).to(dtype).permute(2, 0, 1)
    return out


def resize_pad_batch_packed(
    data: torch.Tensor,
    offsets: torch.Tensor,
    sizes: torch.Tensor,
    channels: int,
    new_sizes,
    batch_hw,
    mean,
    inv_std,
    channel_map,
    pad_value,
    interpolation,
    dtype,
    channels_last,
) -> torch.Tensor:
    """`resize_pad_batch` over a packed buffer (see `pad_batch_packed`); the other arguments as there."""
    images = unpack(data, offsets, sizes, channels)
    return resize_pad_batch(
        images,
        [0] * len(images),
        new_sizes,
        batch_hw,
        mean,
        inv_std,
        channel_map,
        pad_value,
        interpolation,
        dtype,
        channels_last,
    )
