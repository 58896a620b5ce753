"""The GPU check's parts, run here on the CPU so that they do not rot between GPU runs: the kernel driver the
sanitizers run, the preflight, the figures a pass must show, and gpu_check.sh's reporting under its deadline."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fastload import _backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def script(*args: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=600, env={**os.environ, **env}
    )


@pytest.mark.skipif(not _backend.extension_loaded(), reason="extension not built")
def test_the_kernel_driver_compares_every_op_with_the_reference_on_the_cpu():
    proc = script("scripts/gpu_kernel_driver.py", "--device", "cpu", "--quick")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "driver: ok (220 calls" in proc.stdout
    for op in (
        "mix_pairs in place",
        "normalize",
        "denormalize",
        "pad_batch packed",
        "resize_pad_batch",
        "resized_crop_batch out=",
        "channel_stats",
        "warp_affine out=",
    ):
        assert op in proc.stdout


def test_the_preflight_records_every_probe_even_without_a_gpu(tmp_path):
    out = tmp_path / "preflight.json"
    proc = script("scripts/gpu_preflight.py", str(out))
    assert proc.returncode == 0, proc.stderr
    found = json.loads(out.read_text())
    assert set(found) == {
        "nvidia_smi",
        "versions",
        "gpu",
        "nvcc",
        "ninja",
        "compute_sanitizer",
        "nvjpeg_library",
        "nvjpeg_decode",
        "cores",
    }
    assert found["versions"]["torch"] and found["gpu"] == {"available": False}
    assert found["nvjpeg_decode"] == "skipped: no CUDA device"


def fake_logs(folder) -> None:
    """What the steps leave on a GPU run, in miniature."""
    case = lambda suite: {  # noqa: E731
        "suite": suite,
        "case": f"{suite} case",
        "device": "cuda",
        "results": [{"impl": "fastload", "x_floor": 1.3}, {"impl": "torchvision", "x_floor": 4.0}],
    }
    suites = ("normalize", "denormalize", "batch", "resize", "crop")
    (folder / "bench_cuda.json").write_text(json.dumps({"cases": [case(s) for s in suites]}))
    transfers = dict(
        device="NVIDIA H100",
        images=256,
        images_per_s=5000.0,
        decode_crop_ms=51.2,
        uint8_diff_mean=0.8,
        uint8_diff_max=40,
        h2d_pageable_gb_s=9.5,
        h2d_pinned_gb_s=24.1,
        per_batch={"crop_collate_32": {"images_bytes": 100, "memcpy": {"HtoD": 120}}},
    )
    (folder / "gpu_transfers.json").write_text(json.dumps(transfers))
    for tool in ("memcheck", "racecheck", "synccheck", "initcheck"):
        (folder / f"{tool}.log").write_text("driver: ok (324 calls)\n========= ERROR SUMMARY: 0 errors\n")


def test_the_figures_name_what_is_missing(tmp_path):
    proc = script("scripts/gpu_figures.py", str(tmp_path))
    assert proc.returncode == 1
    for missing in (
        "bench crop on CUDA",
        "decode + crop images/s",
        "bytes over PCIe",
        "pinned vs pageable",
        "compute-sanitizer initcheck count",
    ):
        assert missing in proc.stdout
    fake_logs(tmp_path)
    proc = script("scripts/gpu_figures.py", str(tmp_path))
    assert proc.returncode == 0, proc.stdout
    assert "crop: crop case: 1.30x the time of a same-bytes device copy" in proc.stdout
    assert "5000.0 images/s" in proc.stdout and "24.1 GB/s pinned" in proc.stdout
    assert "compute-sanitizer initcheck: 0 errors" in proc.stdout and "figures: all there" in proc.stdout


def test_gpu_check_reports_every_step_under_its_deadline(tmp_path):
    # A deadline too short for any step: each is recorded as "no time", and the summary is valid JSON all the same.
    env = {**os.environ, "GPU_CHECK_ON_CPU": "1", "DEADLINE_S": "20", "PYTHON": sys.executable}
    proc = subprocess.run(
        ["bash", "scripts/gpu_check.sh", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["steps"]["preflight"]["status"] == "no time" and summary["steps"]["figures"]["status"] == "no time"
    assert (tmp_path / "gpu_check.tar.gz").exists() and not list(tmp_path.glob(".*"))
