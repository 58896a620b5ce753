"""EXIF orientation read as cv2.imdecode reads it: differential fuzzes of JPEG APP1 segments and PNG eXIf chunks
against OpenCV (decode_image, image_size and the collates must rotate exactly the files OpenCV rotates), WebP EXIF
chunks, and the compiled reader against its pure-Python twin."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
import torch
from files import photo, same_libjpeg
from PIL import Image

import fastload as fl
from fastload.io import decode as decoding
from fastload.io import formats, orientation

needs_libjpeg = pytest.mark.skipif(decoding.jpeg_decoder() != "libjpeg-turbo", reason="built without libjpeg-turbo")
TAGS = [
    0x0112,
    0x0112,
    0x0112,
    0x010F,
    0x0110,
    0x011A,
    0x011B,
    0x0128,
    0x0131,
    0x013E,
    0x013F,
    0x0211,
    0x0213,
    0x0214,
    0x8298,
    0x8769,
    0x9999,
    0x0100,
]


def tiff_blob(rng) -> bytes:
    """A TIFF-structured EXIF blob, valid or broken the ways real and hostile files are: either byte order (or
    neither), a wrong tag mark, IFD offsets inside or outside the blob, entries whose string and rational offsets
    point inside or past it, several orientation entries, any orientation value; then bytes flipped or cut."""
    order = rng.choice(["II", "MM"] * 4 + ["IM", "XX"])
    little = order == "II"
    e = "<" if little else ">"
    mark = 0x2A if rng.random() < 0.95 else int(rng.integers(0, 65536))
    entries = []
    for k in range(int(rng.integers(0, 6))):
        tag = int(rng.choice(TAGS)) if rng.random() < 0.95 else int(rng.integers(0, 65536))
        tag = 0x0112 if k == 0 and rng.random() < 0.4 else tag
        typ = int(rng.choice([1, 2, 3, 4, 5]))
        count = int(rng.choice([1, 1, 1, 2, 4, 6, 100, 70000]))
        if tag == 0x0112 and rng.random() < 0.8:
            value = struct.pack(e + "HH", int(rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 0, 9, 65535])), 0)
        else:
            value = struct.pack(e + "I", int(rng.choice([8, 8, 20, 20, 40, 60, 200, 5000, 2**32 - 4, 2**32 - 8])))
        entries.append(struct.pack(e + "HHI", tag, typ, count) + value)
    ifd = int(rng.choice([8] * 6 + [10, 0, 2, 400]))
    n = len(entries) if rng.random() < 0.85 else int(rng.integers(0, 20))
    body = struct.pack(e + "H", n) + b"".join(entries) + b"\0\0\0\0"
    blob = order.encode() + struct.pack(e + "HI", mark, ifd) + b"\0" * max(0, ifd - 8) + body
    blob += bytes(rng.integers(0, 256, int(rng.choice([0, 0, 8, 64])), dtype=np.uint8))
    if rng.random() < 0.2:  # bytes flipped
        blob = bytearray(blob)
        for at in rng.integers(0, len(blob), int(rng.integers(1, 4))):
            blob[at] ^= int(rng.integers(1, 256))
        blob = bytes(blob)
    if rng.random() < 0.15:  # cut short
        blob = blob[: int(rng.integers(0, len(blob) + 1))]
    return blob


def app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with(rng, base: bytes) -> bytes:
    """`base` (SOI, then no APPn) with 0-3 APP1 segments: Exif, XMP, or a TIFF blob under another identifier."""
    segments = []
    for _ in range(int(rng.integers(0, 4))):
        kind = rng.random()
        if kind < 0.65:
            segments.append(app1(b"Exif\0\0" + tiff_blob(rng)))
        elif kind < 0.85:
            segments.append(app1(b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>"))
        else:
            segments.append(app1(rng.choice([b"Exif\0\1", b"Abcd\0\0", b"exif\0\0"]) + tiff_blob(rng)))
    return base[:2] + b"".join(segments) + base[2:]


def plain_jpeg(img: np.ndarray) -> bytes:
    """A JPEG without APPn segments (cv2 writes a JFIF APP0, which is dropped)."""
    data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    at = 2
    while data[at + 1] in range(0xE0, 0xF0):
        at += 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
    return data[:2] + data[at:]


def opencv(data: bytes) -> np.ndarray | None:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


@needs_libjpeg
@same_libjpeg
def test_app1_fuzz_against_opencv():
    rng = np.random.default_rng(2024)
    base = plain_jpeg(photo(rng, 24, 40))
    rotated = 0
    for k in range(4000):
        data = jpeg_with(rng, base)
        want = opencv(data)
        assert want is not None, k
        got = fl.decode_image(data)
        assert tuple(got.shape) == want.shape and np.array_equal(got.numpy(), want), (k, data[:200])
        assert fl.image_size(data) == want.shape[:2], k
        box = (3, 5, want.shape[0] - 9, want.shape[1] - 11)
        assert np.array_equal(fl.decode_image(data, box=box).numpy(), want[3:-6, 5:-6]), k
        rotated += want.shape[:2] != (24, 40) or not np.array_equal(want, opencv(base))
    assert rotated > 400  # the fuzz rotates (552 of 4,000 files): not only files OpenCV leaves alone


@needs_libjpeg
@same_libjpeg
@pytest.mark.parametrize("pack", [True, False])
def test_the_collates_rotate_what_opencv_rotates(pack):
    rng = np.random.default_rng(7)
    base = plain_jpeg(photo(rng, 24, 40))
    files = [jpeg_with(rng, base) for _ in range(64)]
    samples = [(fl.EncodedImage(d, f"fuzz/{k}.jpg"), k) for k, d in enumerate(files)]
    images, labels = fl.PadCollate(pack=pack)(samples)
    want = [opencv(d) for d in files]
    if pack:
        assert all(np.array_equal(img.numpy(), w) for img, w in zip(images.unpack(), want))
    else:
        for img, w in zip(images, want):
            assert np.array_equal(img[: w.shape[0], : w.shape[1]].numpy(), w)


def ifd0(*entries: bytes) -> bytes:
    """A big-endian TIFF blob whose IFD0 holds `entries` (12 bytes each)."""
    return b"MM\0*\0\0\0\x08" + len(entries).to_bytes(2, "big") + b"".join(entries)


def orientation_entry(value: int) -> bytes:
    return b"\x01\x12\0\x03\0\0\0\x01" + value.to_bytes(2, "big") + b"\0\0"


BAD_RESOLUTION = b"\x01\x1a\0\x05\0\0\0\x01\0\0\x27\x0f"  # XResolution whose rational lies past the blob
XMP = b"http://ns.adobe.com/xap/1.0/\0<x/>"


@pytest.mark.parametrize(
    "name, segments, orientation",
    [
        ("XMP before Exif", [XMP, b"Exif\0\0" + ifd0(orientation_entry(6))], 6),
        (
            "two Exif APP1s: the first decides",
            [b"Exif\0\0" + ifd0(orientation_entry(3)), b"Exif\0\0" + ifd0(orientation_entry(6))],
            3,
        ),
        ("a non-Exif APP1 with a TIFF header", [b"Abcd\0\0" + ifd0(orientation_entry(6))], 1),
        ("a malformed entry before the orientation", [b"Exif\0\0" + ifd0(BAD_RESOLUTION, orientation_entry(6))], 1),
        ("a truncated orientation entry", [b"Exif\0\0" + ifd0(orientation_entry(6))[:-4]], 1),
    ],
)
@needs_libjpeg
@same_libjpeg
def test_the_probes_findings(name, segments, orientation):
    rng = np.random.default_rng(3)
    base = plain_jpeg(photo(rng, 24, 40))
    data = base[:2] + b"".join(app1(s) for s in segments) + base[2:]
    want = opencv(data)
    assert want.shape[:2] == ((40, 24) if orientation >= 5 else (24, 40)), name
    assert np.array_equal(fl.decode_image(data).numpy(), want) and fl.image_size(data) == want.shape[:2], name


def png_with_exif(rng, base: bytes) -> bytes:
    """`base` with 0-2 eXIf chunks before or after the image data, some with a wrong CRC or an Exif prefix."""

    def chunk(blob):
        crc = zlib.crc32(b"eXIf" + blob)
        if rng.random() < 0.1:
            crc ^= 1
        return struct.pack(">I", len(blob)) + b"eXIf" + blob + struct.pack(">I", crc & 0xFFFFFFFF)

    out = base
    for _ in range(int(rng.integers(0, 3))):
        blob = tiff_blob(rng) if rng.random() < 0.85 else b"Exif\0\0" + tiff_blob(rng)
        at = 33 if rng.random() < 0.6 else out.rindex(b"IEND") - 4
        out = out[:at] + chunk(blob) + out[at:]
    return out


@pytest.mark.parametrize("decoder", ["opencv", "pillow"])
def test_png_exif_fuzz_against_opencv(decoder, monkeypatch):
    rng = np.random.default_rng(11)
    img = photo(rng, 20, 30)
    base = cv2.imencode(".png", img)[1].tobytes()
    monkeypatch.setattr(formats, "decoder", lambda: decoder)
    for k in range(600):
        data = png_with_exif(rng, base)
        want = opencv(data)
        assert want is not None, k
        assert fl.image_size(data) == want.shape[:2], k
        assert np.array_equal(fl.decode_image(data).numpy(), want), k


def webp_with_exif(img: np.ndarray, blob: bytes | None, flag: bool = True) -> bytes:
    """A lossless WebP (VP8X + VP8L) with an EXIF chunk holding `blob`, the VP8X EXIF flag set or not."""
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0131] = "fastload"
    Image.fromarray(img[:, :, ::-1]).save(buf, "WEBP", lossless=True, exif=exif.tobytes())
    data, chunks, at = buf.getvalue(), [], 12
    while at < len(data):
        tag, n = struct.unpack_from("<4sI", data, at)
        chunks.append([tag, data[at + 8 : at + 8 + n]])
        at += 8 + n + (n & 1)
    for c in chunks:
        if c[0] == b"EXIF":
            c[1] = blob
        if c[0] == b"VP8X" and not flag:
            c[1] = bytes([c[1][0] & ~0x08]) + c[1][1:]
    body = b"".join(t + struct.pack("<I", len(d)) + d + b"\0" * (len(d) & 1) for t, d in chunks)
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


@pytest.mark.parametrize("decoder", ["opencv", "pillow"])
def test_webp_exif_against_opencv(decoder, monkeypatch):
    rng = np.random.default_rng(5)
    img = photo(rng, 20, 30)
    monkeypatch.setattr(formats, "decoder", lambda: decoder)
    six = b"MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0"
    cases = [webp_with_exif(img, six), webp_with_exif(img, six, flag=False), webp_with_exif(img, b"Exif\0\0" + six)]
    cases += [webp_with_exif(img, tiff_blob(rng)) for _ in range(40)]
    cases.append(cv2.imencode(".webp", img, [cv2.IMWRITE_WEBP_QUALITY, 90])[1].tobytes())  # lossy, no VP8X
    for k, data in enumerate(cases):
        want = opencv(data)
        assert fl.image_size(data) == want.shape[:2], k
        got = fl.decode_image(data).numpy()
        assert got.shape == want.shape and np.array_equal(got, want), k
    assert opencv(cases[0]).shape[:2] == (30, 20)


@pytest.mark.skipif(not fl._backend.defines("fastload::_tiff_orientation"), reason="extension not loaded")
def test_the_compiled_reader_equals_its_python_twin():
    rng = np.random.default_rng(9)
    blobs = [tiff_blob(rng) for _ in range(3000)] + [
        bytes(rng.integers(0, 256, int(n), dtype=np.uint8)) for n in rng.integers(0, 40, 300)
    ]
    for blob in blobs:
        compiled = torch.ops.fastload._tiff_orientation(torch.tensor(list(blob), dtype=torch.uint8))
        twin = orientation.tiff_orientation(blob)
        assert compiled == (-1 if twin is None else twin), blob
