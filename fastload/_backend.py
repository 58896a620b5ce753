"""Which implementation serves each op: everything derived from the op table (`fastload._op_table`) and the
compiled modules `fastload._extension` loaded: fake kernels, backend choice, backend_info and the reason a compiled
kernel is not used.

Each op exists two or three times: `torch.ops.fastload.<name>` (C++/CUDA, when the extension loaded and has a
kernel for the device), `fastload.reference.<name>` (pure PyTorch, same signature), and in an emulation build
`torch.ops.fastload_emulation.<name>` (the CUDA kernel sources run on the CPU, every access bounds-checked).
`FASTLOAD_BACKEND=reference` or `=cuda-emulation` forces one of the latter everywhere; `backend(...)` does so for
one block of one thread.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import warnings
from collections.abc import Callable

import torch

from fastload._extension import CUDA_MODULE, load_error
from fastload._op_table import DEVICE_TYPES, OPS

BACKENDS = ("auto", "reference", "cuda-emulation")


# Every operator name the dispatcher knows once the extension's modules have loaded (read once).
DEFINED = frozenset(torch._C._dispatch_get_all_op_names()) if load_error is None else frozenset()


def defines(qualified_name: str) -> bool:
    """Whether the loaded build defines the op `qualified_name` ("fastload::_jpeg_decode"): some are optional."""
    return qualified_name in DEFINED


def jpeg_library() -> str:
    """What decodes JPEG files, for backend_info: 'libjpeg-turbo <version>' when the build has fastload's decoder
    (linked statically at build time), else the library that decodes them instead: 'opencv' or 'pillow'.
    (`fastload.io.decode.jpeg_decoder()` gives the same choice without the version.)"""
    if defines("fastload::_jpeg_decode"):
        return torch.ops.fastload._jpeg_version()
    from fastload.io import formats  # the decoders of the other formats (imported here: it builds on this module)

    return formats.decoder()


def _registered_kernels(namespace: str) -> frozenset[tuple[str, str]]:
    """(op, device type) pairs with a kernel registered under `namespace` ('fastload', or 'fastload_emulation', which
    only an emulation build defines); looked up once, since asking the dispatcher on every call would also break
    torch.compile's tracing. An op the loaded build does not define is simply absent: the dispatcher's kernel query
    raises for undefined ops, so the defined names are read first."""
    return frozenset(
        (op.name, device)
        for op in OPS.values()
        for device in op.devices
        if f"{namespace}::{op.name}" in DEFINED
        and torch._C._dispatch_has_kernel_for_dispatch_key(f"{namespace}::{op.name}", device.upper())
    )


KERNELS = _registered_kernels("fastload")
# Ops the CUDA emulation serves (CPU tensors through the CUDA kernel code); empty unless built with
# FASTLOAD_CUDA_EMULATION=1.
EMULATED = frozenset(op for op, device in _registered_kernels("fastload_emulation") if device == "cpu")

if load_error is None:
    for _op in OPS.values():
        torch.library.register_fake(f"fastload::{_op.name}")(_op.fake)
        if _op.name in EMULATED:
            torch.library.register_fake(f"fastload_emulation::{_op.name}")(_op.fake)

# The process-wide choice (environment or set_backend) and a per-thread/per-task override (backend()).
_default = os.environ.get("FASTLOAD_BACKEND", "auto").strip().lower() or "auto"
_default_source = f"FASTLOAD_BACKEND={_default}"
if _default not in BACKENDS:
    warnings.warn(f"FASTLOAD_BACKEND={_default!r} is not one of {BACKENDS}; using 'auto'", RuntimeWarning, stacklevel=2)
    _default = "auto"
_override: contextvars.ContextVar[str | None] = contextvars.ContextVar("fastload_backend", default=None)


def _check_backend(name) -> str:
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    return name


def set_backend(name: str) -> None:
    """Process-wide: 'auto' (compiled kernels where available), 'reference' (pure PyTorch everywhere) or
    'cuda-emulation' (CPU tensors through the CUDA kernel code, where built; the reference elsewhere)."""
    global _default, _default_source
    _default = _check_backend(name)
    _default_source = f"fastload set_backend({name!r})"


def get_backend() -> str:
    """The backend in force in this thread: a `backend()` block's, else the process-wide one."""
    return _override.get() or _default


# What torch.compile sees: the backend when the function was traced, as a constant (torch 2.13's dynamo cannot trace
# ContextVar.get; later releases trace it, to the same constant).
_traced_backend = torch.compiler.assume_constant_result(get_backend)


