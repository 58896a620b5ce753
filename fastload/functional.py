"""The public ops: validate arguments (TypeError/ValueError naming the parameter), then run the compiled kernel or
the reference (see `fastload._ops.pick`)."""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np
import torch

from fastload import _ops
from fastload.geometry import rescale_size
from fastload.normalization import ORDERS, Normalization
from fastload.packed import PackedImages, pack

FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _check_order(name: str, order) -> str:
    if not isinstance(order, str) or order.lower() not in ORDERS:
        raise ValueError(f"{name} must be 'rgb' or 'bgr', got {order!r}")
    return order.lower()


def _check_float_dtype(dtype) -> torch.dtype:
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype (float32, float16 or bfloat16), got {dtype!r}")
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be torch.float32, torch.float16 or torch.bfloat16, got {dtype}")
    return dtype


def _check_norm(norm) -> Normalization:
    if not isinstance(norm, Normalization):
        raise TypeError(
            f"norm must be a fastload.Normalization (e.g. fastload.IMAGENET), got {type(norm).__name__}"
        )
    return norm


def as_image_tensor(img, name: str = "img") -> tuple[torch.Tensor, list[int]]:
    """A uint8 image or batch as a tensor sharing its memory, plus the dims to read backwards.

    `img`: torch tensor or numpy array, (H, W, C) or (N, H, W, C), uint8, C = 1 or 3, any strides. numpy views with
    negative strides (`img[:, ::-1]`, `img[..., ::-1]`) are not copied: each reversed dim is turned forward and
    listed in the returned `flip_dims`, which the ops read in reverse.
    """
    flip_dims: list[int] = []
    if isinstance(img, np.ndarray):
        if img.dtype != np.uint8:
            raise TypeError(f"{name} must be uint8, got numpy dtype {img.dtype}")
        flip_dims = [d for d, s in enumerate(img.strides) if s < 0]
        if flip_dims:
            img = img[tuple(slice(None, None, -1) if d in flip_dims else slice(None) for d in range(img.ndim))]
        with warnings.catch_warnings():  # read-only arrays are fine: the ops never write their input
            warnings.simplefilter("ignore", UserWarning)
            tensor = torch.from_numpy(img)
    elif isinstance(img, torch.Tensor):
        tensor = img
        if tensor.dtype != torch.uint8:
            raise TypeError(f"{name} must be uint8, got {tensor.dtype}")
    else:
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(img).__name__}")
    if tensor.dim() not in (3, 4):
        raise ValueError(f"{name} must be (H, W, C) or (N, H, W, C), got shape {tuple(tensor.shape)}")
    if tensor.shape[-1] not in (1, 3):
        raise ValueError(
            f"{name} must have 1 or 3 channels in its last dim (HWC layout), got shape {tuple(tensor.shape)}; "
            "a CHW tensor must be permuted to HWC first"
        )
    return tensor, flip_dims


def channel_map(channels: int, input_order: str, output_order: str) -> list[int]:
    """For each output channel, the input channel it reads (a swap when 3-channel orders differ)."""
    if channels == 3 and input_order != output_order:
        return [2, 1, 0]
    return list(range(channels))


