"""Image files other than the JPEGs fastload's own decoder reads: the format from the first bytes, (h, w) from PNG
and WebP headers (EXIF orientation applied as OpenCV applies it), and full decodes through OpenCV when it is
installed (the reference: `cv2.imdecode(buf, IMREAD_COLOR)`) or Pillow otherwise, which gives the same pixels for
PNG, BMP, GIF and lossless WebP (tests/test_formats.py compares them). Sizes are checked against the pixel limit
before anything is decoded."""

from __future__ import annotations

import struct
import warnings
import zlib

import numpy as np
import torch

from fastload.io.orientation import exif_orientation, jpeg_orientation, orient

# OpenCV's CV_IO_MAX_IMAGE_PIXELS default (and the JPEG decoder's): larger images are refused from their header.
MAX_PIXELS = 1 << 30
_SIGNATURES = (
    (b"\xff\xd8", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)
OPENCV_EXTRA = "pip install 'fastload[opencv]' (opencv-python-headless)"


def kind(head: bytes) -> str:
    """'jpeg', 'png', 'webp', 'gif', 'bmp', 'tiff' or 'other', from a file's first 16 bytes."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return next((name for sig, name in _SIGNATURES if head.startswith(sig)), "other")


def check_pixels(h: int, w: int, name: str) -> None:
    if h < 1 or w < 1 or h * w > MAX_PIXELS:
        raise ValueError(
            f"{name}: the header says {h}x{w} pixels; images of more than {MAX_PIXELS} pixels (or none) "
            "are refused (as OpenCV refuses them), before anything is allocated"
        )


def _png_exif(buf) -> bytes | None:
    """The eXIf chunk libpng keeps (OpenCV reads PNGs through it): the first one, before or after the image data,
    with a correct CRC and a TIFF byte-order mark ('II' or 'MM'); later ones are duplicates. `buf`: the file's bytes
    (a memoryview: only the chunk headers and the eXIf chunk are read)."""
    at = 8
    while at + 12 <= len(buf):
        length, tag = struct.unpack_from(">I4s", buf, at)
        data = buf[at + 8 : at + 8 + length]
        if len(data) < length or tag == b"IEND":
            return None
        if tag == b"eXIf" and length >= 2 and data[0] in b"IM" and data[0] == data[1]:
            crc = buf[at + 8 + length : at + 12 + length]
            if len(crc) == 4 and struct.unpack(">I", crc)[0] == zlib.crc32(data, zlib.crc32(tag)):
                return bytes(data)
        at += 12 + length
    return None


def _webp_header(buf) -> tuple[int, int, bytes | None]:
    """(h, w, EXIF chunk or None) of a WebP file: the VP8X canvas (its EXIF chunk counted only when the VP8X flags
    say there is one, as libwebp's demuxer does), or a lone VP8/VP8L frame's size."""
    first = bytes(buf[12:16])
    if first == b"VP8X" and len(buf) >= 30:
        flags = buf[20]
        w = 1 + int.from_bytes(buf[24:27], "little")
        h = 1 + int.from_bytes(buf[27:30], "little")
        exif, at = None, 12
        while flags & 0x08 and at + 8 <= len(buf):
            tag, length = struct.unpack_from("<4sI", buf, at)
            if tag == b"EXIF":
                exif = bytes(buf[at + 8 : at + 8 + length])
                break
            at += 8 + length + (length & 1)
        return h, w, exif
    if first == b"VP8L" and len(buf) >= 25 and buf[20] == 0x2F:
        bits = int.from_bytes(buf[21:25], "little")
        return 1 + (bits >> 14 & 0x3FFF), 1 + (bits & 0x3FFF), None
    if first == b"VP8 " and len(buf) >= 30 and bytes(buf[23:26]) == b"\x9d\x01\x2a":
        w, h = struct.unpack_from("<HH", buf, 26)
        return h & 0x3FFF, w & 0x3FFF, None
    raise ValueError("not a WebP file fastload can read the size of")


def header_size(buf: torch.Tensor, name: str) -> tuple[int, int] | None:
    """(h, w) of a PNG, WebP, BMP or GIF file as decoded (EXIF orientation applied; a GIF's logical screen, which
    OpenCV composes its first frame onto), from its header and chunk list, checked against the pixel limit; None for
    other formats (TIFF: their size is known once decoded)."""
    data = memoryview(buf.numpy())  # no copy: only headers are read
    fmt = kind(bytes(data[:16]))
    if fmt in ("bmp", "gif"):
        if len(data) < 26:
            raise ValueError(f"{name}: not a readable {fmt.upper()} file (its header is cut short)")
        if fmt == "gif":
            w, h = struct.unpack_from("<HH", data, 6)
        elif struct.unpack_from("<I", data, 14)[0] == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sides
            w, h = struct.unpack_from("<HH", data, 18)
        else:  # BITMAPINFOHEADER and later: a negative height is a top-down image of that many rows
            w, h = struct.unpack_from("<ii", data, 18)
            h = abs(h)
        check_pixels(h, w, name)
        return h, w
    if fmt not in ("png", "webp"):
        return None
    if fmt == "png":
        if len(data) < 24 or bytes(data[12:16]) != b"IHDR":
            raise ValueError(f"{name}: not a readable PNG file (no IHDR chunk)")
        w, h = struct.unpack_from(">II", data, 16)
        exif = _png_exif(data)
    else:
        try:
            h, w, exif = _webp_header(data)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    check_pixels(h, w, name)
    return (w, h) if exif_orientation(exif) >= 5 else (h, w)


def opencv(what: str):
    """The cv2 module, or an ImportError saying that `what` needs OpenCV and how to install it."""
    try:
        import cv2
    except ImportError:
        raise ImportError(f"{what} needs OpenCV, which is not installed: {OPENCV_EXTRA}") from None
    return cv2


def decoder() -> str:
    """Which library decodes files other than the JPEGs fastload's decoder reads: 'opencv' or 'pillow'."""
    try:
        import cv2  # noqa: F401
    except ImportError:
        return "pillow"
    return "opencv"


def decode(buf: torch.Tensor, name: str, reduce: int = 1) -> np.ndarray:
    """The whole image as an (h, w, 3) BGR uint8 array, as cv2.imdecode(buf, IMREAD_COLOR) (or its
    IMREAD_REDUCED_COLOR_<reduce>) gives it. A file that does not decode is a ValueError naming `name`."""
    header_size(buf, name)  # refuses an oversized PNG or WebP before its pixels are allocated
    if decoder() == "opencv":
        import cv2

        flag = {
            1: cv2.IMREAD_COLOR,
            2: cv2.IMREAD_REDUCED_COLOR_2,
            4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8,
        }[reduce]
        img = cv2.imdecode(buf.numpy(), flag)
        if img is None:
            raise ValueError(f"{name}: not an image file OpenCV can decode")
        return img
    if reduce != 1:
        raise ValueError(f"{name}: reduced-scale decoding of this format needs OpenCV: {OPENCV_EXTRA}")
    return _pillow_decode(buf, name)


def _pillow_decode(buf: torch.Tensor, name: str) -> np.ndarray:
    import io

    from PIL import Image, UnidentifiedImageError

    data = memoryview(buf.numpy())
    source = io.BytesIO(_png_repaired(data) if kind(bytes(data[:16])) == "png" else data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Pillow's own EXIF parsing of broken blobs
            with Image.open(source) as pil:
                fmt = pil.format
                check_pixels(pil.height, pil.width, name)
                pil.load()  # a TIFF comes out oriented (libtiff applies its orientation tag, as OpenCV's does)
                img = _pillow_bgr(pil)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"{name}: not an image file Pillow can decode ({exc})") from None
    if fmt in ("PNG", "WEBP"):  # orientation as OpenCV reads it (header_size's rule)
        return orient(img, exif_orientation(_png_exif(data) if fmt == "PNG" else _webp_header(data)[2]))
    if fmt == "JPEG":  # no compiled decoder: the APP1 rule of csrc/io/exif.cpp
        return orient(img, jpeg_orientation(bytes(data)))
    return img


def _png_repaired(buf):
    """A PNG without its ancillary chunks whose CRC is wrong, which libpng (OpenCV) drops with a warning and Pillow
    refuses the whole file for; the file itself when there are none."""
    at, kept, dropped = 8, [buf[:8]], False
    while at + 12 <= len(buf):
        length, tag = struct.unpack_from(">I4s", buf, at)
        end = at + 12 + length
        crc = buf[end - 4 : end]
        if (
            tag[:1].islower()
            and len(crc) == 4
            and struct.unpack(">I", crc)[0] != zlib.crc32(buf[at + 8 : end - 4], zlib.crc32(tag))
        ):
            dropped = True
        else:
            kept.append(buf[at:end])
        at = end
    return b"".join(kept) + bytes(buf[at:]) if dropped else buf


def _pillow_bgr(pil) -> np.ndarray:
    """OpenCV's IMREAD_COLOR conversion of a decoded Pillow image: alpha dropped (not composited), grey replicated,
    16-bit samples shifted to 8 bits, palettes expanded; channels BGR."""
    if pil.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = (np.asarray(pil).astype(np.uint32) >> 8).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if pil.mode in ("L", "LA", "1"):
        grey = np.asarray(pil.convert("L"))
        return np.repeat(grey[:, :, None], 3, axis=2)
    rgb = np.asarray(pil.convert("RGB") if pil.mode != "RGB" else pil)
    return np.ascontiguousarray(rgb[:, :, ::-1])
