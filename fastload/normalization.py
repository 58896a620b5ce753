"""The Normalization spec: which mean/std a model expects, in which units and channel order."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence

ORDERS = ("rgb", "bgr")
# The kernels compute in fp32: mean, std and 1/std must all be finite there.
FLOAT32_MAX = 3.4028234663852886e38


def _values(name: str, values) -> tuple[float, ...]:
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        values = (values,)
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) and not hasattr(values, "tolist"):
        raise TypeError(f"Normalization {name} must be a number or a sequence of 1 or 3 numbers, got {values!r}")
    if hasattr(values, "tolist"):  # numpy array or tensor
        values = values.tolist()
        values = values if isinstance(values, list) else [values]
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
        raise TypeError(f"Normalization {name} must hold numbers, got {values!r}")
    out = tuple(float(v) for v in values)
    if len(out) not in (1, 3):
        raise ValueError(f"Normalization {name} needs 1 or 3 values (one per channel), got {len(out)}: {out}")
    if not all(math.isfinite(v) and abs(v) <= FLOAT32_MAX for v in out):
        raise ValueError(f"Normalization {name} must be finite in float32 (|v| <= {FLOAT32_MAX:.4g}), got {out}")
    return out


class Normalization:
    """Per-channel mean and std of a pretrained model, in **pixel units (0-255)**, in the model's channel order.

    A normalized value is `(x - mean[c]) / std[c]` for a uint8 pixel `x`. Immutable, hashable, equal by value.
    `Normalization.from_unit(mean, std, order)` takes torchvision-style 0-1 values (x 255); `spec.unit()` gives them
    back; `spec.with_order("bgr")` is the same statistics for a BGR model.

    Args:
        mean: 1 value (single-channel models) or 3 (colour), in pixel units, in `order`; a single value next to three
            is repeated.
        std: likewise; every value > 0.
        order: the model's channel order, "rgb" or "bgr".
        check_units: warn when every value looks like 0-1 units (a likely mistake: use `from_unit`); False for
            computed statistics of a dark dataset.

    Raises:
        TypeError: values that are not numbers (strings included).
        ValueError: values that are not finite, std <= 0, not 1 or 3 values, an unknown order, or values the fp32
            kernels cannot represent (|mean| or std above 3.4e38, 1/std overflowing fp32); each names the field.
    """

    __slots__ = ("mean", "std", "order")

    mean: tuple[float, ...]
    std: tuple[float, ...]
    order: str

    def __init__(self, mean, std, order: str = "rgb", *, check_units: bool = True):
        self._init(mean, std, order)
        if (
            check_units
            and max(self.mean) <= 1.0
            and max(self.std) <= 1.0
            and not (set(self.mean) == {0.0} and set(self.std) == {1.0})
        ):
            warnings.warn(
                f"Normalization(mean={self.mean}, std={self.std}) looks like 0-1 unit values, but Normalization "
                "takes pixel units (0-255); use Normalization.from_unit(...) for torchvision-style values",
                UserWarning,
                stacklevel=2,
            )

    def _init(self, mean, std, order):
        mean, std = _values("mean", mean), _values("std", std)
        if len(mean) != len(std):
            if len(mean) == 1:
                mean = mean * len(std)
            elif len(std) == 1:
                std = std * len(mean)
        if any(s <= 0 for s in std):
            raise ValueError(f"Normalization std must be > 0, got {std}")
        if any(1.0 / s > FLOAT32_MAX for s in std):
            raise ValueError(
                f"Normalization std {std} is so small that 1/std overflows float32 (the kernels multiply "
                f"by 1/std); std must be >= {1.0 / FLOAT32_MAX:.4g}"
            )
        if not isinstance(order, str) or order.lower() not in ORDERS:
            raise ValueError(f"Normalization order must be 'rgb' or 'bgr', got {order!r}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)
        object.__setattr__(self, "order", order.lower())

    @classmethod
    def from_unit(cls, mean, std, order: str = "rgb") -> Normalization:
        """Build from 0-1 unit values (torchvision's `Normalize(mean, std)` after `ToTensor()`): both are scaled by
        255. `Normalization.from_unit((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)) == IMAGENET`."""
        # Rounded to 10 decimals so that 0.485 * 255 is the 123.675 a person would write (no 123.67499999999998).
        spec = cls.__new__(cls)
        spec._init(
            tuple(round(v * 255.0, 10) for v in _values("mean", mean)),
            tuple(round(v * 255.0, 10) for v in _values("std", std)),
            order,
        )
        return spec

    @property
    def channels(self) -> int:
        """Number of channels the spec describes (1 or 3)."""
        return len(self.mean)

    def unit(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(mean, std) in 0-1 units, e.g. for torchvision's `Normalize`."""
        return tuple(m / 255.0 for m in self.mean), tuple(s / 255.0 for s in self.std)

    def with_order(self, order: str) -> Normalization:
        """The same statistics for a model that expects the other channel order (values reversed for 3 channels)."""
        if not isinstance(order, str) or order.lower() not in ORDERS:
            raise ValueError(f"order must be 'rgb' or 'bgr', got {order!r}")
        order = order.lower()
        if order == self.order or self.channels == 1:
            mean, std = self.mean, self.std
        else:
            mean, std = self.mean[::-1], self.std[::-1]
        spec = type(self).__new__(type(self))
        spec._init(mean, std, order)
        return spec

    def __setattr__(self, name, value):
        raise AttributeError("Normalization is immutable")

    def __delattr__(self, name):
        raise AttributeError("Normalization is immutable")

    def __eq__(self, other):
        if not isinstance(other, Normalization):
            return NotImplemented
        return (self.mean, self.std, self.order) == (other.mean, other.std, other.order)

    def __hash__(self):
        return hash((self.mean, self.std, self.order))

    def __repr__(self):
        return f"Normalization(mean={self.mean}, std={self.std}, order={self.order!r})"

    def __reduce__(self):
        return (_rebuild, (self.mean, self.std, self.order))


def channel_map(channels: int, input_order: str, output_order: str) -> list[int]:
    """For each output channel, the input channel it reads (a swap when 3-channel orders differ)."""
    if channels == 3 and input_order != output_order:
        return [2, 1, 0]
    return list(range(channels))


def kernel_stats(norm: Normalization) -> tuple[list[float], list[float]]:
    """The (mean, 1 / std) lists the ops take: the kernels multiply by the reciprocal."""
    return list(norm.mean), [1.0 / v for v in norm.std]


def _rebuild(mean, std, order):
    spec = Normalization.__new__(Normalization)
    spec._init(mean, std, order)
    return spec


#: torchvision / timm ImageNet statistics (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225) in pixel units; RGB model.
IMAGENET = Normalization((123.675, 116.28, 103.53), (58.395, 57.12, 57.375), "rgb")
#: Caffe-style ImageNet statistics (detectron2's default, MSRA ResNets): BGR model, std 1.
CAFFE = Normalization((103.530, 116.280, 123.675), (1.0, 1.0, 1.0), "bgr")
