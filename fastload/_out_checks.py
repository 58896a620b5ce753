"""The out= checks shared by the ops (re-exported by `fastload._validation`, through which the package uses them):
a caller's buffer must be exactly the tensor the op would return, on its device, and share no memory with what the
op still has to read. Each raises TypeError/ValueError naming `out`."""

from __future__ import annotations

import torch

FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def normalized_strides(img: torch.Tensor, channels_last: bool) -> tuple[int, ...]:
    """Strides of `normalize(img)`'s result: (N)CHW contiguous, or (N)HWC memory for channels_last."""
    *lead, h, w, c = img.shape
    strides = (h * w * c, 1, w * c, c) if channels_last else (c * h * w, h * w, w, 1)
    return strides[1:] if not lead else strides


def check_out(out, img: torch.Tensor, dtype, channels_last: bool) -> None:
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
    if out.requires_grad:
        raise ValueError("out must not require grad: normalize writes it in place, outside autograd")
    # Addresses do not exist while torch.compile traces; the compiled op checks the same at run time.
    if not torch.compiler.is_compiling() and out.numel() and img.numel() and overlaps(out, img):
        raise ValueError("out overlaps img in memory: normalize would overwrite pixels it has still to read")
    if out.numel() == 0:
        return  # an empty buffer has no layout to get wrong
    # A dim of size 1 may carry any stride.
    fits = [
        all(s1 == s2 for s1, s2, n in zip(out.stride(), normalized_strides(img, cl), out.shape) if n > 1)
        for cl in (False, True)
    ]
    if not any(fits):
        raise ValueError(f"out must be contiguous or channels_last, got strides {out.stride()}")
    if channels_last and not fits[1]:
        raise ValueError("channels_last=True but out is not channels_last")


def check_out_as(out, expected: torch.Tensor, device: torch.device, inputs) -> None:
    """The out= argument of a batch op or denormalize: exactly the tensor the op would return (`expected`, a meta
    tensor of its shape, dtype and layout) on `device`, not requiring grad, sharing no memory with `inputs`."""
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"out must be a torch.Tensor, got {type(out).__name__}")
    if tuple(out.shape) != tuple(expected.shape) or out.dtype != expected.dtype:
        raise ValueError(
            f"out must be a {expected.dtype} tensor of shape {tuple(expected.shape)} for these inputs, "
            f"got {out.dtype} {tuple(out.shape)}"
        )
    if out.device.type != device.type or None not in (out.device.index, device.index) and out.device != device:
        raise ValueError(f"out is on {out.device} but the result belongs on {device}")
    if out.requires_grad:
        raise ValueError("out must not require grad: the op writes it in place, outside autograd")
    # A dim of size 1 may carry any stride, and an empty buffer has no layout to get wrong.
    if out.numel() and any(s != e for s, e, n in zip(out.stride(), expected.stride(), out.shape) if n > 1):
        layout = (
            "channels_last"
            if expected.dim() == 4
            and expected.is_contiguous(memory_format=torch.channels_last)
            and not expected.is_contiguous()
            else "contiguous"
        )
        raise ValueError(f"out must be {layout} (strides {expected.stride()}), got strides {out.stride()}")
    if not torch.compiler.is_compiling() and out.numel():
        out_range = byte_range(out)  # once, not once per input (a batch has many)
        for t in inputs:
            if t.numel() and overlaps(out, t, out_range):
                raise ValueError("out overlaps an input in memory: the op would overwrite values it has still to read")


def byte_range(t: torch.Tensor) -> tuple[int, int]:
    """[first, last] byte address a non-empty tensor touches (torch strides are never negative)."""
    span = 0
    for n, stride in zip(t.shape, t.stride()):  # a loop, not sum() over a generator: called once per batch input
        span += (n - 1) * stride
    start = t.data_ptr()
    return start, start + (span + 1) * t.element_size() - 1


def check_image_out(out, images: torch.Tensor) -> None:
    """The out= of an op returning a uint8 batch of images' shape (adjust_color, warp_affine): a tensor of that
    shape and dtype on images' device."""
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"out must be a torch.Tensor, got {type(out).__name__}")
    if out.shape != images.shape or out.dtype != torch.uint8 or out.device != images.device:
        raise ValueError(
            f"out must be a uint8 tensor of shape {tuple(images.shape)} on {images.device}, "
            f"got {out.dtype} {tuple(out.shape)} on {out.device}"
        )


def expanded(t: torch.Tensor) -> bool:
    """Whether t holds one element at two indices (a stride-0 dim of size > 1, as `expand` makes): such a tensor
    cannot be written in place element by element."""
    return any(stride == 0 and size > 1 for stride, size in zip(t.stride(), t.shape))


def overlaps(a: torch.Tensor, b: torch.Tensor, a_range: tuple[int, int] | None = None) -> bool:
    """Whether two tensors' memory ranges intersect: by address, so views through another storage (numpy) count.
    `a_range`: a's `byte_range`, when the caller has it (a batch's out= against each input)."""
    if a.device != b.device:
        return False
    a0, a1 = a_range or byte_range(a)
    if b.data_ptr() > a1:  # b starts past a's last byte: its span is not needed
        return False
    return byte_range(b)[1] >= a0
