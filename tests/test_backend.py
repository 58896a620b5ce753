"""Backend selection: the compiled extension is used when present; without it (or when forced) the reference is."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

import fastload as fl
from fastload import _backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env={**os.environ, **env}, timeout=300
    )


def test_extension_is_loaded_here():
    info = fl.backend_info()
    assert info["extension_loaded"], info["load_error"]
    assert info["ops"]["normalize"]["cpu"] == "compiled"
    assert info["ops"]["normalize"]["cuda"].startswith("compiled")  # CUDA sources are built even without a GPU


def test_missing_extension_warns_once_and_falls_back():
    code = """
import sys, warnings, json
sys.modules['fastload._C'] = None  # makes `from fastload import _C` fail like a missing build
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    import fastload as fl
    import numpy as np
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    a = fl.normalize(img, fl.IMAGENET)
    b = fl.normalize(img, fl.IMAGENET)
print(json.dumps({'warnings': [str(w.message) for w in caught], 'info': fl.backend_info(), 'shape': list(a.shape)}))
"""
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len([w for w in out["warnings"] if "could not be loaded" in w]) == 1
    assert not out["info"]["extension_loaded"]
    assert out["info"]["ops"]["normalize"]["cpu"].startswith("reference (extension not loaded")
    assert out["shape"] == [3, 2, 3]


def test_a_build_without_the_emulation_imports_and_runs():
    # What `pip install --no-build-isolation .` builds (no FASTLOAD_CUDA_EMULATION): no fastload_emulation ops. The
    # dispatcher is made to answer as it does then: the names are not defined, and asking for their kernels raises.
    # (.ci/user_install builds that install for real and imports it from another folder.)
    code = """
import sys, json, torch
names, has_kernel = torch._C._dispatch_get_all_op_names, torch._C._dispatch_has_kernel_for_dispatch_key
def defined():
    return [n for n in names() if not n.startswith('fastload_emulation::')]
def kernel(name, key):
    if name.startswith('fastload_emulation::'):
        raise RuntimeError(f'operator {name} does not exist')
    return has_kernel(name, key)
torch._C._dispatch_get_all_op_names, torch._C._dispatch_has_kernel_for_dispatch_key = defined, kernel
import fastload as fl, numpy as np
img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
with fl._backend.backend('cuda-emulation'):
    emulated = fl.backend_info()['ops']['normalize']['cpu']
    fl.normalize(img, fl.IMAGENET)
print(json.dumps({'emulated': sorted(fl._backend.EMULATED), 'info': fl.backend_info(), 'in_block': emulated,
                  'shape': list(fl.normalize(img, fl.IMAGENET).shape)}))