def normalize(
    img,
    norm: Normalization,
    *,
    input_order: str = "bgr",
    dtype: torch.dtype | None = None,
    channels_last: bool = False,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """HWC uint8 image(s) -> normalized CHW float, in one pass.

    Args:
        img: uint8 tensor or numpy array, (H, W, C) or (N, H, W, C), C = 1 or 3, any strides (including negative
            numpy strides), on CPU or CUDA.
        norm: the model's `Normalization` (mean/std in pixel units, channel order the model expects).
        input_order: channel order of `img`, "bgr" (OpenCV) or "rgb" (PIL); ignored for 1 channel.
        dtype: torch.float32 (default), torch.float16 or torch.bfloat16 (computed in fp32, rounded once).
        channels_last: 4-D output with channels_last strides (3-D: an HWC-strided CHW tensor).
        out: optional preallocated result (the shape below, on img's device, contiguous or channels_last); its
            dtype and layout are used, and it is returned. Reusing one buffer per batch avoids an allocation and
            its page faults.

    Returns:
        (C, H, W) or (N, C, H, W) tensor of `dtype` on img's device, channels in `norm.order`,
        value `(x - mean[c]) / std[c]`.
    """
    norm = _check_norm(norm)
    input_order = _check_order("input_order", input_order)
    if dtype is not None or out is None:
        dtype = _check_float_dtype(torch.float32 if dtype is None else dtype)
    _check_bool("channels_last", channels_last)
    tensor, flip_dims = as_image_tensor(img, "img")
    channels = tensor.shape[-1]
    _check_channels(channels, norm, "img has")
    args = (tensor, *_kernel_stats(norm), channel_map(channels, input_order, norm.order), flip_dims)
    if out is None:
        return _ops.pick("normalize", tensor.device)(*args, dtype, channels_last)
    _check_out(out, tensor, dtype, channels_last)
    _ops.pick("normalize_into", tensor.device)(*args, out)
    return out


def _check_out(out, img: torch.Tensor, dtype, channels_last: bool) -> None:
    """`out` must be what `normalize` would have returned for `img` (shape, device, float dtype, layout)."""
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"out must be a torch.Tensor, got {type(out).__name__}")
    *lead, h, w, c = img.shape
    shape = (*lead, c, h, w)
    if tuple(out.shape) != shape:
        raise ValueError(f"out must have shape {shape} for img of shape {tuple(img.shape)}, got {tuple(out.shape)}")
    if out.device != img.device:
        raise ValueError(f"out is on {out.device} but img is on {img.device}")
    if out.dtype not in FLOAT_DTYPES:
        raise ValueError(f"out must be float32, float16 or bfloat16, got {out.dtype}")
    if dtype is not None and dtype != out.dtype:
        raise ValueError(f"dtype={dtype} disagrees with out.dtype={out.dtype}; pass one of them")
    # A dim of size 1 may carry any stride.
    fits = [all(s1 == s2 for s1, s2, n in zip(out.stride(), _strides(img, cl), out.shape) if n > 1)
            for cl in (False, True)]
    if not any(fits):
        raise ValueError(f"out must be contiguous or channels_last, got strides {out.stride()}")
    if channels_last and not fits[1]:
        raise ValueError("channels_last=True but out is not channels_last")


def _strides(img: torch.Tensor, channels_last: bool) -> tuple[int, ...]:
    *lead, h, w, c = img.shape
    strides = (h * w * c, 1, w * c, c) if channels_last else (c * h * w, h * w, w, 1)
    return strides[1:] if not lead else strides


def _check_normalized(x, norm: Normalization) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"x must be a normalized float32, float16 or bfloat16 tensor, got {x.dtype}")
    if x.dim() not in (3, 4):
        raise ValueError(f"x must be (C, H, W) or (N, C, H, W), got shape {tuple(x.shape)}")
    if x.shape[-3] != norm.channels:
        raise ValueError(
            f"x has {x.shape[-3]} channel(s) in dim -3 but norm describes {norm.channels}: {norm}"
        )
    return x.detach()


def _check_sizes(sizes, x: torch.Tensor) -> list[tuple[int, int]]:
    """`sizes` as a list of (h, w) ints: one per image of the 4-D `x`, each inside the tensor."""
    if x.dim() != 4:
        raise ValueError(f"sizes needs a batch x of shape (N, C, H, W), got shape {tuple(x.shape)}")
    if isinstance(sizes, torch.Tensor):
        if sizes.dtype.is_floating_point or sizes.dtype == torch.bool:
            raise TypeError(f"sizes must hold integers, got {sizes.dtype}")
        sizes = sizes.tolist()
    elif isinstance(sizes, np.ndarray):
        sizes = sizes.tolist()
    try:
        pairs = [tuple(pair) for pair in sizes]
    except TypeError:
        raise TypeError("sizes must be an (N, 2) tensor or a sequence of (h, w) pairs") from None
    n, _, height, width = x.shape
    if len(pairs) != n:
        raise ValueError(f"sizes must have one (h, w) per image: x holds {n} images, got {len(pairs)} sizes")
    out = []
    for i, pair in enumerate(pairs):
        if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair):
            raise ValueError(f"sizes[{i}] must be an (h, w) pair of ints, got {pair!r}")
        h, w = int(pair[0]), int(pair[1])
        if h < 0 or w < 0:
            raise ValueError(f"sizes[{i}] = {(h, w)} is negative")
        if h > height or w > width:
            raise ValueError(f"sizes[{i}] = {(h, w)} is larger than the tensor's (H, W) = {(height, width)}")
        out.append((h, w))
    return out


