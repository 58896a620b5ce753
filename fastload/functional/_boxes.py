"""Box arithmetic of detection pipelines, as mmcv/mmdet do it (float64, x1, y1, x2, y2 in pixels): the rescale of a
keep-ratio resize, clipped to the new image, and the horizontal flip."""

from __future__ import annotations

import numpy as np
import torch


def as_boxes(value, what: str) -> np.ndarray:
    """`value` (numpy, tensor or nested lists) as float64 (n, 4) boxes; a TypeError or ValueError naming `what` when
    it holds no numbers or is not (n, 4)."""
    values = value.detach().cpu().double().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if values.dtype == object or not (np.issubdtype(values.dtype, np.number) or values.size == 0):
        raise TypeError(f"{what} must hold numbers, got {values.dtype}")
    values = values.astype(np.float64, copy=False).reshape(values.shape if values.size else (0, 4))
    if values.ndim != 2 or values.shape[1] != 4:
        raise ValueError(f"{what} must be (n, 4) boxes (x1, y1, x2, y2), got shape {values.shape}")
    return values


def rescale_boxes(boxes: np.ndarray, factors: tuple[float, float], shape: tuple[int, int], clip: bool) -> np.ndarray:
    """(n, 4) float64 boxes scaled by (w_scale, h_scale, w_scale, h_scale) and, with `clip`, clipped to the (h, w)
    `shape` of the resized image (mmcv 2's `Resize`, mmdet's `clip_object_border`)."""
    scaled = boxes * np.tile(np.asarray(factors, dtype=np.float64), 2)
    if clip:
        scaled[:, 0::2] = np.clip(scaled[:, 0::2], 0, shape[1])
        scaled[:, 1::2] = np.clip(scaled[:, 1::2], 0, shape[0])
    return scaled


def flip_boxes(boxes: np.ndarray, width: int) -> np.ndarray:
    """(n, 4) float64 boxes of an image `width` pixels wide, mirrored left to right: x1' = w - x2, x2' = w - x1
    (mmcv's `bbox_flip`, mmdet's `RandomFlip(direction="horizontal")`)."""
    flipped = boxes.copy()
    flipped[:, 0] = width - boxes[:, 2]
    flipped[:, 2] = width - boxes[:, 0]
    return flipped
