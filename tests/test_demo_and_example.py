"""The demo command on real photos (must report an exact round trip) and the training example (a few steps)."""

from __future__ import annotations

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
    proc = run(["examples/train_classifier.py", "--device", "cpu", "--epochs", "1", "--max-steps", "5",
                "--workers", "0", "--checkpoint", str(ckpt)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "test accuracy" in proc.stdout and "reloaded into a 5-class model" in proc.stdout
    assert "'12.weight'" in proc.stdout and ckpt.exists()


def test_imagenet_style_example_runs():
    proc = run(["examples/train_imagenet_style.py", "--device", "cpu", "--epochs", "1", "--max-steps", "3",
                "--copies", "2", "--size", "32", "--workers", "2"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "centre-crop accuracy" in proc.stdout and "12 JPEG files in 6 class folders" in proc.stdout
