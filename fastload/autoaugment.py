"""`RandAugment` and `TrivialAugmentWide` on uint8 batches: torchvision v2's policies, drawn with its RNG calls
image after image, applied by `fastload.functional.augment` (one compiled op: each image's operations its stages)."""

from __future__ import annotations

import numbers
from functools import lru_cache
from typing import NamedTuple

import torch

from fastload import _validation as V
from fastload.functional._augment import augment
from fastload.functional._warp import check_fill


def _space(shear: float, translate_x, translate_y, rotate: float, enhance: float, posterize_steps: int) -> dict:
    """A torchvision v2 augmentation space, in its order: name -> (the magnitudes of b bins for an image of (h, w),
    or None for an operation without one; whether the sign is drawn). The spaces differ only in their ranges."""

    def up_to(top: float):
        return lambda b, h, w: torch.linspace(0.0, top, b)

    def posterize(b, h, w):
        return (8 - (torch.arange(b) / ((b - 1) / posterize_steps))).round().int()

    enhanced = {name: (up_to(enhance), True) for name in ("Brightness", "Color", "Contrast", "Sharpness")}
    return {
        "Identity": (None, False),
        "ShearX": (up_to(shear), True),
        "ShearY": (up_to(shear), True),
        "TranslateX": (translate_x, True),
        "TranslateY": (translate_y, True),
        "Rotate": (up_to(rotate), True),
        **enhanced,
        "Posterize": (posterize, False),
        "Solarize": (lambda b, h, w: torch.linspace(1.0, 0.0, b), False),
        "AutoContrast": (None, False),
        "Equalize": (None, False),
    }


_RAND = _space(
    0.3,
    lambda b, h, w: torch.linspace(0.0, 150.0 / 331.0 * w, b),
    lambda b, h, w: torch.linspace(0.0, 150.0 / 331.0 * h, b),
    30.0,
    0.9,
    4,
)
_WIDE = _space(
    0.99, lambda b, h, w: torch.linspace(0.0, 32.0, b), lambda b, h, w: torch.linspace(0.0, 32.0, b), 135.0, 0.99, 6
)


class AugmentDraw(NamedTuple):
    """A policy's draws for a batch: per image, its operations (torchvision's names) and magnitudes, in order, and
    how the policy applies them (what `CropCollate(auto_augment=...)` ships with a `CropBatch`)."""

    ops: list[list[str]]
    magnitudes: list[list[float]]
    interpolation: str = "nearest"
    fill: object = None

    def apply(self, images: torch.Tensor, input_order: str = "rgb") -> torch.Tensor:
        """The draws applied to the (N, C, H, W) uint8 `images` in `input_order` (`augment`): a new batch. A
        policy's fill of 3 values is in RGB order (torchvision's and timm's images are RGB): reversed for BGR."""
        fill = self.fill
        if isinstance(fill, (list, tuple)) and len(fill) == 3 and V.check_order("input_order", input_order) == "bgr":
            fill = tuple(fill)[::-1]
        return augment(
            images, self.ops, self.magnitudes, interpolation=self.interpolation, fill=fill, input_order=input_order
        )

    def subset(self, indices: list[int]) -> AugmentDraw:
        """The draws of the images at `indices` (a collate's files that decoded)."""
        return self._replace(ops=[self.ops[i] for i in indices], magnitudes=[self.magnitudes[i] for i in indices])

    def per_image(self) -> list[list[tuple[str, float]]]:
        """Per image, its (operation, magnitude) pairs: a dict batch's `augment`."""
        return [list(zip(ops, mags)) for ops, mags in zip(self.ops, self.magnitudes)]


@lru_cache(maxsize=64)
def _magnitudes(space: str, op: str, bins: int, height: int, width: int) -> tuple[float, ...] | None:
    """The op's `bins` magnitudes as torchvision computes them (fp32 torch values, as Python floats)."""
    fn = (_RAND if space == "rand" else _WIDE)[op][0]
    return None if fn is None else tuple(float(v) for v in fn(bins, height, width))


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_policy_options(interpolation: str, fill) -> tuple[str, object]:
    """A policy's geometric interpolation ("nearest" or "bilinear") and fill (None, a number or one per channel in
    [0, 255]), checked (ValueError naming them)."""
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    check_fill(fill, 1 if fill is None or not isinstance(fill, (list, tuple)) else len(fill))
    return interpolation, fill


