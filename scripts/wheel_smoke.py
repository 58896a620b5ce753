"""Run by scripts/wheel_check.sh inside a fresh venv holding only torch, numpy and the installed wheel: the package
imports from outside any source tree, every op is served by the compiled kernels on the CPU, `decode_image` gives
OpenCV's pixels for the JPEGs in the folder given (each `<name>.jpg` beside its `<name>.jpg.npy`) with no libjpeg
of the system's loaded, and the CUDA module loads under a CUDA torch. With `--cpu-only-torch` the torch is made to
look like a CPU-only build (torch.version.cuda None, as there): the CUDA module is then never loaded, and nothing
else changes."""

import glob
import os
import sys
import warnings

import numpy as np
import torch

cpu_only = "--cpu-only-torch" in sys.argv
if cpu_only:
    torch.version.cuda = None

with warnings.catch_warnings():
    warnings.simplefilter("error")  # any load problem is a failure here
    import fastload as fl

info = fl.backend_info()
assert info["extension_loaded"], info["load_error"]
assert not os.path.exists(os.path.join(os.getcwd(), "fastload", "__init__.py")), "run from outside the source tree"
not_compiled = {op: where["cpu"] for op, where in info["ops"].items() if where.get("cpu") != "compiled"}
assert not not_compiled, f"ops not compiled on the CPU: {not_compiled}"
assert info["jpeg_decoder"].startswith("libjpeg-turbo"), info["jpeg_decoder"]
if cpu_only:
    assert info["cuda_module"] == "not loaded (this torch is a CPU-only build)", info["cuda_module"]
    assert "fastload._C_cuda" not in sys.modules
elif torch.version.cuda is not None and fl._extension.build_compiler()["nvcc"] is not None:
    assert info["cuda_module"] == "loaded", info["cuda_module"]
files = sorted(glob.glob(os.path.join(sys.argv[1], "*.jpg")))
assert files, "no JPEGs to decode"
for path in files:
    got = fl.decode_image(fl.EncodedImage.from_file(path))
    assert torch.equal(got, torch.from_numpy(np.load(path + ".npy"))), f"{path}: not OpenCV's pixels"
with open("/proc/self/maps") as maps:
    loaded = sorted({line.split()[-1] for line in maps if "libjpeg" in line})
assert not loaded, f"a libjpeg was loaded: {loaded}"
print(
    f"   {'as a CPU-only torch: ' if cpu_only else ''}fastload {fl.__version__} with torch {torch.__version__} "
    f"(CUDA {torch.version.cuda}), Python {sys.version.split()[0]}: {len(info['ops'])} ops compiled on the CPU, "
    f"{len(files)} JPEGs decoded exactly ({info['jpeg_decoder']}, no system libjpeg loaded); CUDA module "
    f"{info['cuda_module']}"
)
