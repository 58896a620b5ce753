"""Loading fastload's compiled modules: `fastload._C` (the CPU ops, decoding, rings) unless it was built for another
torch minor, then, under a CUDA torch, `fastload._C_cuda` (the CUDA kernels). A module that cannot load is one
warning saying what to do, never an error: the ops it would have served use the pure-PyTorch reference.

`load_error` (None, or why `_C` is not loaded) and `CUDA_MODULE` ('loaded', or why `_C_cuda` is not) are read by
`fastload._backend`, which derives everything else from the ops the dispatcher then knows.
"""

from __future__ import annotations

import re
import sys
import warnings

import torch


def what_to_do(exc: Exception) -> str:
    """What a user can do about the extension failing to load, from the loader's message."""
    text = str(exc)
    missing = re.search(r"(\S+\.so[.\d]*): cannot open shared object file", text)
    if missing:
        return (
            f"a shared library it links is missing here: {missing.group(1)}; install it, or rebuild fastload "
            "on this machine (`pip install --no-build-isolation .`)"
        )
    if "undefined symbol" in text:
        return (
            "it was built against another torch: rebuild it against the installed one (`pip install "
            "--no-build-isolation .`)"
        )
    if "built against torch" in text:
        return "install the fastload built for this torch, or rebuild it (`pip install --no-build-isolation .`)"
    if isinstance(exc, ModuleNotFoundError):
        return "it was never built: `pip install --no-build-isolation .` builds it"
    return "rebuild it with `pip install --no-build-isolation .`"


def torch_mismatch(built: str, running: str) -> str | None:
    """Why an extension built against torch `built` must not be loaded under torch `running` (another minor
    version: its C++ ABI differs, which shows as an undefined symbol at best, a crash at worst), or None."""
    minor = lambda version: version.split("+")[0].split(".")[:2]  # noqa: E731
    if minor(built) == minor(running):
        return None
    return f"built against torch {built}, not loaded under torch {running}"


def built_against() -> str | None:
    """The torch version the extension was built against (fastload/_build_info.py, written by setup.py), or None
    when the build did not say."""
    try:
        from fastload import _build_info
    except ImportError:
        return None
    return getattr(_build_info, "TORCH", None)


_mismatch = torch_mismatch(built_against() or torch.__version__, torch.__version__)
try:
    if _mismatch is not None:  # checked before loading: a mismatched extension is never loaded
        raise ImportError(_mismatch)
    from fastload import _C  # noqa: F401  (importing runs the TORCH_LIBRARY registrations)

    load_error: str | None = None
except Exception as exc:  # ImportError: not built, a library missing, or an undefined symbol (another torch)
    load_error = f"{type(exc).__name__}: {exc}"
    warnings.warn(
        f"fastload's compiled ops could not be loaded ({load_error}); every op uses the pure-PyTorch reference and "
        f"images decode through OpenCV or Pillow. {what_to_do(exc)}.",
        RuntimeWarning,
        stacklevel=2,
    )


def _load_cuda_module() -> str:
    """Loads fastload._C_cuda (the CUDA kernels, a module of their own so that a CPU-only torch still gets the
    compiled CPU ops) when it can serve: 'loaded', else why not. Only a module that is there and fails to load is
    warned about; its CUDA ops then use the reference."""
    if load_error is not None:
        return "not loaded (the CPU module is not)"
    if torch.version.cuda is None:
        return "not loaded (this torch is a CPU-only build)"
    try:
        from fastload import _C_cuda  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name == "fastload._C_cuda":
            return "not built (no CUDA toolkit when fastload was built)"
        error = exc
    except Exception as exc:  # a CUDA library missing (torch built for another CUDA), an undefined symbol
        error = exc
    else:
        return "loaded"
    warnings.warn(
        f"fastload's CUDA kernels could not be loaded ({type(error).__name__}: {error}); CUDA tensors use the "
        f"pure-PyTorch reference, the CPU ops stay compiled. {what_to_do(error)}.",
        RuntimeWarning,
        stacklevel=2,
    )
    return f"failed to load ({type(error).__name__}: {error})"


CUDA_MODULE = _load_cuda_module()


def build_compiler() -> dict:
    """The compilers the loaded extension was built with, read from its binary (ELF .comment and the CUDA fatbin's
    build string): {"cxx": "GCC 12.2.0 (Debian 12.2.0-14)" or None, "nvcc": "cuda_13.0.r13.0/..." or None}."""
    if load_error is not None:
        return {"cxx": None, "nvcc": None}
    data = b""
    for name in ("fastload._C", "fastload._C_cuda"):
        if name in sys.modules:
            with open(sys.modules[name].__file__, "rb") as f:
                data += f.read()
    cxx = re.search(rb"GCC: \(([^)]*)\) ([0-9.]+)", data)
    nvcc = re.search(rb"Build (cuda_[0-9A-Za-z._/]+)", data)
    return {
        "cxx": f"GCC {cxx.group(2).decode()} ({cxx.group(1).decode()})" if cxx else None,
        "nvcc": nvcc.group(1).decode() if nvcc else None,
    }
