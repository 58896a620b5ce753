"""Several tensors in one slot of a DataLoader worker's ring, sent as one. A collate that returns a list of batches
(`MultiCropCollate`: a batch per crop) reserves one slot for all of them (`reserve_tensors`) and returns them as a
`SlotViews`, a list that pickles as the slot (by reference: one send, no copy; a slot goes out by reference once,
so the tensors could not each go that way) and where each tensor lies in it. It arrives in the main process as a
plain list of views of the slot, which returns to its worker when the last of them dies (ring.py's lifetime rule).
Without a ring (no worker, no free slot) the collate allocates as usual and returns a plain list: torch then moves
every tensor to new shared memory, a copy of each batch (67 MB for DINO's 10 crops of 32 images, ~50 ms)."""

from __future__ import annotations

import torch

from fastload._out_checks import byte_range
from fastload.memory import ring, ring_pickle

ALIGN = 64  # each tensor starts on a cache line: a multiple of every dtype's size


def reserve_tensors(likes: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]] | None:
    """Room for several tensors in one free slot of this worker's ring, back to back (each on a 64-byte boundary).

    Args:
        likes: dense tensors (any device, e.g. "meta") whose shapes, strides and dtypes the tensors take.

    Returns:
        (the slot's 1-D uint8 buffer, a tensor like each of `likes` in it), or None when this is not a DataLoader
        worker, rings are off or no slot is free (`ring.reserve`): the caller then allocates as usual.
    """
    spans, total = [], 0
    for like in likes:
        nbytes = like.numel() * like.element_size()
        spans.append((total, nbytes))
        total += -(-nbytes // ALIGN) * ALIGN
    buffer = ring.reserve(max(total, ALIGN))
    if buffer is None:
        return None
    return buffer, [ring.tensor_in_slot(buffer[at : at + n], like) for (at, n), like in zip(spans, likes)]


class SlotViews(list):
    """A list of CPU tensors lying in one `reserve_tensors` slot that pickles as the slot (by reference: one ring
    send for all of them) and each tensor's place in it (byte offset, shape, strides, dtype); unpickled, a plain
    list of views of the slot. A list holding anything not in the slot pickles as a plain list.

    Args:
        buffer: the slot's 1-D uint8 buffer, as `reserve_tensors` returns it.
        tensors: the tensors (views of `buffer`), in the list's order.
    """

    def __init__(self, buffer: torch.Tensor, tensors):
        super().__init__(tensors)
        self.buffer = buffer

    def __reduce__(self):
        start, end = self.buffer.data_ptr(), self.buffer.data_ptr() + self.buffer.numel()
        storage = self.buffer.untyped_storage().data_ptr()
        places = []
        for t in self:
            inside = (
                isinstance(t, torch.Tensor) and t.device.type == "cpu" and t.untyped_storage().data_ptr() == storage
            )
            offset = t.data_ptr() - start if inside else -1
            if offset < 0 or offset % t.element_size() or (t.numel() and byte_range(t)[1] >= end):
                return (list, (list(self),))
            places.append((offset, tuple(t.shape), t.stride(), t.dtype))
        return (_views, (ring_pickle.RingTensor(self.buffer), places))


def _views(buffer: torch.Tensor, places: list) -> list[torch.Tensor]:
    """The tensors `SlotViews` sent: views of `buffer` (the slot as the main process maps it, or its copy)."""
    return [buffer[offset:].view(dtype).as_strided(shape, stride) for offset, shape, stride, dtype in places]
