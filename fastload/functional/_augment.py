"""`augment`: RandAugment / TrivialAugmentWide operations on a uint8 batch, each image with its own operations and
magnitudes, as torchvision v2 applies them image by image, in one compiled op (`fastload::augment`): each operation
is a stage of its image, adjust_color's steps for the value operations (brightness, colour, contrast, sharpness,
posterize, solarize, autocontrast, equalize, invert), warp_affine's resampling for the geometric ones (torchvision's
matrices from fastload.functional._augment_ops) or torch.rot90's quarter turns where torchvision's rotate takes
that exact path."""

from __future__ import annotations

import math
import numbers

import torch

from fastload import _backend
from fastload import _validation as V
from fastload.functional import _augment_ops as ops_
from fastload.functional._color import step_tables
from fastload.functional._warp import check_fill, check_images

# torchvision's names; the magnitudes are what its `_apply_image_or_video_transform` takes: shears as tan(angle),
# translations in pixels (truncated), rotations in degrees, brightness / colour / contrast / sharpness as factor - 1,
# posterize as bits, solarize as a fraction of 255; the rest ignore theirs.
OPS = (
    "Identity",
    "ShearX",
    "ShearY",
    "TranslateX",
    "TranslateY",
    "Rotate",
    "Brightness",
    "Color",
    "Contrast",
    "Sharpness",
    "Posterize",
    "Solarize",
    "AutoContrast",
    "Equalize",
    "Invert",
    "SolarizeAdd",
)
"""The operations `augment` takes (torchvision's names: RandAugment's 14, AutoAugment's Invert, and timm's
SolarizeAdd) and the meaning of their magnitudes: ShearX / ShearY tan of the shear angle (about the top-left
corner), TranslateX / TranslateY pixels (truncated to an int), Rotate degrees counter-clockwise about the centre,
Brightness / Color / Contrast / Sharpness the factor minus 1, Posterize the bits kept, Solarize the threshold over
255, SolarizeAdd what values under 128 gain (capped at 255); Identity, AutoContrast, Equalize and Invert take
none."""
GEOMETRIC = OPS[1:6]
# The value operations: adjust_color's step and its factor from torchvision's magnitude.
_VALUES = {
    "Brightness": ("brightness", lambda m: 1.0 + m),
    "Color": ("saturation", lambda m: 1.0 + m),
    "Contrast": ("contrast", lambda m: 1.0 + m),
    "Sharpness": ("sharpness", lambda m: 1.0 + m),
    "Posterize": ("posterize", int),
    "Solarize": ("solarize", lambda m: 255 * m),
    "AutoContrast": ("autocontrast", lambda m: True),
    "Equalize": ("equalize", lambda m: True),
    "Invert": ("invert", lambda m: True),
    "SolarizeAdd": ("solarize_add", int),
}


def _check_plan(ops, magnitudes, n: int) -> tuple[list[list[str]], list[list[float]]]:
    """The per-image operation names and float magnitudes, checked: N rows of equal length."""
    if isinstance(ops, torch.Tensor):
        ops = ops.tolist()
    if isinstance(magnitudes, torch.Tensor):
        magnitudes = magnitudes.tolist()
    if not isinstance(ops, (list, tuple)) or len(ops) != n or any(not isinstance(r, (list, tuple)) for r in ops):
        raise ValueError(f"ops must be one sequence of operations per image ({n})")
    if not isinstance(magnitudes, (list, tuple)) or len(magnitudes) != n:
        raise ValueError(f"magnitudes must be one sequence per image ({n}), like ops")
    names, values = [], []
    for i, (row, mags) in enumerate(zip(ops, magnitudes)):
        if not isinstance(mags, (list, tuple)) or len(mags) != len(row) or len(row) != len(ops[0]):
            raise ValueError(f"ops[{i}] and magnitudes[{i}] must have the same length as ops[0] ({len(ops[0])})")
        names.append([_op_name(op, f"ops[{i}]") for op in row])
        values.append([_magnitude(op, m, f"magnitudes[{i}]") for op, m in zip(names[-1], mags)])
    return names, values


