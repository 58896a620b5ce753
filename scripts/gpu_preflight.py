"""The GPU machine as scripts/gpu_check.sh finds it, written before anything can fail: GPU, driver, Python, torch,
torchvision and their CUDA, nvcc, ninja, compute-sanitizer, the nvJPEG library and a one-image nvJPEG decode. Each
probe is recorded on its own (a failing one says why; none stops the others), and the file is rewritten after each,
so even a probe that hangs until the step's deadline leaves the ones before it.

Usage: python scripts/gpu_preflight.py OUT.json
"""

from __future__ import annotations

import glob
import json
import os
import platform
import shutil
import subprocess
import sys


def command(*argv: str) -> str:
    """The first lines a tool prints of itself, or why it could not run."""
    if shutil.which(argv[0]) is None and not os.path.isfile(argv[0]):
        return "not found"
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"failed: {exc}"
    return " | ".join(line.strip() for line in (proc.stdout + proc.stderr).strip().splitlines()[-3:])


def gpu() -> dict:
    import torch

    if not torch.cuda.is_available():
        return {"available": False}
    props = torch.cuda.get_device_properties(0)
    return {
        "available": True,
        "name": props.name,
        "capability": f"sm_{props.major}{props.minor}",
        "memory_gib": round(props.total_memory / 2**30, 1),
        "multiprocessors": props.multi_processor_count,
        "torch_arch_list": torch.cuda.get_arch_list(),
    }


def versions() -> dict:
    import torch

    found = {"python": platform.python_version(), "torch": torch.__version__, "torch_cuda": torch.version.cuda}
    try:
        import torchvision

        found["torchvision"] = torchvision.__version__
    except ImportError as exc:
        found["torchvision"] = f"not importable: {exc}"
    return found


def nvjpeg_library() -> list[str]:
    """Where a libnvjpeg lies: torchvision's wheel, the nvidia pip packages, the toolkit."""
    import torch

    site = os.path.dirname(os.path.dirname(torch.__file__))
    patterns = [f"{site}/torchvision*/**/libnvjpeg*", f"{site}/nvidia/**/libnvjpeg.so*"]
    patterns.append("/usr/local/cuda*/lib64/libnvjpeg*")
    return sorted({p for pattern in patterns for p in glob.glob(pattern, recursive=True)})[:6]


def nvjpeg_decode() -> str:
    """One small JPEG (encoded on the CPU) decoded by torchvision on the GPU: nvJPEG works end to end."""
    import torch
    from torchvision.io import decode_jpeg, encode_jpeg

    if not torch.cuda.is_available():
        return "skipped: no CUDA device"
    image = (torch.arange(3 * 16 * 24) % 251).to(torch.uint8).reshape(3, 16, 24)
    decoded = decode_jpeg([encode_jpeg(image, quality=95)], device="cuda")[0]
    torch.cuda.synchronize()
    error = (decoded.cpu().int() - image.int()).abs().float().mean().item()
    return f"ok: {tuple(decoded.shape)} on {decoded.device}, mean difference {error:.2f} grey levels"


def main() -> int:
    out = sys.argv[1]
    found: dict = {}
    sanitizer = shutil.which("compute-sanitizer") or next(iter(glob.glob("/usr/local/cuda*/bin/compute-sanitizer")), "")
    probes = [
        ("nvidia_smi", lambda: command("nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv")),
        ("versions", versions),
        ("gpu", gpu),
        ("nvcc", lambda: command("nvcc", "--version")),
        ("ninja", lambda: command("ninja", "--version")),
        ("compute_sanitizer", lambda: command(sanitizer, "--version") if sanitizer else "not found"),
        ("nvjpeg_library", nvjpeg_library),
        ("nvjpeg_decode", nvjpeg_decode),
        ("cores", os.cpu_count),
    ]
    for name, probe in probes:
        try:
            found[name] = probe()
        except Exception as exc:  # noqa: BLE001  (a probe's failure is what it reports)
            found[name] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        with open(out + ".tmp", "w") as f:
            json.dump(found, f, indent=1)
        os.replace(out + ".tmp", out)
        print(f"{name}: {found[name]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
