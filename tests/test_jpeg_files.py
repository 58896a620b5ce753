"""The JPEG files real datasets hold and the probe of the files path found: lossless files, progressive files with
incomplete coefficients (boxes must equal slicing), bytes before the end marker and corrupt last rows (the verdict
must not depend on the box), boxes and headers that overflow or claim billions of pixels (refused before any
allocation), and the libjpeg-turbo the decoder is built on (3.x, linked in statically, symbols hidden)."""

from __future__ import annotations

import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from files import libjpeg_major, photo, same_libjpeg
from jpeg_files import (
    corrupt_bottom,
    first_scans,
    jpeg,
    junk_before_end,
    lossless,
    markers_after_first_scan,
    progressive,
)

import fastload as fl
from fastload.io import decode as decoding

needs_libjpeg = pytest.mark.skipif(decoding.jpeg_decoder() != "libjpeg-turbo", reason="built without libjpeg-turbo")
SAMPLINGS = {
    "420": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    "411": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411,
    "444": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
    "422": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
    "440": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_440,
}


def opencv(data: bytes, flag=cv2.IMREAD_COLOR) -> np.ndarray | None:
    return cv2.imdecode(np.frombuffer(data, np.uint8), flag)


def random_boxes(rng, h: int, w: int, n: int):
    for _ in range(n):
        bh, bw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
        yield int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1)), bh, bw


def assert_boxes_slice(data: bytes, whole: np.ndarray, boxes, **decode):
    """Each box of `data` decodes to that slice of `whole`."""
    for top, left, h, w in boxes:
        got = fl.decode_image(data, box=(top, left, h, w), **decode).numpy()
        assert np.array_equal(got, whole[top : top + h, left : left + w]), (top, left, h, w, decode)


@needs_libjpeg
def test_the_decoder_is_libjpeg_turbo_3_linked_statically():
    version = fl.backend_info()["jpeg_decoder"]
    assert re.fullmatch(r"libjpeg-turbo \d+\.\d+\.\d+", version) and libjpeg_major(version) >= 3, version
    so = sys.modules["fastload._C"].__file__
    needed = subprocess.run(["readelf", "-d", so], capture_output=True, text=True).stdout
    assert "libjpeg" not in needed  # nothing to find at run time
    exported = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True).stdout
    assert not re.search(r"\bjpeg_\w+", exported)  # hidden: never interposed with OpenCV's, Pillow's or torchvision's


