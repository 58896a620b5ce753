"""A persistent shared-memory ring that carries batches from DataLoader workers to the main process.

Torch's default path gives every batch a new shared-memory segment: the worker faults its pages in while writing,
hands the main process a file descriptor through a socket, and the main process maps the segment and faults the
pages in again. Here each worker maps one ring (an anonymous ``memfd``, so nothing ever appears in /dev/shm, even
after a SIGKILL) of ``depth`` slots once, writes each batch into a free slot, and sends only the slot's coordinates;
the main process maps each ring once (the descriptor travels with the first batches) and returns views of the slot.
The slot goes back to the worker when the last view of it dies (a deleter in C++ clears the slot's state word in the
ring's shared header). When no slot is free or the batch does not fit, the worker grows the ring (when it is idle)
or takes the ordinary path: a batch never waits and never fails. On a machine with CUDA the consumer page-locks each
ring once (``cudaHostRegister``), so host-to-device copies are DMAs straight from the worker's bytes.

Slot states (one 32-bit word each in the header): 0 free, 1 written and sent (only the worker sets it), 2 viewed by
the consumer (only the consumer sets it; the views' deleter sets 0).
"""

from __future__ import annotations

import ctypes
import itertools
import mmap
import os
import threading
import weakref

import numpy as np
import torch

from fastload import _ops

DEPTH = 4  # slots per worker ring: the DataLoader keeps prefetch_factor (2) batches per worker in flight
HEADER = 4096  # bytes: the state words, then the counters
_MAPPED, _RETIRED, _PUBLISHED, _FULL, _TOO_BIG, _STATES = 0, 1, 2, 3, 4, 16  # header word indices
_ALIGN = 1 << 20
_ids = itertools.count()


def available() -> bool:
    """Whether batches can travel through a ring here: Linux memfd and the compiled extension (whose deleter
    returns slots). Turned off with FASTLOAD_RING=0."""
    return (hasattr(os, "memfd_create") and _ops.load_error is None and os.environ.get("FASTLOAD_RING", "1") != "0"
            and torch.utils.data.get_worker_info() is not None)


def _address(mm: mmap.mmap) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(mm))


