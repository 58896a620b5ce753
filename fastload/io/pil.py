"""PIL images as the HWC uint8 arrays fastload's ops take. PIL's pixels are RGB (or one grey channel); the ops
read any strides, so another channel order is a reversed view, not a copy."""

from __future__ import annotations

import numpy as np


def is_pil_image(obj) -> bool:
    """Whether `obj` is a PIL image (checked by its attributes, so PIL need not be installed)."""
    return not isinstance(obj, np.ndarray) and all(hasattr(obj, a) for a in ("mode", "size", "getbands"))


def pil_to_array(img, order: str = "rgb") -> np.ndarray:
    """A PIL image -> (H, W, C) uint8 numpy array: 'L' stays one channel (C = 1), every other mode is converted to
    RGB (C = 3; palette, RGBA and CMYK images included), given in `order` ('rgb' as PIL stores it, or 'bgr' as a
    channel-reversed view of the same memory)."""
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    array = np.asarray(img)
    if array.ndim == 2:
        return array[:, :, None]
    return array[:, :, ::-1] if order == "bgr" else array
