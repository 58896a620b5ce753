"""The demo command on real photos (must report an exact round trip) and the training example (a few steps)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(args, timeout=600):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def test_demo_writes_png_and_round_trip_is_exact(tmp_path):
    pytest.importorskip("skimage")
    out = tmp_path / "demo.png"
    proc = run(["-m", "fastload", "demo", "--out", str(out)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "round trip exact" in proc.stdout and "pad_batch" in proc.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_training_example_runs_and_reloads(tmp_path):
    pytest.importorskip("sklearn")
    ckpt = tmp_path / "digits.pth"
    proc = run(
        [
            "examples/train_classifier.py",
            "--device",
            "cpu",
            "--epochs",
            "1",
            "--max-steps",
            "5",
            "--workers",
            "0",
            "--checkpoint",
            str(ckpt),
        ]
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "test accuracy" in proc.stdout and "reloaded into a 5-class model" in proc.stdout
    assert "'12.weight'" in proc.stdout and ckpt.exists()


def test_training_example_under_torchrun_two_ranks(tmp_path):
    """Data-parallel for real: torchrun, 2 ranks on the CPU (gloo), fastload's collate and DevicePrefetcher per
    rank, DDP. Each epoch the ranks train on disjoint samples, and they end with the same parameters (DDP averaged
    the gradients)."""
    pytest.importorskip("sklearn")
    record = tmp_path / "run"
    proc = run(
        [
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "examples/train_classifier.py",
            "--device",
            "cpu",
            "--epochs",
            "2",
            "--max-steps",
            "14",
            "--workers",
            "1",
            "--record",
            str(record),
            "--checkpoint",
            str(tmp_path / "ddp.pth"),
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 ranks" in proc.stdout and proc.stdout.count("epoch 1:") == 1  # only rank 0 prints
    ranks = [json.loads((tmp_path / f"run.rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["steps"] for r in ranks] == [14, 14] and all(len(r["samples"]) == 2 for r in ranks)
    for epoch in range(2):
        a, b = (set(r["samples"][epoch]) for r in ranks)
        assert a and b and not a & b, f"epoch {epoch}: the ranks shared samples"
    assert ranks[0]["samples"][0] != ranks[0]["samples"][1]  # set_epoch reshuffles
    assert ranks[0]["weights"] == ranks[1]["weights"] and len(ranks[0]["weights"]) == 14


def test_imagenet_style_example_runs():
    pytest.importorskip("skimage")  # its photos are the example's data
    proc = run(
        [
            "examples/train_imagenet_style.py",
            "--device",
            "cpu",
            "--epochs",
            "1",
            "--max-steps",
            "3",
            "--copies",
            "2",
            "--size",
            "32",
            "--workers",
            "2",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "centre-crop accuracy" in proc.stdout and "12 JPEG files in 6 class folders" in proc.stdout
