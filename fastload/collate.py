"""DataLoader collate functions for variable-size images: padded (optionally normalized) batches, or packed raw
uint8 batches to be normalized on the GPU, plus the label conventions checked on the way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import default_collate

from fastload import _validation as V
from fastload.batching import pack_images, pad_batch
from fastload.geometry import batch_extent
from fastload.normalization import Normalization

LABEL_MODES = (None, "classification", "detection")


def _to_tensor(value, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.to(dtype)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value)).to(dtype)
    return torch.as_tensor(value, dtype=dtype)


def check_labels(labels: torch.Tensor, sample: int, label_mode: str | None, num_classes: int | None) -> None:
    """Raise ValueError naming the sample, the value and the rule when a label breaks the convention:
    classification labels are 0..K-1; detection labels are 1..K (0 is the background class of detection heads)."""
    if label_mode is None or labels.numel() == 0:
        return
    if labels.dtype.is_floating_point and not torch.equal(labels, labels.round()):
        raise ValueError(f"sample {sample}: labels must be integers, got {labels.tolist()}")
    low = 0 if label_mode == "classification" else 1
    high = None if num_classes is None else (num_classes - 1 if label_mode == "classification" else num_classes)
    rule = f"{label_mode} labels are in [{low}, {'K-1' if low == 0 else 'K'}]" + (
        f" with K = {num_classes}" if num_classes is not None else "")
    if label_mode == "detection":
        rule += " (0 is the background class)"
    bad = labels < low if high is None else (labels < low) | (labels > high)
    if bool(bad.any()):
        value = labels[bad].flatten()[0].item()
        raise ValueError(f"sample {sample}: label {value} breaks the rule: {rule}")


class PadCollate:
    """`collate_fn` for variable-size HWC uint8 images, for dict samples (mmdet style: {"img": ..., "bboxes": ...})
    and tuple samples (image first).

    Images become `pad_batch(images, norm, ...)` (normalized float (N, C, Hp, Wp)) with `norm`, a padded uint8
    (N, Hp, Wp, C) batch without, or a `PackedImages` with `pack=True` (raw uint8 shipped as one buffer, to be
    normalized and padded on the GPU by `DevicePrefetcher`). Dict samples also get per-sample `img_shape` (h, w) and
    `pad_shape` (Hp, Wp) lists and `batch_input_shape` (Hp, Wp). Keys in `list_keys` become lists of tensors
    (labels int64, everything else float32); all other keys (and tuple positions after the image) go through torch's
    `default_collate`. With `label_mode`, labels are checked: "classification" 0..K-1, "detection" 1..K.
    """

    def __init__(self, norm: Normalization | None = None, *, image_key: str = "img", input_order: str = "bgr",
                 size_divisor: int = 1, pad_value=0.0, pack: bool = False,
                 list_keys: Sequence[str] = ("bboxes", "labels", "masks"), label_mode: str | None = None,
                 num_classes: int | None = None, dtype: torch.dtype = torch.float32, channels_last: bool = False):
        if norm is not None:
            V.check_norm(norm)
        if label_mode not in LABEL_MODES:
            raise ValueError(f"label_mode must be None, 'classification' or 'detection', got {label_mode!r}")
        if num_classes is not None:
            V.check_size("num_classes", num_classes, minimum=1)
        if pack and norm is not None:
            raise ValueError("pack=True ships raw uint8 images; normalize them later (DevicePrefetcher(norm=...)), "
                             "so give norm to the prefetcher, not to PadCollate")
        self.norm, self.image_key, self.pack = norm, image_key, pack
        self.input_order = V.check_order("input_order", input_order)
        self.size_divisor = V.check_size("size_divisor", size_divisor, minimum=1)
        self.pad_value, self.list_keys = pad_value, tuple(list_keys)
        self.label_mode, self.num_classes = label_mode, num_classes
        self.dtype, self.channels_last = dtype, channels_last

    def _images(self, images: list):
        if self.pack:
            return pack_images(images)
        return pad_batch(images, self.norm, input_order=self.input_order, size_divisor=self.size_divisor,
                           pad_value=self.pad_value, dtype=self.dtype, channels_last=self.channels_last).images

    def __call__(self, samples: Sequence):
        if len(samples) == 0:
            raise ValueError("PadCollate got an empty list of samples")
        if isinstance(samples[0], Mapping):
            return self._collate_dicts(samples)
        if isinstance(samples[0], (tuple, list)):
            return self._collate_tuples(samples)
        raise TypeError(f"PadCollate takes dict or tuple samples, got {type(samples[0]).__name__}")

    def _collate_dicts(self, samples):
        for i, s in enumerate(samples):
            if self.image_key not in s:
                raise ValueError(f"sample {i} has no image key {self.image_key!r} (keys: {sorted(s)})")
        images = [s[self.image_key] for s in samples]
        batch = self._images(images)
        sizes = [tuple(int(v) for v in np.shape(img)[:2]) for img in images]
        hp, wp = batch_extent(sizes, self.size_divisor, None)
        out = {self.image_key: batch, "img_shape": sizes, "pad_shape": [(hp, wp)] * len(samples),
               "batch_input_shape": (hp, wp)}
        for key in samples[0]:
            if key == self.image_key:
                continue
            values = [s.get(key) for s in samples]
            if key in self.list_keys:
                dtype = torch.int64 if key == "labels" else torch.float32
                out[key] = [_to_tensor(v, dtype) for v in values]
                if key == "labels":
                    for i, labels in enumerate(out[key]):
                        check_labels(labels, i, self.label_mode, self.num_classes)
            else:
                out[key] = default_collate(values)
        return out

    def _collate_tuples(self, samples):
        batch = self._images([s[0] for s in samples])
        rest = []
        for position in range(1, len(samples[0])):
            values = [s[position] for s in samples]
            if position == 1 and self.label_mode is not None:
                for i, v in enumerate(values):
                    check_labels(_to_tensor(v, torch.int64).reshape(-1), i, self.label_mode, self.num_classes)
            rest.append(default_collate(values))
        return (batch, *rest)
