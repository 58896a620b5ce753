"""fastload: decoded images -> model-ready PyTorch batches, each job in one fused pass (C++/CUDA, with a pure-PyTorch
fallback)."""

from __future__ import annotations

import torch

from fastload import _ops, reference, transforms, utils
from fastload.collate import PadCollate
from fastload.functional import (
    PaddedBatch,
    denormalize,
    normalize,
    pack_images,
    pad_batch,
    resize_pad_batch,
    to_numpy_images,
)
from fastload.geometry import rescale_size
from fastload.normalization import CAFFE, IMAGENET, Normalization
from fastload.loader import DevicePrefetcher
from fastload.packed import PackedImages
from fastload.utils import compute_mean_std, conv_output_size, load_pretrained, to_tensor

__version__ = "0.1.0"

__all__ = [
    "CAFFE",
    "DevicePrefetcher",
    "IMAGENET",
    "Normalization",
    "PackedImages",
    "PadCollate",
    "PaddedBatch",
    "backend_info",
    "compute_mean_std",
    "conv_output_size",
    "denormalize",
    "load_pretrained",
    "normalize",
    "pack_images",
    "pad_batch",
    "reference",
    "rescale_size",
    "resize_pad_batch",
    "to_numpy_images",
    "to_tensor",
    "transforms",
    "utils",
]


def backend_info() -> dict:
    """Which backend serves each op on each device, and why.

    Returns a dict: `extension_loaded` (bool), `load_error` (str or None), `backend` ('auto' or 'reference'),
    `cpu_capability`, `cuda_available`, and `ops`: {op: {"cpu": ..., "cuda": ...}} where each entry is "compiled" or
    "reference (<reason>)".
    """
    ops = {}
    for op in _ops.OPS:
        ops[op] = {}
        for device in ("cpu", "cuda"):
            reason = _ops.why_not_compiled(op, device)
            if reason is not None:
                ops[op][device] = f"reference ({reason})"
            elif device == "cuda" and not torch.cuda.is_available():
                ops[op][device] = "compiled (no CUDA device visible)"
            else:
                ops[op][device] = "compiled"
    return {
        "version": __version__,
        "extension_loaded": _ops.extension_loaded(),
        "load_error": _ops.load_error,
        "backend": _ops.get_backend(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cuda_available": torch.cuda.is_available(),
        "ops": ops,
    }
