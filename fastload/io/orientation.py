"""EXIF orientation as OpenCV reads and applies it: the orientation entry of a TIFF-structured EXIF blob (the
compiled reader, csrc/io/exif.cpp, or its pure-Python twin), a JPEG's APP1 segments, and OpenCV's ExifTransform of
a decoded array."""

from __future__ import annotations

import struct

import numpy as np
import torch

from fastload import _backend


def tiff_orientation(blob: bytes) -> int | None:
    """The value of IFD0's first orientation entry in a TIFF-structured EXIF blob as OpenCV's ExifReader reads it,
    or None when there is none before the first entry OpenCV fails to read (the pure-Python twin of the compiled
    `_tiff_orientation`, csrc/io/exif.cpp, which says why each rule is there)."""
    n = len(blob)
    if n == 0:
        return None
    little = (n == 1 or blob[0] == blob[1]) and blob[0:1] == b"I"

    def u16(at):
        if at + 1 >= n:
            raise IndexError
        return struct.unpack_from("<H" if little else ">H", blob, at)[0]

    def u32(at):
        if at + 3 >= n:
            raise IndexError
        return struct.unpack_from("<I" if little else ">I", blob, at)[0]

    def rationals(entry, count):
        at = u32(entry + 8)
        for _ in range(count):
            u32(at), u32(at + 4)
            at = (at + 8) & 0xFFFFFFFF

    try:
        if u16(2) != 0x2A:
            return None
        ifd = u32(4)
        at = ifd + 2
        for _ in range(u16(ifd)):
            tag = u16(at)
            if tag == 0x0112:
                return u16(at + 8)
            if tag in (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x8298):
                length = u32(at + 4)
                offset = u32(at + 8) if length > 4 else 8
                if offset > n or offset + length > n:
                    return None
            elif tag in (0x0128, 0x0213):
                u16(at + 8)
            else:
                count = {0x011A: 1, 0x011B: 1, 0x013E: 2, 0x013F: 6, 0x0214: 6, 0x0211: 3}.get(tag)
                if count is not None:
                    rationals(at, count)
            at += 12
    except IndexError:
        return None
    return None


def _orientation_entry(blob: bytes) -> int | None:
    """`tiff_orientation` of `blob`, by the compiled reader when the extension has it."""
    if not blob or not _backend.defines("fastload::_tiff_orientation"):
        return tiff_orientation(blob)
    value = torch.ops.fastload._tiff_orientation(torch.frombuffer(bytearray(blob), dtype=torch.uint8))
    return None if value < 0 else value


def _applied(value: int | None) -> int:
    """The transform OpenCV applies for an orientation entry's value: only 1..8 rotate or flip."""
    return value if value is not None and 1 <= value <= 8 else 1


def exif_orientation(blob: bytes | None) -> int:
    """1..8: the orientation OpenCV applies for a file whose EXIF blob is `blob` (None: no EXIF)."""
    return _applied(_orientation_entry(blob)) if blob else 1


def jpeg_orientation(data: bytes) -> int:
    """1..8: the orientation OpenCV applies for a JPEG file, from its APP1 segments before the first scan: the first
    "Exif\\0\\0" one with an orientation entry decides (csrc/io/exif.cpp's rule, for decoders without it)."""
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF and data[at + 1] not in (0xDA, 0xD9):
        length = struct.unpack_from(">H", data, at + 2)[0]
        payload = data[at + 4 : at + 2 + length]
        if data[at + 1] == 0xE1 and payload[:6] == b"Exif\0\0":
            value = _orientation_entry(payload[6:])
            if value is not None:
                return _applied(value)
        at += 2 + length
    return 1


# OpenCV's ExifTransform for each orientation 1..8: whether h and w are swapped first, then which of the (h, w)
# dims are read backwards (6: transpose, then mirror: a quarter turn clockwise).
EXIF_TRANSFORMS = {
    1: (False, ()),
    2: (False, (1,)),
    3: (False, (0, 1)),
    4: (False, (0,)),
    5: (True, ()),
    6: (True, (1,)),
    7: (True, (0, 1)),
    8: (True, (0,)),
}


def orient(img: np.ndarray, orientation: int) -> np.ndarray:
    """OpenCV's ExifTransform of an (h, w, 3) array.

    Args:
        img: the decoded (h, w, 3) array.
        orientation: 1..8 (anything else: 1, left as it is).

    Returns:
        A contiguous (h, w, 3) array, or (w, h, 3) for orientations 5-8.
    """
    transpose, flips = EXIF_TRANSFORMS.get(orientation, EXIF_TRANSFORMS[1])
    out = img.transpose(1, 0, 2) if transpose else img
    return np.ascontiguousarray(out[tuple(slice(None, None, -1) if d in flips else slice(None) for d in range(2))])
