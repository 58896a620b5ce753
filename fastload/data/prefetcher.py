"""DevicePrefetcher: overlaps the host->device copy of batch N+1 with the model's work on batch N, and finishes the
batch on the device with the fused ops (normalize / pad) when the loader ships uint8 or PackedImages."""

from __future__ import annotations

import collections
import weakref
from collections.abc import Iterable, Mapping

import torch

from fastload import _validation as V
from fastload.data.crop_batch import CropBatch
from fastload.data.detection import pad_shapes
from fastload.data.samples import first_image_key
from fastload.functional._normalize import normalize
from fastload.functional._pad import pad_batch
from fastload.io.encoded_batch import EncodedBatch
from fastload.memory import ring
from fastload.memory.packed import PackedImages
from fastload.normalization import Normalization


def _copy(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    # A ring view is read through the ring's page-locked mapping (a DMA): the caller keeps the host batch until the
    # copy's event has fired.
    return (ring.device_source(t) if device.type == "cuda" else t).to(device, non_blocking=True)


def _move(obj, device: torch.device):
    if isinstance(obj, torch.Tensor):
        return _copy(obj, device)
    if isinstance(obj, PackedImages):
        return PackedImages(_copy(obj.data, device), obj.offsets, obj.sizes, obj.channels)
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


class PendingCopies:
    """Host batches that device copies may still be reading, each with the event recorded after its copy. A batch
    (and with it the ring slots its tensors hold) is let go only once its event has fired (`release_finished`), or
    after waiting for it (`wait`): never while a queued copy can still read it. Events need `query()` and
    `synchronize()` (torch.cuda.Event)."""

    def __init__(self):
        self._items: collections.deque = collections.deque()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, event, batch) -> None:
        self._items.append((event, batch))

    def release_finished(self) -> None:
        """Drops the batches whose copies have completed (events fire in stream order: oldest first)."""
        while self._items and self._items[0][0].query():
            self._items.popleft()

    def wait(self) -> None:
        """Waits for every pending copy, then drops its batch."""
        while self._items:
            self._items[0][0].synchronize()
            self._items.popleft()


