"""timm's RandAugment grammar ("rand-m9-mstd0.5") on uint8 batches: timm's 15 operations, magnitudes, per-operation
probability and magnitude noise, drawn with timm's RNG calls (NumPy's global generator picks the operations, Python's
`random` the rest), applied by `fastload.functional.augment` with torchvision's functions (timm's are PIL's)."""

from __future__ import annotations

import random
import re

import numpy as np
import torch

from fastload.autoaugment import AugmentDraw, check_policy_options

_LEVEL_DENOM = 10.0
# timm's _RAND_TRANSFORMS, in its order.
TIMM_OPS = (
    "AutoContrast",
    "Equalize",
    "Invert",
    "Rotate",
    "Posterize",
    "Solarize",
    "SolarizeAdd",
    "Color",
    "Contrast",
    "Brightness",
    "Sharpness",
    "ShearX",
    "ShearY",
    "TranslateXRel",
    "TranslateYRel",
)
_SIGNED = {"Rotate", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel"}


def parse_timm_config(config: str) -> dict:
    """timm's `rand_augment_transform` string -> {magnitude, num_layers, prob, magnitude_std, magnitude_max}.
    Refuses (ValueError, naming the section) what this implementation does not take: "inc1" (the increasing
    set), "t..." (other or weighted sets) and unknown sections."""
    if not isinstance(config, str):
        what = type(config).__name__
        raise TypeError(f"auto_augment must be a str in timm's grammar ('rand-m9-mstd0.5'), got {what}")
    parts = config.split("-")
    if parts[0] != "rand":
        raise ValueError(f"auto_augment {config!r}: only timm's RandAugment ('rand-...') is taken")
    out = dict(magnitude=_LEVEL_DENOM, num_layers=2, prob=0.5, magnitude_std=0.0, magnitude_max=None)
    for part in parts[1:]:
        match = re.fullmatch(r"([a-z]+)(\d.*)", part)
        if part.startswith("t") or not match:
            raise ValueError(f"auto_augment {config!r}: the section {part!r} is not taken (m, n, p, mstd, mmax, inc0)")
        key, value = match.groups()
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"auto_augment {config!r}: {part!r} does not end in a number") from None
        if key == "m":
            out["magnitude"] = int(number)
        elif key == "n":
            out["num_layers"] = int(number)
        elif key == "p":
            out["prob"] = number
        elif key == "mstd":
            out["magnitude_std"] = float("inf") if number > 100 else number
        elif key == "mmax":
            out["magnitude_max"] = int(number)
        elif key == "inc" and int(number) == 0:
            pass
        else:
            raise ValueError(f"auto_augment {config!r}: the section {part!r} is not taken (m, n, p, mstd, mmax, inc0)")
    if out["num_layers"] < 0 or not 0.0 <= out["prob"] <= 1.0 or out["magnitude_std"] < 0:
        raise ValueError(f"auto_augment {config!r}: n must be >= 0, p in [0, 1] and mstd >= 0")
    return out


def _level(op: str, m: float, height: int, width: int) -> tuple[str, float]:
    """timm's argument for `op` at magnitude m (sign not yet drawn), as `augment`'s operation and magnitude."""
    level = m / _LEVEL_DENOM
    if op == "Rotate":
        return "Rotate", level * 30.0
    if op == "Posterize":
        return "Posterize", float(int(level * 4))
    if op == "Solarize":
        threshold = min(256, int(level * 256))  # 256 leaves every value: torchvision's threshold stops at 255
        return ("Identity", 0.0) if threshold > 255 else ("Solarize", threshold / 255.0)
    if op == "SolarizeAdd":
        return "SolarizeAdd", float(min(128, int(level * 110)))
    if op in ("Color", "Contrast", "Brightness", "Sharpness"):
        return op, level * 1.8 + 0.1 - 1.0  # augment's magnitude is the factor - 1
    if op in ("ShearX", "ShearY"):
        return op, level * 0.3  # PIL's (1, s, 0, 0, 1, 0): torchvision's shear of tan s about the top-left corner
    if op in ("TranslateXRel", "TranslateYRel"):
        # timm moves the content by -pct * size (PIL's inverse matrix); torchvision's translate moves it by +t.
        return op[:-3], -(level * 0.45) * (width if op == "TranslateXRel" else height)
    return op, 0.0  # AutoContrast, Equalize, Invert


class TimmRandAugment:
    """timm's `rand_augment_transform(config, hparams)` as `create_transform(..., auto_augment=config)` builds it,
    on uint8 batches: per image, `n` operations picked from timm's 15 with NumPy's global generator (replacement,
    as timm), each applied with probability `p` at magnitude `m` (noised by `mstd`, clipped to [0, mmax or 10]) with
    timm's level functions and Python's `random` for the draws. Applied with torchvision's functions (the
    operations' magnitudes are timm's; translations are truncated to whole pixels, as torchvision's), so values
    differ from timm's PIL operations where the two libraries' operations differ.

    Args:
        config: timm's grammar, e.g. "rand-m9-mstd0.5" ("rand" and the sections m, n, p, mstd, mmax, inc0).
        interpolation: of the geometric operations: "bilinear" (create_transform's default) or "nearest".
        fill: pixels the geometric operations bring in: create_transform passes the mean, round(255 * mean).
    """

    draws_from_torch = False  # NumPy's and Python's generators: torch's stream (the boxes, the flips) is untouched

    def __init__(self, config: str, interpolation: str = "bilinear", fill=(124, 116, 104)):
        self.config = config
        self.options = parse_timm_config(config)
        self.interpolation, self.fill = check_policy_options(interpolation, fill)

    def _draw_image(self, height: int, width: int) -> tuple[list[str], list[float]]:
        o = self.options
        ops, mags = [], []
        for k in np.random.choice(len(TIMM_OPS), o["num_layers"], replace=True):
            name = TIMM_OPS[int(k)]
            if o["prob"] < 1.0 and random.random() > o["prob"]:
                ops.append("Identity"), mags.append(0.0)
                continue
            m = o["magnitude"]
            if o["magnitude_std"] == float("inf"):
                m = random.uniform(0, m)
            elif o["magnitude_std"] > 0:
                m = random.gauss(m, o["magnitude_std"])
            m = max(0.0, min(m, o["magnitude_max"] or _LEVEL_DENOM))
            op, value = _level(name, m, height, width)
            if name in _SIGNED and random.random() > 0.5:
                value = -value
            ops.append(op), mags.append(value)
        return ops, mags

    def draw(self, count: int, height: int, width: int, generator: torch.Generator | None = None) -> AugmentDraw:
        """The operations and magnitudes of `count` images of (height, width), drawn image after image from NumPy's
        and Python's global generators (timm's; `generator`, for torch's RNG, is not used)."""
        rows = [self._draw_image(height, width) for _ in range(count)]
        return AugmentDraw([r[0] for r in rows], [r[1] for r in rows], self.interpolation, self.fill)

    def __call__(self, images: torch.Tensor, input_order: str = "rgb") -> torch.Tensor:
        """(N, C, H, W) uint8 `images` -> a new batch, each image with its own draws."""
        if not isinstance(images, torch.Tensor) or images.dim() != 4:
            raise ValueError("images must be an (N, C, H, W) uint8 tensor")
        return self.draw(images.shape[0], images.shape[-2], images.shape[-1]).apply(images, input_order)

    def __repr__(self) -> str:
        return f"TimmRandAugment({self.config!r}, interpolation={self.interpolation!r}, fill={self.fill!r})"
