"""Padded batches from variable-size images: pad_batch, pack_images, and the image source both batch ops share."""

from __future__ import annotations

from typing import NamedTuple

import torch

from fastload import _backend, reference
from fastload import _validation as V
from fastload.functional._geometry import batch_extent
from fastload.memory.packed import PackedImages, pack
from fastload.normalization import Normalization, channel_map, kernel_stats


class PaddedBatch(NamedTuple):
    """Result of `pad_batch` / `resize_pad_batch` (a NamedTuple).

    Attributes:
        images: (N, C, Hp, Wp) float (normalized) or (N, Hp, Wp, C) uint8 (not normalized).
        sizes: int64 (N, 2) CPU tensor of each image's true (h, w) in the batch (what `denormalize(sizes=)` takes).
        scale_factors: float32 (N, 2) CPU tensor of (w_scale, h_scale) per image (`resize_pad_batch` only, else None).
    """

    images: torch.Tensor
    sizes: torch.Tensor
    scale_factors: torch.Tensor | None = None


class BatchSource(NamedTuple):
    """The checked images of a batch op: a PackedImages, or a list of tensors (with their flip masks and the
    caller's originals, which `to` packs straight from numpy)."""

    packed: PackedImages | None
    tensors: list
    masks: list
    originals: list
    sizes: list
    channels: int

    @classmethod
    def of(cls, images, norm: Normalization | None) -> BatchSource:
        """Checks `images` (a sequence of HWC uint8 images or a PackedImages) and their channels against `norm`."""
        if isinstance(images, PackedImages):  # may hold no image (a collate's batch of skipped files): N = 0
            sizes = [tuple(hw) for hw in images.sizes.tolist()]
            src = cls(packed=images, tensors=[], masks=[], originals=[], sizes=sizes, channels=images.channels)
        else:
            tensors, masks, originals, channels = V.check_image_list(images)
            sizes = [tuple(t.shape[:2]) for t in tensors]
            src = cls(packed=None, tensors=tensors, masks=masks, originals=originals, sizes=sizes, channels=channels)
        if norm is not None:
            V.check_channels(src.channels, norm, "images have")
        return src

    @property
    def device(self) -> torch.device:
        return self.packed.device if self.packed is not None else self.tensors[0].device

    def to(self, device) -> BatchSource:
        """The images on `device` (None: where they are). CPU images bound for CUDA are packed into one pinned
        buffer and sent in one host -> device copy. Called after every other check, so a bad argument costs no
        transfer."""
        if device is None or _same_device(self.device, torch.device(device)):
            return self
        target = torch.device(device)
        packed = self.packed or pack(self.originals, self.channels, pin_memory=target.type == "cuda")
        moved = packed.to(target, non_blocking=packed.is_pinned())
        return BatchSource(packed=moved, tensors=[], masks=[], originals=[], sizes=self.sizes, channels=self.channels)

    def normalization(self, norm: Normalization | None, input_order: str, dtype: torch.dtype):
        """(channel_map, mean, inv_std, output dtype) of a batch op's kernel: normalized into `norm.order` in
        `dtype`, or (no norm) uint8 in the input's channel order (mean, inv_std and dtype None)."""
        if norm is None:
            return list(range(self.channels)), None, None, None
        return (channel_map(self.channels, input_order, norm.order), *kernel_stats(norm), dtype)

    def check_out(self, out, batch_hw, out_dtype, channels_last: bool, device) -> None:
        """Checks an out= argument (None: nothing to check) against the (N, C, H, W) batch of `out_dtype` (None:
        the uint8 (N, H, W, C) batch) the op would return, and `device`, before any transfer to it."""
        V.check_device(device)
        if out is None:
            return
        expected = reference.pad_batch_output(
            n=len(self.sizes),
            c=self.channels,
            batch_hw=batch_hw,
            normalized=out_dtype is not None,
            dtype=out_dtype,
            channels_last=channels_last,
            device="meta",
        )
        inputs = [self.packed.data] if self.packed is not None else self.tensors
        V.check_out_as(out, expected, self.device if device is None else torch.device(device), inputs)

    def empty_result(self, out, out_dtype, channels_last: bool, batch_hw, device) -> torch.Tensor:
        """The result of a batch op over no image (N = 0: a collate's batch of skipped files): `out` (checked
        already) or an empty batch on `device` (None: the images')."""
        if out is not None:
            return out
        return reference.pad_batch_output(
            n=0,
            c=self.channels,
            batch_hw=batch_hw,
            normalized=out_dtype is not None,
            dtype=out_dtype,
            channels_last=channels_last,
            device=self.device if device is None else device,
        )

    def run(self, op: str, *args, out: torch.Tensor | None = None):
        """Calls `op` (list form) or its packed twin with the image arguments first, then `args`; with `out`, their
        `_into` form, and returns `out`."""
        name = op if out is None else f"{op}_into"
        tail = args if out is None else (*args, out)
        if self.packed is not None:
            p = self.packed
            result = _backend.pick(name, p.device, packed=True)(p.data, p.offsets, p.sizes, self.channels, *tail)
        else:
            result = _backend.pick(name, self.device)(self.tensors, self.masks, *tail)
        return result if out is None else out


