"""fastload.memory.ring: batches from DataLoader workers through each worker's persistent shared-memory ring
(PadCollate / pack_images), under fork and spawn, with persistent workers on and off, and when things go wrong: every
slot held, a batch too large for the slots, an exception in a worker, a worker killed, a consumer that stops early."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch
from conftest import SANITIZED
from torch.utils.data import DataLoader, Dataset

import fastload as fl
from fastload.memory import ring


class Images(Dataset):
    """Image i is filled with i % 251 (so a batch's bytes name its samples); sizes vary with i."""

    def __init__(
        self,
        n: int,
        side: int = 48,
        grow_after: int | None = None,
        fail_at: int | None = None,
        kill_at: int | None = None,
    ):
        self.n, self.side, self.grow_after, self.fail_at, self.kill_at = n, side, grow_after, fail_at, kill_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise ValueError(f"sample {i} is broken")
        if i == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        side = self.side * (16 if self.grow_after is not None and i >= self.grow_after else 1)
        return np.full((side + i % 5, side + 2 * (i % 3), 3), i % 251, np.uint8), i


def check(images: fl.PackedImages, labels: torch.Tensor) -> None:
    assert isinstance(images, fl.PackedImages)
    for j, label in enumerate(labels.tolist()):
        img = images[j]
        assert img.shape[0] == img.shape[0] and int(img.min()) == int(img.max()) == label % 251


def loader(dataset, ctx="fork", **kwargs) -> DataLoader:
    kwargs.setdefault("collate_fn", fl.PadCollate(pack=True))
    return DataLoader(dataset, batch_size=4, num_workers=2, multiprocessing_context=ctx, timeout=120, **kwargs)


def received() -> int:
    return ring.stats()["received"]


def rings() -> list[dict]:
    return ring.stats()["rings"]


def dev_shm() -> set[str]:
    """The shared-memory segments in /dev/shm (multiprocessing's own semaphores, which live as long as its queues,
    left out)."""
    names = os.listdir("/dev/shm") if os.path.isdir("/dev/shm") else []
    return {n for n in names if not n.startswith("sem.")}


pytestmark = pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="the ring needs Linux memfd")


@pytest.mark.parametrize("ctx, persistent", [("fork", False), ("fork", True), ("spawn", True)])
def test_batches_arrive_through_the_ring(ctx, persistent):
    before, shm = received(), dev_shm()
    dl = loader(Images(40), ctx, persistent_workers=persistent)
    for _ in range(2):  # two epochs: persistent workers keep their rings, fresh ones map new ones
        for images, labels in dl:
            check(images, labels)
    del images, labels, dl
    assert received() - before == 20
    assert all(state == 0 for r in rings() for state in r["states"])  # every slot went back
    assert dev_shm() <= shm  # memfd rings never appear in /dev/shm


@pytest.mark.parametrize("dtype, channels_last", [(torch.float32, False), (torch.float16, True)])
def test_padded_normalized_batches_are_written_into_the_ring(dtype, channels_last):
    collate = fl.PadCollate(fl.IMAGENET, size_divisor=8, dtype=dtype, channels_last=channels_last)
    before = received()
    data = Images(24)
    for images, labels in loader(data, collate_fn=collate):
        want = fl.pad_batch(
            [data[i][0] for i in labels.tolist()], fl.IMAGENET, size_divisor=8, dtype=dtype, channels_last=channels_last
        ).images
        assert torch.equal(images, want) and images.stride() == want.stride()
    assert received() - before == 6


def test_more_batches_held_than_slots_take_the_ordinary_path():
    held = list(loader(Images(64)))  # 16 batches held at once; 2 rings of ring.DEPTH slots
    for images, labels in held:
        check(images, labels)
    busy = [r for r in rings() if r["states"].count(2) == ring.DEPTH]
    assert len(busy) == 2 and sum(r["full"] for r in busy) == 16 - 2 * ring.DEPTH
    del held, images, labels
    ids = {r["id"] for r in busy}
    assert all(r["states"] == [0] * ring.DEPTH for r in rings() if r["id"] in ids)


def test_a_batch_larger_than_the_slots_grows_the_ring_or_goes_around_it():
    dl = loader(Images(48, grow_after=24), persistent_workers=True)  # later images: 256x the bytes, ~7 MB a batch
    for images, labels in dl:
        check(images, labels)
    assert any(r["slot_bytes"] >= 4 * 768 * 768 * 3 for r in rings())  # a worker's ring grew to fit


def test_ring_off_sends_shared_memory_segments():
    before = received()
    for images, labels in loader(Images(16), collate_fn=fl.PadCollate(pack=True, ring=False)):
        check(images, labels)
    assert received() == before


def test_an_exception_in_a_worker_reaches_the_caller():
    with pytest.raises(ValueError, match="sample 9 is broken"):
        for images, labels in loader(Images(40, fail_at=9)):
            check(images, labels)
    for images, labels in loader(Images(8)):  # the next loader is unaffected
        check(images, labels)


