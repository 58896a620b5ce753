"""`fastload bench`: fastload against the libraries people use today, and against the memory-copy floor.

Each suite is one module in `fastload.bench.suites` that registers itself with `fastload.bench.core.suite`; the CLI
(`fastload.bench.cli`) runs the registered suites and reports medians, ratios and an equality check per case.
"""

from fastload.bench.core import SUITES, Case, Impl, run_case  # noqa: F401
