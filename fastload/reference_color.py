"""The pure-PyTorch `adjust_color`: torchvision v2's uint8 colour adjustments (and RandAugment's sharpness,
posterize, autocontrast, equalize, invert, and timm's solarize_add) with its fp32 operations in its order, per image
in that image's order (re-exported by `fastload.reference`, where the op table finds it). Where torchvision
adds with `alpha=` (the blends and the grey weights) ATen fuses the multiply-add, and so do the kernels; here those
sums are computed in float64 (exact for these operands) and rounded once to fp32."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fastload.reference_images import pad_batch_output

BRIGHTNESS, CONTRAST, SATURATION, HUE, GRAYSCALE, SOLARIZE = range(6)
SHARPNESS, POSTERIZE, AUTOCONTRAST, EQUALIZE, INVERT, SOLARIZE_ADD = range(6, 12)
F32 = torch.float32


def _fused(other: torch.Tensor, alpha: float, base: torch.Tensor) -> torch.Tensor:
    """fp32 fma(other, alpha, base): base + alpha * other rounded once."""
    alpha64 = torch.tensor(alpha, dtype=F32).double()
    return (base.double() + other.double() * alpha64).float()


def _const(v: float, like: torch.Tensor) -> torch.Tensor:
    """The fp32 value torch uses for a Python scalar in an fp32 op."""
    return torch.tensor(v, dtype=F32, device=like.device)


def _grey(r, g, b) -> torch.Tensor:
    """torchvision's r * 0.2989 + g * 0.587 + b * 0.114 (the adds fused), unrounded fp32."""
    return _fused(b, 0.114, _fused(g, 0.587, r * _const(0.2989, r)))


def _blend(x: torch.Tensor, other: torch.Tensor, ratio: float, rest: float) -> torch.Tensor:
    """torchvision's _blend on uint8 values: x * ratio + other * rest (fused), clamped to [0, 255], truncated."""
    return _fused(other, rest, x * _const(ratio, x)).clamp(0, 255).trunc()


def _hue(r, g, b, hue: float):
    """adjust_hue of byte values (fp32 tensors): torchvision's _rgb_to_hsv, shift, _hsv_to_rgb, to uint8 scale."""
    scale = _const(1.0 / 255.0, r)
    r, g, b = r * scale, g * scale, b * scale
    maxc, minc = torch.maximum(r, torch.maximum(g, b)), torch.minimum(r, torch.minimum(g, b))
    eqc = maxc == minc
    one = torch.ones_like(maxc)
    s = (maxc - minc) / torch.where(eqc, one, maxc)
    divisor = torch.where(eqc, one, maxc - minc)
    rc, gc, bc = (maxc - r) / divisor, (maxc - g) / divisor, (maxc - b) / divisor
    max_r, max_g = maxc == r, maxc == g
    hg = (rc + 2.0 - bc) * (max_g & ~max_r).to(F32)
    hr = (bc - gc) * max_r.to(F32)
    hb = (gc + 4.0 - rc) * (~max_r & ~max_g).to(F32)
    h = torch.fmod((hr + hg + hb) * _const(1.0 / 6.0, r) + 1.0, 1.0)
    h = torch.remainder(h + _const(hue, r), 1.0)
    h6 = h * 6.0
    i_float = torch.floor(h6)
    f = h6 - i_float
    i = i_float.to(torch.int32).remainder(6)
    sxf, one_minus_s = s * f, 1.0 - s
    q = ((1.0 - sxf) * maxc).clamp(0, 1)
    t = ((sxf + one_minus_s) * maxc).clamp(0, 1)
    p = (one_minus_s * maxc).clamp(0, 1)
    v = maxc
    picks = torch.stack([v, p, q, t])  # torchvision's vpqt, selected by i
    table = torch.tensor([[0, 2, 1, 1, 3, 0], [3, 0, 0, 2, 1, 1], [1, 1, 3, 0, 0, 2]], device=r.device)
    up = _const(255.999, r)
    return [(torch.gather(picks, 0, table[k][i.long()].unsqueeze(0))[0] * up).trunc() for k in range(3)]


def _sharpen(x: list[torch.Tensor], factor: float) -> list[torch.Tensor]:
    """adjust_sharpness: the interior blended with the image smoothed by [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13
    (fp32 conv2d, rounded) as x + (1 - factor) * (smooth - x) (fused), the border kept."""
    planes = torch.stack(x)
    c, h, w = planes.shape
    if h <= 2 or w <= 2:
        return x
    a, b = 1.0 / 13.0, 5.0 / 13.0
    kernel = torch.tensor([[a, a, a], [a, b, a], [a, a, a]], device=planes.device).expand(c, 1, 3, 3)
    smooth = F.conv2d(planes.unsqueeze(0), kernel, groups=c)[0].round()
    out = planes.clone()
    inner = planes[:, 1:-1, 1:-1]
    out[:, 1:-1, 1:-1] = _fused(smooth - inner, 1.0 - factor, inner).clamp(0, 255).trunc()
    return list(out.unbind(0))


def _autocontrast(v: torch.Tensor) -> torch.Tensor:
    """autocontrast of one plane: (v - min) / ((max - min) * (1 / 255)) in fp32, clamped, truncated; flat: kept."""
    if v.numel() == 0:
        return v
    lo, hi = v.min(), v.max()
    if bool(lo == hi):
        return v
    return ((v - lo) / ((hi - lo) * _const(1.0 / 255.0, v))).clamp(0, 255).trunc()