# What a dead worker surfaces as in the main process: the DataLoader's RuntimeError naming the worker, or, when a
# batch it sent just before dying is being unpickled, the ConnectionResetError or EOFError of torch's
# file-descriptor sharing path (the labels' tensor travels that way; pytorch/pytorch#28950), ring or no ring.
DEAD_WORKER_ERRORS = (RuntimeError, ConnectionResetError, EOFError)


def test_a_killed_worker_raises_and_leaves_nothing_in_dev_shm():
    shm = dev_shm()
    batches = iter(loader(Images(80, kill_at=30)))
    with pytest.raises(DEAD_WORKER_ERRORS) as raised:
        for images, labels in batches:
            check(images, labels)
    if raised.type is RuntimeError:
        assert "worker" in str(raised.value).lower(), raised.value
    # The dead loader's iterator still has its workers registered for torch's SIGCHLD handler, which raises "worker
    # is killed" in whatever runs when the next child exits (the next loader's constructor, once in CI) until the
    # iterator shuts its workers down. Its __del__ would, but the traceback (and, in the sanitized build, something
    # else) keeps it alive: shut them down as __del__ does (torch's own method; no public one exists). That method
    # itself unregisters the workers last (in its `finally`), so the surviving worker's exit during its joins can raise
    # the dead worker's error once more (seen in CI): the `finally` still ran, and the workers are then unregistered.
    try:
        batches._shutdown_workers()
    except RuntimeError as again:
        assert "killed by signal" in str(again), again
    assert batches._shutdown and not batches._worker_pids_set
    del images, labels, batches, raised
    # fastload's rings are memfds: nothing of theirs is ever in /dev/shm. torch's own path (the labels' tensor) names
    # a segment between shm_open and shm_unlink, and a worker killed or terminated in that window leaves it behind
    # (2 runs in 75 here): torch's, not the ring's.
    assert not {name for name in dev_shm() - shm if not name.startswith("torch_")}
    for images, labels in loader(Images(8)):
        check(images, labels)


def test_a_consumer_that_stops_early():
    dl = loader(Images(80), persistent_workers=True)
    for i, (images, labels) in enumerate(dl):
        check(images, labels)
        if i == 2:
            break
    for images, labels in dl:  # the same workers, their rings still in use
        check(images, labels)


def test_ctrl_c_in_the_consumer_leaves_no_segment():
    shm = dev_shm()
    with pytest.raises(KeyboardInterrupt):
        for i, (images, labels) in enumerate(loader(Images(80))):
            check(images, labels)
            if i == 3:
                raise KeyboardInterrupt  # what Ctrl-C raises in the main process
    assert dev_shm() <= shm
    for images, labels in loader(Images(8)):
        check(images, labels)


def test_memory_stays_flat_over_many_batches():
    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    dl = loader(Images(4 * 400, side=96), persistent_workers=True)
    for i, (_images, _labels) in enumerate(dl):
        if i == 100:
            start = rss()
    if not SANITIZED:
        assert rss() - start < 16 << 20  # 300 batches later: no growth beyond noise


def test_bad_ring_arguments():
    with pytest.raises(TypeError, match="ring"):
        fl.PadCollate(pack=True, ring="yes")
    with pytest.raises(TypeError, match="ring"):
        fl.pack_images([np.zeros((2, 2, 3), np.uint8)], ring=1)


def test_outside_a_worker_there_is_no_ring():
    packed = fl.pack_images([np.zeros((2, 2, 3), np.uint8)])
    assert ring.reference(packed.data) is None and ring.reserve(16) is None


def memfd_ring(depth: int = 2, slot_bytes: int = 4096) -> tuple[int, int]:
    """A ring mapped in this process as a worker maps its own: (handle, descriptor)."""
    fd = os.memfd_create("fastload-test", os.MFD_CLOEXEC)
    size = ring.HEADER + depth * slot_bytes
    os.ftruncate(fd, size)
    return torch.ops.fastload._ring_map(fd, size, slot_bytes, depth), fd


def test_views_are_made_inside_a_registered_ring_only():
    handle, fd = memfd_ring()
    try:
        with pytest.raises(RuntimeError, match="outside ring"):
            torch.ops.fastload._ring_view(handle, 1, 4000, 200)
        with pytest.raises(RuntimeError, match="outside ring"):
            torch.ops.fastload._ring_view(handle, 2, 0, 16)
        with pytest.raises(RuntimeError, match="do not fit a slot"):
            torch.ops.fastload._ring_take(handle, 4097)
        view = torch.ops.fastload._ring_view(handle, 1, 16, 16)
        view.fill_(7)
        assert os.pread(fd, 1, ring.HEADER + 4096 + 16) == b"\x07"
        del view
    finally:
        torch.ops.fastload._ring_unregister(handle)
        os.close(fd)
    with pytest.raises(RuntimeError, match="no ring"):
        torch.ops.fastload._ring_view(handle, 1, 0, 16)
    with pytest.raises(RuntimeError, match="a ring is a 4096-byte header"):
        torch.ops.fastload._ring_map(0, 4096 + 100, 100, 1)