class DevicePrefetcher:
    """Wraps a DataLoader: yields its batches on `device`, one batch ahead, finishing the images there.

    On CUDA, batch N+1 is copied (non_blocking) and finished on a side stream while the caller works on batch N; the
    caller's stream waits for it and every tensor is marked with record_stream, so memory is never reused too early.
    Host batches stay alive until their copies have completed, also when the loop ends early (`break`, an exception,
    the iterator garbage-collected, or `close()`). Batches from fastload's worker rings are copied from the rings'
    page-locked mapping (a DMA); everything else as given (from pinned memory with pin_memory=True, else staged by the
    driver). On the CPU it runs synchronously, so one training script runs anywhere. Under torchrun / DDP, wrap each
    rank's own loader (with a DistributedSampler) with `device=f"cuda:{local_rank}"`.

    Args:
        loader: any iterable of batches, usually a DataLoader with a fastload collate; `len()` and any number of
            epochs work.
        device: where the batches go ("cuda", "cuda:1", "cpu" or a torch.device).
        norm: with a `Normalization`, the image entry (`batch[image_key]` for dicts, `batch[0]` for tuples) is
            finished on the device: a `PackedImages` -> `pad_batch(..., norm)`, a `CropBatch` (`CropCollate` without
            norm) -> its fused crop + resize + flip + normalize, an `EncodedBatch` -> decoded there first, a uint8
            (N, H, W, C) batch -> `normalize(..., norm)`. Float images are left as they are.
        image_key: the images' key in dict batches; None (default): the first of "img", "image", "jpg", "jpeg",
            "png", "webp" the batch has, as the collates choose it.
        input_order: channel order of the uint8 images ("bgr" or "rgb").
        dtype: of the normalized images: torch.float32, float16 or bfloat16.
        channels_last: give the normalized images channels_last strides.
        size_divisor: padded batches (`PackedImages`) are padded to a multiple of this; `pad_shape` and
            `batch_input_shape` are updated to the batch the model receives.
        pad_value: the padding in output space, as in `pad_batch`.

    Returns:
        An iterable over the loader's batches, of the same type (dicts, tuples, namedtuples), every tensor on `device`.

    Raises:
        TypeError: an argument of the wrong type (naming it).
        ValueError: an invalid argument (naming it).
    """

    def __init__(
        self,
        loader: Iterable,
        device="cuda",
        norm: Normalization | None = None,
        *,
        image_key: str | None = None,
        input_order: str = "bgr",
        dtype: torch.dtype = torch.float32,
        channels_last: bool = False,
        size_divisor: int = 1,
        pad_value=0.0,
    ):
        self.loader = loader
        self.device = V.check_device(device)
        if self.device is None:
            raise ValueError("DevicePrefetcher: device must be given ('cuda', 'cuda:0', 'cpu'), got None")
        self.norm = V.check_norm(norm) if norm is not None else None
        self.image_key = image_key
        self.input_order = V.check_order("input_order", input_order)
        self.dtype = V.check_float_dtype(dtype)
        self.channels_last = V.check_bool("channels_last", channels_last)
        V.check_pad_value(pad_value, None, True, self.dtype)
        self.pad_value = pad_value
        self.size_divisor = V.check_size("size_divisor", size_divisor, minimum=1, maximum=V.MAX_SIDE)
        self._iterators: weakref.WeakSet = weakref.WeakSet()

    def __len__(self) -> int:
        return len(self.loader)

    def close(self) -> None:
        """Ends every iteration of this prefetcher still open, waiting for its copies in flight."""
        for iterator in list(self._iterators):
            iterator.close()

    def _finish_images(self, images):
        if self.norm is None:
            return images
        if isinstance(images, CropBatch):
            return images.finish(
                self.norm,
                input_order=self.input_order,
                dtype=self.dtype,
                channels_last=self.channels_last,
                device=self.device,
            )
        if isinstance(images, (PackedImages, EncodedBatch)):
            # PadCollate(pack=True): raw images, or (decode_on="device") the files, decoded here
            images, order = (
                (images.decode(self.device), "rgb") if isinstance(images, EncodedBatch) else (images, self.input_order)
            )
            return pad_batch(
                images,
                self.norm,
                input_order=order,
                size_divisor=self.size_divisor,
                pad_value=self.pad_value,
                dtype=self.dtype,
                channels_last=self.channels_last,
            ).images
        if isinstance(images, torch.Tensor) and images.dtype == torch.uint8:
            return normalize(
                images, self.norm, input_order=self.input_order, dtype=self.dtype, channels_last=self.channels_last
            )
        return images

    def _prepare(self, batch):
        batch = _move(batch, self.device)
        key = None
        if isinstance(batch, Mapping):
            key = self.image_key or first_image_key(batch)
        if key is not None and key in batch:
            batch = dict(batch)
            padded_here = isinstance(batch[key], (PackedImages, EncodedBatch)) and self.norm is not None
            images = batch[key] = self._finish_images(batch[key])
            # The metadata must describe the batch the model receives: padding added here changes it.
            if padded_here:
                if "batch_input_shape" in batch:
                    batch["batch_input_shape"] = tuple(images.shape[-2:])
                if "pad_shape" in batch and "img_shape" in batch:  # each image's own size, rounded (mmdet 3)
                    batch["pad_shape"] = pad_shapes(batch["img_shape"], self.size_divisor)
        elif isinstance(batch, tuple) and hasattr(batch, "_fields") and batch:  # namedtuple
            batch = type(batch)(self._finish_images(batch[0]), *batch[1:])
        elif isinstance(batch, (list, tuple)) and batch:
            batch = type(batch)([self._finish_images(batch[0]), *batch[1:]])
        return batch

    def __iter__(self):
        iterator = self._cpu_batches() if self.device.type != "cuda" else self._cuda_batches()
        self._iterators.add(iterator)
        return iterator

    def _cpu_batches(self):
        for batch in self.loader:
            yield self._prepare(batch)

    def _cuda_batches(self):
        stream = torch.cuda.Stream(device=self.device)
        it = iter(self.loader)
        pending = PendingCopies()

        def preload():
            pending.release_finished()
            try:
                batch = next(it)
            except StopIteration:
                return None
            # No wait for the caller's stream: the side stream's memory is its own (tensors handed out are marked
            # with record_stream), so the copy overlaps the model's work, and a copy from pageable memory, which
            # the driver stages before returning, does not hold the host until that work is done.
            with torch.cuda.stream(stream):
                prepared = self._prepare(batch)
                copied = torch.cuda.Event()
                copied.record(stream)
            pending.add(copied, batch)
            return prepared

        try:
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
        finally:  # also on break, an exception, close() or garbage collection
            pending.wait()
