"""Every case × implementation of every `fastload bench` suite as a pytest-benchmark test.

    pytest benchmarks/ --benchmark-only [--benchmark-json out.json]

The cases come from the suite registry, so this file never changes when a suite is added. CUDA cases run when a GPU
is visible. The equality check of `fastload bench` is asserted here too.
"""

from __future__ import annotations

import pytest
import torch

from fastload.bench.cli import load_suites
from fastload.bench.core import Settings
from fastload.bench.data import ImageSource

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
SOURCE = ImageSource()


def _params():
    params = []
    for device in DEVICES:
        settings = Settings(source=SOURCE, device=device, threads=torch.get_num_threads())
        for name, make in load_suites().items():
            for case in make(settings):
                for impl in case.impls:
                    params.append(pytest.param(case, impl, id=f"{name}-{device}-{case.name}-{impl.name}"))
    return params


@pytest.mark.parametrize("case, impl", _params())
def test_case(benchmark, case, impl):
    benchmark.extra_info.update(suite=case.suite, case=case.name, device=case.device, bytes=case.bytes_moved)
    if case.device == "cuda":

        def call():
            impl.fn()
            torch.cuda.synchronize()
    else:
        call = impl.fn
    benchmark(call)
    if impl.checked:
        want = case.impls[0].fn() if impl.expected is None else impl.expected()
        got = impl.fn() if impl.compare is None else impl.compare(impl.fn())
        assert (got.double().cpu() - want.double().cpu()).abs().max() <= case.tolerance
