"""Run by scripts/wheel_check.sh inside a fresh venv holding only torch, numpy and the installed wheel: the package
imports from outside any source tree, every op is served by the compiled kernels on the CPU, and `decode_image`
gives OpenCV's pixels for the JPEGs in the folder given (each `<name>.jpg` beside its `<name>.jpg.npy`)."""

import glob
import os
import sys

import numpy as np
import torch

import fastload as fl

info = fl.backend_info()
assert info["extension_loaded"], info["load_error"]
assert not os.path.exists(os.path.join(os.getcwd(), "fastload", "__init__.py")), "run from outside the source tree"
not_compiled = {op: where["cpu"] for op, where in info["ops"].items() if where.get("cpu") != "compiled"}
assert not not_compiled, f"ops not compiled on the CPU: {not_compiled}"
assert info["jpeg_decoder"].startswith("libjpeg-turbo"), info["jpeg_decoder"]
files = sorted(glob.glob(os.path.join(sys.argv[1], "*.jpg")))
assert files, "no JPEGs to decode"
for path in files:
    got = fl.decode_image(fl.EncodedImage.from_file(path))
    assert torch.equal(got, torch.from_numpy(np.load(path + ".npy"))), f"{path}: not OpenCV's pixels"
print(
    f"fastload {fl.__version__} from {os.path.dirname(fl.__file__)} with torch {torch.__version__} "
    f"(CUDA {torch.version.cuda}): {len(info['ops'])} ops compiled on the CPU, {len(files)} JPEGs decoded exactly "
    f"({info['jpeg_decoder']})"
)
