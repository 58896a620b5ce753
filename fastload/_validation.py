"""Argument checks shared by every layer: each raises TypeError/ValueError naming the parameter and what was expected.

Public inside the package (transforms, collate, loader and the op modules all use it); the compiled ops re-check
what they rely on, so nothing here guards memory safety on its own.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
import torch

from fastload._out_checks import (  # noqa: F401 (the out= checks, used through this module)
    FLOAT_DTYPES,
    check_image_out,
    check_out,
    check_out_as,
    expanded,
    normalized_strides,
    overlaps,
)
from fastload.normalization import ORDERS, Normalization

# Largest finite value of each output dtype: a pad value beyond it would silently become inf.
DTYPE_MAX = {
    torch.float32: float(torch.finfo(torch.float32).max),
    torch.float16: 65504.0,
    torch.bfloat16: float(torch.finfo(torch.bfloat16).max),
}
# Longest image side or batch extent the ops accept (the kernels index rows with int64, but no real image comes
# near this, and it keeps every product of sizes far from int64 overflow).
MAX_SIDE = 2**31 - 1
# Largest output a batch op will try to allocate; anything bigger is a mistake in its sizes, not a batch.
MAX_BATCH_BYTES = 2**46


def check_order(name: str, order) -> str:
    """'rgb' or 'bgr' (any case) -> lower case."""
    if not isinstance(order, str) or order.lower() not in ORDERS:
        raise ValueError(f"{name} must be 'rgb' or 'bgr', got {order!r}")
    return order.lower()


def check_float_dtype(dtype, name: str = "dtype") -> torch.dtype:
    """torch.float32 / float16 / bfloat16."""
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"{name} must be a torch.dtype (float32, float16 or bfloat16), got {dtype!r}")
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be torch.float32, torch.float16 or torch.bfloat16, got {dtype}")
    return dtype


def check_norm(norm, name: str = "norm") -> Normalization:
    if not isinstance(norm, Normalization):
        raise TypeError(f"{name} must be a fastload.Normalization (e.g. fastload.IMAGENET), got {type(norm).__name__}")
    return norm


def check_bool(name: str, value) -> bool:
    """A Python or numpy bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool (True or False), got {type(value).__name__}")
    return bool(value)


def check_size(name: str, value, minimum: int = 0, maximum: int | None = None) -> int:
    """A Python or numpy int in [minimum, maximum] (bools refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return int(value)


def check_batch_bytes(shape, dtype: torch.dtype, culprit: str) -> None:
    """A batch of `shape` and `dtype` must be a size a machine can hold; `culprit` names the argument(s) that set
    its extent, for the message."""
    nbytes = dtype.itemsize
    for v in shape:
        nbytes *= v
    if max(shape) > MAX_SIDE or nbytes > MAX_BATCH_BYTES:
        raise ValueError(
            f"{culprit} gives a batch of shape {tuple(shape)} ({nbytes:.3g} bytes), more than any "
            f"machine holds; check {culprit}"
        )


def check_channels(channels: int, norm: Normalization, what: str) -> None:
    """`what` ("img has", "images have") holds `channels` channels: norm must describe as many."""
    if channels != norm.channels:
        raise ValueError(
            f"{what} {channels} channel(s) but norm describes {norm.channels}: {norm}; "
            "use a spec with one mean/std per image channel"
        )


def as_image_tensor(img, name: str = "img") -> tuple[torch.Tensor, int]:
    """A uint8 image or batch as a tensor sharing its memory, plus the bit mask of dims to read backwards.

    `img`: torch tensor or numpy array, (H, W) (grayscale), (H, W, C) or (N, H, W, C), uint8, C = 1, 3 or 4 (the
    alpha channel of BGRA/RGBA dropped: a view), any strides. numpy views with
    negative strides (`img[:, ::-1]`, `img[..., ::-1]`) are not copied: each reversed dim d is turned forward and
    bit d of the returned mask is set; the ops read those dims in reverse.
    """
    if type(img) is torch.Tensor and img.dtype is torch.uint8 and img.dim() == 3 and img.shape[-1] in (1, 3):
        return img, 0  # most images (what the collates hand over): nothing to look at further
    flip_mask = 0
    if isinstance(img, np.ndarray):
        if img.dtype != np.uint8:
            raise TypeError(f"{name} must be uint8, got numpy dtype {img.dtype}")
        flipped = [d for d, s in enumerate(img.strides) if s < 0]
        if flipped:
            img = img[tuple(slice(None, None, -1) if d in flipped else slice(None) for d in range(img.ndim))]
            flip_mask = sum(1 << d for d in flipped)
        with warnings.catch_warnings():  # read-only arrays are fine: the ops never write their input
            warnings.simplefilter("ignore", UserWarning)
            tensor = torch.from_numpy(img)
    elif isinstance(img, torch.Tensor):
        tensor = img
        if tensor.dtype != torch.uint8:
            raise TypeError(f"{name} must be uint8, got {tensor.dtype}")
    else:
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(img).__name__}")
    if tensor.dim() == 2:  # a grayscale (H, W) image: one channel, as a view
        tensor = tensor.unsqueeze(-1)
    if tensor.dim() not in (3, 4):
        raise ValueError(f"{name} must be (H, W), (H, W, C) or (N, H, W, C), got shape {tuple(tensor.shape)}")
    if tensor.shape[-1] == 4:  # BGRA / RGBA (cv2.IMREAD_UNCHANGED, PIL RGBA): the alpha channel dropped, as a view
        if tensor.shape[-3] in (1, 3):
            raise ValueError(
                f"{name} of shape {tuple(tensor.shape)} is ambiguous: a BGRA/RGBA image "
                f"{tensor.shape[-3]} pixel(s) tall, or a CHW tensor 4 pixels wide; permute a CHW tensor "
                "to HWC, or drop the alpha channel yourself ([..., :3])"
            )
        tensor = tensor[..., :3]
    if tensor.shape[-1] not in (1, 3):
        raise ValueError(
            f"{name} must have 1, 3 or 4 (BGRA/RGBA: alpha dropped) channels in its last dim (HWC layout), got shape "
            f"{tuple(tensor.shape)}; a CHW tensor must be permuted to HWC first"
        )
    return tensor, flip_mask


def check_device(device, name: str = "device") -> torch.device | None:
    """None, or `device` as a torch.device; a CUDA device on a machine without a usable GPU is a ValueError here,
    not torch's driver error at the first transfer."""
    if device is None:
        return None
    try:
        device = torch.device(device)
    except (TypeError, RuntimeError) as exc:
        raise ValueError(
            f"{name} must be a torch.device or a device string like 'cpu' or 'cuda:0', got {device!r}: {exc}"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"{name} is {str(device)!r} but no CUDA GPU is available (torch.cuda.is_available() is "
            "False): use 'cpu', or run where a GPU is"
        )
    return device


