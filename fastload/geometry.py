"""Size rules, as plain Python (no tensors): the keep-ratio rescale of detection pipelines and the padded extent
of a batch."""

from __future__ import annotations

import math
import numbers

from fastload._validation import MAX_SIDE, check_size


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    value = float(value)
    # Comparisons rather than math.isfinite, so that torch.compile can trace symbolic image sizes (NaN fails both).
    if not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return value


def rescale_size(size, scale) -> tuple[tuple[int, int], float]:
    """The keep-ratio size of an image, exactly as OpenMMLab's `mmcv.rescale_size` computes it.

    Args:
        size: the image's (w, h) — width first, as OpenCV and mmcv configs write sizes.
        scale: a (w, h)-style pair such as (1333, 800): the image is scaled to fit inside max(scale) x min(scale)
            whichever way it is turned (long edge <= max(scale), short edge <= min(scale)); or a positive number,
            the scale factor itself.

    Returns:
        ((new_w, new_h), scale_factor) with new = int(old * scale_factor + 0.5).
    """
    if not hasattr(size, "__len__") or len(size) != 2:
        raise ValueError(f"size must be a (w, h) pair, got {size!r}")
    w, h = _positive("size[0] (w)", size[0]), _positive("size[1] (h)", size[1])
    if hasattr(scale, "tolist") and not isinstance(scale, (str, bytes)):  # numpy scalars/arrays, tensors
        scale = scale.tolist()
    if isinstance(scale, numbers.Real) and not isinstance(scale, bool):
        factor = _positive("scale", scale)
    elif hasattr(scale, "__len__") and not isinstance(scale, str):
        if len(scale) != 2:
            raise ValueError(f"scale must be a (w, h) pair or a number, got {scale!r}")
        a, b = _positive("scale[0]", scale[0]), _positive("scale[1]", scale[1])
        factor = min(max(a, b) / max(h, w), min(a, b) / min(h, w))
    else:
        raise ValueError(f"scale must be a (w, h) pair or a positive number, got {scale!r}")
    return (int(w * factor + 0.5), int(h * factor + 0.5)), factor


def resized_size(h: int, w: int, scale, what: str = "the image") -> tuple[int, int]:
    """(new_h, new_w) of an h x w image under `rescale_size`, refused with a ValueError naming `what` and `scale` when
    a side rounds to 0 (a 1 x 5000 strip at scale (1333, 800)) or grows past 2^31 - 1."""
    (new_w, new_h), _ = rescale_size((w, h), scale)
    if min(new_h, new_w) < 1 or max(new_h, new_w) > MAX_SIDE:
        raise ValueError(f"{what} ({h}x{w}, h x w) resized with scale={scale!r} would be {new_h}x{new_w}; every side "
                         f"must end up between 1 and {MAX_SIDE}")
    return new_h, new_w


def batch_extent(sizes, size_divisor: int, pad_to) -> tuple[int, int]:
    """(Hp, Wp) of a padded batch of images with (h, w) `sizes`: `pad_to`, or the largest h and w rounded up to a
    multiple of `size_divisor` (detectron2's and mmengine's rule)."""
    if pad_to is not None:
        if not hasattr(pad_to, "__len__") or len(pad_to) != 2:
            raise ValueError(f"pad_to must be an (h, w) pair, got {pad_to!r}")
        ph, pw = (check_size(f"pad_to[{i}]", v, maximum=MAX_SIDE) for i, v in enumerate(pad_to))
        for i, (h, w) in enumerate(sizes):
            if h > ph or w > pw:
                raise ValueError(f"images[{i}] is {h}x{w} (h x w), larger than pad_to={ph, pw}")
        return ph, pw
    d = size_divisor  # no image: (0, 0)
    return (-(-max((h for h, _ in sizes), default=0) // d) * d, -(-max((w for _, w in sizes), default=0) // d) * d)

