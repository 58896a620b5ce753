"""The helpers the pure-PyTorch ops share (re-exported by `fastload.reference`): their empty results, the flip
encoding of negative strides, the fill of padding, the views of a packed buffer."""

from __future__ import annotations

import torch


def normalize_output(img: torch.Tensor, dtype: torch.dtype, channels_last: bool) -> torch.Tensor:
    """Empty result of `normalize` for `img` (H, W, C) / (N, H, W, C): (C, H, W) / (N, C, H, W), contiguous, or
    HWC / NHWC memory when `channels_last` (the layout the compiled op allocates)."""
    *lead, h, w, c = img.shape
    if channels_last:
        return img.new_empty((*lead, h, w, c), dtype=dtype).movedim(-1, -3)
    return img.new_empty((*lead, c, h, w), dtype=dtype)


def flip(img: torch.Tensor, flip_mask: int) -> torch.Tensor:
    """`img` with every dim d whose bit is set in `flip_mask` reversed (the ops' encoding of negative strides)."""
    dims = [d for d in range(img.dim()) if flip_mask & (1 << d)]
    return img.flip(dims) if dims else img


def pad_batch_output(n: int, c: int, batch_hw, normalized: bool, dtype, channels_last: bool, device):
    """Empty result of `pad_batch`: (N, C, Hp, Wp) `dtype` (contiguous or channels_last) when normalized, else
    (N, Hp, Wp, C) uint8."""
    h, w = batch_hw
    if not normalized:
        return torch.empty((n, h, w, c), dtype=torch.uint8, device=device)
    out = torch.empty((n, h, w, c) if channels_last else (n, c, h, w), dtype=dtype or torch.float32, device=device)
    return out.permute(0, 3, 1, 2) if channels_last else out


def fill_channels(out: torch.Tensor, values: list[float]) -> None:
    """Fill channel k of the (N, C, H, W) `out` with values[k], rounded via fp32 as the kernels do."""
    fill = torch.tensor(values, dtype=torch.float32, device=out.device).to(out.dtype)
    out.copy_(fill.view(1, -1, 1, 1).expand_as(out))


def unpack(data: torch.Tensor, offsets: torch.Tensor, sizes: torch.Tensor, channels: int) -> list[torch.Tensor]:
    """The (h, w, C) views of a packed buffer (image i at byte offsets[i] of the 1-D `data`)."""
    return [data[o : o + h * w * channels].view(h, w, channels) for o, (h, w) in zip(offsets.tolist(), sizes.tolist())]
