"""Loads the compiled extension, registers fake kernels, and decides which backend serves each call.

Every op exists twice: `torch.ops.fastload.<op>` (C++/CUDA, when the extension loaded and has a kernel for the
device) and `fastload.reference.<op>` (pure PyTorch, same signature). `FASTLOAD_BACKEND=reference` forces the
reference everywhere.
"""

from __future__ import annotations

import contextlib
import os
import warnings

import torch

from fastload import reference

_BACKENDS = ("auto", "reference")
_backend = os.environ.get("FASTLOAD_BACKEND", "auto").strip().lower() or "auto"
if _backend not in _BACKENDS:
    warnings.warn(f"FASTLOAD_BACKEND={_backend!r} is not one of {_BACKENDS}; using 'auto'", RuntimeWarning)
    _backend = "auto"

try:
    from fastload import _C  # noqa: F401  (importing runs the TORCH_LIBRARY registrations)

    load_error: str | None = None
except Exception as exc:  # ImportError, or an undefined symbol from a torch version mismatch
    load_error = f"{type(exc).__name__}: {exc}"
    warnings.warn(
        f"fastload's compiled ops could not be loaded ({load_error}); every op uses the pure-PyTorch reference. "
        "Rebuild with `pip install --no-build-isolation .` against the installed torch.",
        RuntimeWarning,
        stacklevel=2,
    )

OPS = ("normalize", "normalize_into", "denormalize", "pad_batch", "pad_batch_packed", "resize_pad_batch",
       "resize_pad_batch_packed", "channel_stats")


def extension_loaded() -> bool:
    return load_error is None


def set_backend(name: str) -> None:
    """'auto' (compiled kernels where available) or 'reference' (pure PyTorch everywhere)."""
    global _backend
    if name not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {name!r}")
    _backend = name


def get_backend() -> str:
    return _backend


@contextlib.contextmanager
def backend(name: str):
    """Run a block with the backend forced to 'auto' (compiled kernels) or 'reference' (pure PyTorch)."""
    previous = _backend
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def _registered_kernels() -> frozenset[tuple[str, str]]:
    if load_error is not None:
        return frozenset()
    return frozenset(
        (op, device)
        for op in OPS
        for device in ("cpu", "cuda")
        if torch._C._dispatch_has_kernel_for_dispatch_key(f"fastload::{op}", device.upper())
    )


# Looked up once: asking the dispatcher on every call would also break torch.compile's tracing.
_KERNELS = _registered_kernels()


def has_kernel(op: str, device_type: str) -> bool:
    """Whether the compiled extension has a kernel of `op` for `device_type` ('cpu' or 'cuda')."""
    return (op, device_type) in _KERNELS


def why_not_compiled(op: str, device_type: str) -> str | None:
    """None when the compiled kernel serves `op` on `device_type`; otherwise the reason it does not."""
    if _backend == "reference":
        return "FASTLOAD_BACKEND=reference"
    if load_error is not None:
        return f"extension not loaded ({load_error})"
    if device_type not in ("cpu", "cuda"):
        return f"no compiled kernels for device type {device_type!r}"
    if not has_kernel(op, device_type):
        return f"extension built without {device_type.upper()} kernels"
    return None


def pick(op: str, device: torch.device):
    """The callable that serves `op` for a tensor on `device`: the compiled op or the reference."""
    if _backend == "auto" and (op, device.type) in _KERNELS:
        return getattr(torch.ops.fastload, op).default
    return getattr(reference, op)


if load_error is None:

    @torch.library.register_fake("fastload::normalize")
    def _normalize_fake(img, mean, inv_std, channel_map, flip_dims, dtype, channels_last):
        return reference.normalize_output(img, dtype, channels_last)

    @torch.library.register_fake("fastload::denormalize")
    def _denormalize_fake(x, mean, std, channel_map):
        return reference.denormalize_output(x)

    @torch.library.register_fake("fastload::pad_batch")
    def _pad_batch_fake(images, flip_masks, batch_hw, mean, inv_std, channel_map, pad_value, dtype, channels_last):
        return reference.pad_batch_output(len(images), images[0].shape[-1], batch_hw, mean is not None, dtype,
                                          channels_last, images[0].device)

    @torch.library.register_fake("fastload::pad_batch_packed")
    def _pad_batch_packed_fake(data, offsets, sizes, channels, batch_hw, mean, inv_std, channel_map, pad_value,
                               dtype, channels_last):
        return reference.pad_batch_output(offsets.shape[0], channels, batch_hw, mean is not None, dtype,
                                          channels_last, data.device)

    @torch.library.register_fake("fastload::resize_pad_batch")
    def _resize_pad_batch_fake(images, flip_masks, new_sizes, batch_hw, mean, inv_std, channel_map, pad_value,
                               interpolation, dtype, channels_last):
        return reference.pad_batch_output(len(images), images[0].shape[-1], batch_hw, True, dtype, channels_last,
                                          images[0].device)

    @torch.library.register_fake("fastload::resize_pad_batch_packed")
    def _resize_pad_batch_packed_fake(data, offsets, sizes, channels, new_sizes, batch_hw, mean, inv_std,
                                      channel_map, pad_value, interpolation, dtype, channels_last):
        return reference.pad_batch_output(offsets.shape[0], channels, batch_hw, True, dtype, channels_last,
                                          data.device)

    @torch.library.register_fake("fastload::channel_stats")
    def _channel_stats_fake(images, flip_masks):
        return images[0].new_empty((2, images[0].shape[-1]), dtype=torch.int64)

    @torch.library.register_fake("fastload::normalize_into")
    def _normalize_into_fake(img, mean, inv_std, channel_map, flip_dims, out):
        return None
