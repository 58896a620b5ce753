"""PackedImages: a ragged batch of HWC uint8 images in one contiguous buffer, so a DataLoader can ship raw decoded
images (uint8, any sizes) as one tensor and the GPU can resize/normalize/pad them in one kernel."""

from __future__ import annotations

import numpy as np
import torch
import torch.utils.data

from fastload.memory import ring, ring_pickle


class PackedImages:
    """N HWC uint8 images of equal channel count C and any sizes, back to back in one 1-D buffer.

    Built by `pack_images`. Picklable: in a DataLoader worker it travels through the worker's shared-memory ring
    (`fastload.memory.ring`; only the slot's coordinates are pickled) or, when no slot is free, through torch's shared
    memory like any tensor. Has `pin_memory()`, `to(device, non_blocking=...)`, `len()`, `[i]` (image i as an
    (h, w, C) view) and `unpack()` (all of them). Metadata stays on the CPU, so reading sizes needs no device sync.

    Args:
        data: 1-D uint8 tensor (CPU, pinned CPU or CUDA) holding the images contiguously, HWC each.
        offsets: int64 (N,) CPU tensor: byte offset of image i in `data`.
        sizes: int64 (N, 2) CPU tensor: (h, w) of image i.
        channels: C (1 or 3).
    """

    __slots__ = ("data", "offsets", "sizes", "channels")

    def __init__(self, data: torch.Tensor, offsets: torch.Tensor, sizes: torch.Tensor, channels: int):
        if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8 or data.dim() != 1:
            raise TypeError("PackedImages data must be a 1-D uint8 tensor")
        offsets, sizes = torch.as_tensor(offsets), torch.as_tensor(sizes)
        for name, t in (("offsets", offsets), ("sizes", sizes)):
            if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
                raise TypeError(f"PackedImages {name} must hold integers, got {t.dtype}")
        offsets = offsets.to(torch.int64).cpu()
        sizes = sizes.to(torch.int64).cpu().reshape(-1, 2)
        if offsets.shape != (sizes.shape[0],):
            raise ValueError(f"PackedImages offsets {tuple(offsets.shape)} and sizes {tuple(sizes.shape)} disagree")
        if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels not in (1, 3):
            raise ValueError(f"PackedImages channels must be the int 1 or 3, got {channels!r}")
        ends = offsets + sizes[:, 0] * sizes[:, 1] * channels
        if len(offsets) and (int(offsets.min()) < 0 or int(sizes.min()) < 0 or int(ends.max()) > data.numel()):
            raise ValueError("PackedImages offsets/sizes point outside data")
        self.data, self.offsets, self.sizes, self.channels = data.contiguous(), offsets, sizes, int(channels)

    @classmethod
    def empty(cls, channels: int, device=None) -> PackedImages:
        """No image (a batch whose files were all skipped), on `device`."""
        return cls(
            torch.empty(0, dtype=torch.uint8, device=device),
            torch.zeros(0, dtype=torch.int64),
            torch.zeros(0, 2, dtype=torch.int64),
            channels,
        )

    def __len__(self) -> int:
        return int(self.offsets.shape[0])

    def __getitem__(self, i: int) -> torch.Tensor:
        """Image i as an (h, w, C) view of `data`."""
        h, w = self.sizes[i].tolist()
        o = int(self.offsets[i])
        return self.data[o : o + h * w * self.channels].view(h, w, self.channels)

    def unpack(self) -> list[torch.Tensor]:
        """The images as a list of (h, w, C) uint8 views of `data` (on its device)."""
        return [self[i] for i in range(len(self))]

    @property
    def device(self) -> torch.device:
        return self.data.device

    @property
    def nbytes(self) -> int:
        return self.data.numel()

    def is_pinned(self) -> bool:
        return self.data.is_pinned()

    def pin_memory(self, device=None) -> PackedImages:
        """A copy with `data` in page-locked memory (for asynchronous host -> device copies)."""
        data = self.data.pin_memory() if device is None else self.data.pin_memory(device)
        return PackedImages(data, self.offsets, self.sizes, self.channels)

    def to(self, device, non_blocking: bool = False) -> PackedImages:
        """`data` moved to `device` in one copy (asynchronous from pinned memory with non_blocking=True)."""
        return PackedImages(self.data.to(device, non_blocking=non_blocking), self.offsets, self.sizes, self.channels)

    def __reduce__(self):
        return (PackedImages, (ring_pickle.RingTensor(self.data), self.offsets, self.sizes, self.channels))

    def __repr__(self) -> str:
        return (
            f"PackedImages(n={len(self)}, channels={self.channels}, bytes={self.nbytes}, "
            f"device={self.device}, pinned={self.is_pinned()})"
        )


def pack(arrays: list, channels: int, pin_memory: bool = False, use_ring: bool = True) -> PackedImages:
    """Copy checked (h, w, C) uint8 numpy arrays or tensors (any strides, negative numpy strides included) into one
    buffer, one pass per image: the `originals` of `check_image_list` (HWC views, grey and BGRA already read as
    fastload reads them)."""
    sizes = [tuple(a.shape[:2]) for a in arrays]
    counts = [h * w * channels for h, w in sizes]
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if counts else np.zeros(0, np.int64)
    total = int(sum(counts))
    pin = pin_memory and torch.cuda.is_available()
    device = next((a.device for a in arrays if isinstance(a, torch.Tensor)), torch.device("cpu"))
    if device.type == "cpu" and not pin:  # in a DataLoader worker: straight into a ring slot, when one is free
        data = ring.batch_buffer(total, use_ring)
    else:
        data = torch.empty(total, dtype=torch.uint8, device=device, pin_memory=pin and device.type == "cpu")
    host = data.numpy() if device.type == "cpu" else None
    for a, o, n, (h, w) in zip(arrays, offsets.tolist(), counts, sizes):
        if isinstance(a, np.ndarray):
            if host is None:  # numpy image into a CUDA buffer
                data[o : o + n].view(h, w, channels).copy_(torch.from_numpy(np.ascontiguousarray(a)))
            else:
                np.copyto(host[o : o + n].reshape(h, w, channels), a)  # reads negative strides directly
        else:
            data[o : o + n].view(h, w, channels).copy_(a)
    return PackedImages(
        data, torch.from_numpy(offsets), torch.tensor(sizes, dtype=torch.int64).reshape(-1, 2), channels
    )
