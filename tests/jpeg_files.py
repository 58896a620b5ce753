"""JPEG files the encoders at hand do not write, built for the decoding tests: lossless (SOF3) files, progressive
files with incomplete coefficients (scans dropped or the file cut short), and files with bytes inserted or corrupted
where real datasets have them. Each is a valid or realistically broken file that cv2.imdecode reads too."""

from __future__ import annotations

import struct

import cv2
import numpy as np


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def lossless(img: np.ndarray, predictor: int = 1, ids: bytes = b"RGB") -> bytes:
    """A lossless JPEG (SOF3, 8-bit, one Huffman table, no point transform) of an (h, w) or (h, w, 3) uint8
    image, components stored in the image's channel order with component ids `ids` ('RGB': stored as RGB; 1, 2, 3:
    libjpeg reads them as YCbCr and converts)."""
    img = img[:, :, None] if img.ndim == 2 else img
    h, w, n = img.shape
    comps = b"".join(bytes([ids[c] if n == 3 else 1, 0x11, 0]) for c in range(n))
    sof = segment(0xC3, struct.pack(">BHHB", 8, h, w, n) + comps)
    bits = bytes(4) + bytes([17]) + bytes(11)  # 17 codes of length 5: SSSS 0..16
    dht = segment(0xC4, bytes([0x00]) + bits + bytes(range(17)))
    sos = segment(
        0xDA, bytes([n]) + b"".join(bytes([ids[c] if n == 3 else 1, 0x00]) for c in range(n)) + bytes([predictor, 0, 0])
    )
    x = img.astype(np.int64)
    pred = np.empty_like(x)
    for r in range(h):
        for c in range(w):
            if r == 0 and c == 0:
                pred[r, c] = 128
            elif r == 0:
                pred[r, c] = x[r, c - 1]
            elif c == 0:
                pred[r, c] = x[r - 1, c]
            else:
                ra, rb, rc = x[r, c - 1], x[r - 1, c], x[r - 1, c - 1]
                pred[r, c] = {
                    1: ra,
                    2: rb,
                    3: rc,
                    4: ra + rb - rc,
                    5: ra + ((rb - rc) >> 1),
                    6: rb + ((ra - rc) >> 1),
                    7: (ra + rb) >> 1,
                }[predictor]
    bitstring = []
    for diff in ((x - pred) % 65536).reshape(-1).tolist():
        diff = diff - 65536 if diff > 32768 else diff
        ssss = int(abs(diff)).bit_length()
        bitstring.append(format(ssss, "05b"))
        if 0 < ssss < 16:
            bitstring.append(format(diff if diff > 0 else diff + (1 << ssss) - 1, f"0{ssss}b"))
    stream = "".join(bitstring)
    stream += "1" * (-len(stream) % 8)
    data = bytearray()
    for k in range(0, len(stream), 8):
        byte = int(stream[k : k + 8], 2)
        data.append(byte)
        if byte == 0xFF:
            data.append(0)
    return b"\xff\xd8" + sof + dht + sos + bytes(data) + b"\xff\xd9"


def markers_after_first_scan(data: bytes) -> list[tuple[int, int]]:
    """(position, marker) of every marker after the first scan header (stuffed bytes and restart markers aside)."""
    start = data.index(b"\xff\xda")
    found, at = [], start + 2
    while True:
        at = data.find(b"\xff", at)
        if at < 0 or at + 1 >= len(data):
            return found
        marker = data[at + 1]
        if marker not in (0x00, 0xFF) and not 0xD0 <= marker <= 0xD7:
            found.append((at, marker))
        at += 1


def first_scans(data: bytes, scans: int) -> bytes:
    """A progressive file cut after its first `scans` scans, with its end-of-image marker: a valid file whose
    coefficients are incomplete (scans=1: DC only, at reduced precision)."""
    cuts = [at for at, marker in markers_after_first_scan(data)]
    sos = [at for at, marker in markers_after_first_scan(data) if marker == 0xDA]
    # The first marker after scan `scans - 1`'s data: the tables of the next scan, or its SOS.
    boundary = sos[scans - 1] if scans - 1 < len(sos) else len(data) - 2
    after = [at for at in cuts if at < boundary]
    end_of_scan = max([a for a in after if data[a + 1] == 0xDA] or [data.index(b"\xff\xda")])
    cut = next((at for at in cuts if at > end_of_scan), len(data) - 2)
    return data[:cut] + b"\xff\xd9"


def progressive(img: np.ndarray, sampling: int, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg",
        img,
        [
            cv2.IMWRITE_JPEG_PROGRESSIVE,
            1,
            cv2.IMWRITE_JPEG_QUALITY,
            quality,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
            sampling,
        ],
    )
    assert ok
    return buf.tobytes()


def jpeg(img: np.ndarray, progressive_file: bool = False, quality: int = 90) -> bytes:
    """A 4:2:0 baseline (or progressive) JPEG of `img`."""
    if progressive_file:
        return progressive(img, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420, quality)
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def junk_before_end(data: bytes, n: int = 40) -> bytes:
    """Bytes between the last scan and the end-of-image marker ("N extraneous bytes before marker 0xd9")."""
    assert data.endswith(b"\xff\xd9")
    return data[:-2] + bytes(range(1, n + 1)) + data[-2:]


def corrupt_bottom(data: bytes, rng, flips: int = 30) -> bytes:
    """Entropy-coded bytes of the last rows flipped: libjpeg warns when it decodes them (and only then)."""
    out = bytearray(data)
    for at in rng.integers(len(out) - 300, len(out) - 20, flips):
        if out[at] != 0xFF and out[at - 1] != 0xFF:
            out[at] = (out[at] ^ 0x5A) if (out[at] ^ 0x5A) != 0xFF else out[at]
    return bytes(out)