def _equalize(v: torch.Tensor) -> torch.Tensor:
    """PIL's histogram equalization of one plane: value u -> (pixels below u + step // 2) // step (at most 255, 0
    for u = 0), step = (pixels - the count of the largest value) // 255; step 0 keeps the plane."""
    if v.numel() == 0:
        return v
    values = v.to(torch.int64)
    hist = torch.bincount(values.flatten(), minlength=256)
    top = int(hist[int(values.max())])
    step = (values.numel() - top) // 255
    if step == 0:
        return v
    below = torch.cat([hist.new_zeros(1), hist.cumsum(0)[:-1]])
    lut = ((below + step // 2) // step).clamp(max=255)
    lut[0] = 0
    return lut[values].to(F32)


def _steps(x: list[torch.Tensor], steps: list[int], f: list[float]) -> list[torch.Tensor]:
    """One image's steps on its channel planes x (R, G, B or the one channel) of byte values in fp32. On one
    channel saturation, hue and grayscale leave the image as it is, as torchvision does."""
    colour = len(x) == 3
    for step in steps:
        if step == BRIGHTNESS:
            x = [(v * _const(f[BRIGHTNESS], v)).clamp(max=255).trunc() for v in x]
        elif step == CONTRAST:
            grey = torch.floor(_grey(*x)) if colour else x[0]
            mean = grey.to(torch.int64).sum().to(F32) / _const(float(grey.numel()), grey)
            x = [_blend(v, mean, f[CONTRAST], 1.0 - f[CONTRAST]) for v in x]
        elif step == SATURATION and colour:
            grey = torch.floor(_grey(*x))
            x = [_blend(v, grey, f[SATURATION], 1.0 - f[SATURATION]) for v in x]
        elif step == HUE and colour:
            x = _hue(*x, f[HUE])
        elif step == GRAYSCALE and colour:
            x = [_grey(*x).trunc()] * 3
        elif step == SOLARIZE:
            x = [torch.where(v >= _const(f[SOLARIZE], v), 255.0 - v, v) for v in x]
        elif step == SHARPNESS:
            x = _sharpen(x, f[SHARPNESS])
        elif step == POSTERIZE:
            mask = (0xFF << (8 - int(f[POSTERIZE]))) & 0xFF
            x = [(v.to(torch.int32) & mask).to(F32) for v in x]
        elif step == AUTOCONTRAST:
            x = [_autocontrast(v) for v in x]
        elif step == EQUALIZE:
            x = [_equalize(v) for v in x]
        elif step == INVERT:
            x = [255.0 - v for v in x]
        elif step == SOLARIZE_ADD:
            x = [torch.where(v < 128, (v + f[SOLARIZE_ADD]).clamp(max=255), v) for v in x]
    return x


def adjust_color_layout(images: torch.Tensor) -> torch.memory_format:
    """adjust_color's output layout: channels_last when images has channels_last strides (and is not contiguous)."""
    if images.is_contiguous() or not images.is_contiguous(memory_format=torch.channels_last):
        return torch.contiguous_format
    return torch.channels_last


def adjust_color(images: torch.Tensor, steps: torch.Tensor, factors: torch.Tensor, rgb: list[int]) -> torch.Tensor:
    """uint8 (N, C, H, W) `images` with image i's steps (row i of the int64 (N, S) `steps`: 0 brightness, 1
    contrast, 2 saturation, 3 hue, 4 grayscale, 5 solarize, 6 sharpness, 7 posterize, 8 autocontrast, 9 equalize,
    10 invert, 11 solarize_add, -1 none) applied in order with the factors in row i of the float64 (N, 12) `factors`
    (by step code);
    `rgb` gives the R, G, B channel indices. A new tensor in images' layout."""
    out = torch.empty_like(images, memory_format=adjust_color_layout(images))
    for i in range(images.shape[0]):
        planes = [images[i, k].to(F32) for k in rgb]
        planes = _steps(planes, [s for s in steps[i].tolist() if s >= 0], factors[i].tolist())
        for k, v in zip(rgb, planes):
            out[i, k] = v.to(torch.uint8)
    return out


def adjust_color_normalize(
    images: torch.Tensor,
    steps: torch.Tensor,
    factors: torch.Tensor,
    rgb: list[int],
    mean: list[float],
    inv_std: list[float],
    channel_map: list[int],
    dtype: torch.dtype,
    channels_last: bool,
) -> torch.Tensor:
    """`adjust_color`'s bytes normalized: (N, C, H, W) `dtype` (contiguous or channels_last), output channel k =
    (adjusted channel channel_map[k] - mean[k]) * inv_std[k] in fp32, rounded once to dtype."""
    x = adjust_color(images, steps, factors, rgb)[:, list(channel_map)].to(F32)
    m = torch.tensor(mean, dtype=F32, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(inv_std, dtype=F32, device=x.device).view(1, -1, 1, 1)
    n, c, h, w = images.shape
    out = pad_batch_output(n, c, (h, w), True, dtype, channels_last, images.device)  # the kernels' layout
    return out.copy_(((x - m) * s).to(dtype))
