"""Build fastload's extensions: `fastload._C` (the CPU ops, JPEG decoding, rings; needs no CUDA library) and, when
possible, `fastload._C_cuda` (the CUDA ops, loaded only under a CUDA torch). Both use the limited Python API only, so
a wheel is tagged cp310-abi3 and serves CPython 3.10 and later.

Environment:
  FASTLOAD_FORCE_CUDA=1  build the CUDA sources even if torch cannot see a GPU (needs nvcc and a CUDA build of torch)
  FASTLOAD_NO_CUDA=1     never build them
  FASTLOAD_CUDA_EMULATION=1  also build the CUDA kernel sources with the host compiler, as the `fastload_emulation`
                         ops (FASTLOAD_BACKEND=cuda-emulation): the CUDA code runs on the CPU with checked accesses
  FASTLOAD_NO_LIBJPEG=1  build without libjpeg-turbo even when it is found (JPEG files then decode through OpenCV
                         or Pillow)
  FASTLOAD_LIBJPEG_TURBO=<prefix>  link <prefix>/lib/libjpeg.a (headers in <prefix>/include; built with -fPIC); by
                         default the pip package comma-deps-libjpeg (libjpeg-turbo 3.x), else a system libjpeg.a
                         that is position-independent (Debian's is not)
  FASTLOAD_SANITIZE=1    compile with AddressSanitizer + UndefinedBehaviorSanitizer, every report fatal (`make
                         sanitize` builds such a CPU-only copy and runs the decoding, collate and ring tests on it)
  CUDA_HOME              the CUDA toolkit; when unset it is found from `nvcc` (also through wrapper scripts)
  TORCH_CUDA_ARCH_LIST   GPU architectures; defaults to the visible GPUs, or when none is visible to every
                         architecture torch's own CUDA build targets (torch.cuda.get_arch_list()) plus PTX of the
                         newest, as a wheel for other machines needs
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
        dry = subprocess.run(
            [nvcc, "-dryrun", "-x", "cu", "-c", os.devnull], capture_output=True, text=True, timeout=60
        )
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


def _libjpeg_candidates():
    """(name, include dir, static library) of each libjpeg-turbo to try, best first: FASTLOAD_LIBJPEG_TURBO=<prefix>
    (<prefix>/include, <prefix>/lib/libjpeg.a); the pip package comma-deps-libjpeg (libjpeg-turbo 3.x: headers and a
    static, position-independent libjpeg.a; `make` installs it); the system's (pkg-config libjpeg), used only if its
    libjpeg.a is position-independent (Debian's libjpeg62-turbo-dev's is not)."""
    prefix = os.environ.get("FASTLOAD_LIBJPEG_TURBO")
    if prefix:
        yield "FASTLOAD_LIBJPEG_TURBO", os.path.join(prefix, "include"), os.path.join(prefix, "lib", "libjpeg.a")
    try:
        import libjpeg  # comma-deps-libjpeg

        yield "comma-deps-libjpeg", libjpeg.INCLUDE_DIR, os.path.join(libjpeg.LIB_DIR, "libjpeg.a")
    except (ImportError, AttributeError):
        pass
    try:
        run = lambda *a: subprocess.run(["pkg-config", *a, "libjpeg"], capture_output=True, text=True, timeout=30)
        include, libdir = run("--variable=includedir"), run("--variable=libdir")
        if include.returncode == 0 and libdir.returncode == 0:
            yield "system", include.stdout.strip(), os.path.join(libdir.stdout.strip(), "libjpeg.a")
    except (OSError, subprocess.SubprocessError):
        pass
    for libdir in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"):
        yield "system", "/usr/include", os.path.join(libdir, "libjpeg.a")


def _libjpeg():
    """(include dir, static library, version string) of the first libjpeg-turbo candidate that links into a shared
    object (its libjpeg.a built position-independent) and has the box-decoding API (jpeg_crop_scanline,
    jpeg_skip_scanlines); None when none does. It is linked statically with its symbols hidden, so the extension
    needs no libjpeg at run time and never binds to the copies OpenCV, Pillow or torchvision load."""
    if _env_flag("FASTLOAD_NO_LIBJPEG"):
        return None
    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if compiler is None:
        return None
    import tempfile

    probe = (
        "#define FL_STR2(x) #x\n#define FL_STR(x) FL_STR2(x)\n#include <stdio.h>\n#include <jpeglib.h>\n"
        'extern "C" int probe(void) {\n'
        "  return (int)(size_t)&jpeg_skip_scanlines + (int)(size_t)&jpeg_crop_scanline;\n}\n"
        'const char* version = "LIBJPEG_TURBO_VERSION=" FL_STR(LIBJPEG_TURBO_VERSION);\n'
    )
    tried = set()
    for name, include, library in _libjpeg_candidates():
        if library in tried or not (os.path.isfile(os.path.join(include, "jpeglib.h")) and os.path.isfile(library)):
            continue
        tried.add(library)
        with tempfile.TemporaryDirectory() as tmp:
            src, out = os.path.join(tmp, "probe.cpp"), os.path.join(tmp, "probe.so")
            with open(src, "w") as f:
                f.write(probe)
            # Every object of the archive, not only those the probe needs: each must be position-independent to go
            # into a shared object (Debian's libjpeg.a is not: its jerror.o and jchuff.o are refused).
            cmd = [
                compiler,
                "-shared",
                "-fPIC",
                src,
                "-o",
                out,
                f"-I{include}",
                "-Wl,--whole-archive",
                library,
                "-Wl,--no-whole-archive",
                "-Wl,--no-undefined",
                "-Wl,--exclude-libs,ALL",
            ]
            try:
                if subprocess.run(cmd, capture_output=True, timeout=120).returncode != 0:
                    print(
                        f"fastload: {library} ({name}) does not link into a shared object (not built "
                        "position-independent); skipped",
                        file=sys.stderr,
                    )
                    continue
                with open(out, "rb") as f:
                    found = re.search(rb"LIBJPEG_TURBO_VERSION=([0-9.]+)", f.read())
            except (OSError, subprocess.SubprocessError):
                continue
        version = found.group(1).decode() if found else "unknown"
        print(
            f"fastload: JPEG decoder on libjpeg-turbo {version} ({name}: {library}), linked statically", file=sys.stderr
        )
        return include, library, version
    return None


def _sources(pattern):
    return sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, pattern)))


def _write_build_info(cuda: bool) -> None:
    """fastload/_build_info.py: the torch (and CUDA, GPU architectures) the extension is built against, which the
    package compares with the torch it runs under before loading the extension (a mismatch: a warning and the
    reference, not an undefined symbol or a crash). Generated, git-ignored, shipped in the wheel."""
    lines = [
        '"""Written by setup.py when fastload\'s extension was built: what it was built against."""',
        f"TORCH = {torch.__version__!r}",
        f"CUDA = {(torch.version.cuda if cuda else None)!r}",
        f"ARCH_LIST = {(os.environ.get('TORCH_CUDA_ARCH_LIST') if cuda else None)!r}",
    ]
    with open(os.path.join(ROOT, "fastload", "_build_info.py"), "w") as f:
        f.write("\n".join(lines) + "\n")