def image_channels(img) -> int:
    """The channels fastload reads of an image: 1 for (H, W), 3 for BGRA/RGBA (alpha dropped), else its last dim."""
    c = 1 if img.ndim == 2 else int(img.shape[-1])
    return 3 if c == 4 else c


def check_image_list(images, name: str = "images") -> tuple[list[torch.Tensor], list[int], list, int]:
    """A sequence of (H, W[, C]) uint8 images of equal C on one device -> (tensors sharing memory, their flip masks,
    the caller's images as (H, W, C) views of their own kind, C). An (N, H, W, C) array or tensor counts as N
    images."""
    if isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim == 4:
        images = list(images)
    elif isinstance(images, (np.ndarray, torch.Tensor)):
        raise ValueError(
            f"{name} must be a sequence of (H, W, C) images or an (N, H, W, C) batch, got one array of "
            f"shape {tuple(images.shape)}: wrap a single image in a list"
        )
    if isinstance(images, (str, bytes)) or not hasattr(images, "__len__") or not hasattr(images, "__getitem__"):
        raise TypeError(f"{name} must be a sequence of HWC uint8 images or a PackedImages, got {type(images).__name__}")
    if len(images) == 0:
        raise ValueError(f"{name} must not be empty")
    tensors, masks, originals = [], [], []
    for i, img in enumerate(images):
        tensor, mask = as_image_tensor(img, f"{name}[{i}]")
        # The caller's object, read as the tensor is (grey (H, W) as one channel, BGRA without alpha), still as a
        # view: what packing copies from, so numpy's negative strides need no copy.
        whole = tensor is img or img.ndim == 3 and img.shape[-1] == tensor.shape[-1]  # the object itself: no new view
        originals.append(img if whole else (img[..., None] if img.ndim == 2 else img)[..., : tensor.shape[-1]])
        if tensor.dim() != 3:
            raise ValueError(f"{name}[{i}] must be one (H, W, C) image, got shape {tuple(tensor.shape)}")
        if tensors and tensor.shape[-1] != tensors[0].shape[-1]:
            raise ValueError(f"{name}[{i}] has {tensor.shape[-1]} channel(s) but {name}[0] has {tensors[0].shape[-1]}")
        if tensors and tensor.device != tensors[0].device:
            raise ValueError(f"{name}[{i}] is on {tensor.device} but {name}[0] is on {tensors[0].device}")
        tensors.append(tensor)
        masks.append(mask)
    return tensors, masks, originals, int(tensors[0].shape[-1])


def real_values(name: str, values) -> list[float]:
    """A number (Python, numpy, 0-d tensor) or a sequence/array of them -> a list of floats; strings and bools are
    refused with a TypeError naming the parameter."""
    if hasattr(values, "tolist") and not isinstance(values, (str, bytes)):
        values = values.tolist()  # numpy scalars and arrays, tensors
    if not isinstance(values, (list, tuple)):
        values = [values]
    if not all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in values):
        raise TypeError(f"{name} must be a number or a sequence of numbers, got {values!r}")
    return [float(v) for v in values]


def check_pad_value(pad_value, channels: int | None, normalized: bool, dtype: torch.dtype | None = None) -> list:
    """One number or one per channel -> a list of `channels` floats (1 or 3 values when `channels` is None): finite
    in the output `dtype` when normalized, bytes (0-255) when not."""
    values = real_values("pad_value", pad_value)
    if channels is None:
        if len(values) not in (1, 3):
            raise ValueError(f"pad_value needs 1 or 3 values, got {len(values)}")
    elif len(values) == 1:
        values = values * channels
    elif len(values) != channels:
        raise ValueError(f"pad_value needs 1 or {channels} values, got {len(values)}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"pad_value must be finite, got {values}")
    if not normalized and not all(0 <= v <= 255 for v in values):
        raise ValueError(f"pad_value of a uint8 batch (norm=None) must be in [0, 255], got {values}")
    limit = DTYPE_MAX[dtype or torch.float32]
    if normalized and any(abs(v) > limit for v in values):
        raise ValueError(
            f"pad_value {values} overflows the output dtype {dtype or torch.float32} (largest finite value {limit:g})"
        )
    return values


def check_interpolation(interpolation, choices=("bilinear", "nearest")) -> str:
    if not isinstance(interpolation, str) or interpolation not in choices:
        raise ValueError(f"interpolation must be one of {', '.join(repr(c) for c in choices)}, got {interpolation!r}")
    return interpolation
