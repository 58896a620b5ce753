"""The geometry of RandAugment / TrivialAugmentWide: torchvision v2's inverse-affine matrices for shear, translate
and rotate (what `fastload::augment`'s warp stages resample by), and when its rotate takes the exact quarter-turn
path."""

from __future__ import annotations

import math


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
