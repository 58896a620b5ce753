"""Mixing the images of a float batch in pairs (image i with image N - 1 - i, timm's `x.flip(0)`): batch-mode Mixup
and CutMix in one pass that reads each pair once and writes both images, in place when asked
(`fastload.mixup.Mixup` draws the parameters as timm does)."""

from __future__ import annotations

import numbers

import torch

from fastload import _backend
from fastload import _validation as V

FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _check_box(box, h: int, w: int) -> list[int]:
    if box is None:
        return []
    values = list(box) if isinstance(box, (tuple, list)) else None
    if (
        values is None
        or len(values) != 4
        or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values)
    ):
        raise ValueError(f"box must be None (Mixup) or 4 ints (y0, y1, x0, x1) (CutMix), got {box!r}")
    y0, y1, x0, x1 = (int(v) for v in values)
    if not (0 <= y0 <= y1 <= h and 0 <= x0 <= x1 <= w):
        raise ValueError(
            f"box (y0, y1, x0, x1) = {tuple(values)} must lie inside the {h}x{w} images, y0 <= y1, x0 <= x1"
        )
    return [y0, y1, x0, x1]


def mix_pairs(x: torch.Tensor, lam: float, box=None, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """Mix image i of a float batch with image N - 1 - i, as timm's batch-mode `Mixup` does, in one pass.

    Args:
        x: an (N, C, H, W) float32, float16 or bfloat16 tensor (any strides, any device), usually normalized.
        lam: the Mixup weight in [0, 1]: image i becomes x[i] * lam + x[N-1-i] * (1 - lam), each product rounded
            to x's dtype and then their sum, timm's `x.mul_(lam).add_(x.flip(0).mul_(1 - lam))` bit for bit.
            Ignored with `box`.
        box: None (Mixup) or (y0, y1, x0, x1) ints (CutMix): rows y0..y1-1 and columns x0..x1-1 of image i taken
            from image N-1-i (timm's `cutmix_bbox_and_lam` gives them).
        out: None for a new tensor like x; `x` itself to mix in place (eager mode; CutMix then writes only the box);
            or another tensor of x's shape, dtype and device that shares no memory with it.

    Returns:
        The mixed (N, C, H, W) batch (`out` when given). With N odd the middle image is mixed with itself.

    Raises:
        TypeError: x not a floating-point tensor, out not a tensor.
        ValueError: x not 4-D or requiring grad, lam outside [0, 1], a bad box, a bad out.
    """
    if not isinstance(x, torch.Tensor) or x.dtype not in FLOAT_DTYPES:
        what = f"a {x.dtype} tensor" if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"x must be a float32, float16 or bfloat16 tensor, got {what}")
    if x.dim() != 4:
        raise ValueError(f"x must be an (N, C, H, W) batch, got shape {tuple(x.shape)}")
    if x.requires_grad:
        raise ValueError("x must not require grad: mixing runs outside autograd (mix the input batch)")
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not 0.0 <= float(lam) <= 1.0:
        raise ValueError(f"lam must be a number in [0, 1], got {lam!r}")
    cut = _check_box(box, x.shape[2], x.shape[3])
    if out is None:
        return _backend.pick("mix_pairs", x.device)(x, float(lam), cut)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"out must be a torch.Tensor, got {type(out).__name__}")
    if out.shape != x.shape or out.dtype != x.dtype or out.device != x.device or out.requires_grad:
        raise ValueError(
            f"out must be x itself or a {x.dtype} tensor of shape {tuple(x.shape)} on {x.device} not requiring grad, "
            f"got {out.dtype} {tuple(out.shape)} on {out.device}"
        )
    if out is x and V.expanded(x):
        raise ValueError("x is expanded (one element at several indices): it cannot be mixed in place")
    if out is not x and not torch.compiler.is_compiling() and out.numel() and V.overlaps(out, x):
        raise ValueError("out shares memory with x without being x itself: pass out=x to mix in place")
    _backend.pick("mix_pairs_into", x.device)(x, float(lam), cut, out)
    return out