def _shared_sources():
    """Sources built into both modules: the module stub, each op's argument checks (ops/, less the schema
    definitions, which only the CPU module registers) and the output allocation (memory/output.cpp)."""
    ops = [s for s in _sources("csrc/ops/*.cpp") if not s.endswith("schemas.cpp")]
    return _sources("csrc/module.cpp") + ops + _sources("csrc/memory/output.cpp")


def _arch_list():
    """TORCH_CUDA_ARCH_LIST when set; else every architecture the installed torch's CUDA build targets
    (torch.cuda.get_arch_list(): sm_75 ... sm_120 for 2.14+cu130) as SASS, plus PTX of the newest, so the wheel runs
    natively wherever torch itself does and JIT-compiles on GPUs newer than both."""
    if os.environ.get("TORCH_CUDA_ARCH_LIST"):
        return os.environ["TORCH_CUDA_ARCH_LIST"]
    archs = sorted({int(a[3:]) for a in torch.cuda.get_arch_list() if a.startswith("sm_")})
    if not archs:
        return "9.0+PTX"
    return ";".join(f"{a // 10}.{a % 10}" for a in archs) + "+PTX"


def make_extensions():
    """fastload._C, the CPU ops (needs no CUDA library: a CPU-only torch of the same version loads it), and, when
    CUDA is built, fastload._C_cuda, the CUDA ops (loaded only under a CUDA torch). Both use the limited Python API:
    one build serves every CPython from 3.10 on."""
    cpu = (
        _shared_sources()
        + _sources("csrc/ops/schemas.cpp")
        + _sources("csrc/cpu/*.cpp")
        + _sources("csrc/io/*.cpp")
        + [s for s in _sources("csrc/memory/*.cpp") if not s.endswith(("_cuda.cpp", "output.cpp"))]
    )
    jpeg = _libjpeg()
    if jpeg is None:
        cpu = [s for s in cpu if not os.path.basename(s).startswith("jpeg_")]
        print(
            "fastload: no libjpeg-turbo with a position-independent static libjpeg.a found (pip install "
            "--ignore-requires-python comma-deps-libjpeg); JPEG files will decode through OpenCV or Pillow",
            file=sys.stderr,
        )
    if _env_flag("FASTLOAD_CUDA_EMULATION"):
        cpu += _sources("csrc/emulation/*.cpp")
    # -fopenmp makes at::parallel_for (inline, OpenMP-based in torch) actually run in parallel; the libgomp it needs
    # is the one torch already loaded. -ffp-contract=off keeps (x - mean) * inv_std exact on every ISA clone; the
    # emulation compiles the kernels' `#pragma unroll`s, which only nvcc reads.
    cxx = ["-O3", "-fopenmp", "-ffp-contract=off", "-fvisibility=hidden", "-Wno-unknown-pragmas"]
    sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"] if _env_flag("FASTLOAD_SANITIZE") else []
    cxx += sanitize + (["-fno-omit-frame-pointer", "-g"] if sanitize else [])
    # libjpeg-turbo's headers first: the system's jpeglib.h may be another version than the library linked.
    include_dirs = ([jpeg[0]] if jpeg else []) + [os.path.join(ROOT, "csrc")]
    link = ["-fopenmp"] + ([jpeg[1], "-Wl,--exclude-libs,libjpeg.a"] if jpeg else []) + sanitize
    cuda = _want_cuda()
    if cuda and not torch.cuda.is_available():
        os.environ["TORCH_CUDA_ARCH_LIST"] = _arch_list()
    _write_build_info(cuda=cuda)
    extensions = [
        CppExtension(
            "fastload._C",
            cpu,
            include_dirs=include_dirs,
            extra_compile_args={"cxx": cxx},
            extra_link_args=link,
            py_limited_api=True,
        )
    ]
    if cuda:
        gpu = (
            _shared_sources()
            + _sources("csrc/cuda/*.cpp")
            + _sources("csrc/cuda/*.cu")
            + _sources("csrc/memory/*_cuda.cpp")
        )
        nvcc = ["-O3", "--fmad=false", "-lineinfo", "-std=c++17"]
        extensions.append(
            CUDAExtension(
                "fastload._C_cuda",
                gpu,
                include_dirs=[os.path.join(ROOT, "csrc")],
                extra_compile_args={"cxx": cxx, "nvcc": nvcc},
                extra_link_args=sanitize,
                py_limited_api=True,
            )
        )
    return extensions


