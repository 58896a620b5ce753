"""Shared fixtures: the devices to test on and the backends (compiled kernels, pure-PyTorch reference) to compare."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from fastload import _backend

CUDA = torch.cuda.is_available()
# Under `make sanitize`: AddressSanitizer keeps freed memory in quarantine on purpose, so RSS bounds do not hold there
# (the ordinary run checks them).
SANITIZED = bool(os.environ.get("FASTLOAD_SANITIZER"))
pytest_plugins = ["files"]  # the JPEG tree fixture of the files tests


def devices():
    return ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "cuda" in item.keywords and not CUDA:
            item.add_marker(skip)


backend = _backend.backend


def require_compiled(op: str, device: str):
    reason = _backend.why_not_compiled(op, device)
    if reason is not None:
        pytest.fail(f"compiled {op} missing on {device}: {reason}")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
