"""Optional peer libraries: imported when installed, reported as "not installed" otherwise."""

from __future__ import annotations

import importlib

import numpy as np
import torch

PEERS = {
    "timm": "timm",
    "mmengine": "mmengine",
    "albumentations": "albumentations",
    "dali": "nvidia.dali",
    "mmcv": "mmcv",
}


def load(peer: str):
    """(module, None) when `peer` imports, else (None, reason)."""
    try:
        return importlib.import_module(PEERS[peer]), None
    except ImportError:
        return None, "not installed"
    except Exception as exc:  # installed but broken (e.g. built for another torch/CUDA)
        return None, f"fails to import: {type(exc).__name__}: {exc}"


def dali_to_torch(out) -> torch.Tensor:
    """A DALI output batch (CPU or GPU) as one stacked CPU tensor."""
    if hasattr(out, "as_cpu"):
        out = out.as_cpu()
    return torch.stack([torch.from_numpy(np.asarray(out.at(i))) for i in range(len(out))])
