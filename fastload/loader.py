"""DevicePrefetcher: overlaps the host->device copy of batch N+1 with the model's work on batch N, and finishes the
batch on the device with the fused ops (normalize / pad) when the loader ships uint8 or PackedImages."""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping

import torch

from fastload import _validation as V
from fastload.batching import pad_batch
from fastload.crops import CropBatch
from fastload.normalizing import normalize
from fastload.normalization import Normalization
from fastload.packed import PackedImages


def _move(obj, device: torch.device):
    if isinstance(obj, (torch.Tensor, PackedImages)):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, Mapping):
        return {k: _move(v, device) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*(_move(v, device) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_move(v, device) for v in obj)
    return obj


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, PackedImages):
        yield obj.data
    elif isinstance(obj, Mapping):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)


class DevicePrefetcher:
    """Wraps a DataLoader: yields its batches on `device`, one batch ahead.

    On CUDA, batch N+1 is copied (non_blocking, from pinned memory when the loader uses pin_memory=True) and finished
    on a side stream while the caller works on batch N; the caller's stream waits for it and every tensor is marked
    with record_stream, so memory is never reused too early. On the CPU it runs synchronously, so one training script
    runs anywhere.

    With `norm`, the image entry (`batch[image_key]` for dicts, `batch[0]` for tuples) is finished on the device:
    a `PackedImages` -> `pad_batch(..., norm)` (normalized, padded to `size_divisor`), a `CropBatch` (`CropCollate`
    without norm) -> its fused crop + resize + flip + normalize, a uint8 (N, H, W, C) batch -> `normalize(..., norm)`.
    Float images are left as they are. Under torchrun / DDP, wrap each rank's own loader (with a DistributedSampler)
    with device=f"cuda:{local_rank}".
    """

    def __init__(self, loader: Iterable, device="cuda", norm: Normalization | None = None, *, image_key: str = "img",
                 input_order: str = "bgr", dtype: torch.dtype = torch.float32, channels_last: bool = False,
                 size_divisor: int = 1, pad_value=0.0):
        self.loader = loader
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("DevicePrefetcher: device is CUDA but no CUDA GPU is available")
        self.norm = V.check_norm(norm) if norm is not None else None
        self.image_key = image_key
        self.input_order = V.check_order("input_order", input_order)
        self.dtype = V.check_float_dtype(dtype)
        self.channels_last = V.check_bool("channels_last", channels_last)
        V.check_pad_value(pad_value, None, True, self.dtype)
        self.pad_value = pad_value
        self.size_divisor = V.check_size("size_divisor", size_divisor, minimum=1, maximum=V.MAX_SIDE)

    def __len__(self) -> int:
        return len(self.loader)

    def _finish_images(self, images):
        if self.norm is None:
            return images
        if isinstance(images, CropBatch):
            return images.finish(self.norm, input_order=self.input_order, dtype=self.dtype,
                                 channels_last=self.channels_last)
        if isinstance(images, PackedImages):
            return pad_batch(images, self.norm, input_order=self.input_order, size_divisor=self.size_divisor,
                               pad_value=self.pad_value, dtype=self.dtype, channels_last=self.channels_last).images
        if isinstance(images, torch.Tensor) and images.dtype == torch.uint8:
            return normalize(images, self.norm, input_order=self.input_order, dtype=self.dtype,
                               channels_last=self.channels_last)
        return images

    def _prepare(self, batch):
        batch = _move(batch, self.device)
        if isinstance(batch, Mapping) and self.image_key in batch:
            batch = dict(batch)
            images = batch[self.image_key] = self._finish_images(batch[self.image_key])
            # The metadata must describe the batch the model receives: padding added here changes it.
            if isinstance(images, torch.Tensor) and images.dim() == 4 and images.is_floating_point():
                hp, wp = images.shape[-2:]
                if "batch_input_shape" in batch:
                    batch["batch_input_shape"] = (hp, wp)
                if "pad_shape" in batch:
                    batch["pad_shape"] = [(hp, wp)] * images.shape[0]
        elif isinstance(batch, tuple) and hasattr(batch, "_fields") and batch:  # namedtuple
            batch = type(batch)(self._finish_images(batch[0]), *batch[1:])
        elif isinstance(batch, (list, tuple)) and batch:
            batch = type(batch)([self._finish_images(batch[0]), *batch[1:]])
        return batch

    def __iter__(self):
        if self.device.type != "cuda":
            for batch in self.loader:
                yield self._prepare(batch)
            return
        stream = torch.cuda.Stream(device=self.device)
        it = iter(self.loader)
        # Host batches whose copies may still be running. A page-locked buffer of torch's caching host allocator is
        # protected by the copy's event; a worker's ring slot (fastload.ring) is not: it returns to its worker when
        # its last view dies, so the views live here until the copy is done.
        in_flight: collections.deque = collections.deque()

        def preload():
            while in_flight and in_flight[0][0].query():
                in_flight.popleft()
            try:
                batch = next(it)
            except StopIteration:
                stream.synchronize()
                in_flight.clear()
                return None
            # The side stream must not start before the caller's pending work on the memory it may reuse.
            stream.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(stream):
                prepared = self._prepare(batch)
                copied = torch.cuda.Event()
                copied.record(stream)
            in_flight.append((copied, batch))
            return prepared

        ready = preload()
        while ready is not None:
            current = torch.cuda.current_stream(self.device)
            current.wait_stream(stream)
            for t in _tensors(ready):
                if t.device.type == "cuda":
                    t.record_stream(current)
            following = preload()
            yield ready
            ready = following
