"""The evaluation crop of whole batches in one pass: `resize_center_crop_batch` (Resize + CenterCrop + normalize,
each output pixel straight from the source) and `eval_regions`, the source regions it reads (for decoders that
decode only those), on the tap tables and resampling of fastload.functional._crop."""

from __future__ import annotations

import torch

from fastload.functional._crop import check_batch, check_resampling, checked_source, resample_batch
from fastload.functional._crop_taps import axis_table, table_mode
from fastload.functional._geometry import (
    center_crop_anchor,
    check_crop_fits,
    check_pair,
    check_resize,
    resized_short_side,
)
from fastload.normalization import Normalization


def resize_center_crop_batch(
    images,
    resize,
    crop,
    norm: Normalization | None = None,
    *,
    interpolation: str = "bilinear",
    antialias: bool = True,
    input_order: str = "bgr",
    dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
    device=None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """The evaluation pipeline `Resize(resize)` -> `CenterCrop(crop)` -> normalize of a whole batch, in one pass:
    each output pixel is computed straight from the source, exactly where torchvision's resized image would have
    it (no intermediate image).

    Args:
        images: a sequence of (H, W, C) uint8 images (numpy or torch, any strides, equal C) or a `PackedImages`.
        resize: an int (the short side becomes `resize`, the long side int(resize * long / short), as torchvision's
            `Resize(int)`) or an (h, w) pair.
        crop: the centre crop (h, w), or an int for a square; it must fit in the resized image.
        norm: the model's `Normalization`; None gives a uint8 batch in the input's channel order.
        interpolation: "bilinear", "bicubic" or "nearest", as in `resized_crop_batch`.
        antialias: as in `resized_crop_batch` (True: torchvision's antialiased resize).
        input_order: channel order of the images ("bgr" or "rgb").
        dtype: of the normalized output: torch.float32, float16 or bfloat16.
        channels_last: give the output channels_last strides.
        device: where the batch is built (default: where the images are).
        out: optional buffer exactly like the result, written into and returned.

    Returns:
        (N, C, crop_h, crop_w) normalized, or (N, crop_h, crop_w, C) uint8 without `norm`.

    Raises:
        ValueError: an empty image, a `crop` that does not fit in a resized image, bad sizes (naming the argument).
        TypeError: non-uint8 images or a wrong argument type, naming the parameter.
    """
    return resize_center_crop_regions(
        images=images,
        regions=None,
        resize=resize,
        crop=crop,
        norm=norm,
        interpolation=interpolation,
        antialias=antialias,
        input_order=input_order,
        dtype=dtype,
        channels_last=channels_last,
        device=device,
        out=out,
    )


def _eval_tables(sizes, resize, crop: tuple[int, int], mode: str) -> tuple[tuple, tuple]:
    """The y and x tap tables of Resize(resize) + CenterCrop(crop) over images of (h, w) `sizes` (checked)."""
    crop_h, crop_w = crop
    geometry = []  # per image: (h, w, resized h, resized w, crop top, crop left); SymInts under torch.compile
    known = {}  # the geometry of each size met (a batch has a few sizes)
    for i, (h, w) in enumerate(sizes):
        if (h, w) in known:
            geometry.append(known[h, w])
            continue
        if h == 0 or w == 0:
            raise ValueError(f"images[{i}] is empty ({h}x{w}) and cannot be resized")
        rh, rw = resize if isinstance(resize, tuple) else resized_short_side(h, w, resize)
        if crop_h > rh or crop_w > rw:
            raise ValueError(f"crop {crop_h}x{crop_w} does not fit in images[{i}] resized to {rh}x{rw} (resize)")
        geometry.append(known.setdefault((h, w), (h, w, rh, rw, *center_crop_anchor(rh, rw, crop_h, crop_w))))
    g = torch.tensor(geometry, dtype=torch.int64).reshape(-1, 6)
    return axis_table(src=g[:, 0], dst=crop_h, resized=g[:, 2], offset=g[:, 4], mode=mode), axis_table(
        src=g[:, 1], dst=crop_w, resized=g[:, 3], offset=g[:, 5], mode=mode
    )


def resize_center_crop_regions(
    images, regions, resize, crop, norm, *, interpolation, antialias, input_order, dtype, channels_last, device, out
) -> torch.Tensor:
    """`resize_center_crop_batch`; with `regions` ((top, left, full h, full w) per image), image i holds only that
    region of a full_h x full_w source (what `eval_regions` asks a decoder for): the tables are the full images',
    shifted to the regions."""
    src, norm, interpolation, antialias = checked_source(images, norm, interpolation, antialias)
    crop_h, crop_w = check_pair("crop", crop)
    resize = check_resize(resize)
    check_crop_fits(resize, (crop_h, crop_w))
    dtype = check_batch(src=src, out_hw=(crop_h, crop_w), norm=norm, dtype=dtype, culprit="crop")
    full = src.sizes if regions is None else [(fh, fw) for _, _, fh, fw in regions]
    ys, xs = _eval_tables(full, resize, (crop_h, crop_w), table_mode(interpolation, antialias))
    if regions is not None:
        origin = torch.tensor([r[:2] for r in regions], dtype=torch.int64).reshape(-1, 2)
        ys, xs = (ys[0] - origin[:, :1], ys[1]), (xs[0] - origin[:, 1:], xs[1])
    return resample_batch(
        src,
        ys,
        xs,
        (crop_h, crop_w),
        norm=norm,
        input_order=input_order,
        dtype=dtype,
        channels_last=channels_last,
        device=device,
        out=out,
    )


def _taps_span(starts: torch.Tensor, weights: torch.Tensor) -> list[tuple[int, int]]:
    """Per image, the (first, count) source indices its weighted taps read."""
    k = torch.arange(weights.shape[-1])
    last = torch.where(weights != 0, k, -1).amax(-1)  # each output's last weighted tap
    first, end = starts.amin(-1), (starts + last + 1).amax(-1)
    return [(int(a), int(b - a)) for a, b in zip(first.tolist(), end.tolist())]


def eval_regions(sizes, resize, crop, interpolation: str = "bilinear", antialias: bool = True) -> list:
    """Per image of (h, w) `sizes`, the (top, left, height, width) source region Resize(resize) + CenterCrop(crop)
    reads (every weighted tap): decoding only that region and cropping it with `CropBatch(..., regions=...)` gives
    the same bits as the whole image."""
    mode = table_mode(*check_resampling(interpolation, antialias))
    ys, xs = _eval_tables(sizes, check_resize(resize), check_pair("crop", crop), mode)
    return [(top, left, h, w) for (top, h), (left, w) in zip(_taps_span(*ys), _taps_span(*xs))]
