"""The ring's lifetime rule: a slot is free only when nothing can read it any more. Custom collates that keep ring
memory past their pack (views, `.unpack()`, `.data`), several packs per batch, a cached pack sent again, batches held
across later loaders, under fork and spawn; every byte of every batch checked. Device copies are checked through the
mechanism (a batch whose copy event has not fired stays held) here, and for real by scripts/gpu_check.sh."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

import fastload as fl
from fastload.data.prefetcher import PendingCopies
from fastload.memory import ring

pytestmark = pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="the ring needs Linux memfd")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def expected(i: int) -> tuple[tuple[int, int, int], int]:
    """Sample i's image: its shape and the value of every one of its bytes."""
    return (32 + i % 5, 32 + 2 * (i % 3), 3), i % 251


class Images(Dataset):
    def __len__(self):
        return 4 * 64

    def __getitem__(self, i):
        shape, value = expected(i)
        return np.full(shape, value, np.uint8), i


def check_image(img, i: int) -> None:
    shape, value = expected(i)
    img = torch.as_tensor(img)
    assert tuple(img.shape) == shape, (i, tuple(img.shape))
    assert int(img.min()) == int(img.max()) == value, (i, value, int(img.min()), int(img.max()))


def first_image(samples):  # a view that outlives its pack
    return fl.pack_images([s[0] for s in samples])[0], torch.tensor([samples[0][1]])


def unpacked(samples):  # the pack's views returned alone
    return fl.pack_images([s[0] for s in samples]).unpack(), torch.tensor([s[1] for s in samples])


def data_then_pack_again(samples):  # one pack's .data, then a second pack in the same batch
    images = [s[0] for s in samples]
    data = fl.pack_images(images).data
    return data, fl.pack_images(images[::-1]), torch.tensor([s[1] for s in samples])


def check_first_image(batch):
    img, labels = batch
    check_image(img, int(labels[0]))


def check_unpacked(batch):
    images, labels = batch
    for img, i in zip(images, labels.tolist()):
        check_image(img, i)


def check_data_then_pack_again(batch):
    data, second, labels = batch
    labels = labels.tolist()
    offset = 0
    for i in labels:  # the first pack's bytes, image after image
        shape, _ = expected(i)
        n = int(np.prod(shape))
        check_image(data[offset : offset + n].view(shape), i)
        offset += n
    assert offset == data.numel()
    for img, i in zip(second.unpack(), labels[::-1]):
        check_image(img, i)


CASES = {
    "view outlives its pack": (first_image, check_first_image),
    "unpack() returned alone": (unpacked, check_unpacked),
    ".data, then a second pack": (data_then_pack_again, check_data_then_pack_again),
}


@pytest.mark.parametrize("ctx", ["fork", "spawn"])
@pytest.mark.parametrize("case", list(CASES))
def test_ring_memory_a_collate_keeps_is_never_overwritten(case, ctx):
    collate, check = CASES[case]
    loader = DataLoader(
        Images(), batch_size=4, num_workers=2, collate_fn=collate, multiprocessing_context=ctx, timeout=120
    )
    batches = 0
    for batch in loader:
        check(batch)
        batches += 1
    assert batches == 64


def run_script(code: str, ctx: str) -> subprocess.CompletedProcess:
    # In a process of its own: the old rings' failure here was a segmentation fault.
    return subprocess.run(
        [sys.executable, "-c", code, ctx],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "tests")},
        timeout=600,
    )


class CachedPack(Images):
    """A dataset that caches one pack (built in the worker, so in its ring) and returns it with every sample, beside
    the sample's own image."""

    pack = None

    def __len__(self):
        return 128

    def __getitem__(self, i):
        if self.pack is None:
            self.pack = fl.pack_images([super().__getitem__(7)[0]])
        return self.pack, *super().__getitem__(i)


def cached_and_packed(samples):
    # The cached pack once per sample, and this batch's images packed: the worker packs again and again, so a slot
    # handed back too early is overwritten.
    return [s[0] for s in samples], fl.pack_images([s[1] for s in samples]), torch.tensor([s[2] for s in samples])


