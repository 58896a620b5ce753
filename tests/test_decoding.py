"""fastload.decode_image / image_size / EncodedImage: JPEG through libjpeg-turbo bit for bit equal to
cv2.imdecode(IMREAD_COLOR) (baseline, progressive, every chroma subsampling, restart markers, odd sizes, grayscale,
CMYK, EXIF orientations), boxes equal to decoding everything and slicing, reduced scales equal to OpenCV's, other
formats through OpenCV, and bad files: a ValueError naming the file, never a crash, a hang or a leak."""

from __future__ import annotations

import io
import os
import threading

import cv2
import numpy as np
import pytest
import torch
from conftest import SANITIZED
from files import photo, same_libjpeg
from PIL import Image

import fastload as fl
from fastload.io import decode as decoding

needs_libjpeg = pytest.mark.skipif(decoding.jpeg_decoder() != "libjpeg-turbo", reason="built without libjpeg-turbo")


SAMPLINGS = {
    "444": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
    "422": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
    "420": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    "411": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411,
    "440": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_440,
}
SIZES = [(37, 53), (257, 311), (16, 16), (1, 1), (9, 200), (300, 7)]


def jpeg(img: np.ndarray, sampling="420", progressive=False, restart=0, quality=85) -> bytes:
    params = [
        cv2.IMWRITE_JPEG_QUALITY,
        quality,
        cv2.IMWRITE_JPEG_PROGRESSIVE,
        int(progressive),
        cv2.IMWRITE_JPEG_RST_INTERVAL,
        restart,
    ]
    if img.ndim == 3:
        params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, SAMPLINGS[sampling]]
    ok, buf = cv2.imencode(".jpg", img, params)
    assert ok
    return buf.tobytes()


def pil_jpeg(img: np.ndarray, mode="RGB", orientation=None, **save) -> bytes:
    pil = Image.fromarray(img).convert(mode)
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        save["exif"] = exif.tobytes()
    buf = io.BytesIO()
    pil.save(buf, "JPEG", **save)
    return buf.getvalue()


def opencv(data: bytes, flag=cv2.IMREAD_COLOR) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), flag)


def files(rng) -> list[tuple[str, bytes]]:
    out = []
    for h, w in SIZES:
        img = photo(rng, h, w)
        for sampling in SAMPLINGS:
            for progressive in (False, True):
                out.append(
                    (
                        f"{h}x{w} {sampling} prog={progressive}",
                        jpeg(img, sampling, progressive, restart=int(rng.integers(0, 3))),
                    )
                )
        out.append((f"{h}x{w} gray", jpeg(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))))
        out.append((f"{h}x{w} cmyk", pil_jpeg(img, "CMYK")))
    img = photo(rng, 45, 70)
    for orientation in range(1, 9):
        out.append((f"exif {orientation}", pil_jpeg(img, orientation=orientation)))
        out.append((f"exif {orientation} cmyk", pil_jpeg(img, "CMYK", orientation=orientation)))
    return out


@pytest.fixture(scope="module")
def corpus():
    return files(np.random.default_rng(7))


@needs_libjpeg
@same_libjpeg
def test_full_decodes_are_opencvs(corpus):
    for name, data in corpus:
        want = opencv(data)
        got = fl.decode_image(data)
        assert got.dtype == torch.uint8 and got.shape == want.shape, name
        assert np.array_equal(got.numpy(), want), name
        assert np.array_equal(fl.decode_image(data, output_order="rgb").numpy(), want[..., ::-1]), name
        assert fl.image_size(data) == want.shape[:2], name


@needs_libjpeg
@same_libjpeg
def test_boxes_equal_decoding_everything_and_slicing(corpus, rng):
    for name, data in corpus:
        full = opencv(data)
        h, w = full.shape[:2]
        for _ in range(25):
            bh, bw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
            top, left = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
            got = fl.decode_image(data, box=(top, left, bh, bw))
            assert np.array_equal(got.numpy(), full[top : top + bh, left : left + bw]), (name, (top, left, bh, bw))


