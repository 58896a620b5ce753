"""A persistent shared-memory ring that carries batches from DataLoader workers to the main process.

Torch's default path gives every batch a new shared-memory segment: the worker faults its pages in while writing,
hands the main process a file descriptor through a socket, and the main process maps the segment and faults the
pages in again. Here each worker maps one ring (an anonymous ``memfd``, so nothing ever appears in /dev/shm, even
after a SIGKILL) of ``depth`` slots once, writes each batch into a free slot, and sends only the slot's coordinates;
the main process maps each ring once (the descriptor travels with the first batches) and returns views of the slot.
When no slot is free or the batch does not fit, the worker grows the ring (when it is idle) or takes the ordinary
path: a batch never waits and never fails.

**The lifetime rule**: a slot is free only when nothing can read it any more. The mappings and every tensor over
them are made in C++ (csrc/memory/ring.cpp), whose deleters hold the mapping and count each slot's live tensors:
- in the worker, a slot is taken again only when every tensor sharing its storage is gone, whatever object made
  them (a collate that returns ``pack_images(...)[0]``, ``.unpack()`` or ``.data`` keeps its slot until torch has
  pickled them); the worker's pickler sends every tensor in a slot by reference (``ring_pickle``), so collates
  return plain tensors and a user's function wrapping one sees tensors;
- a slot goes out by reference at most once per use (``reference``): a batch sent again (a cached pack) goes the
  ordinary way, so the main process never holds two views for one release;
- in the main process, the slot returns to its worker when its last view dies; a ring is unmapped only when its
  last tensor dies, so held batches outlive their worker, their loader and later loaders;
- views handed to users are pageable memory: a ``.cuda(non_blocking=True)`` from them is staged by the driver
  before the call returns. Only ``DevicePrefetcher``'s own copies read a page-locked second mapping of the ring
  (``device_source``), and it keeps the batch until the copy's event has fired.

Slot states (one 32-bit word each in the header): 0 free, 1 sent (only the worker sets it), 2 viewed by the consumer
(only the consumer sets it; its last view's deleter sets 0).
"""

from __future__ import annotations

import itertools
import os
import threading
import warnings

import numpy as np
import torch

from fastload import _backend

DEPTH = 4  # slots per worker ring: the DataLoader keeps prefetch_factor (2) batches per worker in flight
HEADER = 4096  # bytes: the state words, then the counters
_MAPPED, _RETIRED, _PUBLISHED, _FULL, _TOO_BIG, _RESENT, _STATES = 0, 1, 2, 3, 4, 5, 16  # header word indices
_ALIGN = 1 << 20
_ids = itertools.count()


def available() -> bool:
    """Whether batches can travel through a ring here: Linux memfd and the compiled extension (whose deleters
    return slots), in a DataLoader worker. Turned off with FASTLOAD_RING=0."""
    return (
        hasattr(os, "memfd_create")
        and _backend.load_error is None
        and os.environ.get("FASTLOAD_RING", "1") != "0"
        and torch.utils.data.get_worker_info() is not None
    )


def _header(handle: int) -> np.ndarray:
    return torch.ops.fastload._ring_header(handle).numpy().view(np.uint32)


class _ProducerRing:
    """The worker's ring: `depth` slots of `slot_bytes` after a one-page header."""

    def __init__(self, slot_bytes: int, depth: int):
        self.id = f"{os.getpid()}-{next(_ids)}-{os.urandom(4).hex()}"
        self.slot_bytes, self.depth = slot_bytes, depth
        self.size = HEADER + depth * slot_bytes
        self.fd = os.memfd_create("fastload-ring", os.MFD_CLOEXEC)
        try:
            os.ftruncate(self.fd, self.size)
            self.handle = torch.ops.fastload._ring_map(self.fd, self.size, slot_bytes, depth)
        except (OSError, RuntimeError):
            os.close(self.fd)
            raise
        self.words = _header(self.handle)

    def take(self, nbytes: int) -> torch.Tensor | None:
        found = torch.ops.fastload._ring_take(self.handle, nbytes)
        return found[0] if found else None

    def idle(self) -> bool:
        return torch.ops.fastload._ring_busy(self.handle) == 0

    def retire(self) -> None:
        # Tensors of it still alive (a batch being pickled) keep its mapping; the consumer's own mapping keeps the
        # bytes of slots in flight.
        self.words[_RETIRED] = 1
        torch.ops.fastload._ring_unregister(self.handle)
        os.close(self.fd)


