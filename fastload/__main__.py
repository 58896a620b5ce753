"""`python -m fastload` / `fastload`: command-line entry point."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: fastload {bench,demo,info} ...\n\n  bench  measure fastload against torchvision and peers\n"
              "  demo   real photos through the pipeline and back, as a PNG\n  info   show which backend serves each op")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "bench":
        from fastload.bench.cli import main as bench_main

        return bench_main(rest)
    if command == "demo":
        from fastload.demo import main as demo_main

        return demo_main(rest)
    if command == "info":
        import json

        import fastload

        print(json.dumps(fastload.backend_info(), indent=2))
        return 0
    print(f"fastload: unknown command {command!r} (expected bench, demo or info)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
