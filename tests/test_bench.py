"""`fastload bench`: the CLI runs end to end on tiny sizes, its JSON holds what README promises, missing peers are
reported, and bad arguments give one clear line and exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from fastload.bench.cli import missing_requirements

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A full run needs the bench extra (rich, matplotlib): `make test` installs it, the GPU machines lack matplotlib.
needs_bench_extra = pytest.mark.skipif(
    bool(missing_requirements(plot=True)), reason=f"bench extra missing: {missing_requirements(plot=True)}"
)
SMOKE = ["--quick", "--scale", "0.05", "--no-progress"]


def fastload_cli(*args, prelude: str = "", timeout: int = 600) -> subprocess.CompletedProcess:
    code = f"import sys\n{prelude}\nfrom fastload.__main__ import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    proc = fastload_cli(
        "bench", *SMOKE, "--json", str(tmp / "b.json"), "--plot", str(tmp / "b.png"), "--markdown", str(tmp / "b.md")
    )
    return proc, tmp


@needs_bench_extra
def test_smoke_run_writes_json_and_plot(smoke):
    proc, tmp = smoke
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((tmp / "b.json").read_text())
    env = doc["environment"]
    for key in ("fastload", "torch", "torchvision", "cpu", "cores", "threads", "gpu", "backend", "date"):
        assert key in env
    assert env["backend"]["extension_loaded"]
    suites = {c["suite"] for c in doc["cases"]}
    assert "normalize" in suites
    for case in doc["cases"]:
        impls = {r["impl"]: r for r in case["results"]}
        for required in ("fastload", "fastload (reference)", "torchvision", "floor (copy)"):
            assert required in impls, (case["case"], required)
            assert impls[required]["median_s"] > 0
        assert case["check_passed"], case
        assert impls["fastload"]["max_abs_diff"] == 0.0
        assert impls["torchvision"]["matches"] is True
        assert impls["torchvision"]["speedup_vs_torchvision"] == pytest.approx(1.0)
        assert impls["floor (copy)"]["x_floor"] == pytest.approx(1.0)
    assert (tmp / "b.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "× vs torchvision" in proc.stdout and "fastload" in proc.stdout
    assert "[cpu]" in proc.stdout  # labels escaped: rich would read "[cpu]" as markup and drop it
    for case in doc["cases"]:  # --quick: the pure-PyTorch reference is timed once
        impls = {r["impl"]: r for r in case["results"]}
        assert impls["fastload (reference)"]["reps"] == 1 and isinstance(impls["fastload"]["noisy"], bool)
    md = (tmp / "b.md").read_text()
    assert "| case | implementation |" in md and "floor (copy)" in md
    for case in doc["cases"]:  # the machine's load around each suite, sampled before and after it
        for when in ("before", "after"):
            assert case["load"][when]["busy_cores"] is None or case["load"][when]["busy_cores"] >= 0
        assert isinstance(case["load"]["under_load"], bool)


@needs_bench_extra
def test_missing_peer_is_reported_not_fatal(tmp_path):
    prelude = "for m in ('timm', 'albumentations', 'mmengine', 'nvidia.dali', 'nvidia'): sys.modules[m] = None"
    proc = fastload_cli("bench", "normalize", *SMOKE, "--json", str(tmp_path / "b.json"), prelude=prelude)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((tmp_path / "b.json").read_text())
    batch = [c for c in doc["cases"] if c["case"].startswith("batch")][0]
    for peer in ("timm", "albumentations", "mmengine", "dali"):
        assert batch["unavailable"][peer] == "not installed"
    assert "not installed" in proc.stdout


@pytest.mark.parametrize(
    "missing, plot", [("rich", False), ("torchvision", False), ("cv2", False), ("matplotlib", True)]
)
def test_missing_requirement_is_one_line_before_any_work(tmp_path, missing, plot):
    # Importing cv2 hides no other module: `sys.modules[m] = None` makes `import m` and find_spec fail as if absent.
    plot_args = ["--plot", str(tmp_path / "b.png")] if plot else []
    proc = fastload_cli(
        "bench",
        "normalize",
        *SMOKE,
        "--json",
        str(tmp_path / "b.json"),
        *plot_args,
        prelude=f"sys.modules[{missing!r}] = None",
        timeout=60,
    )
    lines = proc.stderr.strip().splitlines()
    name = "OpenCV" if missing == "cv2" else missing
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-3000:]
    assert f"{name} not installed" in lines[0] and "[bench]" in lines[0]
    assert not (tmp_path / "b.json").exists() and proc.stdout == ""  # nothing was run


def test_user_images_folder(tmp_path):
    import cv2

    rng = np.random.default_rng(0)
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), rng.integers(0, 256, (30, 40, 3), dtype=np.uint8))
    proc = fastload_cli("bench", "normalize", *SMOKE, "--images", str(tmp_path), "--json", str(tmp_path / "b.json"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((tmp_path / "b.json").read_text())["environment"]["images"] == "2 photos"


def test_help_documents_every_flag():
    proc = fastload_cli("bench", "--help")
    assert proc.returncode == 0
    for flag in (
        "--list",
        "--device",
        "--threads",
        "--quick",
        "--scale",
        "--images",
        "--json",
        "--plot",
        "--markdown",
        "--no-progress",
    ):
        assert flag in proc.stdout, flag
    assert "cpu" in proc.stdout and "cuda" in proc.stdout and "all" in proc.stdout


def test_list_suites():
    proc = fastload_cli("bench", "--list")
    assert proc.returncode == 0 and "normalize" in proc.stdout.split()


@pytest.mark.parametrize(
    "args, words",
    [
        (["nosuchsuite"], "unknown suite"),
        (["--device", "tpu"], "invalid choice"),
        (["--images", "/nonexistent/folder"], "not a readable folder"),
        (["--threads", "0"], "--threads"),
        (["--scale", "-1"], "--scale"),
        (["--bogus"], "unrecognized"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, words):
    proc = fastload_cli("bench", *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], proc.stderr


def test_empty_images_folder(tmp_path):
    proc = fastload_cli("bench", "--images", str(tmp_path))
    assert proc.returncode == 2 and "no readable" in proc.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible")
def test_cuda_without_gpu():
    proc = fastload_cli("bench", "--device", "cuda")
    assert proc.returncode == 2 and "no CUDA GPU" in proc.stderr


def test_top_level_commands():
    assert fastload_cli().returncode == 2
    assert fastload_cli("nope").returncode == 2
    info = fastload_cli("info")
    assert info.returncode == 0 and json.loads(info.stdout)["extension_loaded"]


def test_noisy_rows_are_flagged():
    from fastload.bench.report import noisy

    row = dict(impl="fastload", median_s=1.0, min_s=0.9, max_s=1.1, reps=5, x_floor=2.0)
    assert not noisy(row) and not noisy({**row, "max_s": 9.0})  # one slow run says little
    assert noisy({**row, "min_s": 0.6})  # most runs much slower than the fastest
    assert noisy({**row, "x_floor": 0.5})  # faster than a copy of its bytes
    assert not noisy({**row, "impl": "floor (copy)", "x_floor": 0.5})


def test_busy_cores_counts_other_work(tmp_path):
    from fastload.bench import load

    idle = load.busy_cores(0.3)
    assert idle is not None and idle >= 0
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        busy = load.busy_cores(0.5)
    finally:
        spin.kill()
        spin.wait()
    assert busy > 0.7, (idle, busy)  # a spinning process is a core kept busy by other work
    calm, loaded = {"busy_cores": 0.05, "loadavg": 0.1}, {"busy_cores": 0.9, "loadavg": 1.0}
    assert not load.under_load(calm, calm) and load.under_load(calm, loaded) and load.under_load(loaded, calm)
    assert not load.under_load({"busy_cores": None, "loadavg": None}, calm)


def _doc(under_load: bool) -> dict:
    row = dict(
        impl="fastload",
        note="",
        error=None,
        max_abs_diff=0.0,
        matches=True,
        median_s=0.01,
        min_s=0.0099,
        max_s=0.011,
        reps=7,
        mb_per_s=1.0,
        items_per_s=1.0,
        speedup_vs_torchvision=4.2,
        x_floor=1.2,
    )
    tv = {**row, "impl": "torchvision", "speedup_vs_torchvision": 1.0}
    sample = {"busy_cores": 0.9 if under_load else 0.0, "loadavg": 1.0}
    case = dict(
        suite="files",
        case="256 ImageNet-style JPEG files -> crop",
        device="cpu",
        results=[row, tv],
        unavailable={},
        load={"before": sample, "after": sample, "under_load": under_load},
    )
    env = dict(
        cpu="Test CPU",
        cores=2,
        threads=2,
        gpu=None,
        malloc="glibc defaults",
        fastload="0",
        torch="2",
        torchvision="0",
        python="3",
        date="2026-12-05T00:00:00",
        commit="abc1234",
        command="fastload bench",
        backend={"cpu_capability": "AVX512"},
    )
    return {"environment": env, "cases": [case]}


def test_rows_measured_under_load_are_marked():
    from fastload.bench.report import markdown

    quiet, busy = markdown(_doc(False)), markdown(_doc(True))
    assert "| fastload | 10.00 | 4.20× |" in quiet and "under load" not in quiet
    assert "| fastload | 10.00 ! | 4.20× |" in busy
    assert "measured under load" in busy and "files [cpu]: 0.9 / 0.9" in busy


def test_readme_headline_comes_from_the_results_file(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    try:
        import update_results
    finally:
        sys.path.pop(0)
    (tmp_path / "bench.json").write_text(json.dumps(_doc(False)))
    results, readme = tmp_path / "RESULTS.md", tmp_path / "README.md"
    results.write_text("# Results\n")
    readme.write_text(f"# x\n\n{update_results.HEAD_START}\nold\n{update_results.HEAD_END}\n\nrest\n")
    assert update_results.main([str(tmp_path / "bench.json"), str(results), str(readme)]) == 0
    text = readme.read_text()
    assert "old" not in text and "rest" in text and "Test CPU" in text and "abc1234" in text
    assert (
        "| ImageNet-style JPEG files -> RandomResizedCrop 224 + flip + normalize, 2 DataLoader workers | 4.2x |" in text
    )
    (tmp_path / "bench.json").write_text(json.dumps(_doc(True)))
    update_results.main([str(tmp_path / "bench.json"), str(results), str(readme)])
    assert "4.2x (noisy)" in readme.read_text()
    assert "Current:" in results.read_text()


def test_images_folder_is_read_recursively(tmp_path):
    """A class-per-folder tree (ImageNet's layout): the images in its subfolders count."""
    import cv2

    from fastload.photos import load_folder

    for k, cls in enumerate(("b", "a")):
        os.makedirs(tmp_path / cls)
        cv2.imwrite(str(tmp_path / cls / f"{k}.jpg"), np.full((8 + k, 10, 3), 40 * k, np.uint8))
    (tmp_path / "a" / "notes.txt").write_text("x")
    images = load_folder(str(tmp_path))
    assert [img.shape[:2] for img in images] == [(9, 10), (8, 10)]  # a/1.jpg, then b/0.jpg
