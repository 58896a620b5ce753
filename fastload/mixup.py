"""timm's `Mixup` (batch mode) on fastload's one-pass pair mixing: the same constructor, the same NumPy draws (so a
seeded run mixes the same batches with the same lam and boxes), the same soft targets; the batch is mixed in place,
reading each pair of images once (`fastload.functional.mix_pairs`) where timm allocates a flipped copy."""

from __future__ import annotations

import numbers

import numpy as np
import torch

from fastload.functional import mix_pairs
from fastload.functional._geometry import check_probability


def _check_alpha(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0.0:
        raise ValueError(f"{name} must be a number >= 0 (0 turns it off), got {value!r}")
    return float(value)


def cutmix_box(shape, lam: float, minmax=None, correct_lam: bool = True) -> tuple[tuple[int, int, int, int], float]:
    """timm's `cutmix_bbox_and_lam` for an image of `shape` (..., H, W), drawing from NumPy's global RNG exactly as
    it does: a box of area ~(1 - lam) (or of sides drawn from `minmax` ratios) as (y0, y1, x0, x1) ints, and lam
    corrected to 1 - box area / image area when `correct_lam` (or `minmax`)."""
    h, w = int(shape[-2]), int(shape[-1])
    if minmax is not None:
        cut_h = np.random.randint(int(h * minmax[0]), int(h * minmax[1]))
        cut_w = np.random.randint(int(w * minmax[0]), int(w * minmax[1]))
        y0, x0 = np.random.randint(0, h - cut_h + 1), np.random.randint(0, w - cut_w + 1)
        y1, x1 = y0 + cut_h, x0 + cut_w
    else:
        ratio = np.sqrt(1 - lam)
        cut_h, cut_w = int(h * ratio), int(w * ratio)
        cy, cx = np.random.randint(0, h), np.random.randint(0, w)
        y0, y1 = np.clip(cy - cut_h // 2, 0, h), np.clip(cy + (cut_h + 1) // 2, 0, h)
        x0, x1 = np.clip(cx - cut_w // 2, 0, w), np.clip(cx + (cut_w + 1) // 2, 0, w)
    if correct_lam or minmax is not None:
        lam = 1.0 - (y1 - y0) * (x1 - x0) / float(h * w)
    return (int(y0), int(y1), int(x0), int(x1)), lam


def mixup_target(target: torch.Tensor, num_classes: int, lam: float = 1.0, smoothing: float = 0.0) -> torch.Tensor:
    """timm's soft targets: (N,) int class indices one-hot encoded with label smoothing (on 1 - smoothing +
    smoothing / num_classes, off smoothing / num_classes), then mixed like the images: y * lam + y.flip(0) *
    (1 - lam). (N, num_classes) float32 on target's device."""
    off = smoothing / num_classes
    on = 1.0 - smoothing + off
    y = torch.full((target.shape[0], num_classes), off, device=target.device)
    y.scatter_(1, target.long().view(-1, 1), on)
    return y * lam + y.flip(0) * (1.0 - lam)


class Mixup:
    """timm's `Mixup` in batch mode: with probability `prob` per batch, Mixup (lam ~ Beta(mixup_alpha,
    mixup_alpha)) or CutMix (lam ~ Beta(cutmix_alpha, cutmix_alpha), a box of area 1 - lam swapped), switching to
    CutMix with probability `switch_prob` when both are on, image i paired with image N - 1 - i.

    Args:
        mixup_alpha: Mixup's Beta(alpha, alpha) parameter; 0 turns Mixup off.
        cutmix_alpha: CutMix's Beta(alpha, alpha) parameter; 0 turns CutMix off.
        cutmix_minmax: None, or (min, max) ratios of the image sides the CutMix box sides are drawn from (timm then
            forces cutmix_alpha to 1).
        prob: the probability that a batch is mixed at all.
        switch_prob: with both on, the probability of CutMix instead of Mixup.
        mode: "batch" (one lam and box per batch, timm's default), "pair" (one per pair of images i, N - 1 - i) or
            "elem" (one per image, each mixed with its partner's unmixed image), as timm's modes.
        correct_lam: CutMix's lam recomputed from the box's area once it is clipped to the image.
        label_smoothing: the soft targets' smoothing (on 1 - s + s / num_classes, off s / num_classes).
        num_classes: the targets' classes.

    `mixup_enabled` (True) may be turned off by the training loop, as timm's.

    Call with the (N, C, H, W) float batch (N even, on any device) and its (N,) int targets: mixes the batch in
    place and returns it with (N, num_classes) float32 soft targets, equal to timm's under the same NumPy seed.
    """

    def __init__(
        self,
        mixup_alpha: float = 1.0,
        cutmix_alpha: float = 0.0,
        cutmix_minmax=None,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        mode: str = "batch",
        correct_lam: bool = True,
        label_smoothing: float = 0.1,
        num_classes: int = 1000,
    ):
        self.mixup_alpha = _check_alpha("mixup_alpha", mixup_alpha)
        self.cutmix_alpha = _check_alpha("cutmix_alpha", cutmix_alpha)
        if cutmix_minmax is not None:
            pair = list(cutmix_minmax) if isinstance(cutmix_minmax, (tuple, list)) else []
            real = len(pair) == 2 and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in pair)
            if not real or not 0.0 <= pair[0] < pair[1] <= 1.0:
                raise ValueError(
                    f"cutmix_minmax must be None or (min, max) ratios with 0 <= min < max <= 1, got {cutmix_minmax!r}"
                )
            self.cutmix_alpha = 1.0  # as timm: minmax boxes, alpha kept simple
        self.cutmix_minmax = cutmix_minmax
        if self.mixup_alpha == 0.0 and self.cutmix_alpha == 0.0:
            raise ValueError("mixup_alpha or cutmix_alpha (or cutmix_minmax) must be > 0: nothing would be mixed")
        self.mix_prob = check_probability("prob", prob)
        self.switch_prob = check_probability("switch_prob", switch_prob)
        if mode not in ("batch", "pair", "elem"):
            raise ValueError(f"mode must be 'batch', 'pair' or 'elem' (timm's modes), got {mode!r}")
        self.mode = mode
        if not isinstance(correct_lam, bool):
            raise TypeError(f"correct_lam must be a bool, got {type(correct_lam).__name__}")
        self.correct_lam = correct_lam
        if (
            isinstance(label_smoothing, bool)
            or not isinstance(label_smoothing, numbers.Real)
            or not 0.0 <= label_smoothing < 1.0
        ):
            raise ValueError(f"label_smoothing must be a number in [0, 1), got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)
        if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
            raise ValueError(f"num_classes must be an int >= 1, got {num_classes!r}")
        self.num_classes = int(num_classes)
        self.mixup_enabled = True

    def params(self) -> tuple[float, bool]:
        """One batch's (lam, use_cutmix), drawn from NumPy's global RNG with timm's calls in timm's order."""
        lam, use_cutmix = 1.0, False
        if self.mixup_enabled and np.random.rand() < self.mix_prob:
            if self.mixup_alpha > 0.0 and self.cutmix_alpha > 0.0:
                use_cutmix = np.random.rand() < self.switch_prob
                alpha = self.cutmix_alpha if use_cutmix else self.mixup_alpha
                lam = float(np.random.beta(alpha, alpha))
            elif self.mixup_alpha > 0.0:
                lam = float(np.random.beta(self.mixup_alpha, self.mixup_alpha))
            else:
                use_cutmix = True
                lam = float(np.random.beta(self.cutmix_alpha, self.cutmix_alpha))
        return lam, bool(use_cutmix)

    def params_per_image(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n (lam, use_cutmix) pairs (float32 and bool arrays), timm's `_params_per_elem`: the same NumPy calls."""
        lam, use_cutmix = np.ones(n, dtype=np.float32), np.zeros(n, dtype=bool)
        if not self.mixup_enabled:
            return lam, use_cutmix
        if self.mixup_alpha > 0.0 and self.cutmix_alpha > 0.0:
            use_cutmix = np.random.rand(n) < self.switch_prob
            cut = np.random.beta(self.cutmix_alpha, self.cutmix_alpha, size=n)
            lam_mix = np.where(use_cutmix, cut, np.random.beta(self.mixup_alpha, self.mixup_alpha, size=n))
        elif self.mixup_alpha > 0.0:
            lam_mix = np.random.beta(self.mixup_alpha, self.mixup_alpha, size=n)
        else:
            use_cutmix = np.ones(n, dtype=bool)
            lam_mix = np.random.beta(self.cutmix_alpha, self.cutmix_alpha, size=n)
        return np.where(np.random.rand(n) < self.mix_prob, lam_mix.astype(np.float32), lam), use_cutmix

    def _mix_per_image(self, x: torch.Tensor) -> torch.Tensor:
        """timm's "elem" and "pair" modes: per image (or pair) lam and box, boxes drawn in timm's order first; each
        pair of images (i, N - 1 - i) is read from the unmixed batch (`mix_pairs` on a two-image view) before either
        is written. Returns the (N, 1) lam of the targets, in x's dtype."""
        n, pair = x.shape[0], self.mode == "pair"
        lam, use_cutmix = self.params_per_image(n // 2 if pair else n)
        boxes = [None] * len(lam)
        for k in range(len(lam)):
            if lam[k] != 1.0 and use_cutmix[k]:
                boxes[k], lam[k] = cutmix_box(x.shape, float(lam[k]), self.cutmix_minmax, self.correct_lam)
        for i in range(n // 2):
            j = n - 1 - i
            both = x[i : j + 1 : j - i]  # images i and j
            if pair:
                if lam[i] != 1.0:
                    mix_pairs(both, float(lam[i]), boxes[i], out=both)
                continue
            mixed = [
                None if lam[k] == 1.0 else mix_pairs(both, float(lam[k]), boxes[k])[side]
                for side, k in ((0, i), (1, j))
            ]
            for side, image in enumerate(mixed):
                if image is not None:
                    both[side].copy_(image)
        if pair:
            lam = np.concatenate((lam, lam[::-1]))
        return torch.tensor(lam, device=x.device, dtype=x.dtype).unsqueeze(1)

    def __call__(self, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            what = f"a {x.dtype} tensor" if isinstance(x, torch.Tensor) else type(x).__name__
            raise TypeError(f"x must be a float32, float16 or bfloat16 (N, C, H, W) tensor, got {what}")
        if x.dim() != 4 or x.shape[0] % 2:
            shape = tuple(x.shape)
            raise ValueError(f"x must be an (N, C, H, W) batch with N even (image i is mixed with N-1-i), got {shape}")
        if not isinstance(target, torch.Tensor) or target.shape != (x.shape[0],) or target.is_floating_point():
            got = f"{target.dtype} {tuple(target.shape)}" if isinstance(target, torch.Tensor) else type(target).__name__
            raise ValueError(f"target must be an ({x.shape[0]},) int tensor of class indices, got {got}")
        if (
            target.device.type == "cpu"
            and target.numel()
            and not 0 <= int(target.min()) <= int(target.max()) < self.num_classes
        ):
            raise ValueError(f"target holds classes outside [0, {self.num_classes}): {target.tolist()}")
        if self.mode != "batch":
            return x, mixup_target(target, self.num_classes, self._mix_per_image(x), self.label_smoothing)
        lam, use_cutmix = self.params()
        if lam != 1.0:
            if use_cutmix:
                box, lam = cutmix_box(x.shape, lam, self.cutmix_minmax, self.correct_lam)
                mix_pairs(x, lam, box, out=x)
            else:
                mix_pairs(x, lam, out=x)
        return x, mixup_target(target, self.num_classes, lam, self.label_smoothing)
