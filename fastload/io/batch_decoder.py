"""The encoded images of one batch, decoded for the collates: every header read first (the sizes the crop draws and
the buffer's layout need), then each image's region decoded straight into one packed buffer (the worker's ring slot
when the batch ships raw), no per-image array and copy. A bad file is a ValueError naming the file and the sample,
or, with on_error="skip", a warning and a sample left out of the batch (a batch of only bad files: an empty
batch)."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
import torch

from fastload.io.decode import check_strict, decode_image, read_size
from fastload.io.encoded_image import EncodedImage
from fastload.memory import ring
from fastload.memory.packed import PackedImages

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
        raise ValueError(
            "decode_on='device' ships the encoded files for DevicePrefetcher to decode: the collate "
            "must ship raw images (CropCollate without norm, PadCollate with pack=True)"
        )
    if decode_on == "device" and draft:
        raise ValueError(
            "draft=True decodes at reduced scale in the worker; the device decoder (nvJPEG) has no "
            "reduced-scale decoding: use draft with decode_on='worker'"
        )
    return decode_on


class MissingFileError(ValueError, FileNotFoundError):
    """A file a sample names by path that is not there: a bad file for the collates (a ValueError, which on_error
    skips) and what Python calls a missing file (a FileNotFoundError)."""


def encoded_form(img) -> bool:
    """Whether a collate input is an encoded image file in a form `as_encoded` takes: `bytes`, `bytearray`,
    `memoryview` (WebDataset's samples), a 1-D uint8 numpy array or tensor, a Hugging Face `Image(decode=False)` dict
    {"bytes": ..., "path": ...}, or an EncodedImage. Reads nothing."""
    if isinstance(img, (EncodedImage, bytes, bytearray, memoryview)):
        return True
    if isinstance(img, (np.ndarray, torch.Tensor)):
        return img.ndim == 1 and str(img.dtype) in ("uint8", "torch.uint8")
    return isinstance(img, Mapping) and ("bytes" in img or "path" in img)


def as_encoded(img) -> EncodedImage:
    """An input `encoded_form` accepts as an EncodedImage (a dict's `bytes` None: the file at its `path` is read).
    A dict with neither, or a path that cannot be read, is a ValueError: a bad file, as a corrupt one is."""
    if not isinstance(img, Mapping):
        return img if isinstance(img, EncodedImage) else EncodedImage(img)
    data, path = img.get("bytes"), img.get("path")
    if data is not None:
        return EncodedImage(data, path or None)
    if not path:
        raise ValueError('its image is a {"bytes", "path"} dict with neither bytes nor a path')
    try:
        return EncodedImage.from_file(path)
    except OSError as exc:
        error = MissingFileError if isinstance(exc, FileNotFoundError) else ValueError
        raise error(f"{path}: cannot read the file ({exc.strerror or exc})") from None


def encoded(images: list, where: Callable[[int], str]) -> bool:
    """Whether the batch's images are encoded files (in any form `encoded_form` takes); a batch mixing them with
    decoded images is a ValueError naming a sample of each."""
    flags = [encoded_form(img) for img in images]
    if any(flags) and not all(flags):
        raise ValueError(
            f"{where(flags.index(not flags[0]))} and {where(0)} differ: a batch holds encoded files "
            "(bytes, EncodedImage) or decoded images, not both"
        )
    return bool(flags) and flags[0]


class BatchFiles(NamedTuple):
    """The files of a batch whose headers read: `kept`, their indices in the batch; `sizes`, their decoded (h, w);
    `whole`, images decoded whole to learn their size (formats without a header fastload reads), by index, which
    the regions are then cut from instead of decoding the files again."""

    kept: list[int]
    sizes: list
    whole: dict
    images: list  # the batch's files as EncodedImages (None where one could not be read)


class BatchDecoder:
    """Decodes a batch's EncodedImages; `skipped` counts the files this process left out (on_error="skip")."""

    def __init__(self, on_error: str = "raise", strict: bool | str = "complete"):
        self.on_error = check_on_error(on_error)
        self.strict = check_strict(strict)
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
        padded at once (not returned) would otherwise fault fresh pages in every batch."""
        buf = getattr(self._scratch, "buffer", None)
        if buf is None or buf.numel() < n:
            buf = self._scratch.buffer = torch.empty(max(n, n + n // 2), dtype=torch.uint8)
        return buf[:n]

    def _failed(self, exc: ValueError, where: str, kept: list, i: int) -> None:
        """A bad file: raised (on_error="raise"), or skipped with a warning, `i` leaving `kept`. A batch whose every
        file is bad becomes an empty batch (the collates return 0 images), never an exception that ends the epoch."""
        if self.on_error == "raise":
            raise (MissingFileError if isinstance(exc, MissingFileError) else ValueError)(f"{where}: {exc}") from None
        self.skipped += 1
        warnings.warn(f"skipped {where}: {exc}", RuntimeWarning, stacklevel=3)
        kept.remove(i)

    def headers(self, images: list[EncodedImage], where: Callable[[int], str], need_end: bool = False) -> BatchFiles:
        """Every file's decoded (h, w), from its header where it has one fastload reads (`read_size`); with
        `need_end` (files shipped to nvJPEG, strict not False), a JPEG without its end-of-image marker is a bad
        file."""
        kept, sizes, whole, files = list(range(len(images))), {}, {}, [None] * len(images)
        for i, img in enumerate(images):
            try:
                files[i] = as_encoded(img)  # a file that cannot be read is a bad file too, for on_error
                sizes[i], decoded = read_size(files[i], need_end=need_end)
            except ValueError as exc:
                self._failed(exc, where(i), kept, i)
                continue
            if decoded is not None:
                whole[i] = decoded
        return BatchFiles(kept=kept, sizes=[sizes[i] for i in kept], whole=whole, images=files)

    def decode(
        self,
        images: list[EncodedImage],
        files: BatchFiles,
        regions: list,
        *,
        order: str,
        returned: bool,
        use_ring: bool,
        where: Callable[[int], str],
        reduce: list[int] | None = None,
    ) -> tuple[list[int], PackedImages]:
        """Image files.kept[k]'s region (top, left, h, w) `regions[k]`, decoded in `order` into one packed buffer.
        `returned`: the batch leaves the collate (shipped raw), so it gets memory of its own: a slot of this worker's
        ring (`use_ring`) or shared memory in a worker, ordinary memory elsewhere; otherwise (cropped or padded at
        once) this thread's scratch buffer, valid until its next decode. Returns the indices that decoded and their
        PackedImages (empty when none did). `reduce[k]`: image files.kept[k] is decoded at 1/reduce[k] scale, its
        region in those pixels."""
        kept = files.kept
        reduce = reduce or [1] * len(kept)
        counts = [h * w * 3 for _, _, h, w in regions]
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if counts else np.zeros(0, np.int64)
        total = int(sum(counts))
        data = ring.batch_buffer(total, use_ring) if returned else self._scratch_bytes(total)
        done = list(kept)
        for i, (top, left, h, w), o, n, f in zip(kept, regions, offsets.tolist(), counts, reduce):
            out = data[o : o + n].view(h, w, 3)
            try:
                if i in files.whole:  # decoded once already, for its size: its region copied in one pass
                    img = files.whole[i][top : top + h, left : left + w]
                    np.copyto(out.numpy(), img[..., ::-1] if order == "rgb" else img)
                else:
                    decode_image(
                        images[i], box=(top, left, h, w), output_order=order, strict=self.strict, reduce=f, out=out
                    )
            except ValueError as exc:
                self._failed(exc, where(i), done, i)
        at = [kept.index(i) for i in done]
        sizes = torch.tensor([regions[k][2:] for k in at], dtype=torch.int64).reshape(-1, 2)
        return done, PackedImages(data, torch.from_numpy(offsets[at]), sizes, 3)