def denormalize(x: torch.Tensor, norm: Normalization, *, output_order: str = "bgr", sizes=None):
    """Normalized CHW float -> HWC uint8 image(s), in one pass: the inverse of `normalize`.

    Args:
        x: float32/float16/bfloat16 tensor (C, H, W) or (N, C, H, W), any strides (contiguous, channels_last,
            sliced), any device, channels in `norm.order`; requires_grad is fine (the result is detached).
        norm: the `Normalization` that produced `x`.
        output_order: channel order of the result, "bgr" (OpenCV, the default) or "rgb".
        sizes: optional (N, 2) int tensor or list of (h, w), e.g. `pad_batch(...).sizes`: crop each image to its
            true size (padding removed).

    Returns:
        uint8 (H, W, C) / (N, H, W, C) on x's device, value clamp(round_half_even(x * std + mean), 0, 255), NaN -> 0,
        +-inf clipped; with `sizes`, a list of N contiguous (h_i, w_i, C) uint8 tensors.
    """
    norm = _check_norm(norm)
    output_order = _check_order("output_order", output_order)
    x = _check_normalized(x, norm)
    cmap = channel_map(norm.channels, norm.order, output_order)
    mean = [norm.mean[k] for k in cmap]
    std = [norm.std[k] for k in cmap]
    op = _ops.pick("denormalize", x.device)
    if sizes is None:
        return op(x, mean, std, cmap)
    return [op(x[i, :, :h, :w], mean, std, cmap) for i, (h, w) in enumerate(_check_sizes(sizes, x))]


def to_numpy_images(x: torch.Tensor, norm: Normalization, *, output_order: str = "bgr", sizes=None) -> list:
    """Normalized CHW float image(s) -> a list of contiguous numpy HWC uint8 arrays on the CPU, ready for
    `cv2.imwrite` (BGR by default). The conversion runs on x's device; only uint8 crosses to the host, in one copy.

    Args: as `denormalize`. Returns: list of N (or 1 for a 3-D `x`) arrays of shape (h, w, C).
    """
    norm = _check_norm(norm)
    output_order = _check_order("output_order", output_order)
    x = _check_normalized(x, norm)
    crops = _check_sizes(sizes, x) if sizes is not None else None
    host = denormalize(x, norm, output_order=output_order).cpu().numpy()
    if host.ndim == 3:
        return [host]
    if crops is None:
        return list(host)
    return [np.ascontiguousarray(host[i, :h, :w]) for i, (h, w) in enumerate(crops)]


class PaddedBatch(NamedTuple):
    """Result of `pad_batch` / `resize_pad_batch`: `images` (N, C, Hp, Wp) float (normalized) or (N, Hp, Wp, C)
    uint8 (not normalized); `sizes`, an int64 (N, 2) CPU tensor of each image's true (h, w) in the batch (what
    `denormalize(sizes=)` takes); `scale_factors`, a float32 (N, 2) CPU tensor of (w_scale, h_scale) per image
    (resize_pad_batch only, else None)."""

    images: torch.Tensor
    sizes: torch.Tensor
    scale_factors: torch.Tensor | None = None


class _BatchSource(NamedTuple):
    """The checked images of a batch op: a PackedImages, or a list of tensors (with their flip masks and the
    caller's originals, which `to` packs straight from numpy)."""

    packed: PackedImages | None
    tensors: list
    masks: list
    originals: list
    sizes: list
    channels: int

    def to(self, device) -> _BatchSource:
        """The images on `device` (None: where they are). CPU images bound for CUDA are packed into one pinned
        buffer and sent in one host -> device copy. Called after every other check, so a bad argument costs no
        transfer."""
        target = torch.device(device) if device is not None else None
        if self.packed is not None:
            if target is None or self.packed.device == target:
                return self
            packed = self.packed
        elif target is None or target == self.tensors[0].device:
            return self
        else:
            packed = pack(self.originals, self.channels, pin_memory=target.type == "cuda")
        moved = packed.to(target, non_blocking=packed.is_pinned())
        return _BatchSource(moved, [], [], [], self.sizes, self.channels)

    def run(self, op: str, *args):
        """Calls `op` (list form) or `op + "_packed"` with the image arguments first, then `args`."""
        if self.packed is not None:
            p = self.packed
            return _ops.pick(f"{op}_packed", p.device)(p.data, p.offsets, p.sizes, self.channels, *args)
        return _ops.pick(op, self.tensors[0].device)(self.tensors, self.masks, *args)


