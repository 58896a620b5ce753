"""The image operations of RandAugment / TrivialAugmentWide on groups of uint8 images, batched: each takes a
(g, C, H, W) uint8 batch and one magnitude per image and returns the (g, C, H, W) result, as torchvision v2's
functions give it image by image (the same fp32 operations in the same order).

- geometry: `affine` (shear, translate, rotate) on torchvision's inverse-affine matrices, by the compiled
  `warp_affine`;
- values: `posterize`, `autocontrast`, `equalize` (a histogram and a table per image and channel);
- `sharpen`: torchvision's 3 x 3 smoothing blend (`adjust_sharpness`).

Brightness, colour (saturation), contrast and solarize run on the compiled `adjust_color` (fastload.functional).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fastload.functional._warp import warp_affine


def inverse_affine(center, angle: float, translate, shear) -> list[float]:
    """The inverse (output -> input) 2 x 3 matrix of rotation `angle`, `translate` (tx, ty) and `shear` (degrees),
    about `center` (pixels from the image's centre), scale 1: torchvision's `_get_inverse_affine_matrix`, in the
    same float64 operations. M = T C RSS C^-1, so M^-1 = C RSS^-1 C^-1 T^-1 with RSS = R(a) SHy(sy) SHx(sx)."""
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    cos_sy, tan_sx = math.cos(sy), math.tan(sx)
    a = math.cos(rot - sy) / cos_sy
    b = -(a * tan_sx + math.sin(rot))
    c = math.sin(rot - sy) / cos_sy
    d = math.cos(rot) - c * tan_sx
    m = [d, -b, 0.0, -c, a, 0.0]  # RSS^-1 (its determinant is 1)
    m[2] += cx - m[0] * (cx + tx) - m[1] * (cy + ty)
    m[5] += cy - m[3] * (cx + tx) - m[4] * (cy + ty)
    return m


def affine_matrix(op: str, magnitude: float, height: int, width: int) -> list[float]:
    """The inverse matrix torchvision v2's RandAugment builds for a geometric `op` of `magnitude`."""
    if op == "ShearX":  # sheared about the top-left corner (center=[0, 0] in torchvision's pixels)
        return inverse_affine([-width * 0.5, -height * 0.5], 0.0, [0.0, 0.0], [math.degrees(math.atan(magnitude)), 0.0])
    if op == "ShearY":
        return inverse_affine([-width * 0.5, -height * 0.5], 0.0, [0.0, 0.0], [0.0, math.degrees(math.atan(magnitude))])
    if op == "TranslateX":
        return inverse_affine([0.0, 0.0], 0.0, [float(int(magnitude)), 0.0], [0.0, 0.0])
    if op == "TranslateY":
        return inverse_affine([0.0, 0.0], 0.0, [0.0, float(int(magnitude))], [0.0, 0.0])
    if op == "Rotate":  # rotate's angle runs the other way round from affine's
        return inverse_affine([0.0, 0.0], -(magnitude % 360), [0.0, 0.0], [0.0, 0.0])
    raise ValueError(f"{op} is not a geometric operation")


def rotation_turns(magnitude: float, height: int, width: int) -> int | None:
    """Quarter turns (counter-clockwise) when torchvision's `rotate` takes its exact path for this angle (0, 180,
    and 90 / 270 on square images), else None."""
    angle = magnitude % 360
    if angle in (0.0, 180.0) or (height == width and angle in (90.0, 270.0)):
        return int(angle // 90)
    return None


def affine(images: torch.Tensor, matrices: list, interpolation: str, fill) -> torch.Tensor:
    """(g, C, H, W) uint8 images warped by their inverse `matrices` (one 6-list each): `warp_affine`."""
    return warp_affine(images, matrices, interpolation=interpolation, fill=fill)


def sharpen(images: torch.Tensor, factors: list[float]) -> torch.Tensor:
    """torchvision's `adjust_sharpness` of each (C, H, W) uint8 image with its factor: the interior blended with
    the image smoothed by [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13 (rounded), the border kept."""
    g, c, h, w = images.shape
    if h <= 2 or w <= 2:
        return images
    a, b = 1.0 / 13.0, 5.0 / 13.0
    kernel = torch.tensor([[a, a, a], [a, b, a], [a, a, a]], device=images.device).expand(c, 1, 3, 3)
    out = torch.empty_like(images)
    for i, f in enumerate(factors):  # image by image: a grouped conv2d over the group runs 3-5x slower on the CPU
        x = images[i : i + 1].to(torch.float32, copy=True)
        smooth = F.conv2d(x, kernel, groups=c).round_()
        inner = x[..., 1:-1, 1:-1]
        inner.add_(smooth.sub_(inner), alpha=1.0 - f)  # a Python alpha: ATen's add(alpha=) is a fused multiply-add
        out[i] = x[0].clamp_(0, 255)
    return out


def posterize(images: torch.Tensor, bits: list[int]) -> torch.Tensor:
    """Each image's values with only their top `bits` kept (torchvision's `posterize`)."""
    masks = torch.tensor([(0xFF << (8 - k)) & 0xFF for k in bits], dtype=torch.uint8, device=images.device)
    return images & masks.view(-1, 1, 1, 1)


def autocontrast(images: torch.Tensor) -> torch.Tensor:
    """Each image's channels stretched from their [min, max] to [0, 255]: torchvision's `autocontrast` on uint8,
    in its fp32 operations."""
    x = images.float()
    lo = x.amin(dim=(-2, -1), keepdim=True)
    hi = x.amax(dim=(-2, -1), keepdim=True)
    flat = hi == lo
    inv_scale = hi.sub_(lo).mul_(1.0 / 255)
    lo[flat] = 0.0
    inv_scale[flat] = 1.0
    return x.sub_(lo).div_(inv_scale).clamp_(0, 255).to(torch.uint8)


def equalize(images: torch.Tensor) -> torch.Tensor:
    """PIL's histogram equalization of each image's channels (torchvision's `equalize`); a channel whose values
    leave no step (all but a few pixels at its largest value) is kept."""
    g, c, h, w = images.shape
    flat = images.reshape(g, c, h * w).long()
    hist = flat.new_zeros(g, c, 256, dtype=torch.int32)
    hist.scatter_add_(-1, flat, hist.new_ones(1).expand_as(flat))
    cum = hist.cumsum(-1)
    top = hist.gather(-1, cum.argmax(-1, keepdim=True))  # the count of the largest value present
    step = (h * w - top).div_(255, rounding_mode="floor")
    lut = (cum[..., :-1] + step // 2).div_(step.clamp(min=1), rounding_mode="floor").clamp_(0, 255).to(torch.uint8)
    lut = torch.cat([lut.new_zeros(g, c, 1), lut], dim=-1)
    return torch.where(step.view(g, c, 1, 1) > 0, lut.gather(-1, flat).view(g, c, h, w), images)
