"""`fastload bench`: run the benchmark suites and report them (rich table, JSON, PNG chart)."""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib
import importlib.util
import json
import os
import pkgutil
import platform
import sys

import torch


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line, exit status 2
        print(f"fastload bench: error: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="fastload bench",
        description="Measure fastload against torchvision, other peers and the "
        "same-traffic memory copy (the floor). Medians and ratios come from one run.",
    )
    p.add_argument("suites", nargs="*", metavar="SUITE", help="suites to run (default: all). Known: see --list")
    p.add_argument("--list", action="store_true", help="list the suites and exit")
    p.add_argument(
        "--device",
        choices=("cpu", "cuda", "all"),
        default="cpu",
        help="where to run: cpu, cuda (needs a GPU) or all (cpu, plus cuda when a GPU is present)",
    )
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch/OpenCV/peers (default: all cores)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="fewer repetitions, fastload's pure-PyTorch reference timed once: about two minutes on 2 cores, "
        "most of it the files suite, whose loaders start their workers afresh",
    )
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every image size by this (e.g. 0.1 for a smoke test); default 1",
    )
    p.add_argument("--images", metavar="DIR", help="use your own JPEG/PNG files (decoded once with OpenCV)")
    p.add_argument("--json", metavar="PATH", help="write machine-readable results (schema in README)")
    p.add_argument("--plot", metavar="PATH.png", help="write a bar chart of speed-ups vs torchvision")
    p.add_argument("--markdown", metavar="PATH.md", help="write the tables as markdown (to paste into an issue)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def load_suites():
    """Imports every module of fastload.bench.suites (each registers itself) and returns the registry."""
    from fastload.bench import suites
    from fastload.bench.core import SUITES

    for module in sorted(pkgutil.iter_modules(suites.__path__), key=lambda m: m.name):
        importlib.import_module(f"{suites.__name__}.{module.name}")
    return SUITES


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def source_commit() -> str | None:
    """The git commit fastload runs from ('abc1234', '+dirty' when its sources have uncommitted changes), or None
    outside a checkout (an installed wheel)."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "--short", "HEAD")
        if head.returncode != 0:
            return None
        sources = ("fastload", "csrc", "setup.py")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", *sources).stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment(threads: int) -> dict:
    import fastload

    try:
        import torchvision

        tv = torchvision.__version__
    except ImportError:
        tv = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "fastload": fastload.__version__,
        "commit": source_commit(),
        "backend": fastload.backend_info(),
        "torch": torch.__version__,
        "torchvision": tv,
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": threads,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        # Large CPU outputs are page-fault bound under glibc's defaults; say which allocator settings were in force.
        "malloc": " ".join(f"{k}={os.environ[k]}" for k in ("GLIBC_TUNABLES", "LD_PRELOAD") if os.environ.get(k))
        or "glibc defaults",
        "command": "fastload bench " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["bench"] else sys.argv[1:]),
    }


# What `fastload bench` needs beyond fastload itself (the `bench` extra); the peers are optional and reported.
REQUIRED = {"rich": "rich", "torchvision": "torchvision", "cv2": "OpenCV"}


def missing_requirements(plot: bool) -> list[str]:
    """The names of the bench's required packages that are not installed (matplotlib only when plotting)."""
    wanted = {**REQUIRED, **({"matplotlib": "matplotlib"} if plot else {})}
    return [name for module, name in wanted.items() if importlib.util.find_spec(module) is None]


def write_files(args, doc: dict) -> None:
    """The --json and --markdown files of `doc` (every record so far), each replaced whole (a temporary file
    renamed), so that a reader never sees half a file."""
    from fastload.bench import report

    for path, text in ((args.json, lambda: json.dumps(doc, indent=2)), (args.markdown, lambda: report.markdown(doc))):
        if path:
            with open(path + ".tmp", "w") as f:
                f.write(text())
            os.replace(path + ".tmp", path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    suites = load_suites()
    if args.list:
        print("\n".join(suites))
        return 0
    unknown = [s for s in args.suites if s not in suites]
    if unknown:
        print(f"fastload bench: error: unknown suite {unknown[0]!r} (known: {', '.join(suites)})", file=sys.stderr)
        return 2
    if args.device == "cuda" and not torch.cuda.is_available():
        print("fastload bench: error: --device cuda but no CUDA GPU is visible", file=sys.stderr)
        return 2
    if args.threads is not None and args.threads < 1:
        print("fastload bench: error: --threads must be >= 1", file=sys.stderr)
        return 2
    if not args.scale > 0:
        print("fastload bench: error: --scale must be > 0", file=sys.stderr)
        return 2
    missing = missing_requirements(bool(args.plot))
    if missing:
        print(
            f"fastload bench: error: {', '.join(missing)} not installed; install the bench extra: "
            "pip install --no-build-isolation '.[bench]' from fastload's source folder (rich, torchvision, "
            "opencv-python-headless, matplotlib)",
            file=sys.stderr,
        )
        return 2
    from fastload.bench import data, load, report
    from fastload.bench.core import Settings, run_case
    from fastload.photos import load_folder

    try:
        photos = load_folder(args.images) if args.images else None
    except ValueError as exc:
        print(f"fastload bench: error: {exc}", file=sys.stderr)
        return 2

    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    try:
        import cv2

        cv2.setNumThreads(threads)
    except ImportError:
        pass

    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    source = data.ImageSource(photos)
    env = environment(threads)
    env["images"] = source.kind
    chosen = args.suites or list(suites)

    records = []
    with report.progress(enabled=not args.no_progress) as step:
        for device in devices:
            settings = Settings(
                source=source,
                device=device,
                threads=threads,
                scale=args.scale,
                min_reps=3 if args.quick else 7,
                min_time=0.05 if args.quick else 0.4,
                quick=args.quick,
            )
            for name in chosen:
                # A suite's inputs and loaders exist only while it runs: built when its turn comes, released after.
                # Built all at once, the suites' inputs (millions of Python objects) made every collection of the
                # main process's garbage collector slower, which the end-to-end rows paid for (the detection row
                # 300 -> 385 ms).
                cases = suites[name](settings)
                step.grow(sum(len(c.impls) for c in cases))
                before, first = load.sample(), len(records)
                for case in cases:
                    records.append(report.record(case, run_case(case, settings, progress=step)))
                    # Release the case's inputs and DataLoaders now: a loader's persistent workers (2 processes
                    # with torch, ~0.5 GB each) live as long as it does, and the end-to-end suites have 15 loaders.
                    case.impls.clear()
                    gc.collect()
                del cases
                after = load.sample()
                for rec in records[first:]:
                    rec["load"] = {"before": before, "after": after, "under_load": load.under_load(before, after)}
                # After each suite: a run cut short (the GPU machine's deadline) still leaves the suites it finished.
                write_files(args, {"environment": env, "cases": records})

    doc = {"environment": env, "cases": records}
    report.print_table(doc)
    write_files(args, doc)
    if args.plot:
        report.plot(doc, args.plot)
    failed = [f"{r['case']} [{r['device']}]" for r in records if not r["check_passed"]]
    if failed:
        print(f"equality check failed for: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
