"""The encoded images of one batch, decoded for the collates: every header read first (the sizes the crop draws and
the buffer's layout need), then each image's region decoded straight into one packed buffer (the worker's ring slot
when the batch ships raw), no per-image array and copy. A bad file is a ValueError naming the file and the sample,
or, with on_error="skip", a warning and a sample left out of the batch."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable

import numpy as np
import torch

from fastload import ring
from fastload.decoding import EncodedImage, decode_image
from fastload.packed import PackedImages

ON_ERROR = ("raise", "skip")
DECODE_ON = ("worker", "device")


def check_on_error(on_error) -> str:
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    return on_error


def check_decode_on(decode_on, raw: bool, draft: bool = False) -> str:
    """The checked `decode_on` of a collate; "device" needs a collate that ships raw images (`raw`) and no draft."""
    if decode_on not in DECODE_ON:
        raise ValueError(f"decode_on must be 'worker' or 'device', got {decode_on!r}")
    if decode_on == "device" and not raw:
        raise ValueError("decode_on='device' ships the encoded files for DevicePrefetcher to decode: the collate "
                         "must ship raw images (CropCollate without norm, PadCollate with pack=True)")
    if decode_on == "device" and draft:
        raise ValueError("draft=True decodes at reduced scale in the worker; the device decoder (nvJPEG) has no "
                         "reduced-scale decoding: use draft with decode_on='worker'")
    return decode_on


def encoded(images: list, where: Callable[[int], str]) -> bool:
    """Whether the batch's images are encoded files (EncodedImage); a batch mixing them with decoded images is a
    ValueError."""
    flags = [isinstance(img, EncodedImage) for img in images]
    if any(flags) and not all(flags):
        raise ValueError(f"{where(flags.index(not flags[0]))} and {where(0)} differ: a batch holds encoded files "
                         "(EncodedImage) or decoded images, not both")
    return bool(flags) and flags[0]


class BatchDecoder:
    """Decodes a batch's EncodedImages; `skipped` counts the files this process left out (on_error="skip")."""

    def __init__(self, on_error: str = "raise", strict: bool = True):
        self.on_error = check_on_error(on_error)
        if not isinstance(strict, bool):
            raise TypeError(f"strict must be a bool, got {type(strict).__name__}")
        self.strict = strict
        self.skipped = 0
        self._scratch = threading.local()

    def __getstate__(self):  # the scratch buffers stay in the process that made them
        state = dict(self.__dict__)
        del state["_scratch"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state, _scratch=threading.local())

    def _scratch_bytes(self, n: int) -> torch.Tensor:
        """`n` bytes of this thread's scratch buffer, kept for the next batch: a decoded batch that is cropped or
        padded at once (not shipped) would otherwise fault fresh pages in every batch."""
        buf = getattr(self._scratch, "buffer", None)
        if buf is None or buf.numel() < n:
            buf = self._scratch.buffer = torch.empty(max(n, n + n // 2), dtype=torch.uint8)
        return buf[:n]

    def _failed(self, exc: ValueError, where: str, kept: list, i: int, n: int) -> None:
        if self.on_error == "raise":
            raise ValueError(f"{where}: {exc}") from None
        self.skipped += 1
        warnings.warn(f"skipped {where}: {exc}", RuntimeWarning, stacklevel=3)
        kept.remove(i)
        if not kept:
            raise ValueError(f"every one of the batch's {n} samples had a bad image file (on_error='skip'); the "
                             f"last: {where}: {exc}") from None

    def sizes(self, images: list[EncodedImage], where: Callable[[int], str]) -> tuple[list[int], list]:
        """(indices of the images whose headers read, their (h, w)) from the headers alone."""
        kept, sizes = list(range(len(images))), {}
        for i, img in enumerate(images):
            try:
                sizes[i] = img.size
            except ValueError as exc:
                self._failed(exc, where(i), kept, i, len(images))
        return kept, [sizes[i] for i in kept]

    def decode(self, images: list[EncodedImage], kept: list[int], regions: list, order: str, ship: bool,
               where: Callable[[int], str], reduce: list[int] | None = None) -> tuple[list[int], PackedImages]:
        """Image kept[k]'s region (top, left, h, w) `regions[k]`, decoded in `order` into one packed buffer: a slot
        of this worker's ring (or shared memory) when `ship`, else this thread's scratch buffer, valid until its next
        decode (the caller crops or pads it at once). Returns the indices that decoded and their PackedImages.
        `reduce[k]`: image kept[k] is decoded at 1/reduce[k] scale, its region in those pixels."""
        reduce = reduce or [1] * len(kept)
        counts = [h * w * 3 for _, _, h, w in regions]
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if counts else np.zeros(0, np.int64)
        total = int(sum(counts))
        data = ring.batch_buffer(total) if ship else self._scratch_bytes(total)
        done = list(kept)
        for i, (top, left, h, w), o, n, f in zip(kept, regions, offsets.tolist(), counts, reduce):
            try:
                decode_image(images[i], box=(top, left, h, w), output_order=order, strict=self.strict, reduce=f,
                             out=data[o:o + n].view(h, w, 3))
            except ValueError as exc:
                self._failed(exc, where(i), done, i, len(images))
        at = [kept.index(i) for i in done]
        sizes = torch.tensor([regions[k][2:] for k in at], dtype=torch.int64).reshape(-1, 2)
        return done, PackedImages(data, torch.from_numpy(offsets[at]), sizes, 3)
