"""The built CUDA kernels (SASS in fastload/_C_cuda*.so, read with cuobjdump; no GPU needed): none has a stack frame or
local memory, which would mean a per-thread array spilled out of registers or a kernel parameter indexed at run
time."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess

import pytest

from fastload import _backend


def cuobjdump() -> str | None:
    """The CUDA toolkit's cuobjdump, pip's nvidia-cuda-cuobjdump, or the copy bundled with triton."""
    found = shutil.which("cuobjdump")
    if found:
        return found
    import torch

    site = os.path.dirname(os.path.dirname(torch.__file__))
    for pattern in (
        "nvidia/cu*/bin/cuobjdump",
        "nvidia/cuda_cuobjdump/bin/cuobjdump",
        "triton/backends/nvidia/bin/cuobjdump",
    ):
        hits = sorted(glob.glob(os.path.join(site, pattern)))
        if hits:
            return hits[0]
    return None


def resource_usage() -> list[dict]:
    tool = cuobjdump()
    if tool is None:
        pytest.skip("no cuobjdump (pip install nvidia-cuda-cuobjdump)")
    from fastload import _C_cuda

    text = subprocess.run(
        [tool, "--dump-resource-usage", _C_cuda.__file__], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    kernels, name = [], None
    for line in text.splitlines():
        match = re.search(r"Function (\S+):", line)
        if match:
            name = match.group(1)
            continue
        match = re.search(r"REG:(\d+) STACK:(\d+) SHARED:(\d+) LOCAL:(\d+)", line)
        if match and name:
            reg, stack, shared, local = map(int, match.groups())
            kernels.append(dict(name=name, reg=reg, stack=stack, shared=shared, local=local))
            name = None
    return kernels


def test_no_kernel_has_a_stack_frame_or_local_memory():
    if not _backend.has_kernel("normalize", "cuda"):
        pytest.skip("built without the CUDA sources")
    kernels = resource_usage()
    assert len(kernels) >= 30, kernels  # every instantiation of the five kernel files
    offenders = [k for k in kernels if k["stack"] or k["local"]]
    assert not offenders, "\n".join(f"{k['name']}: STACK {k['stack']} LOCAL {k['local']}" for k in offenders)


def test_every_kernel_keeps_at_least_half_occupancy():
    # 256 threads a block and 64K registers an SM (H100/H200): 64 registers or fewer keep 4 blocks (half of the
    # 2048 threads) resident. Most kernels need 32 or fewer (full occupancy); resize_pad_batch's gathers and
    # channel_stats' 64-bit sums are capped through their kMinBlocks (RESULTS.md lists them all).
    if not _backend.has_kernel("normalize", "cuda"):
        pytest.skip("built without the CUDA sources")
    heavy = [k for k in resource_usage() if k["reg"] > 64]
    assert not heavy, "\n".join(f"{k['name']}: {k['reg']} registers" for k in heavy)