def _batch_source(images, norm: Normalization | None) -> _BatchSource:
    """Checks `images` (a sequence of HWC uint8 images or a PackedImages), and their channels against `norm`."""
    if isinstance(images, PackedImages):
        if len(images) == 0:
            raise ValueError("images must not be empty")
        src = _BatchSource(images, [], [], [], [tuple(hw) for hw in images.sizes.tolist()], images.channels)
    else:
        tensors, masks, originals, channels = _check_image_list(images)
        src = _BatchSource(None, tensors, masks, originals, [tuple(t.shape[:2]) for t in tensors], channels)
    if norm is not None:
        _check_channels(src.channels, norm, "images have")
    return src


def _check_channels(channels: int, norm: Normalization, what: str) -> None:
    if channels != norm.channels:
        raise ValueError(
            f"{what} {channels} channel(s) but norm describes {norm.channels}: {norm}; "
            "use a spec with one mean/std per image channel"
        )


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def _kernel_stats(norm: Normalization) -> tuple[list[float], list[float]]:
    """The (mean, 1 / std) lists the ops take: the kernels multiply by the reciprocal."""
    return list(norm.mean), [1.0 / v for v in norm.std]


def _check_image_list(images, name: str = "images"):
    """Validated images: (list of tensors sharing memory, their flip masks, the originals, C)."""
    if isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim == 4:
        images = list(images)
    if isinstance(images, (str, bytes)) or not hasattr(images, "__len__") or not hasattr(images, "__getitem__"):
        raise TypeError(f"{name} must be a sequence of HWC uint8 images or a PackedImages, got {type(images).__name__}")
    if len(images) == 0:
        raise ValueError(f"{name} must not be empty")
    tensors, masks = [], []
    for i, img in enumerate(images):
        tensor, flips = as_image_tensor(img, f"{name}[{i}]")
        if tensor.dim() != 3:
            raise ValueError(f"{name}[{i}] must be one (H, W, C) image, got shape {tuple(tensor.shape)}")
        if tensors and tensor.shape[-1] != tensors[0].shape[-1]:
            raise ValueError(f"{name}[{i}] has {tensor.shape[-1]} channel(s) but {name}[0] has {tensors[0].shape[-1]}")
        if tensors and tensor.device != tensors[0].device:
            raise ValueError(f"{name}[{i}] is on {tensor.device} but {name}[0] is on {tensors[0].device}")
        tensors.append(tensor)
        masks.append(sum(1 << d for d in flips))
    return tensors, masks, list(images), int(tensors[0].shape[-1])


def pack_images(images, *, pin_memory: bool = False) -> PackedImages:
    """Pack a sequence of HWC uint8 images (numpy or torch, any strides, equal C) into one contiguous buffer.

    Returns a `PackedImages` (data on the images' device; page-locked when `pin_memory` and CUDA is available).
    """
    _, _, originals, channels = _check_image_list(images)
    return pack(originals, channels, pin_memory=pin_memory)


