"""The op table: every fastload op declared once (`OpDef`: schema name, pure-PyTorch reference, fake kernel, the
devices with compiled kernels, packed twin), with the `<op>_into` twin of every op that returns a tensor.
`fastload._backend` derives the rest from it: fake registration, backend choice, `backend_info()`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from fastload import reference

DEVICE_TYPES = ("cpu", "cuda")


@dataclass(frozen=True)
class OpDef:
    """One op: `name` of its schema (csrc/ops/<op>.cpp), its pure-PyTorch `reference` (same signature), its `fake`
    (the empty result for torch.compile/meta tensors; None for an op that returns nothing), the device types that
    have compiled kernels, `packed`, the name of its twin taking a PackedImages' buffers instead of a list, and
    `normalized`, the name of its twin that normalizes its result into a float batch (in the same files)."""

    name: str
    reference: Callable
    fake: Callable
    devices: tuple[str, ...] = DEVICE_TYPES
    packed: str | None = None
    normalized: str | None = None


def _pad_batch_fake(images, flip_masks, batch_hw, mean, inv_std, channel_map, pad_value, dtype, channels_last):
    return reference.pad_batch_output(
        n=len(images),
        c=images[0].shape[-1],
        batch_hw=batch_hw,
        normalized=mean is not None,
        dtype=dtype,
        channels_last=channels_last,
        device=images[0].device,
    )


def _pad_batch_packed_fake(
    data, offsets, sizes, channels, batch_hw, mean, inv_std, channel_map, pad_value, dtype, channels_last
):
    return reference.pad_batch_output(
        n=offsets.shape[0],
        c=channels,
        batch_hw=batch_hw,
        normalized=mean is not None,
        dtype=dtype,
        channels_last=channels_last,
        device=data.device,
    )


def _resize_pad_batch_fake(
    images, flip_masks, new_sizes, batch_hw, mean, inv_std, channel_map, pad_value, interpolation, dtype, channels_last
):
    return reference.pad_batch_output(
        n=len(images),
        c=images[0].shape[-1],
        batch_hw=batch_hw,
        normalized=True,
        dtype=dtype,
        channels_last=channels_last,
        device=images[0].device,
    )


def _resize_pad_batch_packed_fake(
    data,
    offsets,
    sizes,
    channels,
    new_sizes,
    batch_hw,
    mean,
    inv_std,
    channel_map,
    pad_value,
    interpolation,
    dtype,
    channels_last,
):
    return reference.pad_batch_output(
        n=offsets.shape[0],
        c=channels,
        batch_hw=batch_hw,
        normalized=True,
        dtype=dtype,
        channels_last=channels_last,
        device=data.device,
    )


OPS: dict[str, OpDef] = {
    op.name: op
    for op in (
        OpDef(
            "normalize",
            reference.normalize,
            lambda img, mean, inv_std, channel_map, flip_mask, dtype, channels_last: reference.normalize_output(
                img, dtype, channels_last
            ),
        ),
        OpDef("normalize_into", reference.normalize_into, lambda img, mean, inv_std, channel_map, flip_mask, out: None),
        OpDef("denormalize", reference.denormalize, lambda x, mean, std, channel_map: reference.denormalize_output(x)),
        OpDef("pad_batch", reference.pad_batch, _pad_batch_fake, packed="pad_batch_packed"),
        OpDef("pad_batch_packed", reference.pad_batch_packed, _pad_batch_packed_fake),
        OpDef("resize_pad_batch", reference.resize_pad_batch, _resize_pad_batch_fake, packed="resize_pad_batch_packed"),
        OpDef("resize_pad_batch_packed", reference.resize_pad_batch_packed, _resize_pad_batch_packed_fake),
        OpDef(
            "resized_crop_batch",
            reference.resized_crop_batch,
            lambda images, flip_masks, y_starts, y_weights, x_starts, x_weights, mean, inv_std, channel_map, dtype, channels_last: (  # noqa: E501
                reference.pad_batch_output(
                    n=len(images),
                    c=images[0].shape[-1],
                    batch_hw=(y_starts.shape[1], x_starts.shape[1]),
                    normalized=mean is not None,
                    dtype=dtype,
                    channels_last=channels_last,
                    device=images[0].device,
                )
            ),
        ),
        OpDef(
            "resized_crop_color",
            reference.resized_crop_color,
            lambda images, flip_masks, y_starts, y_weights, x_starts, x_weights, steps, factors, rgb, mean, inv_std, channel_map, dtype, channels_last: (  # noqa: E501
                reference.pad_batch_output(
                    len(images),
                    images[0].shape[-1],
                    (y_starts.shape[1], x_starts.shape[1]),
                    True,
                    dtype,
                    channels_last,
                    images[0].device,
                )  # fmt: skip
            ),
        ),
        OpDef(
            "mix_pairs",
            reference.mix_pairs,
            lambda x, lam, box: torch.empty_like(x, memory_format=reference.mix_pairs_layout(x)),
        ),
        OpDef(
            "adjust_color",
            reference.adjust_color,
            lambda images, steps, factors, rgb: torch.empty_like(
                images, memory_format=reference.adjust_color_layout(images)
            ),
            normalized="adjust_color_normalize",
        ),
        OpDef(
            "adjust_color_normalize",
            reference.adjust_color_normalize,
            lambda images, steps, factors, rgb, mean, inv_std, channel_map, dtype, channels_last: (
                reference.pad_batch_output(
                    images.shape[0], images.shape[1], images.shape[2:], True, dtype, channels_last, images.device
                )
            ),
        ),
        OpDef(
            "warp_affine",
            reference.warp_affine,
            lambda images, matrices, fill, interpolation: torch.empty_like(
                images, memory_format=reference.adjust_color_layout(images)
            ),
        ),
        OpDef(
            "augment",
            reference.augment,
            lambda images, kinds, steps, factors, matrices, fill, interpolation, rgb: images.new_empty(images.shape),
        ),
        OpDef(
            "channel_stats",
            reference.channel_stats,
            lambda images, flip_masks: images[0].new_empty((2, images[0].shape[-1]), dtype=torch.int64),
        ),
    )
}
# Every op returning a batch or image has an out= twin `<op>_into(<op's arguments>, out) -> ()`.
for _op in [
    OPS[name]
    for name in (
        "denormalize",
        "pad_batch",
        "pad_batch_packed",
        "resize_pad_batch",
        "resize_pad_batch_packed",
        "resized_crop_batch",
        "resized_crop_color",
        "mix_pairs",
        "adjust_color",
        "adjust_color_normalize",
        "warp_affine",
    )
]:
    _into = OpDef(
        f"{_op.name}_into",
        getattr(reference, f"{_op.name}_into"),
        reference.with_out(_op.reference, lambda *args: None),
        _op.devices,
        packed=f"{_op.packed}_into" if _op.packed else None,
    )
    OPS[_into.name] = _into