CACHED_PACK = """
import gc, sys
from torch.utils.data import DataLoader
import fastload as fl
from test_ring_lifetime import CachedPack, Images, cached_and_packed, check_image

def check(batch):
    cached, images, labels = batch
    for pack in cached:
        check_image(pack[0], 7)
    for img, i in zip(images.unpack(), labels.tolist()):
        check_image(img, i)

ctx = sys.argv[1]
held = []
for k, batch in enumerate(DataLoader(CachedPack(), batch_size=4, num_workers=2, collate_fn=cached_and_packed,
                                     multiprocessing_context=ctx, timeout=120)):
    check(batch)
    if k % 2:
        held.append(batch)  # the others die at once, and with them some views of the cached pack
for _ in range(2):  # later loaders: new workers, new rings, the first loader's workers gone
    for images, labels in DataLoader(Images(), batch_size=4, num_workers=2, multiprocessing_context=ctx,
                                     collate_fn=fl.PadCollate(pack=True), timeout=120):
        for img, i in zip(images.unpack(), labels.tolist()):
            check_image(img, i)
    gc.collect()
for batch in held:
    check(batch)
print("ok", len(held))
"""


@pytest.mark.parametrize("ctx", ["fork", "spawn"])
def test_a_cached_pack_sent_again_stays_right_across_later_loaders(ctx):
    proc = run_script(CACHED_PACK, ctx)
    assert proc.returncode == 0 and proc.stdout.split() == ["ok", "16"], (proc.returncode, proc.stderr[-3000:])


HELD_BATCHES = """
import gc, sys, torch
from torch.utils.data import DataLoader
import fastload as fl
from fastload.memory import ring
from test_ring_lifetime import Images, check_image

ctx = sys.argv[1]
def loader(collate):
    return DataLoader(Images(), batch_size=4, num_workers=2, multiprocessing_context=ctx, collate_fn=collate,
                      timeout=120)

# Eight batches held (ring views: two workers x 4 slots), the rest dropped; then later loaders map new rings and
# forget the first ones, whose workers are gone.
held = []
for k, batch in enumerate(loader(fl.PadCollate(pack=True))):
    if k < 8:
        held.append(batch)
first_rings = {r["id"] for r in ring.stats()["rings"]}
for _ in range(2):
    for images, labels in loader(fl.PadCollate(fl.IMAGENET)):
        pass
    gc.collect()
assert not first_rings & {r["id"] for r in ring.stats()["rings"]}, "the first loader's rings are still mapped"
for images, labels in held:
    for img, i in zip(images.unpack(), labels.tolist()):
        check_image(img, i)
print("ok", len(held))
"""


@pytest.mark.parametrize("ctx", ["fork", "spawn"])
def test_held_batches_outlive_their_rings_and_later_loaders(ctx):
    proc = run_script(HELD_BATCHES, ctx)
    assert proc.returncode == 0 and proc.stdout.split() == ["ok", "8"], (proc.returncode, proc.stderr[-3000:])


class Event:
    """A stand-in for torch.cuda.Event whose copy completes when the test says so."""

    def __init__(self):
        self.fired = False

    def query(self):
        return self.fired

    def synchronize(self):
        self.fired = True


def slot_states() -> list[int]:
    return [s for r in ring.stats()["rings"] for s in r["states"]]


def test_a_batch_whose_copy_has_not_completed_stays_held():
    loader = DataLoader(
        Images(), batch_size=4, num_workers=1, collate_fn=fl.PadCollate(pack=True), persistent_workers=True, timeout=120
    )
    it = iter(loader)
    batch = next(it)
    pending, event = PendingCopies(), Event()
    pending.add(event, batch)
    del batch
    gc.collect()
    assert slot_states().count(2) == 1  # the copy may still read it: the slot stays viewed
    pending.release_finished()
    assert len(pending) == 1 and slot_states().count(2) == 1
    event.fired = True
    pending.release_finished()
    assert len(pending) == 0 and slot_states().count(2) == 0  # handed back once the copy's event fired
    second, third = PendingCopies(), Event()
    second.add(third, next(it))
    second.wait()  # waits on the event, then lets the batch go
    assert third.fired and len(second) == 0 and slot_states().count(2) == 0
    del it


