"""Formats other than JPEG, and machines without OpenCV: Pillow's decodes equal cv2.imdecode(IMREAD_COLOR) for PNG
(every colour type and depth), BMP, GIF, lossless WebP and TIFF, orientation included; without OpenCV the core paths
work (decoding, the collates, RescaleKeepRatio), and what still needs OpenCV names the extra to install."""

from __future__ import annotations

import io
import subprocess
import sys

import cv2
import numpy as np
import pytest
from files import photo
from PIL import Image

import fastload as fl
from fastload.io import formats
from fastload.keep_ratio import resize_uint8


def pil_file(pil: Image.Image, fmt: str, **save) -> bytes:
    buf = io.BytesIO()
    pil.save(buf, fmt, **save)
    return buf.getvalue()


def variety(rng) -> list[tuple[str, bytes]]:
    """Files of every colour type fastload may meet outside JPEG."""
    rgb = Image.fromarray(photo(rng, 23, 37)[:, :, ::-1])
    grey16 = Image.fromarray((rng.integers(0, 65536, (19, 29))).astype(np.uint16))
    out = [
        ("png rgb", pil_file(rgb, "PNG")),
        ("png grey", pil_file(rgb.convert("L"), "PNG")),
        ("png rgba", pil_file(rgb.convert("RGBA"), "PNG")),
        ("png grey+alpha", pil_file(rgb.convert("LA"), "PNG")),
        ("png palette", pil_file(rgb.convert("P"), "PNG")),
        ("png 1-bit", pil_file(rgb.convert("1"), "PNG")),
        ("png grey 16-bit", pil_file(grey16, "PNG")),
        ("png rgb 16-bit", cv2.imencode(".png", (photo(rng, 17, 21).astype(np.uint16) * 257))[1].tobytes()),
        ("bmp", pil_file(rgb, "BMP")),
        ("gif", pil_file(rgb.convert("P"), "GIF")),
        ("webp lossless", pil_file(rgb, "WEBP", lossless=True)),
        ("tiff", pil_file(rgb, "TIFF")),
    ]
    for orientation in (3, 6):
        exif = Image.Exif()
        exif[0x0112] = orientation
        out.append((f"tiff orientation {orientation}", pil_file(rgb, "TIFF", exif=exif.tobytes())))
        out.append((f"png orientation {orientation}", pil_file(rgb, "PNG", exif=exif.tobytes())))
    return out


@pytest.mark.parametrize("decoder", ["opencv", "pillow"])
def test_other_formats_decode_as_opencv(decoder, monkeypatch):
    monkeypatch.setattr(formats, "decoder", lambda: decoder)
    for name, data in variety(np.random.default_rng(1)):
        want = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        got = fl.decode_image(data).numpy()
        assert got.shape == want.shape and np.array_equal(got, want), name
        assert fl.image_size(data) == want.shape[:2], name
        assert np.array_equal(
            fl.decode_image(data, box=(2, 3, 9, 8), output_order="rgb").numpy(), want[2:11, 3:11, ::-1]
        ), name


def test_without_opencv_the_core_paths_work(tmp_path):
    rng = np.random.default_rng(2)
    files = variety(rng)
    for k, (_, data) in enumerate(files):
        (tmp_path / f"{k}.img").write_bytes(data)
    jpeg = cv2.imencode(".jpg", photo(rng, 30, 40))[1].tobytes()
    (tmp_path / "j.jpg").write_bytes(jpeg)
    for k, (_, data) in enumerate(files):
        np.save(tmp_path / f"{k}.npy", cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))
    np.save(tmp_path / "j.npy", cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR))
    code = f"""
import sys
sys.modules["cv2"] = None  # as on a machine without OpenCV
import numpy as np, torch, fastload as fl
root, n = {str(tmp_path)!r}, {len(files)}
for k in range(n):
    data = open(f"{{root}}/{{k}}.img", "rb").read()
    assert np.array_equal(fl.decode_image(data).numpy(), np.load(f"{{root}}/{{k}}.npy")), k
jpeg = open(f"{{root}}/j.jpg", "rb").read()
assert np.array_equal(fl.decode_image(jpeg).numpy(), np.load(f"{{root}}/j.npy"))
samples = [(fl.EncodedImage(open(f"{{root}}/{{k}}.img", "rb").read(), str(k)), k) for k in range(4)]
images, labels = fl.PadCollate(pack=True)(samples)
assert len(images) == 4
small = fl.transforms.RescaleKeepRatio((40, 30))(np.zeros((60, 80, 3), np.uint8))
assert small.shape == (30, 40, 3)
try:
    fl.decode_image(open(f"{{root}}/0.img", "rb").read(), reduce=2)
    raise SystemExit("reduce on a PNG without OpenCV should fail")
except ValueError as exc:
    assert "fastload[opencv]" in str(exc), exc
print("ok", fl.backend_info()["jpeg_decoder"])
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and proc.stdout.startswith("ok"), proc.stderr[-3000:]


def test_without_opencv_rescale_is_within_a_grey_level_of_it():
    rng = np.random.default_rng(3)
    for shape in [(100, 150, 3), (37, 53, 1), (40, 61), (30, 41, 4), (22, 35, 2)]:
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        for interpolation in ("bilinear", "nearest"):
            t = fl.transforms.RescaleKeepRatio((70, 50), interpolation=interpolation)
            want, _ = t._resize(img)
            got = resize_uint8(img, t.scale, interpolation)
            assert got.shape == want.shape and got.dtype == np.uint8
            assert int(np.abs(got.astype(int) - want).max()) <= (1 if interpolation == "bilinear" else 0)


def test_without_the_compiled_decoder_jpegs_decode_through_pillow_as_opencv(monkeypatch):
    from test_exif import jpeg_with, plain_jpeg

    from fastload.io import decode as decoding

    monkeypatch.setattr(decoding, "jpeg_decoder", lambda: "pillow")
    monkeypatch.setattr(formats, "decoder", lambda: "pillow")
    rng = np.random.default_rng(4)
    base = plain_jpeg(photo(rng, 24, 40))
    for k in range(300):
        data = jpeg_with(rng, base)
        want = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        got = fl.decode_image(data).numpy()
        assert got.shape == want.shape and np.array_equal(got, want), k
