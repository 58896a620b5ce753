"""A file's bytes as fastload's decoders take them: `as_bytes` (bytes, bytearray, memoryview, arrays, tensors) and
`EncodedImage`, a file's bytes and path, as the files datasets hand them over."""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch

from fastload.memory import ring_pickle


class EncodedImage:
    """An encoded image file as a collate input: its bytes and, for error messages, its path.

    Picklable: only the file's own bytes travel, as a tensor (through shared memory out of a DataLoader worker).
    `EncodedImage.from_file(path)` reads a file; `.decode(**kw)` is `decode_image(self, **kw)`; `.size` reads (h, w)
    from the header each time (EXIF orientation applied), so it follows the bytes.

    Args:
        data: the file's bytes: `bytes` (shared), `bytearray` (copied: its owner may refill it), `memoryview` (its
            export held) or a 1-D uint8 numpy array or CPU tensor (shared). Empty data is accepted here (a 0-byte file
            is a bad file for the collate's `on_error`, not an exception in the dataset) and refused where it is
            decoded.
        path: the file's path (str or os.PathLike), named by every error about it; None when unknown.

    Attributes:
        data: the bytes as a 1-D uint8 CPU tensor.
        path: str or None.

    Raises:
        TypeError: data of another type, or an array or tensor that is not 1-D uint8 on the CPU.
    """

    __slots__ = ("data", "path")

    def __init__(self, data, path: str | os.PathLike | None = None):
        self.path = None if path is None else os.fspath(path)
        self.data = as_bytes(data, self.path or "data", allow_empty=True)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> EncodedImage:
        """The file's bytes, read once (no decoding)."""
        return cls(torch.from_numpy(np.fromfile(os.fspath(path), dtype=np.uint8)), path)

    @property
    def size(self) -> tuple[int, int]:
        """(h, w) of the decoded image, from the file's header (`image_size`)."""
        from fastload.io.decode import image_size  # decode imports this module

        return image_size(self)

    def decode(self, **kwargs) -> torch.Tensor:
        """`decode_image(self, **kwargs)`."""
        from fastload.io.decode import decode_image  # decode imports this module

        return decode_image(self, **kwargs)

    def __reduce__(self):  # only the file's own bytes travel, not a larger buffer it views
        return (EncodedImage, (ring_pickle.RingTensor(self.data), self.path))

    def __repr__(self) -> str:
        return f"EncodedImage({self.path or '<bytes>'}, {self.data.numel()} bytes)"


def as_bytes(data, name: str = "data", allow_empty: bool = False) -> torch.Tensor:
    """bytes, bytearray, memoryview, a 1-D uint8 numpy array or CPU tensor, or an EncodedImage -> a contiguous 1-D
    uint8 CPU tensor. Immutable bytes are shared (the tensor keeps them alive); a memoryview is shared with its
    buffer export held (the exporter cannot be resized or released under it); a bytearray is copied, since its owner
    may grow (reallocate) or refill it; arrays and tensors are shared, as the caller passed them."""
    if isinstance(data, EncodedImage):
        data = data.data
    elif isinstance(data, (bytes, bytearray)):
        if isinstance(data, bytearray):
            data = bytes(data)
        with warnings.catch_warnings():  # read-only: nothing writes them
            warnings.simplefilter("ignore", UserWarning)
            data = torch.frombuffer(data, dtype=torch.uint8) if data else torch.empty(0, dtype=torch.uint8)
    elif isinstance(data, memoryview):
        try:
            data = np.frombuffer(data, dtype=np.uint8)  # holds the buffer export while the array lives
        except ValueError:  # not contiguous
            data = np.frombuffer(data.tobytes(), dtype=np.uint8)
    if isinstance(data, np.ndarray) and data.dtype == np.uint8:
        with warnings.catch_warnings():  # read-only arrays (np.frombuffer of bytes) are fine: nothing writes them
            warnings.simplefilter("ignore", UserWarning)
            data = torch.from_numpy(np.ascontiguousarray(data))
    if not isinstance(data, torch.Tensor):
        raise TypeError(
            f"{name} must be bytes, bytearray, memoryview, a 1-D uint8 array or tensor, or an "
            f"EncodedImage, got {type(data).__name__}"
        )
    if data.dtype != torch.uint8 or data.dim() != 1 or data.device.type != "cpu":
        raise TypeError(
            f"{name} must be a 1-D uint8 CPU array or tensor, got {data.dtype} of shape "
            f"{tuple(data.shape)} on {data.device}"
        )
    if data.numel() == 0 and not allow_empty:
        raise ValueError(f"{name}: empty data is not an image file")
    return data.contiguous()