def test_device_source_reads_the_same_bytes_through_the_second_mapping():
    loader = DataLoader(Images(), batch_size=4, num_workers=1, collate_fn=fl.PadCollate(pack=True), timeout=120)
    images, labels = next(iter(loader))
    data = images.data
    alias = torch.ops.fastload._ring_alias(data, False)[0]  # the mapping device copies read, without page-locking
    assert alias.data_ptr() != data.data_ptr() and torch.equal(alias, data)
    data[:3] = torch.tensor([1, 2, 3], dtype=torch.uint8)  # the same pages
    assert alias[:3].tolist() == [1, 2, 3]
    part = data[5:50].view(5, 9)
    assert torch.equal(torch.ops.fastload._ring_alias(part, False)[0], part)
    del images, data, part
    gc.collect()
    assert slot_states().count(2) == 1  # the alias holds the view's slot
    del alias
    gc.collect()
    assert slot_states().count(2) == 0
    assert torch.ops.fastload._ring_alias(torch.zeros(8, dtype=torch.uint8), False) == []  # not ring memory


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU page-locks the ring")
def test_a_ring_that_cannot_be_page_locked_is_reported_once_and_copied_as_it_is():
    loader = DataLoader(Images(), batch_size=4, num_workers=1, collate_fn=fl.PadCollate(pack=True), timeout=120)
    images, labels = next(iter(loader))
    ring._page_lock_warned = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert ring.device_source(images.data) is images.data
        assert ring.device_source(images.data) is images.data
    assert len([w for w in caught if "page-locking failed" in str(w.message)]) == 1
    mine = [r for r in ring.stats()["rings"] if r["states"].count(2)]
    assert mine and mine[0]["page_lock"] not in ("", "page-locked") and not mine[0]["page_locked"]
    # The ring (CPU module) page-locks through the CUDA module's op when that is loaded; the CUDA runtime says why
    # it failed. Without it the ring says so.
    loaded = fl.backend_info()["cuda_module"] == "loaded"
    assert ("cudaHostRegister failed" if loaded else "CUDA module is not loaded") in mine[0]["page_lock"], mine


def test_close_ends_the_prefetchers_open_iterations():
    loader = DataLoader(Images(), batch_size=4, collate_fn=fl.PadCollate(pack=True))
    prefetcher = fl.DevicePrefetcher(loader, "cpu", fl.IMAGENET)
    first, second = iter(prefetcher), iter(prefetcher)
    next(first), next(second)
    prefetcher.close()
    for it in (first, second):
        with pytest.raises(StopIteration):
            next(it)


# On a GPU (scripts/gpu_check.sh runs these): copies queued behind a busy stream, as in a training loop.


@pytest.mark.cuda
def test_plain_non_blocking_copies_from_ring_views_are_never_overwritten():
    # The everyday loop: `x = x.cuda(non_blocking=True)`, the host batch dropped at once. The stream is kept busy
    # before each copy (a sleep kernel), so a DMA still queued would read the slot after its worker wrote it again.
    loader = DataLoader(Images(), batch_size=4, num_workers=2, collate_fn=fl.PadCollate(pack=True), timeout=120)
    copies = []
    for images, labels in loader:
        torch.cuda._sleep(20_000_000)
        copies.append((fl.PackedImages(images.data.cuda(non_blocking=True), images.offsets, images.sizes, 3), labels))
        del images
    torch.cuda.synchronize()
    assert len(copies) == 64
    for packed, labels in copies:
        for img, i in zip(packed.unpack(), labels.tolist()):
            check_image(img.cpu(), i)


@pytest.mark.cuda
def test_the_prefetcher_under_load_copies_from_page_locked_rings_and_never_loses_a_batch():
    loader = DataLoader(
        Images(), batch_size=4, num_workers=2, collate_fn=fl.PadCollate(pack=True), persistent_workers=True, timeout=120
    )
    prefetcher = fl.DevicePrefetcher(loader, "cuda")
    for _epoch in range(2):
        seen = 0
        for images, labels in prefetcher:
            torch.cuda._sleep(20_000_000)  # the model's step, while the next batch's copy is queued
            for img, i in zip(images.unpack(), labels.tolist()):
                check_image(img.cpu(), i)
            seen += 1
        assert seen == 64
    assert any(r["page_locked"] for r in ring.stats()["rings"]), ring.stats()
    for k, _batch in enumerate(prefetcher):  # break early: the copy in flight is waited for
        torch.cuda._sleep(20_000_000)
        if k == 3:
            break
    del images, labels
    gc.collect()
    for images, labels in prefetcher:  # and the next epoch is whole
        for img, i in zip(images.unpack(), labels.tolist()):
            check_image(img.cpu(), i)