class _ProducerRing:
    """The worker's ring: `depth` slots of `slot_bytes` after a one-page header."""

    def __init__(self, slot_bytes: int, depth: int):
        self.id = f"{os.getpid()}-{next(_ids)}-{os.urandom(4).hex()}"
        self.slot_bytes, self.depth = slot_bytes, depth
        self.size = HEADER + depth * slot_bytes
        self.fd = os.memfd_create("fastload-ring", os.MFD_CLOEXEC)
        os.ftruncate(self.fd, self.size)
        self.mm = mmap.mmap(self.fd, self.size)
        self.words = np.frombuffer(self.mm, np.uint32, HEADER // 4)
        self.reserved: dict[int, object] = {}  # slot -> the token of the Slot holding it in this worker, unsent

    def free_slot(self) -> int | None:
        for i in range(self.depth):
            if self.words[_STATES + i] == 0 and i not in self.reserved:
                return i
        return None

    def idle(self) -> bool:
        return not self.reserved and not self.words[_STATES:_STATES + self.depth].any()

    def release(self, index: int, token: object) -> None:
        if self.reserved.get(index) is token:
            del self.reserved[index]

    def retire(self) -> None:
        # The consumer's own mapping keeps the bytes of slots still in flight; the worker's closes when the last of
        # its views (a sent batch the DataLoader has not dropped yet) dies.
        self.words[_RETIRED] = 1
        os.close(self.fd)


_producer: _ProducerRing | None = None
_producer_pid = 0


class Slot:
    """A reserved slot of this worker's ring: `tensor` views its first `nbytes`. Sending it (pickling) marks it
    written; dropped unsent, it goes back to the ring."""

    def __init__(self, ring: _ProducerRing, index: int, nbytes: int):
        self.ring, self.index, self.nbytes = ring, index, nbytes
        token = ring.reserved[index] = object()
        self.tensor = torch.frombuffer(ring.mm, dtype=torch.uint8, count=nbytes, offset=self.offset) \
            if nbytes else torch.empty(0, dtype=torch.uint8)
        weakref.finalize(self, ring.release, index, token)

    @property
    def offset(self) -> int:
        return HEADER + self.index * self.ring.slot_bytes

    def ref(self) -> tuple:
        """What crosses the pipe: the ring's identity, size and (until the consumer has mapped it) descriptor, and
        the slot's coordinates. Marks the slot written."""
        ring = self.ring
        ring.words[_STATES + self.index] = 1
        ring.words[_PUBLISHED] += 1
        ring.reserved.pop(self.index, None)
        fd = None
        if not ring.words[_MAPPED]:
            from multiprocessing.reduction import DupFd

            fd = DupFd(ring.fd)
        return (ring.id, ring.size, ring.slot_bytes, ring.depth, os.getpid(), fd, self.index, self.nbytes)


def reserve(nbytes: int) -> Slot | None:
    """A slot of this worker's ring for `nbytes`, or None (not in a worker, rings unavailable, every slot busy, or
    a batch too large for the slots while some are busy): the caller then takes the ordinary path."""
    global _producer, _producer_pid
    if not available():
        return None
    if _producer_pid != os.getpid():  # first use in this process (a forked worker never inherits its parent's)
        _producer, _producer_pid = None, os.getpid()
    ring = _producer
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
        except OSError:  # no memory for the ring (memfd size limits): the ordinary path still works
            return None
    index = ring.free_slot()
    if index is None:
        ring.words[_FULL] += 1
        return None
    return Slot(ring, index, nbytes)


class _ConsumerRing:
    """A worker's ring as the main process maps it."""

    def __init__(self, fd: int, size: int, slot_bytes: int, depth: int, pid: int):
        self.mm = mmap.mmap(fd, size)
        self.size, self.slot_bytes, self.depth, self.pid = size, slot_bytes, depth, pid
        self.words = np.frombuffer(self.mm, np.uint32, HEADER // 4)
        self.address = _address(self.mm)
        self.handle = torch.ops.fastload._ring_register(self.address, size)  # views are made inside it only
        self.registered = False
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            # Page-locked once, so every host-to-device copy from it is a DMA (no staging through pinned memory).
            cudart = torch.cuda.cudart()
            self.registered = cudart.cudaHostRegister(self.address, size, 0) == cudart.cudaError.success
        self.words[_MAPPED] = 1

    def states(self) -> np.ndarray:
        return self.words[_STATES:_STATES + self.depth]

    def finished(self) -> bool:
        """No view of any slot alive and no batch of it still to come: safe to unmap."""
        states = self.states()
        if (states == 2).any():
            return False
        if self.words[_RETIRED]:
            return not states.any()
        try:
            os.kill(self.pid, 0)
            return False
        except ProcessLookupError:
            return True  # its worker is gone: batches it sent but nobody received will never be read
        except PermissionError:
            return False

    def close(self) -> None:
        torch.ops.fastload._ring_unregister(self.handle)
        if self.registered:
            torch.cuda.cudart().cudaHostUnregister(self.address)
        del self.words
        self.mm.close()


_rings: dict[str, _ConsumerRing] = {}
_lock = threading.Lock()
_received = 0


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
    """The consumer's side of `Slot.ref()`: a 1-D uint8 tensor viewing the slot's bytes; the slot returns to its
    worker when the last view of it dies."""
    global _received
    ring_id, size, slot_bytes, depth, pid, fd, index, nbytes = ref
    ring = _consumer_ring(ring_id, size, slot_bytes, depth, pid, fd)
    ring.words[_STATES + index] = 2
    _received += 1
    return torch.ops.fastload._ring_view(ring.handle, HEADER + index * slot_bytes, nbytes, 4 * (_STATES + index))


def stats() -> dict:
    """`received`: batches this process has received through rings so far; `rings`: the rings it has mapped now
    (those of finished workers are unmapped when the next ring arrives), each with its worker's pid, slot size and
    depth, slot states, and the worker's counters (batches published; ordinary-path fallbacks because every slot
    was busy or the batch was too large while slots were busy)."""
    with _lock:
        return dict(received=_received, rings=[
            dict(id=k, pid=r.pid, slot_bytes=r.slot_bytes, depth=r.depth, states=r.states().tolist(),
                 published=int(r.words[_PUBLISHED]), full=int(r.words[_FULL]), too_big=int(r.words[_TOO_BIG]),
                 retired=bool(r.words[_RETIRED]), page_locked=r.registered)
            for k, r in _rings.items()])


class RingTensor:
    """A worker's stand-in for a tensor written into a ring slot (`tensor`): pickled as the slot's coordinates, it
    arrives in the main process as a tensor viewing the slot, of the same shape, strides and dtype."""

    __slots__ = ("slot", "tensor")

    def __init__(self, slot: Slot, tensor: torch.Tensor):
        self.slot, self.tensor = slot, tensor

    def __reduce__(self):
        t = self.tensor
        return (_tensor_from_ring, (self.slot.ref(), tuple(t.shape), t.stride(), t.dtype))


def tensor_in_slot(slot: Slot, like: torch.Tensor) -> torch.Tensor:
    """A tensor of `like`'s shape, strides and dtype over the slot's bytes (slots start page-aligned)."""
    return slot.tensor.view(like.dtype).as_strided(like.shape, like.stride())


def _tensor_from_ring(ref: tuple, shape: tuple, stride: tuple, dtype: torch.dtype) -> torch.Tensor:
    return view(ref).view(dtype).as_strided(shape, stride)
