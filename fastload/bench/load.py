"""The machine's load around a suite: how many cores other processes (and, on a VM, the hypervisor's steal) kept
busy while the benchmark itself was idle, sampled before and after each suite from /proc/stat. A suite measured
while others took a core's share is marked, so a figure from a busy machine is not quoted as the library's."""

from __future__ import annotations

import os
import time

UNDER_LOAD = 0.25  # cores busy with other work: above this, the suite's rows are marked as measured under load


def _cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot; None where /proc/stat is not there."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def busy_cores(seconds: float = 0.5) -> float | None:
    """Cores kept busy by everything but this (idle, sleeping) process over `seconds`; None without /proc/stat."""
    start = _cpu_jiffies()
    time.sleep(seconds)
    end = _cpu_jiffies()
    if start is None or end is None or end[1] == start[1]:
        return None
    return round((end[0] - start[0]) / (end[1] - start[1]) * (os.cpu_count() or 1), 2)


def sample() -> dict:
    """{"busy_cores": float | None, "loadavg": 1-minute load average | None} now."""
    try:
        loadavg = round(os.getloadavg()[0], 2)
    except OSError:
        loadavg = None
    return {"busy_cores": busy_cores(), "loadavg": loadavg}


def under_load(before: dict, after: dict) -> bool:
    """Whether other work kept more than UNDER_LOAD cores busy before or after the suite."""
    return any((s["busy_cores"] or 0.0) > UNDER_LOAD for s in (before, after))
