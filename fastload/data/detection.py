"""The detection geometry `PadCollate(scale=..., flip_p=...)` applies per image: mmcv's keep-ratio size, a
horizontal flip drawn from the worker's torch RNG, the boxes rescaled and flipped as mmdet's `Resize` and
`RandomFlip` do, and mmdet 3's per-image metadata."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from fastload import _validation as V
from fastload.functional import _geometry as G
from fastload.functional._boxes import as_boxes, flip_boxes, rescale_boxes
from fastload.functional._resize_pad import INTERPOLATIONS
from fastload.memory.packed import PackedImages

# The keys whose (n, 4) boxes follow the images (mmdet 2 and fastload's names, and mmdet 3's gt_ ones).
BOX_KEYS = ("bboxes", "bboxes_ignore", "gt_bboxes", "gt_bboxes_ignore")
# Per-pixel annotations the collate cannot resize or flip: refused rather than left misaligned.
PIXEL_KEYS = ("masks", "gt_masks", "gt_seg_map", "seg_map")


class ImagePlan(NamedTuple):
    """One image's geometry: its decoded (h, w), its (h, w) in the batch, (w_scale, h_scale), and whether it is
    flipped left to right."""

    ori_shape: tuple[int, int]
    img_shape: tuple[int, int]
    scale_factor: tuple[float, float]
    flip: bool


class DetectionGeometry:
    """Keep-ratio resize to `scale` (None: none) and a horizontal flip with probability `flip_p`, checked once."""

    def __init__(self, scale, flip_p: float, interpolation: str):
        if scale is not None:
            G.rescale_size((1, 1), scale)  # a bad scale is a ValueError here, in the main process
        self.scale = scale
        self.flip_p = G.check_probability("flip_p", flip_p)
        self.interpolation = V.check_interpolation(interpolation, INTERPOLATIONS)

    @property
    def active(self) -> bool:
        return self.scale is not None or self.flip_p > 0

    def plan(self, sizes: list) -> list[ImagePlan]:
        """The plans of a batch of images of (h, w) `sizes`: one `torch.rand(1)` per image when `flip_p` > 0 (the
        worker's seeded torch RNG, as torchvision's RandomHorizontalFlip draws), none otherwise."""
        plans = []
        for i, (h, w) in enumerate(sizes):
            new = (h, w) if self.scale is None else G.resized_size(h, w, self.scale, f"image {i} of the batch")
            flip = self.flip_p > 0 and bool(torch.rand(1).item() < self.flip_p)
            plans.append(ImagePlan((h, w), new, (new[1] / w, new[0] / h), flip))
        return plans

    @staticmethod
    def views(images, plans: list[ImagePlan]) -> list:
        """The images as the fused op reads them: flipped ones as left-to-right reversed numpy views (the op reads
        them backwards: no copy); a PackedImages as views of its buffer."""
        if isinstance(images, PackedImages):
            images = images.unpack()
        out = []
        for img, p in zip(images, plans):
            if p.flip:
                img = (img.numpy() if isinstance(img, torch.Tensor) and img.device.type == "cpu" else img)[:, ::-1]
                if isinstance(img, torch.Tensor):  # a device tensor cannot be a reversed view
                    img = img.flip(1)
            out.append(img)
        return out

    def move_boxes(self, value, meta: dict, i: int, what: str) -> np.ndarray:
        """(n, 4) float64 boxes of image `i` moved as `meta` (this geometry's `metadata` plus `img_shape`) says:
        rescaled by its scale factor and clipped to its new shape (mmcv's `Resize`), then mirrored across its new
        width (mmdet's `RandomFlip`)."""
        boxes = as_boxes(value, what)
        if self.scale is not None:
            boxes = rescale_boxes(boxes, meta["scale_factor"][i], meta["img_shape"][i], clip=True)
        return flip_boxes(boxes, meta["img_shape"][i][1]) if self.flip_p > 0 and meta["flip"][i] else boxes

    def metadata(self, plans: list[ImagePlan]) -> dict:
        """The per-image entries mmdet's transforms record: `ori_shape`, `scale_factor` and `keep_ratio` (with a
        scale), `flip` and `flip_direction` (with a flip probability)."""
        meta = {}
        if self.scale is not None:
            meta["ori_shape"] = [p.ori_shape for p in plans]
            meta["scale_factor"] = [p.scale_factor for p in plans]
            meta["keep_ratio"] = [True] * len(plans)
        if self.flip_p > 0:
            meta["flip"] = [p.flip for p in plans]
            meta["flip_direction"] = ["horizontal" if p.flip else None for p in plans]
        return meta


def pad_shapes(sizes: list, size_divisor: int) -> list[tuple[int, int]]:
    """Each image's own (h, w) rounded up to a multiple of `size_divisor`: mmdet 3's `pad_shape`
    (`DetDataPreprocessor`), which its anchor heads read for the valid-anchor flags; the batch extent is
    `batch_input_shape`."""
    d = size_divisor
    return [(-(-h // d) * d, -(-w // d) * d) for h, w in sizes]