def _check_pad_value(pad_value, channels: int, normalized: bool) -> list[float]:
    values = [pad_value] if isinstance(pad_value, (int, float)) and not isinstance(pad_value, bool) else pad_value
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        raise TypeError(f"pad_value must be a number or one number per channel, got {pad_value!r}") from None
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise ValueError(f"pad_value needs 1 or {channels} values, got {len(values)}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"pad_value must be finite, got {values}")
    if not normalized and not all(0 <= v <= 255 for v in values):
        raise ValueError(f"pad_value of a uint8 batch (norm=None) must be in [0, 255], got {values}")
    return values


def _check_size(name: str, value, minimum: int = 0):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def batch_extent(sizes: list[tuple[int, int]], size_divisor: int, pad_to) -> tuple[int, int]:
    """(Hp, Wp): `pad_to`, or the largest h and w rounded up to a multiple of `size_divisor`."""
    if pad_to is not None:
        if not hasattr(pad_to, "__len__") or len(pad_to) != 2:
            raise ValueError(f"pad_to must be an (h, w) pair, got {pad_to!r}")
        ph, pw = _check_size("pad_to[0]", pad_to[0]), _check_size("pad_to[1]", pad_to[1])
        for i, (h, w) in enumerate(sizes):
            if h > ph or w > pw:
                raise ValueError(f"images[{i}] is {h}x{w} (h x w), larger than pad_to={ph, pw}")
        return ph, pw
    d = size_divisor
    return (-(-max(h for h, _ in sizes) // d) * d, -(-max(w for _, w in sizes) // d) * d)


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
        dtype, channels_last: of the normalized output, as in `normalize`.
        device: where the batch is built (default: where the images are). CPU images with device="cuda" are packed
            into one pinned buffer, copied in one host->device transfer, and assembled by one kernel.

    Returns:
        PaddedBatch(images, sizes): sizes is an int64 (N, 2) CPU tensor of the true (h, w) of each image.
    """
    normalized = norm is not None
    if normalized:
        norm = _check_norm(norm)
        dtype = _check_float_dtype(dtype)
    input_order = _check_order("input_order", input_order)
    size_divisor = _check_size("size_divisor", size_divisor, minimum=1)
    _check_bool("channels_last", channels_last)
    src = _batch_source(images, norm)
    batch_hw = list(batch_extent(src.sizes, size_divisor, pad_to))
    pad = _check_pad_value(pad_value, src.channels, normalized)
    if normalized:
        cmap = channel_map(src.channels, input_order, norm.order)
        (mean, inv_std), out_dtype = _kernel_stats(norm), dtype
    else:
        cmap, mean, inv_std, out_dtype = list(range(src.channels)), None, None, None
    out = src.to(device).run("pad_batch", batch_hw, mean, inv_std, cmap, pad, out_dtype, channels_last)
    return PaddedBatch(out, torch.tensor(src.sizes, dtype=torch.int64).reshape(-1, 2))


INTERPOLATIONS = {"bilinear": 0, "nearest": 1}


def resize_pad_batch(
    images,
    norm: Normalization,
    *,
    scale=(1333, 800),
    input_order: str = "bgr",
    size_divisor: int = 32,
    pad_value=0.0,
    dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
    interpolation: str = "bilinear",
    device=None,
) -> PaddedBatch:
    """Keep-ratio resize -> channel swap -> normalize -> pad of a whole batch, in one kernel.

    Args:
        images: a sequence of (H, W, C) uint8 images (numpy or torch, any strides, equal C) or a `PackedImages`.
        norm: the model's `Normalization` (channels in `norm.order`).
        scale: a (w, h)-style bound such as (1333, 800) (orientation agnostic, see `rescale_size`) or a factor.
        interpolation: "bilinear" (OpenCV INTER_LINEAR: half-pixel centres, no antialias; within 1 grey level of
            cv2.resize) or "nearest" (OpenCV INTER_NEAREST exactly).
        size_divisor, pad_value, dtype, channels_last, device: as in `pad_batch`.

    Returns:
        PaddedBatch(images (N, C, Hp, Wp), sizes = resized (h, w), scale_factors = (new_w / w, new_h / h)).
    """
    norm = _check_norm(norm)
    dtype = _check_float_dtype(dtype)
    input_order = _check_order("input_order", input_order)
    size_divisor = _check_size("size_divisor", size_divisor, minimum=1)
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
    _check_bool("channels_last", channels_last)
    src = _batch_source(images, norm)
    new_sizes, factors = [], []
    for i, (h, w) in enumerate(src.sizes):
        if h == 0 or w == 0:
            raise ValueError(f"images[{i}] is empty ({h}x{w}) and cannot be resized")
        (new_w, new_h), _ = rescale_size((w, h), scale)
        new_sizes.append((new_h, new_w))
        factors.append((new_w / w, new_h / h))
    batch_hw = list(batch_extent(new_sizes, size_divisor, None))
    pad = _check_pad_value(pad_value, src.channels, True)
    cmap = channel_map(src.channels, input_order, norm.order)
    out = src.to(device).run("resize_pad_batch", [v for hw in new_sizes for v in hw], batch_hw, *_kernel_stats(norm),
                             cmap, pad, INTERPOLATIONS[interpolation], dtype, channels_last)
    return PaddedBatch(out, torch.tensor(new_sizes, dtype=torch.int64).reshape(-1, 2),
                       torch.tensor(factors, dtype=torch.float32).reshape(-1, 2))
