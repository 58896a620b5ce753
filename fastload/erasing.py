"""timm's `RandomErasing` for normalized batches: the same constructor, the same draws (Python's `random` for the
boxes, torch's `normal_` for the values, call for call), the same result, without timm; the values are made on the
batch's own device (timm's default `device="cuda"` fails on a CPU batch), and a constant box is zeroed in place
instead of copied from a new zero tensor."""

from __future__ import annotations

import math
import numbers
import random

import torch

from fastload.functional._geometry import check_probability

MODES = ("const", "rand", "pixel")


def _positive(name: str, value, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= minimum:
        raise ValueError(f"{name} must be a number > {minimum:g}, got {value!r}")
    return float(value)


def _count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


class RandomErasing:
    """timm's `RandomErasing` ('Random Erasing Data Augmentation', Zhong et al.) on a normalized (N, C, H, W) batch
    or (C, H, W) image, in place: per image with probability `probability`, `count` boxes (count drawn in
    [min_count, max_count]) of area ~U(min_area, max_area) / count of the image and log-uniform aspect ratio are
    filled with 0 ("const"), one normal value per channel ("rand") or a normal value per pixel ("pixel").

    Under the same `random.seed` and torch seed it erases the same boxes with the same values as timm 1.0's
    `RandomErasing` (tested), drawing with timm's calls in timm's order.

    Args:
        probability: the probability that an image is erased.
        min_area: the smallest erased area, a fraction of the image.
        max_area: the largest erased area, a fraction of the image.
        min_aspect: the smallest aspect ratio (h / w) of a box.
        max_aspect: the largest; None: 1 / min_aspect.
        mode: "const", "rand" or "pixel".
        min_count: the fewest boxes per erased image.
        max_count: the most; None: min_count.
        num_splits: > 1: the first N // num_splits images are left alone (timm's clean split for AugMix).
        device: where the random values are made; None (default): the batch's device.

    Raises:
        ValueError: an argument out of range (naming it); when called, a batch that is not a floating-point
            (C, H, W) or (N, C, H, W) tensor.
    """

    def __init__(
        self,
        probability: float = 0.5,
        min_area: float = 0.02,
        max_area: float = 1 / 3,
        min_aspect: float = 0.3,
        max_aspect: float | None = None,
        mode: str = "const",
        min_count: int = 1,
        max_count: int | None = None,
        num_splits: int = 0,
        device=None,
    ):
        self.probability = check_probability("probability", probability)
        self.min_area = _positive("min_area", min_area)
        self.max_area = _positive("max_area", max_area)
        if self.min_area > self.max_area:
            raise ValueError(f"min_area ({min_area}) must not exceed max_area ({max_area})")
        min_aspect = _positive("min_aspect", min_aspect)
        max_aspect = 1 / min_aspect if max_aspect is None else _positive("max_aspect", max_aspect)
        self.log_aspect_ratio = (math.log(min_aspect), math.log(max_aspect))
        self.min_count = _count("min_count", min_count)
        self.max_count = self.min_count if max_count is None else _count("max_count", max_count)
        if self.max_count < self.min_count:
            raise ValueError(f"max_count ({max_count}) must not be below min_count ({min_count})")
        if isinstance(num_splits, bool) or not isinstance(num_splits, numbers.Integral) or num_splits < 0:
            raise ValueError(f"num_splits must be an int >= 0, got {num_splits!r}")
        self.num_splits = int(num_splits)
        if not isinstance(mode, str) or mode.lower() not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode.lower()
        self.device = device

    def _erase(self, img: torch.Tensor, device) -> None:
        """One image (C, H, W), timm's `_erase`: the same `random` calls in the same order."""
        if random.random() > self.probability:
            return
        chan, img_h, img_w = img.shape
        area = img_h * img_w
        count = self.min_count if self.min_count == self.max_count else random.randint(self.min_count, self.max_count)
        for _ in range(count):
            for _attempt in range(10):
                target_area = random.uniform(self.min_area, self.max_area) * area / count
                aspect_ratio = math.exp(random.uniform(*self.log_aspect_ratio))
                h = int(round(math.sqrt(target_area * aspect_ratio)))
                w = int(round(math.sqrt(target_area / aspect_ratio)))
                if w < img_w and h < img_h:
                    top = random.randint(0, img_h - h)
                    left = random.randint(0, img_w - w)
                    box = img[:, top : top + h, left : left + w]
                    if self.mode == "const":
                        box.zero_()
                    else:  # timm's _get_pixels: normal_ over (C, h, w) or (C, 1, 1), then copied in
                        shape = (chan, h, w) if self.mode == "pixel" else (chan, 1, 1)
                        box.copy_(torch.empty(shape, dtype=img.dtype, device=device).normal_())
                    break

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Erases `x` ((C, H, W) or (N, C, H, W), floating point) in place and returns it."""
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() not in (3, 4):
            what = f"{x.dtype} tensor of shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a floating-point (C, H, W) or (N, C, H, W) tensor, got a {what}")
        device = x.device if self.device is None else self.device
        if x.dim() == 3:
            self._erase(x, device)
            return x
        start = x.shape[0] // self.num_splits if self.num_splits > 1 else 0
        for i in range(start, x.shape[0]):
            self._erase(x[i], device)
        return x

    def __repr__(self) -> str:
        count = f"({self.min_count}, {self.max_count})"
        return f"{type(self).__name__}(p={self.probability}, mode={self.mode}, count={count})"