class _BuildExtension(BuildExtension):
    """torch's BuildExtension with each extension's objects in a folder of its own: the sources both modules share
    are compiled once for each (with its module name), and in one folder each build would overwrite the other's."""

    def build_extension(self, ext):
        shared_temp = self.build_temp
        self.build_temp = os.path.join(shared_temp, ext.name)
        try:
            super().build_extension(ext)
        finally:
            self.build_temp = shared_temp


def _version(cuda: bool) -> str:
    """fastload's version (fastload/__init__.py) with a local part naming the torch minor and the CUDA it is built
    for, as torch's own wheels do: 0.1.0+pt214cu130, 0.1.0+pt214cpu."""
    with open(os.path.join(ROOT, "fastload", "__init__.py")) as f:
        base = re.search(r'^__version__ = "([^"]+)"', f.read(), re.MULTILINE).group(1)
    major, minor = torch.__version__.split("+")[0].split(".")[:2]
    device = f"cu{torch.version.cuda.replace('.', '')}" if cuda and torch.version.cuda else "cpu"
    return f"{base}+pt{major}{minor}{device}"


def _dependencies() -> list[str]:
    """torch pinned to the minor version the extension is compiled against (its C++ ABI changes between minors);
    Pillow decodes the formats other than JPEG when OpenCV is absent (torchvision installs it too)."""
    major, minor = torch.__version__.split("+")[0].split(".")[:2]
    return [f"torch=={major}.{minor}.*", "numpy", "pillow"]


setup(
    version=_version(_want_cuda()),
    install_requires=_dependencies(),
    ext_modules=make_extensions(),
    cmdclass={"build_ext": _BuildExtension.with_options(use_ninja=True)},
    # The modules use the limited Python API (module.cpp): one wheel, tagged cp310-abi3, for CPython 3.10 and later.
    options={"bdist_wheel": {"py_limited_api": "cp310"}},
)
