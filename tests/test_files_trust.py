"""The files path as real datasets and users meet it (the probe's findings, each failing on the previous build):
batches that own their memory whatever the options, bytes the caller may change or free, sizes from what the
decoder produces, labels under any key, skipped batches that end no epoch, decode_on="device" with strict=False,
plain tensors out of workers, and clear errors for encoded bytes handed over without EncodedImage."""

from __future__ import annotations

import io
import pickle
import warnings

import cv2
import numpy as np
import pytest
import torch
from files import photo
from PIL import Image
from torch.utils.data import DataLoader, Dataset

import fastload as fl
from fastload.io import decode as decoding
from fastload.io import formats
from fastload.io.encoded_batch import EncodedBatch

needs_libjpeg = pytest.mark.skipif(decoding.jpeg_decoder() != "libjpeg-turbo", reason="built without libjpeg-turbo")


def jpeg(img: np.ndarray, **kw) -> bytes:
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def opencv(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


class Files(Dataset):
    """(EncodedImage, label) samples of in-memory files."""

    def __init__(self, files: list[bytes]):
        self.files = files

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        return fl.EncodedImage(self.files[i], f"file{i}.jpg"), i


def some_files(n: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [jpeg(photo(rng, int(h), int(w))) for h, w in zip(rng.integers(40, 90, n), rng.integers(40, 90, n))]


@needs_libjpeg
@pytest.mark.parametrize("make", ["crop", "pack"])
def test_ring_false_batches_own_their_memory(make):
    # The batch a collate returns must not live in the scratch buffer the next call decodes over.
    files = some_files(12)
    collate = fl.CropCollate(32, ring=False) if make == "crop" else fl.PadCollate(pack=True, ring=False)
    samples = [Files(files)[i] for i in range(12)]
    held = [collate(samples[k : k + 4])[0] for k in range(0, 12, 4)]
    for k, batch in enumerate(held):
        images = batch.images if make == "crop" else batch
        want = [opencv(files[4 * k + i]) for i in range(4)]
        if make == "pack":
            assert all(np.array_equal(a.numpy(), b) for a, b in zip(images.unpack(), want))
        else:
            assert torch.equal(batch.finish(fl.IMAGENET), collate_again(files[4 * k : 4 * k + 4], batch))


def collate_again(files, batch) -> torch.Tensor:
    """The crops of `batch` taken from freshly decoded files."""
    decoded = [opencv(f) for f in files]
    return fl.data.CropBatch(decoded, batch.boxes, batch.flips, batch.size).finish(fl.IMAGENET)


@needs_libjpeg
@pytest.mark.parametrize("make", ["crop", "pack"])
def test_ring_false_batches_from_workers_are_right(make):
    files = some_files(48, seed=1)
    collate = fl.CropCollate(32, ring=False) if make == "crop" else fl.PadCollate(pack=True, ring=False)
    loader = DataLoader(Files(files), batch_size=4, num_workers=2, collate_fn=collate)
    for batch, labels in loader:
        want = [opencv(files[i]) for i in labels.tolist()]
        if make == "pack":
            assert all(np.array_equal(a.numpy(), b) for a, b in zip(batch.unpack(), want))
        else:
            assert torch.equal(batch.finish(fl.IMAGENET), collate_again([files[i] for i in labels.tolist()], batch))


def test_bytes_a_caller_may_change_or_free_are_held_or_copied():
    data = jpeg(photo(np.random.default_rng(2), 30, 40))
    want = opencv(data)
    grown = bytearray(data)
    image = fl.EncodedImage(grown)
    grown.extend(b"\0" * (1 << 20))  # reallocates: a view of the old buffer would read freed memory
    grown[: len(data)] = bytes(len(data))
    assert np.array_equal(image.decode().numpy(), want)
    owner = bytearray(data)
    view = memoryview(owner)
    image = fl.EncodedImage(view)
    view.release()
    with pytest.raises(BufferError):  # the export is held: the owner cannot free or move its buffer under the image
        owner.extend(b"\0" * (1 << 20))
    assert np.array_equal(image.decode().numpy(), want)
    assert np.array_equal(fl.decode_image(bytearray(data)).numpy(), want)
    assert np.array_equal(fl.EncodedImage(np.frombuffer(data, np.uint8)).decode().numpy(), want)


def test_an_encoded_image_pickles_only_its_own_bytes_and_reads_its_size_from_them():
    big = torch.zeros(10 << 20, dtype=torch.uint8)
    data = jpeg(photo(np.random.default_rng(3), 30, 40))
    big[100 : 100 + len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    image = fl.EncodedImage(big[100 : 100 + len(data)], "a.jpg")
    payload = pickle.dumps(image)
    assert len(payload) < len(data) + 2000
    again = pickle.loads(payload)
    assert again.path == "a.jpg" and again.size == (30, 40)
    # The caller refills the tensor it shares: the size follows the bytes.
    other = jpeg(photo(np.random.default_rng(4), 50, 20))
    buffer = torch.zeros(len(other), dtype=torch.uint8)
    image = fl.EncodedImage(buffer)
    buffer[: len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    assert image.size == (30, 40)
    buffer[:] = torch.frombuffer(bytearray(other), dtype=torch.uint8)
    assert image.size == (50, 20)


@needs_libjpeg
def test_draft_eval_reports_the_files_geometry():
    big = cv2.resize(photo(np.random.default_rng(5), 100, 160), (1601, 1000))  # at 1/2: 501 wide, resized 410
    samples = [{"img": fl.EncodedImage(jpeg(big)), "id": 0}]
    exact = fl.CropCollate(224, train=False, resize=256)(samples)
    draft = fl.CropCollate(224, train=False, resize=256, draft=True)(samples)
    assert draft["resized_shape"] == exact["resized_shape"] == [(256, 409)]
    assert draft["ori_shape"] == exact["ori_shape"] == [(1000, 1601)]


def test_out_is_checked_alike_on_every_decoder():
    data = cv2.imencode(".png", photo(np.random.default_rng(6), 20, 30))[1].tobytes()  # decoded through OpenCV
    base = torch.zeros(40 * 30 * 3, dtype=torch.uint8)
    overlapping = base.as_strided((20, 30, 3), (30, 3, 1))  # each row starts 10 pixels into the previous one
    transposed = torch.zeros(30, 20, 3, dtype=torch.uint8).transpose(0, 1)
    for out in (overlapping, transposed):
        with pytest.raises(ValueError, match="rows of whole pixels that do not overlap"):
            fl.decode_image(data, out=out)
    if decoding.jpeg_decoder() == "libjpeg-turbo":
        with pytest.raises(ValueError, match="rows of whole pixels"):
            fl.decode_image(jpeg(photo(np.random.default_rng(6), 20, 30)), out=transposed)
    out = torch.zeros(25, 30, 3, dtype=torch.uint8)[2:22]
    assert fl.decode_image(data, out=out) is out and np.array_equal(out.numpy(), opencv(data))


def oriented_png(img: np.ndarray, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(img[:, :, ::-1]).save(buf, "PNG", exif=exif.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_png_sizes_are_what_the_decoder_produces(orientation):
    rng = np.random.default_rng(orientation)
    files = [oriented_png(photo(rng, 30 + k, 45), orientation) for k in range(6)]
    decoded = [opencv(f) for f in files]
    assert [fl.image_size(f) for f in files] == [d.shape[:2] for d in decoded]
    samples = [(fl.EncodedImage(f, f"{k}.png"), k) for k, f in enumerate(files)]
    images, _ = fl.PadCollate(pack=True)(samples)
    assert all(np.array_equal(a.numpy(), b) for a, b in zip(images.unpack(), decoded))
    for train in (True, False):
        collate = fl.CropCollate(24, fl.IMAGENET, train=train, resize=28)
        torch.manual_seed(0)
        got, _ = collate(samples)
        torch.manual_seed(0)
        want, _ = collate([(d, k) for k, d in enumerate(decoded)])
        assert torch.equal(got, want)


def test_formats_are_decoded_once_and_sized_from_their_headers(monkeypatch):
    rng = np.random.default_rng(7)
    files = [cv2.imencode(ext, photo(rng, 30, 40))[1].tobytes() for ext in (".bmp", ".tiff", ".png", ".webp")]
    gif = io.BytesIO()
    Image.fromarray(photo(rng, 30, 40)).convert("P").save(gif, "GIF")
    files.append(gif.getvalue())
    calls, decode = [], formats.decode
    monkeypatch.setattr(formats, "decode", lambda *a, **k: calls.append(1) or decode(*a, **k))
    samples = [(fl.EncodedImage(f, f"{k}"), k) for k, f in enumerate(files)]
    images, _ = fl.CropCollate(16)(samples)
    assert len(calls) == len(files)  # one decode each: the TIFF's size came from that decode too
    # PNG, WebP, BMP and GIF sizes come from their headers: image_size decodes nothing.
    calls.clear()
    assert [fl.image_size(f) for f in files if not f.startswith(b"II*")] == [(30, 40)] * 4 and not calls
    top_down = bytearray(files[0])
    top_down[22:26] = (-30).to_bytes(4, "little", signed=True)  # a top-down BMP: negative height
    assert fl.image_size(bytes(top_down)) == opencv(bytes(top_down)).shape[:2] == (30, 40)
    screen = bytearray(files[-1])
    screen[6:10] = (50).to_bytes(2, "little") + (45).to_bytes(2, "little")  # a logical screen larger than the frame
    assert fl.image_size(bytes(screen)) == opencv(bytes(screen)).shape[:2] == (45, 50)


@pytest.mark.parametrize("key", ["label", "labels", "cls", "target"])
def test_labels_under_any_dict_key_are_checked(key):
    img = np.zeros((8, 8, 3), np.uint8)
    collate = fl.CropCollate(4, fl.IMAGENET, label_mode="classification", num_classes=3)
    with pytest.raises(ValueError, match="label 7 breaks the rule"):
        collate([{"img": img, key: 1}, {"img": img, key: 7}])
    out = collate([{"img": img, key: 1}, {"img": img, key: np.int32(2)}])
    assert out[key].dtype == torch.int64 and out[key].tolist() == [1, 2]
    with pytest.raises(ValueError, match="whole number"):
        collate([{"img": img, key: 1.5}, {"img": img, key: 1}])


@needs_libjpeg
def test_a_batch_of_only_bad_files_is_an_empty_batch(tmp_path):
    good = jpeg(photo(np.random.default_rng(8), 30, 40))
    empty, cut = tmp_path / "c" / "empty.jpg", tmp_path / "c" / "cut.jpg"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    cut.write_bytes(good[:100])
    (tmp_path / "c" / "good.jpg").write_bytes(good)
    folder = fl.ImageFolder(tmp_path)
    bad = [folder[0], folder[1]]  # cut.jpg, empty.jpg (sorted)
    cases = [
        (fl.CropCollate(16, fl.IMAGENET, on_error="skip"), (0, 3, 16, 16)),
        (fl.CropCollate(16, on_error="skip", channels_last=True), None),
        (fl.CropCollate(16, fl.IMAGENET, train=False, resize=20, on_error="skip", channels_last=True), (0, 3, 16, 16)),
        (fl.PadCollate(fl.IMAGENET, on_error="skip"), (0, 3, 0, 0)),
        (fl.PadCollate(on_error="skip"), (0, 0, 0, 3)),
        (fl.PadCollate(pack=True, on_error="skip"), None),
        (fl.CropCollate(16, on_error="skip", decode_on="device"), None),
    ]
    for collate, shape in cases:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            images, labels = collate(bad)
        assert len(caught) == 2 and labels.shape == (0,) and labels.dtype == torch.int64
        if shape is not None:
            assert tuple(images.shape) == shape
        finished = fl.DevicePrefetcher([(images, labels)], "cpu", fl.IMAGENET)
        for batch, _ in finished:
            assert batch.shape[0] == 0 and batch.dtype == torch.float32
    dicts = fl.PadCollate(on_error="skip")([{"img": s[0], "label": s[1], "name": "x"} for s in bad])
    assert dicts["img"].shape[0] == 0 and dicts["label"].shape == (0,) and dicts["name"] == []
    # A whole epoch with batch_size=1: the bad files are skipped, none ends it.
    loader = DataLoader(
        folder, batch_size=1, num_workers=2, collate_fn=fl.CropCollate(16, fl.IMAGENET, on_error="skip")
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sizes = [images.shape[0] for images, _ in loader]
    assert sorted(sizes) == [0, 0, 1]


@needs_libjpeg
def test_decode_on_device_keeps_strict_false():
    # A truncated file the worker path accepts with strict=False is accepted where the device path decodes it.
    rng = np.random.default_rng(9)
    data = jpeg(photo(rng, 64, 96))
    cut = data[: len(data) * 2 // 3]
    samples = [(fl.EncodedImage(cut, "cut.jpg"), 0), (fl.EncodedImage(data, "ok.jpg"), 1)]
    worker = fl.CropCollate(32, fl.IMAGENET, strict=False)
    shipped = fl.CropCollate(32, strict=False, decode_on="device")
    torch.manual_seed(0)
    want, _ = worker(samples)
    torch.manual_seed(0)
    batch, _ = shipped(samples)
    assert isinstance(batch.images, EncodedBatch) and batch.images.strict is False
    batch = pickle.loads(pickle.dumps(batch))
    assert batch.images.strict is False
    assert torch.equal(batch.finish(fl.IMAGENET), want)
    # torchvision's decoder (nvJPEG on CUDA) refusing the file: fastload's decoder recovers it, as the worker would.
    decoded = batch.images.decode("cpu", "bgr", torchvision=True)
    assert np.array_equal(decoded[0].numpy(), fl.decode_image(cut, strict=False).numpy())
    # strict="complete" (the default) or True: a file without its end marker is refused in the worker, before it
    # is shipped; one torchvision refuses for another reason gets the worker's verdict from fastload's decoder.
    for strict in ("complete", True):
        with pytest.raises(ValueError, match="cut.jpg: the file is truncated"):
            fl.CropCollate(32, decode_on="device", strict=strict)(samples)


class Wrapped:
    """A user's collate around fastload's: it reads the batch as tensors before returning it."""

    def __init__(self, collate):
        self.collate = collate

    def __call__(self, samples):
        images, labels = self.collate(samples)
        assert isinstance(images, torch.Tensor), type(images)
        return images * 1.0 if images.size(0) == 0 else images, labels


@needs_libjpeg
def test_a_collate_wrapped_in_workers_returns_tensors():
    files = some_files(16, seed=10)
    for collate in (fl.CropCollate(32, fl.IMAGENET), fl.PadCollate(fl.IMAGENET)):
        loader = DataLoader(Files(files), batch_size=4, num_workers=2, collate_fn=Wrapped(collate))
        batches = list(loader)
        assert len(batches) == 4 and all(isinstance(images, torch.Tensor) for images, _ in batches)
    assert fl.memory.ring.stats()["received"] > 0  # they still came through the workers' rings