"""
    for env in ({}, {"FASTLOAD_BACKEND": "reference"}, {"FASTLOAD_BACKEND": "cuda-emulation"}):
        proc = run_python(code, **env)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out["emulated"] == [] and out["shape"] == [3, 2, 3]
        assert out["info"]["cuda_emulation"].startswith("not built")
        assert out["in_block"].startswith("reference (inside a fastload backend('cuda-emulation') block")
        forced = "".join(f"reference (FASTLOAD_BACKEND={v})" for v in env.values())
        assert out["info"]["ops"]["normalize"]["cpu"] == (forced or "compiled")


def test_env_forces_reference():
    code = "import fastload as fl, json; print(json.dumps(fl.backend_info()))"
    proc = run_python(code, FASTLOAD_BACKEND="reference")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["backend"] == "reference"
    assert info["ops"]["normalize"]["cpu"] == "reference (FASTLOAD_BACKEND=reference)"


def test_backend_info_lists_every_op_of_the_table():
    info = fl.backend_info()
    assert set(info["ops"]) == frozenset(_backend.OPS)
    for spec in _backend.OPS.values():
        assert info["ops"][spec.name]["cpu"] == "compiled"
        if spec.packed:
            assert spec.packed in _backend.OPS and _backend.OPS[spec.packed].packed is None


def test_every_op_of_the_table_has_a_schema_fake_and_reference():
    for spec in _backend.OPS.values():
        schema = getattr(torch.ops.fastload, spec.name).default._schema
        names = [a.name for a in schema.arguments]
        # The reference and the fake take the schema's arguments, by the same names, in the same order.
        for fn in (spec.reference, spec.fake):
            assert list(inspect.signature(fn).parameters) == names, (spec.name, fn)


def test_backend_override_is_per_thread():
    # Two threads in overlapping backend("reference") blocks: neither leaks its choice to the other or the process.
    inside, release = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with _backend.backend("reference"):
            inside.set()
            release.wait(10)
            seen["worker"] = _backend.why_not_compiled("normalize", "cpu")

    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait(10)
    seen["main"] = _backend.why_not_compiled("normalize", "cpu")
    release.set()
    thread.join()
    assert seen["main"] is None and "backend('reference') block" in seen["worker"]
    assert _backend.get_backend() == "auto" and fl.backend_info()["ops"]["normalize"]["cpu"] == "compiled"


def test_cuda_emulation_is_built_for_every_op():
    # `make test` builds with FASTLOAD_CUDA_EMULATION=1; without it the harness could not run the CUDA kernel code.
    # Every op with a CUDA kernel runs its kernel source through the emulation too.
    with_cuda = frozenset(name for name, spec in _backend.OPS.items() if "cuda" in spec.devices)
    assert _backend.EMULATED == with_cuda, "rebuild with FASTLOAD_CUDA_EMULATION=1 (make test does)"
    with _backend.backend("cuda-emulation"):
        info = fl.backend_info()
        assert info["ops"]["normalize"]["cpu"].startswith("cuda-emulation (inside a fastload backend(")
        assert _backend.pick("normalize", torch.device("cpu")) is torch.ops.fastload_emulation.normalize.default


def test_emulation_launch_log_names_the_path_that_ran():
    _backend.emulation_launch_log()  # start empty
    img = torch.zeros(2, 8, 8, 3, dtype=torch.uint8)
    with _backend.backend("cuda-emulation"):
        fl.normalize(img, fl.IMAGENET)  # contiguous, H*W % 4 == 0: the vector path
        fl.normalize(img[:, :, :7], fl.IMAGENET)  # a crop: the row kernel
        fl.normalize(img.numpy()[:, :, ::-1], fl.IMAGENET)  # a horizontal flip: the row kernel
        fl.compute_mean_std([img[0]])
    log = _backend.emulation_launch_log()
    assert [entry.split()[0] for entry in log] == [
        "normalize_vec4",
        "normalize_rows",
        "normalize_rows",
        "channel_stats",
    ], log
    assert _backend.emulation_launch_log() == []


def test_emulation_checks_every_access():
    # The checker itself: an access outside every registered buffer, or misaligned, names the kernel and thread.
    # (The kernels never make one: the op table runs them all over every layout; a deliberately broken index was
    # caught this way when the emulation was written.)
    img = torch.zeros(4, 4, 3, dtype=torch.uint8)
    out = torch.ops.fastload_emulation.normalize(img, [0.0] * 3, [1.0] * 3, [0, 1, 2], 0, torch.float32, False)
    assert out.shape == (3, 4, 4)


def test_pad_batch_takes_the_row_kernels_for_every_layout():
    _backend.emulation_launch_log()
    images = [np.zeros((5, 7, 3), np.uint8)[:, ::-1], np.zeros((6, 3, 3), np.uint8)]
    with _backend.backend("cuda-emulation"):
        fl.pad_batch(images, fl.IMAGENET, dtype=torch.float16, channels_last=True)
        fl.pad_batch(images, size_divisor=4)
    assert [e.split()[0] for e in _backend.emulation_launch_log()] == ["pad_normalized_rows", "pad_bytes_rows"]


def test_denormalize_paths():
    _backend.emulation_launch_log()
    x = torch.zeros(2, 3, 8, 8)
    with _backend.backend("cuda-emulation"):
        fl.denormalize(x, fl.IMAGENET)  # planar: the vector path
        fl.denormalize(x.contiguous(memory_format=torch.channels_last), fl.IMAGENET)  # channels_last: rows
        fl.denormalize(x[..., :7], fl.IMAGENET)  # a crop: rows
    assert [e.split()[0] for e in _backend.emulation_launch_log()] == [
        "denormalize_vec4",
        "denormalize_rows",
        "denormalize_rows",
    ]


def test_resize_and_channel_stats_launch_once_per_batch():
    # Three images of different sizes and layouts: one row kernel for the resized batch, one reduction for the stats
    # (grid rows = images), where the stats used to launch once per image.
    _backend.emulation_launch_log()
    images = [np.zeros((5, 7, 3), np.uint8)[:, ::-1], np.zeros((6, 3, 3), np.uint8), np.zeros((9, 12, 3), np.uint8)]
    with _backend.backend("cuda-emulation"):
        fl.resize_pad_batch(images, fl.IMAGENET, scale=(16, 16), size_divisor=4)
        fl.channel_stats(images)
    log = [e.split() for e in _backend.emulation_launch_log()]
    assert [e[0] for e in log] == ["resize_pad_rows", "channel_stats"], log
    assert log[1][1].endswith("x3"), log


def _threads_per_pixel(run) -> dict:
    """{kernel: threads launched per output pixel} of the emulated launches `run()` makes (it returns the (N, C, H,
    W) output)."""
    _backend.emulation_launch_log()
    with _backend.backend("cuda-emulation"):
        out = run()
    pixels = out.shape[0] * out.shape[2] * out.shape[3]
    result = {}
    for entry in _backend.emulation_launch_log():  # "name GXxGY blocks of B"
        name, grid, _, _, block = entry.split()
        gx, gy = map(int, grid.split("x"))
        result[name] = gx * gy * int(block) / pixels
    return result


@pytest.mark.skipif(not _backend.EMULATED, reason="built without the CUDA emulation")
def test_row_kernels_keep_every_thread_busy_on_narrow_rows():
    """A 224-wide classification batch launches as many threads per output pixel as a 1024-wide one (within 25%):
    blocks of 256 threads per row left 200 of a 224-pixel row's 256 threads idle. Row kernels take 4 pixels a
    thread, the crop's tiles one. Odd widths too (the normalize crop is 223 wide: the last group of a row holds 3
    pixels)."""
    runs = {  # kernel: (the call, threads per output pixel when every thread is busy)
        "pad_normalized_rows": (lambda imgs: fl.pad_batch(imgs, fl.IMAGENET).images, 0.25),
        "crop_normalized_tiles": (
            lambda imgs: fl.resized_crop_batch(
                imgs, [(0, 0, *imgs[0].shape[:2])] * 2, tuple(imgs[0].shape[:2]), fl.IMAGENET
            ),
            1.0,
        ),
        "resize_pad_rows": (
            lambda imgs: (
                fl.resize_pad_batch(imgs, fl.IMAGENET, scale=(max(imgs[0].shape[:2]), min(imgs[0].shape[:2]))).images
            ),
            0.25,
        ),
        "normalize_rows": (lambda imgs: fl.normalize(torch.stack(imgs)[:, :, 1:], fl.IMAGENET), 0.25),  # a crop
    }
    for kernel, (run, busy) in runs.items():
        for h, w in ((224, 224), (8, 1024), (57, 224)):
            imgs = [torch.zeros(h, w, 3, dtype=torch.uint8)] * 2
            per_pixel = _threads_per_pixel(lambda: run(imgs))[kernel]  # noqa: B023 (called at once)
            assert busy <= per_pixel <= busy * 1.25, (kernel, h, w, per_pixel)


def test_device_views_keep_the_layout_of_the_sample():
    """The harness's CUDA inputs (here built on the CPU): equal values, the same strides, the same misalignment."""
    from harness import device_view, image_in_layout

    rng = np.random.default_rng(5)
    for layout in ("contiguous", "sliced", "transposed", "unaligned", "flipped", "torch"):
        img = image_in_layout(rng, (2, 5, 7, 3), layout)
        view = device_view(img, "cpu")
        assert np.array_equal(view.numpy(), np.asarray(img)), layout
        if layout != "flipped":
            t = img if isinstance(img, torch.Tensor) else torch.from_numpy(img)
            assert view.stride() == t.stride() and view.data_ptr() % 16 == t.data_ptr() % 16, layout
    assert image_in_layout(rng, (5, 7, 3), "unaligned").ctypes.data % 4 != 0
    bf16 = torch.arange(40, dtype=torch.bfloat16).reshape(5, 8)[:, 1::3]
    assert torch.equal(device_view(bf16, "cpu"), bf16) and device_view(bf16, "cpu").stride() == bf16.stride()