def _same_device(have: torch.device, want: torch.device) -> bool:
    """Whether tensors on `have` are already on `want`; a bare "cuda" means the current CUDA device, as in `.to()`."""
    if have.type != want.type:
        return False
    if have.type != "cuda":
        return True
    index = lambda d: torch.cuda.current_device() if d.index is None else d.index  # noqa: E731
    return index(have) == index(want)


def pack_images(images, *, pin_memory: bool = False, ring: bool = True) -> PackedImages:
    """Pack a sequence of HWC uint8 images into one contiguous buffer.

    In a DataLoader worker the buffer is a slot of the worker's shared-memory ring (`fastload.memory.ring`), which
    reaches the main process without a new shared-memory segment.

    Args:
        images: (H, W, C) uint8 numpy arrays or tensors, any strides, equal C.
        pin_memory: page-lock the buffer (when CUDA is available), for a non_blocking copy to the GPU.
        ring: use the worker's ring in a DataLoader worker (default); False uses torch's per-batch segment.

    Returns:
        A `PackedImages` (data on the images' device).

    Raises:
        TypeError: a non-uint8 image or a wrong argument type.
        ValueError: an empty list or mixed channel counts.
    """
    _, _, originals, channels = V.check_image_list(images)
    return pack(originals, channels, pin_memory=pin_memory, use_ring=V.check_bool("ring", ring))


def pad_batch(
    images,
    norm: Normalization | None = None,
    *,
    input_order: str = "bgr",
    size_divisor: int = 1,
    pad_to=None,
    pad_value=0.0,
    dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
    device=None,
    out: torch.Tensor | None = None,
) -> PaddedBatch:
    """Variable-size HWC uint8 images -> one padded batch, in one pass (each image at the top-left).

    Args:
        images: a sequence of (H, W, C) uint8 numpy arrays or tensors (any strides, equal C), or a `PackedImages`.
        norm: with a `Normalization`, the batch is normalized float (N, C, Hp, Wp) with channels in `norm.order`;
            without, a padded uint8 (N, Hp, Wp, C) batch in the input's channel order (to normalize later, e.g. on
            the GPU).
        input_order: channel order of the images ("bgr" or "rgb"), used with `norm`.
        size_divisor: Hp and Wp are the largest h and w rounded up to a multiple of this (e.g. 32).
        pad_to: an explicit (Hp, Wp) instead; an image larger than it is an error.
        pad_value: the padding, one number or one per channel: in output (normalized) space with `norm` (0.0 = the
            mean colour, as mmengine's stack_batch and detectron2's ImageList after normalization), a byte without.
        dtype: of the normalized output: torch.float32, float16 or bfloat16 (computed in fp32, rounded once).
        channels_last: give the normalized (N, C, Hp, Wp) output channels_last strides.
        device: where the batch is built (default: where the images are). CPU images with device="cuda" are packed
            into one pinned buffer, copied in one host->device transfer, and assembled by one kernel.
        out: optional buffer to write the batch into, exactly the tensor the call would return (shape, dtype,
            layout, device), e.g. the previous batch's; it becomes `images` of the result.

    Returns:
        PaddedBatch(images, sizes): sizes is an int64 (N, 2) CPU tensor of the true (h, w) of each image.

    Raises:
        TypeError: a non-uint8 image, a wrong argument type (the message names the parameter).
        ValueError: an empty list, mixed channel counts, `size_divisor` < 1, `pad_to` smaller than an image, a pad
            value of the wrong length or outside the output dtype's range, an extent no machine could hold (checked
            before anything is allocated), an `out` of the wrong shape, dtype, device or strides.
    """
    normalized = norm is not None
    if normalized:
        norm = V.check_norm(norm)
    dtype = V.check_float_dtype(dtype)  # checked with or without norm: a typo is an error either way
    input_order = V.check_order("input_order", input_order)
    size_divisor = V.check_size("size_divisor", size_divisor, minimum=1, maximum=V.MAX_SIDE)
    channels_last = V.check_bool("channels_last", channels_last)
    src = BatchSource.of(images, norm)
    batch_hw = list(batch_extent(src.sizes, size_divisor, pad_to))
    V.check_batch_bytes(
        [len(src.sizes), src.channels, *batch_hw],
        dtype if normalized else torch.uint8,
        "pad_to" if pad_to is not None else "size_divisor",
    )
    pad = V.check_pad_value(pad_value, src.channels, normalized, dtype)
    cmap, mean, inv_std, out_dtype = src.normalization(norm, input_order, dtype)
    src.check_out(out, batch_hw, out_dtype, channels_last, device)
    if not src.sizes:
        images = src.empty_result(
            out=out, out_dtype=out_dtype, channels_last=channels_last, batch_hw=batch_hw, device=device
        )
    else:
        images = src.to(device).run("pad_batch", batch_hw, mean, inv_std, cmap, pad, out_dtype, channels_last, out=out)
    return PaddedBatch(images, torch.tensor(src.sizes, dtype=torch.int64).reshape(-1, 2))