def _op_name(op, where: str) -> str:
    if isinstance(op, numbers.Integral) and not isinstance(op, bool) and 0 <= op < len(OPS):
        return OPS[op]
    if isinstance(op, str) and op in OPS:
        return op
    raise ValueError(f"{where} must hold names of {OPS} or their indices, got {op!r}")


def _magnitude(op: str, m, where: str) -> float:
    if isinstance(m, bool) or not isinstance(m, numbers.Real) or not math.isfinite(m):
        raise ValueError(f"{where} must hold finite numbers, got {m!r}")
    m = float(m)
    if op in ("Brightness", "Color", "Contrast", "Sharpness") and m < -1:
        raise ValueError(f"{where}: {op}'s factor 1 + magnitude must be non-negative, got {m}")
    if op == "Posterize" and not 0 <= int(m) <= 8:
        raise ValueError(f"{where}: Posterize's bits must lie in [0, 8], got {m}")
    if op == "SolarizeAdd" and not 0 <= int(m) <= 255:
        raise ValueError(f"{where}: SolarizeAdd's amount must lie in [0, 255], got {m}")
    if op == "Solarize" and m > 1:
        raise ValueError(f"{where}: Solarize's threshold 255 * magnitude must be at most 255, got {m}")
    return m


def augment(
    images: torch.Tensor, ops, magnitudes, *, interpolation: str = "nearest", fill=None, input_order: str = "rgb"
) -> torch.Tensor:
    """RandAugment / TrivialAugmentWide operations of a uint8 batch, image i getting ops[i] with magnitudes[i] in
    order, equal to torchvision v2's functions applied to each image (`RandAugment._apply_image_or_video_transform`).

    Args:
        images: an (N, C, H, W) uint8 tensor (C = 1 or 3), on any device; not modified.
        ops: N equal-length sequences of operation names (`fastload.functional.AUGMENT_OPS`, torchvision's) or
            their indices, e.g. what `fl.RandAugment.draw` gives.
        magnitudes: N sequences of floats, as torchvision's transforms pass them (see `AUGMENT_OPS`).
        interpolation: of the geometric operations, "nearest" (torchvision's default) or "bilinear".
        fill: the value of pixels a geometric operation brings in from outside: None (0, torchvision's default),
            one number or one per channel, in [0, 255].
        input_order: "rgb" or "bgr", for the colour operations' grey weights.

    Returns:
        A new (N, C, H, W) uint8 batch.

    Raises:
        TypeError: images not a uint8 tensor.
        ValueError: a bad shape, operation, magnitude, interpolation or fill (naming it).
    """
    check_images(images)
    n, c, h, w = images.shape
    names, values = _check_plan(ops, magnitudes, n)
    interpolation = V.check_interpolation(interpolation)
    fill = check_fill(fill, c)
    input_order = V.check_order("input_order", input_order)
    stages = len(names[0]) if n else 0
    kinds, matrices = [], []
    factors: dict = {}
    for i, (row, mags) in enumerate(zip(names, values)):
        for k, (op, m) in enumerate(zip(row, mags)):
            kinds.append(_stage(op, m, h, w))
            matrices += ops_.affine_matrix(op, m, h, w) if kinds[-1] == 2 else [0.0] * 6
            if op in _VALUES:
                name, factor = _VALUES[op]
                factors.setdefault(name, [None] * (n * stages))[i * stages + k] = factor(m)
    steps, table, rgb = step_tables(n * stages, c, input_order, None, factors)
    kind_table = torch.tensor(kinds, dtype=torch.int64).reshape(n, stages)
    matrix_table = torch.tensor(matrices, dtype=torch.float64).reshape(n * stages, 6)
    args = (images, kind_table, steps, table, matrix_table, fill or [], interpolation, rgb)
    return _backend.pick("augment", images.device)(*args)


def _stage(op: str, magnitude: float, height: int, width: int) -> int:
    """The op's stage kind: 0 none, 1 colour, 2 warp, 3..5 quarter turns (torchvision's exact path for right-angle
    rotations: rot90)."""
    if op in _VALUES:
        return 1
    if op == "Rotate":
        turns = ops_.rotation_turns(magnitude, height, width)
        if turns is not None:
            return 0 if turns == 0 else 2 + turns
    return 2 if op in GEOMETRIC else 0