def test_cli_version_and_info(capsys):
    from fastload.__main__ import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith(f"fastload {fl.__version__} (torch {torch.__version__}")
    with pytest.raises(SystemExit) as exit_info:
        main(["info", "--help"])
    assert exit_info.value.code == 0 and "usage: fastload info" in capsys.readouterr().out
    assert main(["info"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["versions"]["torch"] == torch.__version__ and info["versions"]["fastload"] == fl.__version__
    assert info["versions"]["compiler"]["cxx"].startswith("GCC") and "ops" in info
    assert main(["nope"]) == 2


def test_an_extension_built_for_another_torch_is_not_loaded():
    """A build that says it was made for another torch minor (fastload/_build_info.py, written by setup.py) is never
    loaded: one warning naming both versions and what to do, and every op on the reference."""
    code = (
        "import sys, types, warnings\n"
        "sys.modules['fastload._build_info'] = types.SimpleNamespace(TORCH='2.9.0+cu126')\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import fastload as fl, torch\n"
        "info = fl.backend_info()\n"
        "assert not info['extension_loaded'], info\n"
        "assert 'built against torch 2.9.0+cu126, not loaded under torch' in info['load_error'], info['load_error']\n"
        "assert info['ops']['normalize']['cpu'].startswith('reference'), info['ops']['normalize']\n"
        "assert 'fastload._C' not in sys.modules\n"
        "[w] = [w for w in caught if 'compiled ops could not be loaded' in str(w.message)]\n"
        "assert 'install the fastload built for this torch' in str(w.message), w.message\n"
        "assert fl.normalize(torch.zeros(2, 2, 3, dtype=torch.uint8), fl.IMAGENET).shape == (3, 2, 2)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(os.path.dirname(__file__)))


def test_torch_mismatch_compares_minor_versions():
    from fastload._extension import torch_mismatch

    assert torch_mismatch("2.14.1+cu130", "2.14.0") is None
    assert torch_mismatch("2.14.1", "2.15.0") == "built against torch 2.14.1, not loaded under torch 2.15.0"
