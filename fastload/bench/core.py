"""The benchmark model: a Case holds implementations of one job (fastload, its reference, peers, the copy floor),
each a zero-argument callable; run_case times them and checks that every one produced the same values."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from fastload import _backend
from fastload.data.samples import first_image_key

# Names used in every suite, so the report can compute the ratios.
FASTLOAD = "fastload"
REFERENCE = "fastload (reference)"
TORCHVISION = "torchvision"
FLOOR = "floor (copy)"
FRESH = "fresh output (alloc + fill)"

SUITES: dict[str, Callable] = {}


def suite(name: str):
    """Register `fn(settings: Settings) -> list[Case]` as suite `name`."""

    def register(fn):
        SUITES[name] = fn
        return fn

    return register


@dataclass
class Impl:
    """One implementation of a case. `fn()` returns its result, which is compared with fastload's unless `checked`
    is False (the floor and fresh-output rows); `compare(result)` may first turn it into a tensor of fastload's
    shape (e.g. drop a batch dim, convert a DALI batch). A peer that resamples with another filter or geometry than
    the case's fastload row gives `expected()`: fastload's result for that filter or geometry (computed once, not
    timed), which it is compared with instead."""

    name: str
    fn: Callable[[], object]
    compare: Callable[[object], torch.Tensor] | None = None
    note: str = ""
    checked: bool = True  # False for the reference points (floor, fresh-output fill): their output is not compared
    expected: Callable[[], object] | None = None


@dataclass
class Case:
    suite: str
    name: str
    device: str
    bytes_moved: int  # input bytes read + output bytes written by a one-pass implementation
    items: int  # images per call
    impls: list[Impl]
    unavailable: dict[str, str] = field(default_factory=dict)  # peer -> why it is not measured
    tolerance: float = 1e-4  # max |peer - fastload| accepted as "the same values"
    reps: int | None = None  # fixed repetitions (slow end-to-end cases) instead of the settings' time budget


@dataclass
class Timing:
    median: float
    min: float
    max: float
    reps: int


@dataclass
class Result:
    impl: str
    timing: Timing | None
    max_abs_diff: float | None
    matches: bool | None
    note: str = ""
    error: str | None = None


@dataclass
class Settings:
    source: object  # fastload.bench.data.ImageSource
    device: str = "cpu"
    threads: int = 1
    scale: float = 1.0  # image sizes are multiplied by this (smoke tests use small values)
    min_reps: int = 5
    min_time: float = 0.5  # seconds of timed calls per implementation, at least
    quick: bool = False  # --quick: fastload's pure-PyTorch reference is timed once (its check call warmed it up)


class with_backend:  # noqa: N801 (used as a function: with_backend("reference", fn))
    """`fn` run with fastload's backend forced to `name`; any arguments pass through. Picklable (given a picklable
    `fn`), so a DataLoader worker can run it too: a `backend()` block in the main process does not reach workers."""

    def __init__(self, name: str, fn: Callable[..., object]):
        self.name, self.fn = name, fn

    def __call__(self, *args, **kwargs):
        with _backend.backend(self.name):
            return self.fn(*args, **kwargs)


def epoch(loader, device: str):
    """Runs one epoch of a DataLoader (or prefetcher); returns the last batch's images (a batch's first element, a
    dict batch's image key, or the batch itself) moved to `device`, synchronized on CUDA."""
    last = None
    for batch in loader:
        if isinstance(batch, dict):
            images = batch[first_image_key(batch)]
        else:
            images = batch[0] if isinstance(batch, (tuple, list)) else batch
        last = images.to(device, non_blocking=True) if isinstance(images, torch.Tensor) else images
    if device == "cuda":
        torch.cuda.synchronize()
    return last


def measure(fn: Callable[[], object], device: str, min_reps: int, min_time: float, warmup: int = 2) -> Timing:
    """Median wall time of fn() after `warmup` calls; CUDA work is synchronized around each call."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times: list[float] = []
    budget_end = time.perf_counter() + min_time
    while len(times) < min_reps or (time.perf_counter() < budget_end and len(times) < 1000):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return Timing(statistics.median(times), min(times), max(times), len(times))


def _as_float_cpu(value) -> torch.Tensor:
    if isinstance(value, (list, tuple)):
        return torch.stack([_as_float_cpu(v) for v in value])
    if not isinstance(value, torch.Tensor):
        value = torch.as_tensor(value)
    return value.detach().to("cpu", torch.float64)


def run_case(case: Case, settings: Settings, progress: Callable[[str], None] | None = None) -> list[Result]:
    """Times every implementation of `case` and compares each result with fastload's."""
    expected = None
    results = []
    for impl in case.impls:
        if progress:
            progress(f"{case.name}: {impl.name}")
        try:
            output = impl.fn()
            diff = matches = None
            if impl.checked:
                value = _as_float_cpu(impl.compare(output) if impl.compare else output)
                if expected is None:
                    expected = value
                want = expected if impl.expected is None else _as_float_cpu(impl.expected())
                if value.shape != want.shape:
                    diff, matches = float("inf"), False
                else:
                    diff = float((value - want).abs().max()) if value.numel() else 0.0
                    matches = diff <= case.tolerance
            if settings.quick and impl.name == REFERENCE:
                timing = measure(impl.fn, case.device, 1, 0.0, warmup=0)
            elif case.reps is None:
                timing = measure(impl.fn, case.device, settings.min_reps, settings.min_time)
            else:  # the call above was the warm-up
                timing = measure(impl.fn, case.device, case.reps, 0.0, warmup=0)
            results.append(Result(impl=impl.name, timing=timing, max_abs_diff=diff, matches=matches, note=impl.note))
        except Exception as exc:  # a peer that fails on this input is reported, not fatal
            results.append(
                Result(
                    impl=impl.name,
                    timing=None,
                    max_abs_diff=None,
                    matches=False,
                    note=impl.note,
                    error=f"{type(exc).__name__}: {exc}",
                )
            )
    return results


def copy_floor(bytes_moved: int, device: str) -> Impl:
    """A copy whose read + write traffic equals the case's: the physical floor of a one-pass op."""
    n = max(1, bytes_moved // 2)
    src = torch.ones(n, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    return Impl(FLOOR, lambda: dst.copy_(src), note=f"copy of {n / 1e6:.1f} MB", checked=False)


def fresh_output_fill(nbytes: int, device: str) -> Impl:
    """Allocating a fresh output of `nbytes` and writing it once: what any op that returns new memory pays at
    least. On the CPU, blocks over glibc's mmap threshold (32 MB) are page-faulted in 4 KiB at a time."""
    return Impl(
        FRESH,
        lambda: torch.empty(nbytes, dtype=torch.uint8, device=device).fill_(0),
        note=f"torch.empty({nbytes / 1e6:.1f} MB).fill_(0)",
        checked=False,
    )
