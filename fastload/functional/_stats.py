"""Dataset statistics: exact per-channel sums of uint8 images (channel_stats) and the mean/std a Normalization needs
(compute_mean_std)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch

from fastload import _backend
from fastload import _validation as V
from fastload.functional._pad import PaddedBatch
from fastload.memory.packed import PackedImages
from fastload.normalization import Normalization


def channel_stats(images) -> torch.Tensor:
    """Exact per-channel sums of uint8 images, in one pass.

    Args:
        images: a sequence of (H, W, C) uint8 images (numpy or torch, any strides, equal C, one device), an
            (N, H, W, C) batch, or a PackedImages.

    Returns:
        (2, C) int64 tensor on the images' device: row 0 the sum of each channel over every pixel, row 1 the sum of
            squares; channels in the images' own order.
    """
    if isinstance(images, PackedImages):
        images = images.unpack()
    tensors, masks, _, _ = V.check_image_list(images)
    return _backend.pick("channel_stats", tensors[0].device)(tensors, masks)


def _image_batches(images) -> Iterable:
    """Yields lists of HWC uint8 images from a sequence, a PackedImages, or a DataLoader yielding either (or
    batches / dicts / tuples holding them)."""
    if isinstance(images, PackedImages):
        yield images.unpack()
    elif isinstance(images, (str, bytes, Mapping)):
        raise TypeError(
            f"compute_mean_std: images must be a sequence of HWC uint8 images, a PackedImages or a "
            f"DataLoader, got {type(images).__name__}"
        )
    elif isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim == 3:
        yield [images]  # one image
    elif isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim == 4:
        yield list(images)
    elif isinstance(images, Sequence) and not isinstance(images, (str, bytes)):
        yield list(images)
    elif isinstance(images, Iterable):
        for item in images:
            sizes = None
            if isinstance(item, PaddedBatch):
                item, sizes = item.images, item.sizes.tolist()
            elif isinstance(item, Mapping):
                item, sizes = item.get("img", item.get("image")), item.get("img_shape")
            elif isinstance(item, tuple):
                item = item[0]
            if sizes is not None and isinstance(item, torch.Tensor) and item.ndim == 4:
                # A padded batch (PadCollate's dict batches, pad_batch's result): only each image's own pixels.
                yield [img[:h, :w] for img, (h, w) in zip(item, sizes)]
                continue
            yield from _image_batches(item if not (hasattr(item, "ndim") and item.ndim == 3) else [item])
    else:
        raise TypeError(f"compute_mean_std: cannot read images from {type(images).__name__}")


def compute_mean_std(images, *, input_order: str = "bgr", order: str = "rgb") -> Normalization:
    """Per-channel mean and (population) std of a dataset, in pixel units and the channel order the model uses.

    Streams over the data with the fused `channel_stats` op (exact integer sums on CPU or CUDA), so the result equals
    numpy's float64 mean/std to rounding. Padded batches count only their images' own pixels, read through the sizes
    they carry (`img_shape` of PadCollate's dict batches, `PaddedBatch.sizes`); a padded tuple batch carries none, so
    give such a loader dict samples, or the dataset itself.

    Args:
        images: a sequence of (H, W, C) uint8 images, a `PackedImages`, or a DataLoader yielding them (dict samples:
            "img").
        input_order: channel order of the images ("bgr" or "rgb").
        order: the channel order of the result (the model's).

    Returns:
        A `Normalization` (pixel units, built with `check_units=False`: a dark dataset does not warn).

    Raises:
        TypeError: images that are not uint8 HWC arrays or tensors.
        ValueError: no images, or an unknown order.
    """
    input_order = V.check_order("input_order", input_order)
    order = V.check_order("order", order)
    # Sums stay on the device they were computed on (no sync per batch); one transfer each at the end.
    totals: dict[torch.device, torch.Tensor] = {}
    count, channels = 0, None
    for batch in _image_batches(images):
        if len(batch) == 0:
            continue
        stats = channel_stats(batch)
        c = stats.shape[1]
        if channels is not None and c != channels:
            raise ValueError(f"compute_mean_std: images with {c} and {channels} channels")
        channels = c
        totals[stats.device] = stats if stats.device not in totals else totals[stats.device] + stats
        count += sum(int(img.shape[0]) * int(img.shape[1]) for img in batch)
    if count == 0:
        raise ValueError("compute_mean_std: no pixels")
    total = sum(t.cpu() for t in totals.values())
    sums = [int(v) for v in total[0].tolist()]
    squares = [int(v) for v in total[1].tolist()]
    mean = [s / count for s in sums]
    # Exact integer variance numerator: N * sum(x^2) - (sum x)^2, then one division.
    std = [math.sqrt((count * q - s * s) / (count * count)) for s, q in zip(sums, squares)]
    if channels == 3 and input_order != order:
        mean, std = mean[::-1], std[::-1]
    std = [v if v > 0 else 1e-12 for v in std]  # a constant channel: keep the spec valid
    return Normalization(mean, std, order, check_units=False)