@contextlib.contextmanager
def backend(name: str):
    """Run a block of this thread (or asyncio task) with the backend forced to 'auto', 'reference' or
    'cuda-emulation'; other threads keep theirs."""
    token = _override.set(_check_backend(name))
    try:
        yield
    finally:
        _override.reset(token)


CPU_SIMD = ("none", "avx2", "avx512")


@contextlib.contextmanager
def cpu_simd(widest: str):
    """Run a block with the CPU kernels' hand-written SIMD loops capped at `widest` ("avx512": all the machine has,
    "avx2", "none": the portable loops), process-wide: the tests run each against the reference on any machine."""
    if widest not in CPU_SIMD:
        raise ValueError(f"widest must be one of {CPU_SIMD}, got {widest!r}")
    if load_error is not None:
        yield
        return
    previous = torch.ops.fastload._cpu_simd(CPU_SIMD.index(widest))
    try:
        yield
    finally:
        torch.ops.fastload._cpu_simd(previous)


def extension_loaded() -> bool:
    return load_error is None


def has_kernel(op: str, device_type: str) -> bool:
    """Whether the compiled extension has a kernel of `op` for `device_type` ('cpu' or 'cuda')."""
    return (op, device_type) in KERNELS


def why_not_compiled(op: str, device_type: str) -> str | None:
    """None when the compiled kernel serves `op` on `device_type` in this thread; otherwise the reason it does not
    (which names the backend that serves it instead)."""
    chosen = get_backend()
    if chosen != "auto":
        return f"inside a fastload backend({chosen!r}) block" if _override.get() else _default_source
    if load_error is not None:
        return f"extension not loaded ({load_error})"
    if device_type not in OPS[op].devices:
        return f"no compiled kernels for device type {device_type!r}"
    if device_type == "cuda" and CUDA_MODULE != "loaded":
        return f"fastload's CUDA module {CUDA_MODULE}"
    if not has_kernel(op, device_type):
        return f"extension built without {device_type.upper()} kernels"
    return None


def pick(op: str, device: torch.device, *, packed: bool = False) -> Callable:
    """The callable that serves `op` (or its packed twin) for tensors on `device`: compiled op or reference."""
    spec = OPS[op]
    if packed:
        spec = OPS[spec.packed]
    chosen = _traced_backend() if torch.compiler.is_compiling() else get_backend()
    if chosen == "auto" and (spec.name, device.type) in KERNELS:
        return getattr(torch.ops.fastload, spec.name).default
    if chosen == "cuda-emulation" and device.type == "cpu" and spec.name in EMULATED:
        return getattr(torch.ops.fastload_emulation, spec.name).default
    return spec.reference


def emulation_launch_log() -> list[str]:
    """The CUDA-emulation kernels launched since the last call (\"name GxH blocks of T\"), oldest first; clears it."""
    if not EMULATED:
        return []
    return list(torch.ops.fastload_emulation.launch_log())


def backend_info() -> dict:
    """Which backend serves each op on each device, and why (`fastload info` prints it).

    Returns:
        A dict: `extension_loaded` (bool), `load_error` (str or None: what to do about it), `backend` ("auto" or
            "reference"), `cuda_emulation` (bool), `jpeg_decoder` ("libjpeg-turbo 3.1.0": the library linked in;
            "opencv" or "pillow" in a build without it), `cuda_module` ("loaded", or why fastload._C_cuda, the CUDA
            kernels, is not: "not built", "not loaded (this torch is a CPU-only build)", "failed to load (...)"),
            `cpu_capability` (the SIMD loops in use), `cuda_available`, and
            `ops`: {op: {"cpu": ..., "cuda": ...}}, each "compiled", "compiled (no CUDA device visible)" or
            "reference (<reason>)".
    """
    ops = {}
    for name in OPS:
        ops[name] = {}
        for device in DEVICE_TYPES:
            reason = why_not_compiled(name, device)
            emulated = get_backend() == "cuda-emulation" and device == "cpu" and name in EMULATED
            if reason is not None:
                ops[name][device] = f"{'cuda-emulation' if emulated else 'reference'} ({reason})"
            elif device == "cuda" and not torch.cuda.is_available():
                ops[name][device] = "compiled (no CUDA device visible)"
            else:
                ops[name][device] = "compiled"
    return {
        "extension_loaded": extension_loaded(),
        "load_error": load_error,
        "backend": get_backend(),
        "cuda_module": CUDA_MODULE,
        "cuda_emulation": "built" if EMULATED else "not built (FASTLOAD_CUDA_EMULATION=1 at build time)",
        "jpeg_decoder": jpeg_library(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cuda_available": torch.cuda.is_available(),
        "ops": ops,
    }
