"""Decoding image files: JPEG through libjpeg-turbo in the extension, only the box a crop needs, pixel for pixel
what `cv2.imdecode(buf, cv2.IMREAD_COLOR)` gives; every other format (and JPEG in a build without libjpeg-turbo)
through OpenCV. `EncodedImage` is a file's bytes and path, as the files datasets hand them over."""

from __future__ import annotations

import os
import struct
import warnings

import numpy as np
import torch

from fastload import _ops

REDUCE = (1, 2, 4, 8)
_JPEG, _PNG = b"\xff\xd8", b"\x89PNG\r\n\x1a\n"


def jpeg_decoder() -> str:
    """Which decoder serves JPEG files: 'libjpeg-turbo' (the extension's, with box and strict decoding) or
    'opencv' (full decode, then the box)."""
    return _ops.jpeg_decoder()


class EncodedImage:
    """An encoded image file: `data`, its bytes as a 1-D uint8 CPU tensor, and `path` (str or None), which errors
    name. Picklable (the bytes travel as a tensor: through shared memory out of a DataLoader worker); `size` reads
    (h, w) from the header, EXIF orientation applied."""

    __slots__ = ("data", "path", "_size")

    def __init__(self, data, path: str | os.PathLike | None = None):
        self.path = None if path is None else os.fspath(path)
        self.data = as_bytes(data, self.path or "data")
        self._size = None

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> EncodedImage:
        """The file's bytes, read once (no decoding)."""
        return cls(torch.from_numpy(np.fromfile(os.fspath(path), dtype=np.uint8)), path)

    @property
    def size(self) -> tuple[int, int]:
        if self._size is None:
            self._size = image_size(self)
        return self._size

    def decode(self, **kwargs) -> torch.Tensor:
        """`decode_image(self, **kwargs)`."""
        return decode_image(self, **kwargs)

    def __reduce__(self):
        return (EncodedImage, (self.data, self.path))

    def __repr__(self) -> str:
        return f"EncodedImage({self.path or '<bytes>'}, {self.data.numel()} bytes)"


def as_bytes(data, name: str = "data") -> torch.Tensor:
    """bytes, bytearray, memoryview, a 1-D uint8 numpy array or CPU tensor, or an EncodedImage -> a contiguous 1-D
    uint8 CPU tensor sharing its memory where it can."""
    if isinstance(data, EncodedImage):
        return data.data
    if isinstance(data, (bytes, bytearray, memoryview)):
        if len(data) == 0:
            raise ValueError(f"{name}: empty data is not an image file")
        with warnings.catch_warnings():  # read-only buffers are fine: nothing writes them
            warnings.simplefilter("ignore", UserWarning)
            return torch.frombuffer(data, dtype=torch.uint8)
    if isinstance(data, np.ndarray) and data.dtype == np.uint8:
        with warnings.catch_warnings():  # read-only arrays (np.frombuffer of bytes) are fine: nothing writes them
            warnings.simplefilter("ignore", UserWarning)
            data = torch.from_numpy(np.ascontiguousarray(data))
    if not isinstance(data, torch.Tensor):
        raise TypeError(f"{name} must be bytes, bytearray, memoryview, a 1-D uint8 array or tensor, or an "
                        f"EncodedImage, got {type(data).__name__}")
    if data.dtype != torch.uint8 or data.dim() != 1 or data.device.type != "cpu":
        raise TypeError(f"{name} must be a 1-D uint8 CPU array or tensor, got {data.dtype} of shape "
                        f"{tuple(data.shape)} on {data.device}")
    if data.numel() == 0:
        raise ValueError(f"{name}: empty data is not an image file")
    return data.contiguous()


def _source(data) -> tuple[torch.Tensor, str]:
    """(bytes tensor, the name errors use: the file's path when known)."""
    path = data.path if isinstance(data, EncodedImage) else None
    return as_bytes(data, path or "data"), path or "data"


def _kind(buf: torch.Tensor) -> str:
    head = bytes(buf[:8].tolist())
    return "jpeg" if head.startswith(_JPEG) else "png" if head.startswith(_PNG) else "other"


def is_jpeg(data) -> bool:
    """Whether the encoded image is a JPEG file (by its bytes, not its name)."""
    return _kind(_source(data)[0]) == "jpeg"