_producer: _ProducerRing | None = None
_producer_pid = 0


def _this_process_ring() -> _ProducerRing | None:
    global _producer, _producer_pid
    if _producer_pid != os.getpid():  # first use in this process (a forked worker never inherits its parent's)
        _producer, _producer_pid = None, os.getpid()
    return _producer


def reserve(nbytes: int) -> torch.Tensor | None:
    """A 1-D uint8 tensor of `nbytes` over a free slot of this worker's ring, or None (not in a worker, rings
    unavailable, every slot busy, or a batch too large for the slots while some are busy): the caller then takes
    the ordinary path. The slot stays this worker's while any tensor sharing the storage lives; `reference` sends
    it."""
    global _producer
    if not available():
        return None
    ring = _this_process_ring()
    if ring is not None and nbytes > ring.slot_bytes:
        if not ring.idle():
            ring.words[_TOO_BIG] += 1
            return None
        ring.retire()
        ring = _producer = None
    if ring is None:
        # Room for batches half again as large as this one, so ordinary variation does not grow the ring.
        slot_bytes = max(_ALIGN, -(-(nbytes + nbytes // 2) // _ALIGN) * _ALIGN)
        try:
            ring = _producer = _ProducerRing(slot_bytes, DEPTH)
        except (OSError, RuntimeError):  # no memory for the ring (memfd size limits): the ordinary path still works
            return None
        from fastload.memory import ring_pickle  # it imports this module

        ring_pickle.route_ring_tensors()
    buffer = ring.take(nbytes)
    if buffer is None:
        ring.words[_FULL] += 1
    return buffer


def batch_buffer(nbytes: int, use_ring: bool = True) -> torch.Tensor:
    """A 1-D uint8 CPU buffer of `nbytes` for a batch bound for the main process: a slot of this worker's ring when
    one is free (and `use_ring`); else, in a worker, new shared memory (as default_collate makes: sending it costs no
    second copy); elsewhere ordinary memory."""
    data = reserve(nbytes) if use_ring else None
    if data is not None:
        return data
    if torch.utils.data.get_worker_info() is not None:
        return torch.empty(0, dtype=torch.uint8).set_(torch.UntypedStorage._new_shared(nbytes))
    return torch.empty(nbytes, dtype=torch.uint8)


def reference(tensor: torch.Tensor) -> tuple | None:
    """What crosses the pipe for `tensor` when its bytes lie in a slot of this worker's ring not sent since it was
    taken: the ring's identity, size and (until the consumer has mapped it) descriptor, and the bytes' coordinates.
    Marks the slot sent. None otherwise (not ring memory, or sent already): send the tensor the ordinary way."""
    ring = _this_process_ring()
    if ring is None or not isinstance(tensor, torch.Tensor):
        return None
    where = torch.ops.fastload._ring_send(ring.handle, tensor)
    if len(where) != 3:
        if where:
            ring.words[_RESENT] += 1
        return None
    ring.words[_PUBLISHED] += 1
    fd = None
    if not ring.words[_MAPPED]:
        from multiprocessing.reduction import DupFd

        fd = DupFd(ring.fd)
    slot, offset, nbytes = where
    return (ring.id, ring.size, ring.slot_bytes, ring.depth, os.getpid(), fd, slot, offset, nbytes)


class _ConsumerRing:
    """A worker's ring as the main process maps it."""

    def __init__(self, fd: int, size: int, slot_bytes: int, depth: int, pid: int):
        self.handle = torch.ops.fastload._ring_map(fd, size, slot_bytes, depth)
        self.size, self.slot_bytes, self.depth, self.pid = size, slot_bytes, depth, pid
        self.words = _header(self.handle)
        self.words[_MAPPED] = 1

    def states(self) -> np.ndarray:
        return self.words[_STATES : _STATES + self.depth]

    def finished(self) -> bool:
        """No batch of it still to come: safe to forget (its memory stays mapped while views of it live)."""
        if self.words[_RETIRED]:
            return not (self.states() == 1).any()  # every batch it sent has arrived
        try:
            os.kill(self.pid, 0)
            return False
        except ProcessLookupError:
            return True  # its worker is gone: batches it sent but nobody received will never be read
        except PermissionError:
            return False

    def page_lock_status(self) -> str:
        return torch.ops.fastload._ring_page_lock_status(self.handle)

    def close(self) -> None:
        torch.ops.fastload._ring_unregister(self.handle)


_rings: dict[str, _ConsumerRing] = {}
_lock = threading.Lock()
_received = 0
_page_lock_warned = False


def _consumer_ring(ring_id, size, slot_bytes, depth, pid, fd) -> _ConsumerRing:
    with _lock:
        ring = _rings.get(ring_id)
        if fd is not None:
            received = fd.detach()  # always collect the descriptor, or the worker's resource sharer keeps it
            try:
                if ring is None:
                    for old in [k for k, r in _rings.items() if r.finished()]:
                        _rings.pop(old).close()
                    ring = _rings[ring_id] = _ConsumerRing(received, size, slot_bytes, depth, pid)
            finally:
                os.close(received)
        if ring is None:
            raise RuntimeError(f"fastload ring {ring_id}: a batch arrived before its ring was mapped")
        return ring


def view(ref: tuple) -> torch.Tensor:
    """The consumer's side of `reference`: a 1-D uint8 tensor viewing the bytes; the slot returns to its worker
    when the last view of it dies."""
    global _received
    ring_id, size, slot_bytes, depth, pid, fd, slot, offset, nbytes = ref
    ring = _consumer_ring(ring_id=ring_id, size=size, slot_bytes=slot_bytes, depth=depth, pid=pid, fd=fd)
    _received += 1
    return torch.ops.fastload._ring_view(ring.handle, slot, offset, nbytes)


def device_source(tensor: torch.Tensor) -> torch.Tensor:
    """For a host-to-device copy by a caller that keeps the result until the copy's event has fired: a view of a
    ring in this process becomes the same bytes through the ring's page-locked mapping (page-locked on first use;
    holds the view's slot while it lives), so the copy is a DMA; anything else is returned as it is. A ring that
    cannot be page-locked is reported once (a warning and `stats()`), and its views are copied as pageable memory."""
    global _page_lock_warned
    if _backend.load_error is not None or not isinstance(tensor, torch.Tensor) or tensor.device.type != "cpu":
        return tensor
    alias = torch.ops.fastload._ring_alias(tensor, True)
    if not alias:
        return tensor  # not ring memory
    if alias[0].data_ptr() != tensor.data_ptr():
        return alias[0]
    if not _page_lock_warned:  # a ring that could not be page-locked
        _page_lock_warned = True
        errors = [e for r in list(_rings.values()) if (e := r.page_lock_status()) not in ("", "page-locked")]
        warnings.warn(
            f"fastload ring: page-locking failed ({errors[0] if errors else 'unknown error'}); batches "
            "from the workers' rings are copied to the device as pageable memory",
            RuntimeWarning,
            stacklevel=2,
        )
    return tensor


def stats() -> dict:
    """`received`: batches this process has received through rings so far; `rings`: the rings it has mapped now
    (those of finished workers are forgotten when the next ring arrives, and unmapped when their last view dies),
    each with its worker's pid, slot size and depth, slot states, whether it is page-locked for device copies
    ('page_lock': '' not tried, 'page-locked', or the error), and the worker's counters: batches published,
    ordinary-path fallbacks because every slot was busy or the batch was too large while slots were busy, and
    slots asked to go out again (a cached batch sent twice), which went the ordinary way."""
    with _lock:
        return dict(
            received=_received,
            rings=[
                dict(
                    id=k,
                    pid=r.pid,
                    slot_bytes=r.slot_bytes,
                    depth=r.depth,
                    states=r.states().tolist(),
                    published=int(r.words[_PUBLISHED]),
                    full=int(r.words[_FULL]),
                    too_big=int(r.words[_TOO_BIG]),
                    resent=int(r.words[_RESENT]),
                    retired=bool(r.words[_RETIRED]),
                    page_lock=r.page_lock_status(),
                    page_locked=r.page_lock_status() == "page-locked",
                )
                for k, r in _rings.items()
            ],
        )


def tensor_in_slot(buffer: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A tensor of `like`'s shape, strides and dtype over a `reserve`d buffer (slots start page-aligned)."""
    return buffer.view(like.dtype).as_strided(like.shape, like.stride())
