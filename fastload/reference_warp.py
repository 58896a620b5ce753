"""The pure-PyTorch `warp_affine` (re-exported by `fastload.reference`, where the op table finds it): the kernels'
fp32 grid (torchvision's `_affine_grid`: torch's linspace coordinates times theta over (w / 2, h / 2)), grid_sample's
unnormalize and sampling (nearest half to even, or bilinear's four weights) and the fill mask, in the kernels'
operation order, so they agree bit for bit. Where the kernels fuse a multiply-add (as ATen's vectorized grid_sample
does), it is computed here in float64 (the product exact) and rounded once to fp32."""

from __future__ import annotations

import torch

from fastload.reference_color import adjust_color, adjust_color_layout

F32 = torch.float32


def _coordinates(matrices: torch.Tensor, h: int, w: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, H, W) fp32 source positions (x, y) of every output pixel."""
    n = matrices.shape[0]
    theta = matrices.to(F32)
    a = (theta[:, :3] / torch.tensor(0.5 * w, dtype=F32)).to(device)
    b = (theta[:, 3:] / torch.tensor(0.5 * h, dtype=F32)).to(device)
    # torch's linspace on the CPU, as the compiled op takes it on every device
    bx = torch.linspace((1.0 - w) * 0.5, (w - 1.0) * 0.5, w).to(device).view(1, 1, w)
    by = torch.linspace((1.0 - h) * 0.5, (h - 1.0) * 0.5, h).to(device).view(1, h, 1)

    def grid(k: torch.Tensor) -> torch.Tensor:
        return bx * k[:, 0].view(n, 1, 1) + by * k[:, 1].view(n, 1, 1) + k[:, 2].view(n, 1, 1)

    return _fma(grid(a) + 1.0, w / 2, -0.5), _fma(grid(b) + 1.0, h / 2, -0.5)


def _fma(a: torch.Tensor, b, c) -> torch.Tensor:
    """fp32 fma(a, b, c): a * b + c rounded once (a * b of two fp32 values is exact in float64)."""
    b = b.double() if isinstance(b, torch.Tensor) else float(torch.tensor(b, dtype=F32))
    c = c.double() if isinstance(c, torch.Tensor) else float(c)
    return (a.double() * b + c).to(F32)


def warp_affine(images: torch.Tensor, matrices: torch.Tensor, fill: list[float], interpolation: str) -> torch.Tensor:
    """uint8 (N, C, H, W) `images`, image i sampled through its inverse affine matrix (row i of the float64 (N, 6)
    `matrices`, torchvision's, in pixels from the image centre) as torchvision's affine / rotate do: `fill` [] (zeros
    padding) or one value per channel, `interpolation` "nearest" or "bilinear". A new tensor in images' layout."""
    out = torch.empty_like(images, memory_format=adjust_color_layout(images))
    n, c, h, w = images.shape
    if out.numel() == 0:
        return out
    sx, sy = _coordinates(matrices, h, w, images.device)
    flat = images.reshape(n, c, h * w)
    fills = torch.tensor(fill if fill else [0.0] * c, dtype=F32, device=images.device).view(1, c, 1, 1)

    zero = torch.zeros((), dtype=F32, device=images.device)

    def sample(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The values at integer positions (x, y) (0 outside the image, NaN and infinite positions included) and
        where they are inside."""
        inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        index = torch.where(inside, y, zero).long() * w + torch.where(inside, x, zero).long()
        values = flat.gather(2, index.view(n, 1, h * w).expand(n, c, h * w)).view(n, c, h, w).to(F32)
        return torch.where(inside[:, None], values, zero), inside

    if interpolation == "nearest":
        values, inside = sample(torch.round(sx), torch.round(sy))
        outside = torch.round(fills).expand(n, c, h, w) if fill else torch.zeros_like(values)
        out.copy_(torch.where(inside[:, None], values, outside).to(torch.uint8))
        return out
    x0, y0 = torch.floor(sx), torch.floor(sy)
    dx, dy = sx - x0, sy - y0
    ex, ey = 1.0 - dx, 1.0 - dy
    value = mask = None
    x1, y1 = x0 + 1.0, y0 + 1.0
    for weight, x, y in ((ey * ex, x0, y0), (ey * dx, x1, y0), (dy * ex, x0, y1), (dy * dx, x1, y1)):  # nw ne sw se
        v, inside = sample(x, y)
        weight = torch.where(inside, weight, zero)[:, None]  # a tap outside adds exactly nothing
        value = v * weight if value is None else _fma(v, weight, value)
        mask = weight if mask is None else mask + weight
    if fill:
        value = (value - fills) * mask + fills
    out.copy_(torch.round(value).clamp(0, 255).to(torch.uint8))
    return out


def augment(
    images: torch.Tensor,
    kinds: torch.Tensor,
    steps: torch.Tensor,
    factors: torch.Tensor,
    matrices: torch.Tensor,
    fill: list[float],
    interpolation: str,
    rgb: list[int],
) -> torch.Tensor:
    """Image i of the uint8 (N, C, H, W) `images` through its stages kinds[i] in order (0 none, 1 `adjust_color` with
    steps and factors row i * S + k, 2 `warp_affine` with matrices row i * S + k, 3..5 `torch.rot90` by 1..3 quarter
    turns): a new contiguous batch."""
    n, stages = kinds.shape
    out = torch.empty(images.shape, dtype=torch.uint8, device=images.device)
    for i in range(n):
        x = images[i : i + 1]
        for k, kind in enumerate(kinds[i].tolist()):
            row = slice(i * stages + k, i * stages + k + 1)
            if kind == 1:
                x = adjust_color(x, steps[row], factors[row], rgb)
            elif kind == 2:
                x = warp_affine(x, matrices[row], fill, interpolation)
            elif kind >= 3:
                x = torch.rot90(x, kind - 2, dims=(-2, -1))
        out[i] = x[0]
    return out
