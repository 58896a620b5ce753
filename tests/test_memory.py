"""fastload.memory: the CPU output cache of the compiled ops (reuse, bounds, statistics, fork and threads)."""

from __future__ import annotations

import multiprocessing as mp
import threading

import numpy as np
import pytest
import torch
from conftest import require_compiled

import fastload as fl

BIG = (8, 128, 128, 3)  # 1.5 MiB of fp32 output: above the cache's 256 KiB floor


@pytest.fixture(autouse=True)
def fresh_cache():
    require_compiled("normalize", "cpu")
    limit = fl.cpu_cache_stats()["limit_bytes"]
    fl.empty_cache()
    yield
    fl.set_cpu_cache_limit(limit >> 20)
    fl.empty_cache()


def _image(seed=0, shape=BIG):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8))


def test_a_freed_output_serves_the_next_call_and_is_fully_overwritten():
    x = _image()
    first = fl.normalize(x, fl.IMAGENET)
    expected = first.clone()
    address = first.data_ptr()
    first.fill_(float("nan"))  # stale bytes the next output must not show
    del first
    before = fl.cpu_cache_stats()
    assert before["cached_bytes"] >= expected.numel() * 4 and before["allocated_bytes"] == 0
    second = fl.normalize(x, fl.IMAGENET)
    after = fl.cpu_cache_stats()
    assert second.data_ptr() == address and after["hits"] == before["hits"] + 1
    assert after["allocated_bytes"] >= expected.numel() * 4
    assert torch.equal(second, expected)


def test_every_op_allocates_from_the_cache():
    x = _image()
    images = [_image(i, (200 + 10 * i, 300, 3)).numpy() for i in range(4)]
    before = fl.cpu_cache_stats()
    outputs = [
        fl.normalize(x, fl.IMAGENET),
        fl.denormalize(fl.normalize(x, fl.IMAGENET), fl.IMAGENET),
        fl.pad_batch(images, fl.IMAGENET).images,
        fl.pad_batch(images).images,
        fl.resize_pad_batch(images, fl.IMAGENET, scale=(400, 300)).images,
    ]
    grown = fl.cpu_cache_stats()["allocated_bytes"] - before["allocated_bytes"]
    assert grown >= sum(o.numel() * o.element_size() for o in outputs)


def test_small_outputs_and_a_zero_limit_bypass_the_cache():
    before = fl.cpu_cache_stats()
    fl.normalize(_image(shape=(8, 8, 3)), fl.IMAGENET)  # 768 bytes of output: malloc's heap serves it
    after = fl.cpu_cache_stats()
    assert (after["hits"], after["misses"]) == (before["hits"], before["misses"])
    fl.set_cpu_cache_limit(0)
    before = fl.cpu_cache_stats()
    out = fl.normalize(_image(), fl.IMAGENET)
    del out
    after = fl.cpu_cache_stats()
    assert after["cached_bytes"] == 0 and after["hits"] == before["hits"] and after["misses"] == before["misses"]


def test_the_limit_bounds_the_free_blocks():
    fl.set_cpu_cache_limit(2)  # MiB: one 1.5 MiB output rounds to a 2 MiB block
    a, b = fl.normalize(_image(1), fl.IMAGENET), fl.normalize(_image(2), fl.IMAGENET)
    del a, b
    stats = fl.cpu_cache_stats()
    assert stats["limit_bytes"] == 2 << 20 and stats["cached_bytes"] <= 2 << 20 and stats["returned_blocks"] >= 1
    fl.empty_cache()
    assert fl.cpu_cache_stats()["cached_bytes"] == 0


def test_a_cached_output_can_be_resized_and_outlives_empty_cache():
    out = fl.normalize(_image(), fl.IMAGENET)
    keep = out.clone()
    fl.empty_cache()  # frees only free blocks
    assert torch.equal(out, keep)
    out.resize_(2 * out.numel())  # storage reallocation goes through the same allocator
    assert torch.equal(out[: keep.numel()].view_as(keep), keep)


def _child_stats(queue):
    queue.put(fl.cpu_cache_stats())


def test_a_forked_worker_starts_with_an_empty_cache():
    del_me = fl.normalize(_image(), fl.IMAGENET)
    del del_me
    assert fl.cpu_cache_stats()["cached_bytes"] > 0
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child_stats, args=(queue,))
    proc.start()
    child = queue.get(timeout=60)
    proc.join(60)
    assert proc.exitcode == 0 and child["cached_bytes"] == 0 and child["hits"] == 0


def test_threads_share_the_cache_safely():
    x = _image()
    expected = fl.normalize(x, fl.IMAGENET)
    alive = fl.cpu_cache_stats()["allocated_bytes"]
    errors = []

    def work():
        try:
            for _ in range(20):
                if not torch.equal(fl.normalize(x, fl.IMAGENET), expected):
                    errors.append("wrong result")
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(repr(exc))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert fl.cpu_cache_stats()["allocated_bytes"] == alive  # every block came back once


@pytest.mark.parametrize(
    "value, error, words", [(-1, ValueError, ">= 0"), (1.5, TypeError, "int"), (True, TypeError, "int")]
)
def test_bad_limits(value, error, words):
    with pytest.raises(error, match=words):
        fl.set_cpu_cache_limit(value)
