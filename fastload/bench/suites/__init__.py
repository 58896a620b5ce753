"""Benchmark suites: every module in this package registers one suite with `fastload.bench.core.suite`.
Adding a suite = adding a module here; nothing else changes."""
