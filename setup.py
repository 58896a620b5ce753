"""Build fastload's C++ (and, when possible, CUDA) extension `fastload._C`.

Environment:
  FASTLOAD_FORCE_CUDA=1  build the CUDA sources even if torch cannot see a GPU (needs nvcc and a CUDA build of torch)
  FASTLOAD_NO_CUDA=1     never build them
  FASTLOAD_CUDA_EMULATION=1  also build the CUDA kernel sources with the host compiler, as the `fastload_emulation`
                         ops (FASTLOAD_BACKEND=cuda-emulation): the CUDA code runs on the CPU with checked accesses
  FASTLOAD_NO_LIBJPEG=1  build without libjpeg-turbo even when it is found (JPEG files then decode through OpenCV)
  CUDA_HOME              the CUDA toolkit; when unset it is found from `nvcc` (also through wrapper scripts)
  TORCH_CUDA_ARCH_LIST   GPU architectures; defaults to the visible GPUs, or "9.0+PTX" when none is visible
"""

import glob
import os
import re
import shutil
import subprocess
import sys

from setuptools import setup

ROOT = os.path.dirname(os.path.abspath(__file__))


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _find_cuda_home():
    """The real toolkit folder. An `nvcc` on PATH may be a wrapper script outside the toolkit, which misleads torch's
    own guess (parent of nvcc's folder), so ask nvcc itself: its dry run prints the toolkit's TOP."""
    if os.environ.get("CUDA_HOME"):
        return os.environ["CUDA_HOME"]
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        return None
    try:
        dry = subprocess.run([nvcc, "-dryrun", "-x", "cu", "-c", os.devnull], capture_output=True, text=True, timeout=60)
        match = re.search(r"^#\$ TOP=(.+)$", dry.stdout + dry.stderr, re.MULTILINE)
    except (OSError, subprocess.SubprocessError):
        match = None
    if match:
        return os.path.realpath(match.group(1).strip())
    return os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))


# torch.utils.cpp_extension reads CUDA_HOME when it is imported, so settle it first.
_cuda_home = None if _env_flag("FASTLOAD_NO_CUDA") else _find_cuda_home()
if _cuda_home:
    os.environ["CUDA_HOME"] = _cuda_home

import torch  # noqa: E402
from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension  # noqa: E402


def _want_cuda():
    if _env_flag("FASTLOAD_NO_CUDA"):
        return False
    if _env_flag("FASTLOAD_FORCE_CUDA"):
        return True
    return torch.version.cuda is not None and _cuda_home is not None


def _libjpeg():
    """(include dirs, library dirs) of libjpeg-turbo when its headers and library are found (pkg-config libjpeg,
    else the compiler's default paths), or None. Only libjpeg-turbo has jpeg_crop_scanline/jpeg_skip_scanlines."""
    if _env_flag("FASTLOAD_NO_LIBJPEG"):
        return None
    include, lib = [], []
    try:
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libjpeg"], capture_output=True, text=True,
                               timeout=30)
        if flags.returncode == 0:
            include = [f[2:] for f in flags.stdout.split() if f.startswith("-I")]
            lib = [f[2:] for f in flags.stdout.split() if f.startswith("-L")]
    except (OSError, subprocess.SubprocessError):
        pass
    probe = "#include <stdio.h>\n#include <jpeglib.h>\nint main(void) { return (int)(size_t)&jpeg_skip_scanlines; }\n"
    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if compiler is None:
        return None
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.cpp")
        with open(src, "w") as f:
            f.write(probe)
        cmd = [compiler, src, "-o", os.path.join(tmp, "probe")] + [f"-I{d}" for d in include] + \
            [f"-L{d}" for d in lib] + ["-ljpeg"]
        try:
            ok = subprocess.run(cmd, capture_output=True, timeout=120).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
    return (include, lib) if ok else None


def _sources(pattern):
    return sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, pattern)))


def make_extension():
    sources = _sources("csrc/module.cpp") + _sources("csrc/ops/*.cpp") + _sources("csrc/cpu/*.cpp")
    jpeg = _libjpeg()
    if jpeg is None:
        sources = [s for s in sources if not s.endswith("jpeg_decode.cpp")]
        print("fastload: libjpeg-turbo not found; JPEG files will decode through OpenCV", file=sys.stderr)
    if _env_flag("FASTLOAD_CUDA_EMULATION"):
        sources += _sources("csrc/emulation/*.cpp")
    # -fopenmp makes at::parallel_for (inline, OpenMP-based in torch) actually run in parallel; the libgomp it needs
    # is the one torch already loaded. -ffp-contract=off keeps (x - mean) * inv_std exact on every ISA clone; the
    # emulation compiles the kernels' `#pragma unroll`s, which only nvcc reads.
    cxx = ["-O3", "-fopenmp", "-ffp-contract=off", "-fvisibility=hidden", "-Wno-unknown-pragmas"]
    include_dirs = [os.path.join(ROOT, "csrc")] + (jpeg[0] if jpeg else [])
    libs = dict(libraries=["jpeg"], library_dirs=jpeg[1]) if jpeg else {}
    if not _want_cuda():
        return CppExtension("fastload._C", sources, include_dirs=include_dirs,
                            extra_compile_args={"cxx": cxx}, extra_link_args=["-fopenmp"], **libs)
    if not os.environ.get("TORCH_CUDA_ARCH_LIST") and not torch.cuda.is_available():
        os.environ["TORCH_CUDA_ARCH_LIST"] = "9.0+PTX"
    sources += _sources("csrc/cuda/*.cpp") + _sources("csrc/cuda/*.cu")
    nvcc = ["-O3", "--fmad=false", "-lineinfo", "-std=c++17"]
    return CUDAExtension("fastload._C", sources, include_dirs=include_dirs,
                         extra_compile_args={"cxx": cxx, "nvcc": nvcc},
                         extra_link_args=["-fopenmp"], **libs)


setup(
    ext_modules=[make_extension()],
    cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)},
)
