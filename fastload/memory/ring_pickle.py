"""How tensors in a worker's ring cross the DataLoader's pipe: by reference (the slot's coordinates, `ring.reference`),
arriving in the main process as views of the slot (`ring.view`) of the same shape, strides and dtype. The worker's
pickler sends every ring tensor that way (`route_ring_tensors`, registered when its ring is made), whatever holds it;
fastload's batch types pickle their buffer through `RingTensor`."""

from __future__ import annotations

import torch

from fastload.memory import ring


def _same(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def by_reference(tensor: torch.Tensor):
    """The pickle reduction of a tensor in a slot of this worker's ring not sent since it was taken: the slot's
    coordinates, arriving in the main process as a tensor viewing the slot, of the same shape, strides and dtype
    (marks the slot sent). None for any other tensor."""
    ref = ring.reference(tensor) if tensor.device.type == "cpu" else None
    return None if ref is None else (_tensor_from_ring, (ref, tuple(tensor.shape), tensor.stride(), tensor.dtype))


class RingTensor:
    """How fastload's batch types (PackedImages, EncodedBatch, EncodedImage) pickle their buffer: by reference when
    it lies in a slot of this worker's ring; else the ordinary way, only the bytes it uses (a view of a larger CPU
    storage would pickle all of it)."""

    __slots__ = ("tensor",)

    def __init__(self, tensor: torch.Tensor):
        self.tensor = tensor

    def __reduce__(self):
        t = self.tensor
        found = by_reference(t)
        if found is None and t.device.type == "cpu" and t.untyped_storage().nbytes() > t.numel() * t.element_size():
            t = t.clone()
        return found or (_same, (t,))


def _reduce_tensor(tensor: torch.Tensor):
    """What a worker's pickler (ForkingPickler: the DataLoader's result queue) does with any tensor: by reference
    when it lies in a slot of the worker's ring, torch's way otherwise."""
    from torch.multiprocessing.reductions import reduce_tensor

    return by_reference(tensor) or reduce_tensor(tensor)


def route_ring_tensors() -> None:
    """Makes this worker's pickler send ring tensors by reference, whatever holds them (a collate's batch, a user's
    function wrapping it, a dict or tuple of them): collates return plain tensors. Done when the worker's ring is
    made, before anything it holds is pickled."""
    from multiprocessing.reduction import ForkingPickler

    ForkingPickler.register(torch.Tensor, _reduce_tensor)


def _tensor_from_ring(ref: tuple, shape: tuple, stride: tuple, dtype: torch.dtype) -> torch.Tensor:
    return ring.view(ref).view(dtype).as_strided(shape, stride)
