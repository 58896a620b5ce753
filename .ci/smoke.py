"""Run from outside the source tree after a user-style install (.ci/user_install): the package imports, the build
is the one README describes (compiled kernels, no CUDA emulation), and an op gives the reference's bits: through
the compiled kernel by default, through the reference with --reference (FASTLOAD_BACKEND=reference)."""

import os
import sys

import numpy as np
import torch

import fastload as fl

want_reference = "--reference" in sys.argv
assert not os.path.exists(os.path.join(os.getcwd(), "fastload", "__init__.py")), "run from outside the source tree"
assert fl._backend.extension_loaded(), fl.backend_info()["load_error"]
assert not fl._backend.EMULATED, "a user build has no CUDA emulation"
assert os.path.exists(os.path.join(os.path.dirname(fl.__file__), "py.typed")), "the wheel ships py.typed (PEP 561)"
served = fl.backend_info()["ops"]["normalize"]["cpu"]
assert served.startswith("reference (FASTLOAD_BACKEND") if want_reference else served == "compiled", served

img = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)[:, ::-1]  # odd sizes, negative stride
got = fl.normalize(img, fl.IMAGENET, dtype=torch.float16)
with fl._backend.backend("reference"):
    expected = fl.normalize(img, fl.IMAGENET, dtype=torch.float16)
assert got.shape == (3, 37, 53) and torch.equal(got, expected)
print(
    f"fastload {fl.__version__} from {os.path.dirname(fl.__file__)}: normalize on the CPU served by {served!r}, "
    f"equal to the reference"
)
