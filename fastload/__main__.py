"""`python -m fastload` / `fastload`: command-line entry point."""

from __future__ import annotations

import sys

USAGE = """usage: fastload [--version] {bench,demo,info} ...

  bench  measure fastload against torchvision and peers (fastload bench --help)
  demo   real photos through the pipeline and back, as a PNG (fastload demo --help)
  info   versions, and which backend serves each op (JSON)"""


def versions() -> dict:
    """fastload, torch, CUDA (torch's build), the compiler the extension was built with, and Python."""
    import platform

    import torch

    import fastload
    from fastload import _extension

    return {
        "fastload": fastload.__version__,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "compiler": _extension.build_compiler(),
        "python": platform.python_version(),
    }


def info(argv: list[str]) -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser(
        prog="fastload info",
        description="Print, as JSON, the versions of fastload, "
        "torch, CUDA and the compiler, and fastload.backend_info(): which backend serves "
        "each op on each device, and why.",
    )
    parser.parse_args(argv)
    import fastload

    print(json.dumps({"versions": versions(), **fastload.backend_info()}, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        v = versions()
        print(f"fastload {v['fastload']} (torch {v['torch']}, CUDA {v['cuda']}, Python {v['python']})")
        return 0
    command, rest = argv[0], argv[1:]
    if command == "bench":
        from fastload.bench.cli import main as bench_main

        return bench_main(rest)
    if command == "demo":
        from fastload.demo import main as demo_main

        return demo_main(rest)
    if command == "info":
        return info(rest)
    print(f"fastload: unknown command {command!r} (expected bench, demo or info; see fastload --help)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
