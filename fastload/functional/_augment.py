"""`augment`: RandAugment / TrivialAugmentWide operations on a uint8 batch, each image with its own operations and
magnitudes, as torchvision v2 applies them image by image. Each step runs one batched call per operation over the
images drawn for it (fastload.functional._augment_ops; colour through the compiled `adjust_color`)."""

from __future__ import annotations

import math
import numbers

import torch

from fastload import _validation as V
from fastload.functional import _augment_ops as ops_
from fastload.functional._color import adjust_color
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
)
"""The operations `augment` takes (torchvision's names, RandAugment's 14 and AutoAugment's Invert) and the meaning
of their magnitudes: ShearX / ShearY tan of the shear angle (about the top-left corner), TranslateX / TranslateY
pixels (truncated to an int), Rotate degrees counter-clockwise about the centre, Brightness / Color / Contrast /
Sharpness the factor minus 1, Posterize the bits kept, Solarize the threshold over 255; Identity, AutoContrast,
Equalize and Invert take none."""
GEOMETRIC = OPS[1:6]
_COLOR = {"Brightness": "brightness", "Color": "saturation", "Contrast": "contrast", "Solarize": "solarize"}


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
    out = images.clone(memory_format=torch.contiguous_format)  # one copy, worked on in place step by step
    for k in range(len(names[0]) if n else 0):
        step = [(row[k], mags[k]) for row, mags in zip(names, values)]
        _color_step(out, step, input_order)
        for op in sorted({op for op, _ in step} - set(_COLOR) - {"Identity"}):
            chosen = [i for i, (name, _) in enumerate(step) if name == op]
            mags = [step[i][1] for i in chosen]
            if len(chosen) == n:  # every image: no gather and scatter
                out.copy_(_apply(op, out, mags, interpolation, fill))
                continue
            index = torch.tensor(chosen, device=out.device)
            out.index_copy_(0, index, _apply(op, out.index_select(0, index), mags, interpolation, fill))
    return out


def _color_step(out: torch.Tensor, step: list, input_order: str) -> None:
    """One call of the compiled `adjust_color`, in place, for the step's brightness, colour, contrast and solarize."""
    factors = {key: [None] * len(step) for key in _COLOR.values()}
    for i, (op, m) in enumerate(step):
        if op in _COLOR:
            factors[_COLOR[op]][i] = 255 * m if op == "Solarize" else 1.0 + m
    if any(v is not None for values in factors.values() for v in values):
        adjust_color(out, **{k: v for k, v in factors.items()}, input_order=input_order, out=out)


def _apply(op: str, images: torch.Tensor, mags: list[float], interpolation: str, fill) -> torch.Tensor:
    """The (g, C, H, W) images after `op`, image j with magnitude mags[j]."""
    g, c, h, w = images.shape
    if op in GEOMETRIC:
        turns = [ops_.rotation_turns(m, h, w) if op == "Rotate" else None for m in mags]
        warped = [j for j, t in enumerate(turns) if t is None]
        if len(warped) == g:
            return ops_.affine(images, [ops_.affine_matrix(op, m, h, w) for m in mags], interpolation, fill)
        out = images.clone()
        for j, t in enumerate(turns):
            if t is not None:  # torchvision's exact path for right angles
                out[j] = torch.rot90(images[j], k=t, dims=(-2, -1))
        if warped:
            matrices = [ops_.affine_matrix(op, mags[j], h, w) for j in warped]
            out[warped] = ops_.affine(images[warped], matrices, interpolation, fill)
        return out
    if op == "Sharpness":
        return ops_.sharpen(images, [1.0 + m for m in mags])
    if op == "Posterize":
        return ops_.posterize(images, [int(m) for m in mags])
    if op == "Invert":
        return images.bitwise_not()
    if op == "AutoContrast":
        return ops_.autocontrast(images)
    return ops_.equalize(images)
