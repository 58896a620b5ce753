"""fastload's CPU output cache: the compiled ops allocate their CPU outputs (256 KiB and up) from blocks that stay
mapped after the caller frees them, so a training loop's next batch reuses warm pages instead of faulting fresh ones
in from the OS (with glibc's defaults a freed 38 MB batch goes back to the OS, and the next one costs ten times the
kernel in page faults). Bounded by ``FASTLOAD_CPU_CACHE_MB`` (default min(1 GiB, RAM / 8); 0 turns it off); a
forked DataLoader worker starts with an empty cache. Model: ``torch.cuda.memory_stats`` / ``empty_cache``."""

from __future__ import annotations

import os
import warnings

import torch

from fastload import _backend

_STAT_NAMES = ("allocated_bytes", "cached_bytes", "limit_bytes", "hits", "misses", "returned_blocks")


def _require_compiled(what: str) -> None:
    if _backend.load_error is not None:
        raise RuntimeError(f"fastload.{what}: the compiled extension is not loaded ({_backend.load_error})")


def cpu_cache_stats() -> dict[str, int]:
    """The CPU output cache's counters, like `torch.cuda.memory_stats`.

    Returns:
        A dict of ints: `allocated_bytes` (outputs alive now), `cached_bytes` (free blocks held for reuse),
            `limit_bytes` (the bound on cached bytes), `hits` / `misses` (allocations served from the cache / mapped
            fresh) and `returned_blocks` (free blocks given back to the OS).

    Raises:
        RuntimeError: the compiled extension is not loaded.
    """
    _require_compiled("cpu_cache_stats")
    return dict(zip(_STAT_NAMES, torch.ops.fastload._cpu_cache_stats()))


def empty_cache() -> None:
    """Return every free cached CPU block to the OS (outputs still alive are untouched), like `torch.cuda.empty_cache`.

    Raises:
        RuntimeError: the compiled extension is not loaded.
    """
    _require_compiled("empty_cache")
    torch.ops.fastload._cpu_cache_empty()


def _physical_megabytes() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") >> 20
    except (ValueError, OSError):  # not reported here: a bound no real cache reaches
        return 1 << 40


def set_cpu_cache_limit(megabytes: int) -> None:
    """Bound the free blocks the CPU output cache keeps; overrides `FASTLOAD_CPU_CACHE_MB` and trims the cache at once.

    Args:
        megabytes: the bound in MiB, an int >= 0; 0 turns caching off (outputs then come from and return to the
            ordinary allocator). More than the machine's memory is clamped to it, with a RuntimeWarning.

    Raises:
        TypeError: not an int (bools refused).
        ValueError: a negative bound.
        RuntimeError: the compiled extension is not loaded.
    """
    if isinstance(megabytes, bool) or not isinstance(megabytes, int):
        raise TypeError(f"megabytes must be an int (MiB), got {type(megabytes).__name__}")
    if megabytes < 0:
        raise ValueError(f"megabytes must be >= 0, got {megabytes}")
    _require_compiled("set_cpu_cache_limit")
    ram = _physical_megabytes()
    if megabytes > ram:
        warnings.warn(
            f"set_cpu_cache_limit({megabytes}) is more than this machine's memory ({ram} MiB); the CPU "
            f"output cache is bounded by {ram} MiB",
            RuntimeWarning,
            stacklevel=2,
        )
        megabytes = ram
    torch.ops.fastload._cpu_cache_set_limit(megabytes << 20)