@needs_libjpeg
@same_libjpeg
@pytest.mark.parametrize("reduce", [2, 4, 8])
def test_reduced_scales_are_opencvs(corpus, reduce):
    flag = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}[reduce]
    for name, data in corpus:
        if "exif" in name:
            continue  # OpenCV's reduced reads skip the EXIF orientation; the full-scale path applies it
        want = opencv(data, flag)
        got = fl.decode_image(data, reduce=reduce)
        assert got.shape == want.shape and np.array_equal(got.numpy(), want), (name, reduce)
        box = (want.shape[0] // 3, want.shape[1] // 4, max(want.shape[0] // 2, 1), max(want.shape[1] // 2, 1))
        assert np.array_equal(
            fl.decode_image(data, box=box, reduce=reduce).numpy(),
            want[box[0] : box[0] + box[2], box[1] : box[1] + box[3]],
        ), (name, reduce)


def test_other_formats_go_through_opencv(rng, tmp_path):
    img = photo(rng, 33, 47)
    for ext in (".png", ".bmp", ".tiff", ".webp"):
        ok, buf = cv2.imencode(ext, img, [cv2.IMWRITE_WEBP_QUALITY, 101] if ext == ".webp" else [])
        data = buf.tobytes()
        want = opencv(data)
        assert np.array_equal(fl.decode_image(data).numpy(), want), ext
        assert np.array_equal(fl.decode_image(data, box=(3, 4, 10, 20)).numpy(), want[3:13, 4:24]), ext
        assert fl.image_size(data) == (33, 47), ext
    # A PNG named .JPEG, as ImageNet has one: the bytes decide, not the name.
    path = tmp_path / "n02105855_2933.JPEG"
    path.write_bytes(cv2.imencode(".png", img)[1].tobytes())
    encoded = fl.EncodedImage.from_file(path)
    assert np.array_equal(encoded.decode().numpy(), img) and encoded.size == (33, 47)


@needs_libjpeg
@same_libjpeg
def test_out_and_the_encoded_image(rng):
    img = photo(rng, 40, 60)
    data = jpeg(img)
    big = torch.zeros(50, 70, 3, dtype=torch.uint8)
    view = big[5:25, 3:33]  # rows of whole pixels, a row stride of 70 pixels
    assert fl.decode_image(data, box=(10, 20, 20, 30), out=view) is view
    assert np.array_equal(view.numpy(), opencv(data)[10:30, 20:50]) and int(big[0].sum()) == 0
    with pytest.raises(ValueError, match="out must be"):
        fl.decode_image(data, out=torch.zeros(40, 61, 3, dtype=torch.uint8))
    encoded = fl.EncodedImage(np.frombuffer(data, np.uint8), "a/b.jpg")
    import pickle

    again = pickle.loads(pickle.dumps(encoded))
    assert again.path == "a/b.jpg" and torch.equal(again.data, encoded.data) and again.size == (40, 60)
    for given in (
        data,
        bytearray(data),
        memoryview(data),
        np.frombuffer(data, np.uint8),
        torch.tensor(list(data), dtype=torch.uint8),
    ):
        assert np.array_equal(fl.decode_image(given).numpy(), opencv(data))


@needs_libjpeg
@same_libjpeg
def test_threads_decode_alike(rng):
    data = [jpeg(photo(rng, 120, 160), quality=int(q)) for q in rng.integers(50, 95, 8)]
    want = [opencv(d) for d in data]
    results = {}

    def run(k):
        results[k] = [fl.decode_image(d).numpy() for d in data for _ in range(3)][::3]

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    for k in range(4):
        assert all(np.array_equal(a, b) for a, b in zip(results[k], want))


def truncated(data: bytes) -> bytes:
    return data[: len(data) * 2 // 3]


@needs_libjpeg
@same_libjpeg
def test_bad_files_are_value_errors_naming_the_file(rng, tmp_path):
    data = jpeg(photo(rng, 64, 96))
    path = tmp_path / "cut.jpg"
    path.write_bytes(truncated(data))
    cut = fl.EncodedImage.from_file(path)
    with pytest.raises(ValueError, match=rf"{path}: the file is truncated: no end-of-image marker"):
        fl.decode_image(cut)
    # strict=False accepts what libjpeg recovers: the rows before the cut, grey after (OpenCV refuses such a file).
    recovered = fl.decode_image(cut, strict=False).numpy()
    assert recovered.shape == (64, 96, 3) and np.array_equal(recovered[:8], opencv(data)[:8])
    assert (recovered[-1] == 128).all()
    # A box above the cut decodes no damaged row, but strict still refuses an incomplete file.
    with pytest.raises(ValueError, match="truncated"):
        fl.decode_image(cut, box=(0, 0, 8, 8))
    assert np.array_equal(fl.decode_image(cut, box=(0, 0, 8, 8), strict=False).numpy(), opencv(data)[:8, :8])
    for bad, words in [
        (b"", "empty"),
        (b"not an image at all", "data: not an image file"),
        (b"\xff\xd8\xff", "data: not a readable JPEG file"),
    ]:
        with pytest.raises(ValueError, match=words):
            fl.decode_image(bad)
    with pytest.raises(ValueError, match="lie inside"):
        fl.decode_image(data, box=(60, 0, 5, 5))
    with pytest.raises(TypeError, match="box"):
        fl.decode_image(data, box=(0, 0, 5.0, 5))
    with pytest.raises(ValueError, match="reduce"):
        fl.decode_image(data, reduce=3)
    with pytest.raises(TypeError, match="data must be"):
        fl.decode_image(np.zeros((2, 2), np.uint8))


@needs_libjpeg
def test_absurd_header_sizes_are_refused_before_allocating(rng):
    data = bytearray(jpeg(photo(rng, 16, 16), sampling="444"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (65500).to_bytes(2, "big") * 2  # a 65500 x 65500 frame: 12.9 GB decoded
    with pytest.raises(ValueError, match="65500x65500 pixels; images of more than 1073741824 pixels are refused"):
        fl.decode_image(bytes(data))


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@needs_libjpeg
def test_fuzz_ten_thousand_corrupted_files(rng):
    # Bit flips, truncations and header edits of small JPEGs: every call returns an image or raises a ValueError
    # naming the file; the process does not crash or hang, and memory stays flat (a leak across libjpeg's longjmp
    # would grow it by the decoder's pools every failure).
    seeds = [
        jpeg(photo(rng, int(h), int(w)), s, bool(p))
        for h, w, s, p in zip(rng.integers(8, 48, 12), rng.integers(8, 48, 12), list(SAMPLINGS) * 3, [0, 1] * 6)
    ]
    seeds += [pil_jpeg(photo(rng, 20, 30), "CMYK"), pil_jpeg(photo(rng, 20, 30), orientation=6)]
    failures = successes = 0
    start = None
    for k in range(10_000):
        data = bytearray(seeds[k % len(seeds)])
        how = k % 3
        if how == 0:  # bit flips anywhere
            for pos in rng.integers(0, len(data), int(rng.integers(1, 8))):
                data[pos] ^= 1 << int(rng.integers(0, 8))
        elif how == 1:  # truncation
            data = data[: int(rng.integers(1, len(data)))]
        else:  # header edits: a byte of the first 200 set to anything
            for pos in rng.integers(0, min(200, len(data)), int(rng.integers(1, 4))):
                data[pos] = int(rng.integers(0, 256))
        encoded = fl.EncodedImage(bytes(data), f"fuzz/{k}.jpg")
        try:
            out = fl.decode_image(encoded, strict=(False, "complete", True)[k % 3])
            assert out.dtype == torch.uint8 and out.dim() == 3 and out.shape[2] == 3
            successes += 1
        except ValueError as exc:
            assert str(exc).startswith(f"fuzz/{k}.jpg: "), str(exc)
            failures += 1
        if k == 2000:
            fl.empty_cache()  # decoded outputs the CPU output cache keeps are not a leak
            start = rss()
    assert failures > 1000 and successes > 100
    fl.empty_cache()
    if not SANITIZED:  # AddressSanitizer holds freed memory in quarantine on purpose
        assert rss() - start < 8 << 20  # flat: 4,000 failed decodes leaking libjpeg's pools would be well over that


def test_without_libjpeg_jpegs_decode_through_opencv(rng, monkeypatch):
    data = jpeg(photo(rng, 30, 41))
    monkeypatch.setattr(decoding, "jpeg_decoder", lambda: "opencv")
    want = opencv(data)
    assert np.array_equal(fl.decode_image(data).numpy(), want)
    assert np.array_equal(fl.decode_image(data, box=(2, 3, 10, 11), output_order="rgb").numpy(), want[2:12, 3:14, ::-1])
    assert fl.image_size(data) == (30, 41)
    with pytest.raises(ValueError, match="data: not an image file OpenCV can decode"):
        fl.decode_image(b"\xff\xd8 garbage")


def test_a_build_without_libjpeg_reports_opencv_and_decodes_through_it(rng, tmp_path):
    import subprocess
    import sys

    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg(photo(rng, 21, 34)))
    code = f"""
import torch, numpy as np, cv2
names = torch._C._dispatch_get_all_op_names
torch._C._dispatch_get_all_op_names = lambda: [n for n in names() if not n.startswith('fastload::_jpeg')]
import fastload as fl
assert fl.backend_info()['jpeg_decoder'] == 'opencv', fl.backend_info()['jpeg_decoder']
got = fl.decode_image(fl.EncodedImage.from_file({str(path)!r}))
assert np.array_equal(got.numpy(), cv2.imread({str(path)!r}))
assert fl.image_size(open({str(path)!r}, 'rb').read()) == (21, 34)
print('ok')
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