@needs_libjpeg
@pytest.mark.parametrize("sampling", list(SAMPLINGS))
def test_progressive_files_with_incomplete_coefficients_box_like_slicing(sampling):
    # DC-only files and files missing their last scans: libjpeg smooths their blocks from 2 blocks on either side,
    # and a box's region must start far enough left for its first columns to see real neighbours.
    rng = np.random.default_rng(len(sampling))
    full = progressive(cv2.resize(photo(rng, 60, 80), (330, 250)), SAMPLINGS[sampling])
    scans = 1 + sum(marker == 0xDA for _, marker in markers_after_first_scan(full))
    for kept in sorted({1, 2, scans // 2, scans - 1}):
        data = first_scans(full, kept)
        for reduce in (1, 2, 4):
            whole = fl.decode_image(data, reduce=reduce).numpy()
            assert_boxes_slice(data, whole, random_boxes(rng, *whole.shape[:2], 30), reduce=reduce)


@needs_libjpeg
@same_libjpeg
@pytest.mark.parametrize("sampling", ["420", "444"])
def test_incomplete_progressive_files_decode_as_opencv(sampling):
    rng = np.random.default_rng(4)
    full = progressive(cv2.resize(photo(rng, 50, 70), (210, 150)), SAMPLINGS[sampling])
    for kept in (1, 3, 5):
        data = first_scans(full, kept)
        assert np.array_equal(fl.decode_image(data).numpy(), opencv(data)), kept
    # A progressive file cut short (no end marker): OpenCV refuses it, libjpeg recovers it with strict=False, and
    # every box is what that recovered image holds.
    for cut in rng.integers(len(full) // 3, len(full) - 10, 6):
        data = full[: int(cut)]
        assert opencv(data) is None
        try:
            whole = fl.decode_image(data, strict=False).numpy()
        except ValueError as exc:  # cut inside a marker segment: an error, not a warning
            assert "corrupt or truncated" in str(exc)
            continue
        assert_boxes_slice(data, whole, random_boxes(rng, 150, 210, 10), strict=False)


@needs_libjpeg
@same_libjpeg
def test_lossless_files_decode_as_opencv():
    rng = np.random.default_rng(8)
    img = photo(rng, 37, 53)
    for predictor in range(1, 8):
        for ids in (b"RGB", bytes([1, 2, 3])):  # stored RGB, or read as YCbCr and converted
            data = lossless(img[:, :, ::-1], predictor, ids)
            want = opencv(data)
            assert want is not None and np.array_equal(fl.decode_image(data).numpy(), want), (predictor, ids)
            if ids == b"RGB":
                assert np.array_equal(want, img)  # lossless
            assert_boxes_slice(data, want, random_boxes(rng, 37, 53, 8))
            # No DCT, no reduced scale: the full image at every reduce, as its size says.
            assert fl.image_size(data, reduce=4) == (37, 53)
            assert np.array_equal(fl.decode_image(data, reduce=4).numpy(), want)
    grey = lossless(img[:, :, 0], 1)
    assert opencv(grey) is None  # OpenCV's IMREAD_COLOR refuses it; fastload replicates the grey samples
    got = fl.decode_image(grey).numpy()
    assert np.array_equal(got, np.repeat(img[:, :, :1], 3, axis=2))
    assert np.array_equal(fl.decode_image(grey, box=(4, 5, 20, 30)).numpy(), got[4:24, 5:35])
    for strict in (True, "complete"):
        with pytest.raises(ValueError, match="truncated"):
            fl.decode_image(data[: len(data) // 2], box=(0, 0, 4, 4), strict=strict)


@needs_libjpeg
def test_bytes_before_the_end_marker_change_no_pixel_and_are_accepted_for_every_box():
    # ImageNet's train set has such files ("Corrupt JPEG data: N extraneous bytes before marker 0xd9"); a box
    # reaching the last row used to refuse them and every other box to accept them: a random epoch's failure.
    rng = np.random.default_rng(12)
    for progressive_file in (False, True):
        clean = jpeg(cv2.resize(photo(rng, 40, 50), (500, 375)), progressive_file)
        data = junk_before_end(clean)
        want = opencv(clean)
        assert np.array_equal(opencv(data), want)
        for strict in (True, "complete", False):
            assert np.array_equal(fl.decode_image(data, strict=strict).numpy(), want)
            boxes = list(random_boxes(rng, 375, 500, 10)) + [(300, 0, 75, 500), (0, 0, 375, 500)]
            assert_boxes_slice(data, want, boxes, strict=strict)


@needs_libjpeg
@same_libjpeg
def test_the_verdict_on_a_corrupt_file_does_not_depend_on_the_box():
    # Entropy-coded data of the last rows damaged: libjpeg warns when it decodes them. strict=True refuses the file
    # for every box, also one far above the damage (the rest of the file is entropy-decoded); the default, "complete",
    # accepts it for every box, with the pixels cv2.imdecode gives (it accepts such files too); False alike.
    rng = np.random.default_rng(13)
    img = cv2.resize(photo(rng, 40, 50), (500, 375))
    boxes = [(0, 0, 16, 16), (100, 200, 50, 80), (0, 0, 200, 500), (360, 0, 15, 500)]
    for restart in (0, 4):
        clean = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_RST_INTERVAL, restart])[
            1
        ].tobytes()
        data = corrupt_bottom(clean, rng)
        for box in [None] + boxes:
            with pytest.raises(ValueError, match="Corrupt JPEG data"):
                fl.decode_image(data, box=box, strict=True)
        want = opencv(data)
        assert want is not None and not np.array_equal(want, opencv(clean))
        for strict in ("complete", False):
            assert np.array_equal(fl.decode_image(data, strict=strict).numpy(), want)
            assert_boxes_slice(data, want, boxes + list(random_boxes(rng, 375, 500, 10)), strict=strict)


@needs_libjpeg
def test_a_truncated_file_is_refused_for_every_box_unless_strict_is_false():
    rng = np.random.default_rng(14)
    for progressive_file in (False, True):
        data = jpeg(cv2.resize(photo(rng, 40, 50), (300, 200)), progressive_file)
        cut = data[: len(data) * 3 // 4]
        assert opencv(cut) is None  # OpenCV refuses it too
        for strict in ("complete", True):
            for box in [None, (0, 0, 8, 8), (150, 100, 50, 200)]:
                with pytest.raises(ValueError, match="truncated|Premature end of JPEG file"):
                    fl.decode_image(cut, box=box, strict=strict)
        whole = fl.decode_image(cut, strict=False).numpy()
        assert_boxes_slice(cut, whole, random_boxes(rng, 200, 300, 10), strict=False)
    for bad in ("yes", "file"):
        with pytest.raises(ValueError, match="strict must be True, 'complete' or False"):
            fl.decode_image(data, strict=bad)
    for bad in (1, None):
        with pytest.raises(TypeError, match="strict must be True, 'complete' or False"):
            fl.CropCollate(32, strict=bad)
    assert fl.decode_image(data, strict=np.bool_(True)).shape == (200, 300, 3)


@needs_libjpeg
def test_boxes_are_checked_without_overflow():
    data = cv2.imencode(".jpg", photo(np.random.default_rng(1), 20, 30))[1].tobytes()
    for box in [
        (2**63 - 1, 0, 1, 1),
        (0, 0, 2**63 - 1, 2**63 - 1),
        (1, 1, 2**62, 2**62),
        (0, 0, -1, 5),
        (0, 0, 5, -1),
        (-1, 0, 5, 5),
        (0, 0, 0, 5),
        (9, 0, 2**63 - 5, 1),
    ]:
        with pytest.raises(ValueError, match="box"):
            fl.decode_image(data, box=box)
    # The compiled op checks what Python let through, without a sentinel for "the whole image".
    buf = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    for box in [[2**63 - 1, 0, 1, 1], [0, 0, -1, -1], [10, 10, 2**63 - 2, 5]]:
        with pytest.raises(ValueError, match="must be non-empty and lie inside"):
            torch.ops.fastload._jpeg_decode(buf, box, 1, False, True, None)


def huge_png() -> bytes:
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 65500, 65500, 8, 2, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))  # noqa: E731
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    )


def huge_jpeg() -> bytes:
    data = bytearray(cv2.imencode(".jpg", photo(np.random.default_rng(2), 16, 16))[1].tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (65500).to_bytes(2, "big") * 2  # 65500 x 65500: 12.9 GB decoded
    return bytes(data)


def test_huge_headers_are_refused_before_any_allocation():
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    files = [("huge.jpg", huge_jpeg())] if decoding.jpeg_decoder() == "libjpeg-turbo" else []
    files.append(("huge.png", huge_png()))
    gif = bytearray(b"GIF89a") + (65500).to_bytes(2, "little") * 2 + bytes(20)  # a logical screen of 65500 x 65500
    files.append(("huge.gif", bytes(gif)))
    for name, data in files:
        image = fl.EncodedImage(data, name)
        for reduce in (1, 2, 8) if name.endswith("jpg") else (1,):
            with pytest.raises(ValueError, match=f"{name}: the header says 65500x65500 pixels"):
                fl.image_size(image, reduce=reduce)
            with pytest.raises(ValueError, match="65500x65500"):
                fl.decode_image(image, reduce=reduce)
        # The collates skip it (on_error="skip") without allocating its pixels, draft decoding included.
        good = fl.EncodedImage(cv2.imencode(".jpg", photo(np.random.default_rng(3), 40, 50))[1].tobytes(), "ok")
        for collate in (
            fl.CropCollate(32, fl.IMAGENET, on_error="skip", draft=True),
            fl.PadCollate(on_error="skip"),
            fl.PadCollate(pack=True, on_error="skip", decode_on="device"),
        ):
            with pytest.warns(RuntimeWarning, match=f"skipped sample 0 of the batch: {name}"):
                images, labels = collate([(image, 0), (good, 1)])
            assert labels.tolist() == [1]
    with pytest.raises(ValueError, match="point outside data|pixels"):
        from fastload.io.encoded_batch import EncodedBatch

        EncodedBatch(torch.zeros(10, dtype=torch.uint8), [0], [10], [[65500, 65500]], ["forged"]).decode()
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown < 1 << 20, f"peak memory grew by {grown} KiB"  # 12.9 GB would have been allocated before


@needs_libjpeg
def test_a_12_bit_file_goes_to_opencv_or_names_what_reads_it(monkeypatch):
    # libjpeg's 8-bit API cannot read 12-bit samples: OpenCV is asked instead (this file is not a real 12-bit one,
    # so it refuses it too), and without OpenCV the error says which decoder reads such files.
    data = bytearray(cv2.imencode(".jpg", photo(np.random.default_rng(4), 16, 16))[1].tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 4] = 12
    image = fl.EncodedImage(bytes(data), "deep.jpg")
    with pytest.raises(ValueError, match="deep.jpg: not an image file OpenCV can decode"):
        fl.decode_image(image)
    monkeypatch.setattr(fl.io.formats, "decoder", lambda: "pillow")
    for call in (fl.decode_image, fl.image_size):
        with pytest.raises(ValueError, match="deep.jpg: a 12-bit JPEG file: .*8-bit samples; OpenCV can decode it"):
            call(image)


def test_a_load_failure_names_what_is_missing():
    # The decoder is linked in (test_the_decoder_is_libjpeg_turbo_3_linked_statically: nothing of libjpeg is looked
    # for at run time). A library that is missing is named, with what to do, not "rebuild against torch".
    from fastload import _extension

    message = _extension.what_to_do(ImportError("libjpeg.so.62: cannot open shared object file: No such file"))
    assert "libjpeg.so.62" in message and "missing" in message and "torch" not in message
    assert "another torch" in _extension.what_to_do(ImportError("_C.so: undefined symbol: _ZN3c10"))
    assert "never built" in _extension.what_to_do(ModuleNotFoundError("No module named 'fastload._C'"))