def image_size(data, *, reduce: int = 1) -> tuple[int, int]:
    """(h, w) of an encoded image from its header alone (JPEG frame header with EXIF orientation applied, PNG IHDR);
    other formats are decoded by OpenCV to find out. With `reduce` (2, 4, 8; JPEG only), the size decode_image gives
    at that scale. A ValueError names the file when the header is unreadable."""
    buf, name = _source(data)
    kind = _kind(buf)
    if isinstance(reduce, bool) or reduce not in REDUCE:
        raise ValueError(f"reduce must be 1, 2, 4 or 8, got {reduce!r}")
    if reduce != 1 and not (kind == "jpeg" and jpeg_decoder() == "libjpeg-turbo"):
        return tuple(_opencv_decode(buf, name, reduce).shape[:2])
    if kind == "jpeg" and jpeg_decoder() == "libjpeg-turbo":
        try:
            h, w = torch.ops.fastload._jpeg_info(buf, reduce)[:2]
        except (ValueError, RuntimeError) as exc:
            raise ValueError(f"{name}: {exc}") from None
        return int(h), int(w)
    if kind == "png" and buf.numel() >= 24:
        w, h = struct.unpack(">II", bytes(buf[16:24].tolist()))
        if h >= 1 and w >= 1:
            return h, w
    return tuple(_opencv_decode(buf, name, 1).shape[:2])


def _opencv_decode(buf: torch.Tensor, name: str, reduce: int) -> np.ndarray:
    import cv2

    flag = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}[reduce]
    img = cv2.imdecode(buf.numpy(), flag)
    if img is None:
        raise ValueError(f"{name}: not an image file OpenCV can decode")
    return img


def _check_box(box) -> tuple[int, int, int, int] | None:
    if box is None:
        return None
    values = box.tolist() if isinstance(box, (np.ndarray, torch.Tensor)) else box
    if not isinstance(values, (tuple, list)) or len(values) != 4 or \
            not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values):
        raise TypeError(f"box must be (top, left, height, width) ints, got {box!r}")
    return tuple(int(v) for v in values)


def decode_image(data, *, box=None, output_order: str = "bgr", strict: bool = True, reduce: int = 1,
                 out: torch.Tensor | None = None) -> torch.Tensor:
    """Decode an image file to an (H, W, 3) uint8 tensor: `cv2.imdecode(buf, cv2.IMREAD_COLOR)`'s pixels (BGR;
    channels reversed with output_order="rgb"), EXIF orientation applied.

    Args:
        data: the encoded file: bytes, bytearray, memoryview, a 1-D uint8 numpy array or CPU tensor, or an
            EncodedImage (whose path errors name).
        box: (top, left, height, width) in the decoded image's pixels: only that region is decoded (JPEG), equal
            bit for bit to decoding everything and slicing.
        strict: a truncated or corrupt JPEG, including what libjpeg only warns about ("premature end of data
            segment"), is a ValueError naming the file and libjpeg's message; False accepts what libjpeg recovers.
            A box decode reads the rows the box needs, and checks that the file ends with its end-of-image marker.
        reduce: 1, 2, 4 or 8: libjpeg-turbo's DCT scaling (1/reduce of each side, rounded up; the box is then in the
            reduced image's pixels). Changes pixels: faster, not exact.
        out: an (h, w, 3) uint8 CPU tensor (rows of whole pixels) to decode into; by default the CPU output cache
            gives the result.

    Releases the GIL while libjpeg runs; thread-safe. Other formats (PNG, WebP, BMP, TIFF; a PNG named .JPEG)
    decode through OpenCV, as do JPEGs in a build without libjpeg-turbo (`jpeg_decoder()` says which serves).
    """
    buf, name = _source(data)
    box = _check_box(box)
    if output_order not in ("bgr", "rgb"):
        raise ValueError(f"output_order must be 'bgr' or 'rgb', got {output_order!r}")
    if not isinstance(strict, bool):
        raise TypeError(f"strict must be a bool, got {type(strict).__name__}")
    if isinstance(reduce, bool) or reduce not in REDUCE:
        raise ValueError(f"reduce must be 1, 2, 4 or 8, got {reduce!r}")
    if out is not None and not isinstance(out, torch.Tensor):
        raise TypeError(f"out must be a torch.Tensor, got {type(out).__name__}")
    if _kind(buf) == "jpeg" and jpeg_decoder() == "libjpeg-turbo":
        top, left, h, w = box if box is not None else (0, 0, -1, -1)
        try:
            return torch.ops.fastload._jpeg_decode(buf, top, left, h, w, reduce, output_order == "rgb", strict, out)
        except (ValueError, RuntimeError) as exc:
            raise ValueError(f"{name}: {exc}") from None
    img = _opencv_decode(buf, name, reduce)
    if box is not None:
        top, left, h, w = box
        if h < 1 or w < 1 or top < 0 or left < 0 or top + h > img.shape[0] or left + w > img.shape[1]:
            raise ValueError(f"{name}: box {box} must be non-empty and lie inside the {img.shape[0]}x{img.shape[1]} "
                             "image")
        img = img[top:top + h, left:left + w]
    result = torch.from_numpy(np.ascontiguousarray(img[..., ::-1] if output_order == "rgb" else img))
    if out is None:
        return result
    if out.dtype != torch.uint8 or tuple(out.shape) != tuple(result.shape) or out.device.type != "cpu":
        raise ValueError(f"out must be a CPU uint8 tensor of shape {tuple(result.shape)}, got {out.dtype} "
                         f"{tuple(out.shape)} on {out.device}")
    return out.copy_(result)
