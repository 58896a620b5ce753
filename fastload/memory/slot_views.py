"""Several tensors in one slot of a DataLoader worker's ring, sent as one. A collate that returns a list of batches
(`MultiCropCollate`: a batch per crop) reserves one slot for all of them (`reserve_tensors`) and returns them as a
`SlotViews`, a list that pickles as the slot (by reference: one send, no copy; a slot goes out by reference once,
so the tensors could not each go that way) and where each tensor lies in it. It arrives in the main process as a
plain list of views of the slot, which returns to its worker when the last of them dies (ring.py's lifetime rule).
Without a ring (no worker, no free slot) the collate allocates as usual and returns a plain list: torch then moves
every tensor to new shared memory, a copy of each batch (67 MB for DINO's 10 crops of 32 images, ~50 ms)."""

from __future__ import annotations

import torch

from fastload.memory import ring

ALIGN = 64  # each tensor starts on a cache line: a multiple of every dtype's size


def reserve_tensors(likes: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]] | None:
    """(the slot's 1-D uint8 buffer, a tensor of each of `likes`' shapes, strides and dtypes in it, back to back),
    `likes` being dense tensors (any device, e.g. "meta"); None when no ring slot is free or this is not a worker
    (`ring.reserve`)."""
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
    """A list of CPU tensors lying in `buffer` (a `reserve_tensors` slot) that pickles as the buffer and each
    tensor's place in it (byte offset, shape, strides, dtype): one ring send for all of them. Unpickled, a plain list
    of views of the buffer. A list whose tensors are not all in the buffer pickles as a plain list."""

    def __init__(self, buffer: torch.Tensor, tensors):
        super().__init__(tensors)
        self.buffer = buffer

    def __reduce__(self):
        start, end = self.buffer.data_ptr(), self.buffer.data_ptr() + self.buffer.numel()
        places = []
        for t in self:
            if (
                not isinstance(t, torch.Tensor)
                or t.device.type != "cpu"
                or t.untyped_storage().data_ptr() != (self.buffer.untyped_storage().data_ptr())
            ):
                return (list, (list(self),))
            offset = t.data_ptr() - start
            if offset < 0 or t.data_ptr() + _extent(t) > end or offset % t.element_size():
                return (list, (list(self),))
            places.append((offset, tuple(t.shape), t.stride(), t.dtype))
        return (_views, (ring.RingTensor(self.buffer), places))


def _extent(t: torch.Tensor) -> int:
    """Bytes from t's first element to just past its last (non-negative strides)."""
    if t.numel() == 0:
        return 0
    return (1 + sum((size - 1) * stride for size, stride in zip(t.shape, t.stride()))) * t.element_size()


def _views(buffer: torch.Tensor, places: list) -> list[torch.Tensor]:
    """The tensors `SlotViews` sent: views of `buffer` (the slot as the main process maps it, or its copy)."""
    return [buffer[offset:].view(dtype).as_strided(shape, stride) for offset, shape, stride, dtype in places]