class Policy:
    """What RandAugment and TrivialAugmentWide share: the draws image after image and their application."""

    draws_from_torch = True  # torch's global RNG: a collate interleaves these draws with each image's box and flip

    def __init__(self, interpolation: str, fill):
        self.interpolation, self.fill = check_policy_options(interpolation, fill)

    def __call__(self, images: torch.Tensor, input_order: str = "rgb") -> torch.Tensor:
        """(N, C, H, W) uint8 `images` -> a new batch, each image with its own draws (torch's global RNG, image
        after image: what the torchvision transform called on each image in turn draws)."""
        if not isinstance(images, torch.Tensor) or images.dim() != 4:
            raise ValueError("images must be an (N, C, H, W) uint8 tensor")
        return self.draw(images.shape[0], images.shape[-2], images.shape[-1]).apply(images, input_order)

    def draw(self, count: int, height: int, width: int, generator: torch.Generator | None = None) -> AugmentDraw:
        """The operations and magnitudes of `count` images of (height, width), drawn image after image."""
        ops, mags = [], []
        for _ in range(_check_int("count", count, 0)):
            drawn = [self._draw_one(height, width, generator) for _ in range(self._ops_per_image)]
            ops.append([op for op, _ in drawn])
            mags.append([m for _, m in drawn])
        return AugmentDraw(ops, mags, self.interpolation, self.fill)

    def _pick(self, generator) -> str:
        names = list(self._space)
        return names[int(torch.randint(len(names), (), generator=generator))]

    def _signed(self, op: str, magnitude: float, generator) -> float:
        if self._space[op][1] and torch.rand((), generator=generator) <= 0.5:
            return -magnitude
        return magnitude


class RandAugment(Policy):
    """torchvision v2's `RandAugment(num_ops, magnitude, num_magnitude_bins, interpolation, fill)` on uint8
    batches: per image, `num_ops` operations drawn uniformly from its 14, each at bin `magnitude` of its range
    (sign drawn for the signed ones), drawn with the same torch RNG calls and applied with the same result.

    Args:
        num_ops: operations per image (>= 0).
        magnitude: the bin of every operation's magnitude, in [0, num_magnitude_bins).
        num_magnitude_bins: bins of each range (>= 2).
        interpolation: of the geometric operations: "nearest" (default) or "bilinear".
        fill: pixels brought in by the geometric operations: None (0), a number or one per channel, in [0, 255].
    """

    _space = _RAND

    def __init__(
        self, num_ops: int = 2, magnitude: int = 9, num_magnitude_bins: int = 31, interpolation="nearest", fill=None
    ):
        super().__init__(interpolation, fill)
        self.num_ops = self._ops_per_image = _check_int("num_ops", num_ops, 0)
        self.num_magnitude_bins = _check_int("num_magnitude_bins", num_magnitude_bins, 2)
        self.magnitude = _check_int("magnitude", magnitude, 0)
        if self.magnitude >= self.num_magnitude_bins:
            raise ValueError(f"magnitude must be below num_magnitude_bins ({num_magnitude_bins}), got {magnitude}")

    def _draw_one(self, height: int, width: int, generator) -> tuple[str, float]:
        op = self._pick(generator)
        values = _magnitudes("rand", op, self.num_magnitude_bins, height, width)
        return op, 0.0 if values is None else self._signed(op, values[self.magnitude], generator)

    def __repr__(self) -> str:
        return (
            f"RandAugment(num_ops={self.num_ops}, magnitude={self.magnitude}, num_magnitude_bins="
            f"{self.num_magnitude_bins}, interpolation={self.interpolation!r}, fill={self.fill!r})"
        )


class TrivialAugmentWide(Policy):
    """torchvision v2's `TrivialAugmentWide(num_magnitude_bins, interpolation, fill)` on uint8 batches: per image,
    one operation drawn uniformly from its 14 at a uniformly drawn bin of its (wide) range, sign drawn for the
    signed ones, with the same torch RNG calls and the same result.

    Args:
        num_magnitude_bins: bins of each range (>= 2).
        interpolation: of the geometric operations: "nearest" (default) or "bilinear".
        fill: pixels brought in by the geometric operations: None (0), a number or one per channel, in [0, 255].
    """

    _space = _WIDE
    _ops_per_image = 1

    def __init__(self, num_magnitude_bins: int = 31, interpolation="nearest", fill=None):
        super().__init__(interpolation, fill)
        self.num_magnitude_bins = _check_int("num_magnitude_bins", num_magnitude_bins, 2)

    def _draw_one(self, height: int, width: int, generator) -> tuple[str, float]:
        op = self._pick(generator)
        values = _magnitudes("wide", op, self.num_magnitude_bins, height, width)
        if values is None:
            return op, 0.0
        bin_ = int(torch.randint(self.num_magnitude_bins, (), generator=generator))
        return op, self._signed(op, values[bin_], generator)

    def __repr__(self) -> str:
        return (
            f"TrivialAugmentWide(num_magnitude_bins={self.num_magnitude_bins}, interpolation="
            f"{self.interpolation!r}, fill={self.fill!r})"
        )


def join_draws(draws: list[AugmentDraw]) -> AugmentDraw:
    """One AugmentDraw of the images of `draws` (made by one policy), in order."""
    ops = [row for d in draws for row in d.ops]
    return draws[0]._replace(ops=ops, magnitudes=[row for d in draws for row in d.magnitudes])
