"""The two compiled modules: fastload._C (CPU ops, decoding, rings; no CUDA library) and fastload._C_cuda (CUDA
kernels, loaded only under a CUDA torch). A CPU-only torch, or a CUDA module that fails to load, still gets every
CPU op compiled; both use only the limited Python API (abi3)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import fastload as fl
from fastload import _backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CUDA_LIBRARIES = ("libcudart", "libc10_cuda", "libtorch_cuda", "libcuda.")
needs_extension = pytest.mark.skipif(not _backend.extension_loaded(), reason="extension not built")


def needed(path: str) -> list[str]:
    """The shared libraries an ELF file names (readelf -d)."""
    text = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    return [line.split("[")[1].split("]")[0] for line in text.splitlines() if "(NEEDED)" in line]


def run(code: str) -> None:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_extension
def test_the_cpu_module_needs_no_cuda_library_and_is_abi3():
    cpu = sys.modules["fastload._C"].__file__
    assert cpu.endswith(".abi3.so"), cpu  # one build for every CPython >= 3.10
    libs = needed(cpu)
    assert "libtorch_cpu.so" in libs and not [lib for lib in libs if lib.startswith(CUDA_LIBRARIES)], libs
    assert "libtorch_python.so" not in libs, libs  # the limited API: no torch Python bindings


@needs_extension
def test_the_cuda_module_holds_the_cuda_ops():
    if fl.backend_info()["cuda_module"] != "loaded":
        pytest.skip(fl.backend_info()["cuda_module"])
    cuda = sys.modules["fastload._C_cuda"].__file__
    assert cuda.endswith(".abi3.so") and "libc10_cuda.so" in needed(cuda), cuda
    assert _backend.has_kernel("normalize", "cuda") and _backend.defines("fastload::_page_lock")


@needs_extension
def test_a_cpu_only_torch_gets_the_compiled_cpu_ops():
    # What a CPU-only torch of the same version looks like to fastload: torch.version.cuda is None. The CUDA module
    # is then never imported (it would need libc10_cuda), no warning is given, and every CPU op stays compiled.
    run(
        "import sys, warnings, torch\n"
        "torch.version.cuda = None\n"
        "with warnings.catch_warnings():\n"
        "    warnings.simplefilter('error')\n"
        "    import fastload as fl\n"
        "info = fl.backend_info()\n"
        "assert 'fastload._C_cuda' not in sys.modules\n"
        "assert info['cuda_module'] == 'not loaded (this torch is a CPU-only build)', info['cuda_module']\n"
        "assert all(v['cpu'] == 'compiled' for v in info['ops'].values()), info['ops']\n"
        "assert info['ops']['normalize']['cuda'].startswith(\"reference (fastload's CUDA module not loaded\")\n"
        "assert not fl._backend.defines('fastload::_page_lock')\n"
        "x = torch.zeros(4, 5, 3, dtype=torch.uint8)\n"
        "assert fl.normalize(x, fl.IMAGENET).shape == (3, 4, 5)\n"
    )


@needs_extension
def test_a_cuda_module_that_fails_to_load_leaves_the_cpu_ops_compiled():
    # A CUDA module whose libraries are missing (a torch built for another CUDA): one warning naming the library and
    # what to do, CUDA tensors on the reference, the CPU ops compiled.
    run(
        "import sys, warnings, importlib.abc\n"
        "class Broken(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'fastload._C_cuda':\n"
        "            raise ImportError('libcudart.so.12: cannot open shared object file: No such file or directory')\n"
        "sys.meta_path.insert(0, Broken())\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import fastload as fl, torch\n"
        "info = fl.backend_info()\n"
        "[w] = [str(w.message) for w in caught if 'CUDA kernels could not be loaded' in str(w.message)]\n"
        "assert 'libcudart.so.12' in w and 'the CPU ops stay compiled' in w, w\n"
        "assert info['extension_loaded'] and info['cuda_module'].startswith('failed to load (ImportError'), info\n"
        "assert all(v['cpu'] == 'compiled' for v in info['ops'].values()), info['ops']\n"
        "assert info['ops']['normalize']['cuda'].startswith('reference'), info['ops']['normalize']\n"
    )
