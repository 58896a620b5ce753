"""Drop-in transforms (callables and nn.Modules) over the fused ops."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fastload import _validation as V
from fastload.normalizing import denormalize, normalize
from fastload.resizing import INTERPOLATIONS
from fastload.geometry import rescale_size, resized_size
from fastload.normalization import Normalization


def _pil_to_array(img):
    """PIL image -> (HWC uint8 array, its channel order). PIL images are RGB; 'L' stays single-channel."""
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    array = np.asarray(img)
    if array.ndim == 2:
        array = array[:, :, None]
    return array, "rgb"


class ToNormalizedTensor(nn.Module):
    """Replaces `Compose([ToTensor(), Normalize(mean, std)])` (and a BGR->RGB flip) with one fused pass.

    Accepts an HWC uint8 numpy array or tensor in `input_order`, a batch (N, H, W, C), or a PIL image (always RGB).
    Returns (C, H, W) / (N, C, H, W) `dtype`, channels in `norm.order`, value (x - mean) / std.
    """

    def __init__(self, norm: Normalization, input_order: str = "bgr", dtype: torch.dtype = torch.float32,
                 channels_last: bool = False):
        super().__init__()
        self.norm = V.check_norm(norm)
        self.input_order = V.check_order("input_order", input_order)
        self.dtype = V.check_float_dtype(dtype)
        self.channels_last = V.check_bool("channels_last", channels_last)

    def forward(self, img) -> torch.Tensor:
        order = self.input_order
        if not isinstance(img, (np.ndarray, torch.Tensor)) and hasattr(img, "mode") and hasattr(img, "size"):
            img, order = _pil_to_array(img)
        return normalize(img, self.norm, input_order=order, dtype=self.dtype, channels_last=self.channels_last)

    def extra_repr(self) -> str:
        return f"norm={self.norm}, input_order={self.input_order!r}, dtype={self.dtype}"


class Denormalize(nn.Module):
    """The inverse of ToNormalizedTensor: normalized (C, H, W) / (N, C, H, W) float -> HWC uint8 in `output_order`,
    rounded and clipped (see `fastload.denormalize`)."""

    def __init__(self, norm: Normalization, output_order: str = "bgr"):
        super().__init__()
        self.norm = V.check_norm(norm)
        self.output_order = V.check_order("output_order", output_order)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return denormalize(x, self.norm, output_order=self.output_order)

    def extra_repr(self) -> str:
        return f"norm={self.norm}, output_order={self.output_order!r}"


class RescaleKeepRatio:
    """Keep-ratio resize of HWC images with OpenCV on the CPU (what mmcv's `Resize(keep_ratio=True)` does).

    `scale` is a (w, h)-style bound such as (1333, 800) or a factor (see `fastload.rescale_size`). Called on an
    array, returns the resized array; called on a dict sample, resizes `sample[key]` and records `img_shape`
    (new h, w), `scale_factor` (w_scale, h_scale) = (new_w / w, new_h / h) and `keep_ratio` = True.
    """

    def __init__(self, scale=(1333, 800), interpolation: str = "bilinear", key: str = "img"):
        rescale_size((1, 1), scale)  # validates scale
        V.check_interpolation(interpolation, INTERPOLATIONS)
        self.scale, self.interpolation, self.key = scale, interpolation, key

    def _resize(self, img: np.ndarray):
        import cv2

        if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
            raise TypeError(f"RescaleKeepRatio takes HWC numpy images, got {type(img).__name__}")
        h, w = img.shape[:2]
        new_h, new_w = resized_size(h, w, self.scale, "the image")
        flag = cv2.INTER_LINEAR if self.interpolation == "bilinear" else cv2.INTER_NEAREST
        out = cv2.resize(img, (new_w, new_h), interpolation=flag)
        if img.ndim == 3 and out.ndim == 2:  # OpenCV drops a single channel
            out = out[:, :, None]
        return out, (new_w / w, new_h / h)

    def __call__(self, sample):
        if isinstance(sample, dict):
            img, factors = self._resize(sample[self.key])
            return {**sample, self.key: img, "img_shape": img.shape[:2], "scale_factor": factors, "keep_ratio": True}
        return self._resize(sample)[0]

    def __repr__(self) -> str:
        return f"RescaleKeepRatio(scale={self.scale}, interpolation={self.interpolation!r})"
