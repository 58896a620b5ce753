"""decode_on="device": the workers ship the files' bytes (an EncodedBatch, through the ring) and DevicePrefetcher
decodes and crops or pads them. On the CPU the files are decoded by fastload's exact decoder, so the batches equal
the worker-decoded ones bit for bit; torchvision's decoder (nvJPEG on CUDA) is run here on the CPU; the CUDA test
runs in scripts/gpu_check.sh."""

from __future__ import annotations

import io
import pickle

import cv2
import numpy as np
import pytest
import torch
from files import photo, seeded_batches
from PIL import Image
from test_exif import app1, ifd0, orientation_entry, plain_jpeg
from torch.utils.data import DataLoader

import fastload as fl
from fastload.io import decode as decoding
from fastload.io.encoded_batch import EncodedBatch
from fastload.memory import ring

pytestmark = pytest.mark.skipif(decoding.jpeg_decoder() != "libjpeg-turbo", reason="built without libjpeg-turbo")


def collates(train: bool):
    kw = dict(train=train, resize=80, label_mode="classification", num_classes=3)
    return fl.CropCollate(64, fl.IMAGENET, **kw), fl.CropCollate(64, decode_on="device", **kw)


@pytest.mark.parametrize("train", [True, False])
def test_crops_of_shipped_files_equal_the_worker_decoded_batch(tree, train):
    folder = fl.ImageFolder(tree)
    worker, device = collates(train)
    expected = seeded_batches(DataLoader(folder, batch_size=6, collate_fn=worker))
    shipped = seeded_batches(DataLoader(folder, batch_size=6, collate_fn=device))
    for k, ((a, la), (b, lb)) in enumerate(zip(expected, shipped)):
        assert isinstance(b, fl.data.CropBatch) and isinstance(b.images, EncodedBatch)
        assert torch.equal(la, lb)
        assert b.images.sizes.tolist() == [list(folder[i][0].size) for i in range(6 * k, 6 * k + 6)]
        assert torch.equal(b.finish(fl.IMAGENET), a)
        # Without norm the uint8 crop comes in the order asked for, whatever order the decoder gives.
        bgr, rgb = b.finish(None), b.finish(None, input_order="rgb")
        assert torch.equal(bgr, rgb.flip(-1)) and bgr.dtype == torch.uint8


def test_shipped_files_travel_through_the_ring_and_the_prefetcher_finishes_them(tree):
    folder = fl.ImageFolder(tree)
    worker, device = collates(True)
    expected = seeded_batches(DataLoader(folder, batch_size=6, num_workers=2, collate_fn=worker))
    loader = DataLoader(folder, batch_size=6, num_workers=2, collate_fn=device)
    before = ring.stats()["received"]
    raw = seeded_batches(loader)
    assert ring.stats()["received"] - before == len(raw) == 3
    decoded_bytes = sum(h * w * 3 for b, _ in raw for h, w in b.images.sizes.tolist())
    assert sum(b.images.nbytes for b, _ in raw) < decoded_bytes / 3  # encoded bytes: a fraction of the pixels
    got = seeded_batches(fl.DevicePrefetcher(loader, "cpu", fl.IMAGENET))
    for (a, la), (b, lb) in zip(expected, got):
        assert torch.equal(la, lb) and torch.equal(a, b)


def test_pad_collate_ships_files_for_the_prefetcher_to_pad(tree):
    files = fl.ImageFiles([p for p, _ in fl.ImageFolder(tree).samples], labels=list(range(18)))
    collate = fl.PadCollate(pack=True, decode_on="device", size_divisor=32)
    exact = fl.PadCollate(fl.IMAGENET, size_divisor=32)
    loader = DataLoader(files, batch_size=4, num_workers=2, collate_fn=collate)
    for (images, labels), (raw, _) in zip(fl.DevicePrefetcher(loader, "cpu", fl.IMAGENET, size_divisor=32), loader):
        assert isinstance(raw, EncodedBatch) and len(raw) == len(labels)
        assert torch.equal(images, exact([files[i] for i in labels.tolist()])[0])


def test_an_encoded_batch_pickles_and_views_its_files(tree):
    folder = fl.ImageFolder(tree)
    images = [folder[i][0] for i in range(6)]
    batch = EncodedBatch.pack(images)
    again = pickle.loads(pickle.dumps(batch))
    assert again.paths == [img.path for img in images] and again.sizes.tolist() == [list(i.size) for i in images]
    for i, img in enumerate(images):
        assert torch.equal(again[i].data, img.data) and again[i].path == img.path
    for order in ("rgb", "bgr"):  # "rgb" by default
        decoded = again.decode(order=order) if order == "bgr" else again.decode()
        for img, d in zip(images, decoded):
            assert torch.equal(d, fl.decode_image(img, output_order=order))
    with pytest.raises(ValueError, match="order"):
        again.decode(order="rbg")


def test_torchvisions_decoder_gives_libjpegs_pixels_on_the_cpu(tree):
    """The call DevicePrefetcher makes on CUDA (torchvision's batched decode_jpeg, EXIF orientation applied), on the
    CPU, where torchvision runs libjpeg-turbo: the same pixels and sizes as fastload's decoder, PNGs decoded by
    fastload's."""
    folder = fl.ImageFolder(tree)
    batch = EncodedBatch.pack([folder[i][0] for i in range(6)])  # progressive, grey, EXIF 6, PNG among them
    for order in ("rgb", "bgr"):
        ours, theirs = batch.decode(order=order), batch.decode(order=order, torchvision=True)
        for a, b in zip(ours, theirs):
            assert a.shape == b.shape and int((a.int() - b.int()).abs().max()) <= 1


def test_a_file_that_does_not_decode_is_named(tree, tmp_path):
    good = fl.ImageFolder(tree).samples[0][0]
    data = open(good, "rb").read()
    bad = tmp_path / "cut.jpg"
    bad.write_bytes(data[: len(data) // 2])  # the header reads, the data stops
    batch = EncodedBatch.pack([fl.EncodedImage.from_file(good), fl.EncodedImage.from_file(bad)])
    for torchvision in (False, True):
        with pytest.raises(ValueError, match="cut.jpg"):
            batch.decode(torchvision=torchvision)


def test_decode_on_is_checked_where_the_collate_is_made():
    with pytest.raises(ValueError, match="decode_on must be"):
        fl.CropCollate(64, decode_on="gpu")
    with pytest.raises(ValueError, match="must ship raw images"):
        fl.CropCollate(64, fl.IMAGENET, decode_on="device")
    with pytest.raises(ValueError, match="must ship raw images"):
        fl.PadCollate(decode_on="device")
    with pytest.raises(ValueError, match="draft"):
        fl.CropCollate(64, draft=True, decode_on="device")
    with pytest.raises(ValueError, match="disagree"):
        EncodedBatch(torch.zeros(4, dtype=torch.uint8), [0], [4], [(1, 1), (1, 1)], ["a"])
    with pytest.raises(ValueError, match="outside data"):
        EncodedBatch(torch.zeros(4, dtype=torch.uint8), [2], [4], [(1, 1)], ["a"])


def cuda_like_torchvision(monkeypatch) -> list:
    """torchvision's decode_jpeg made to behave on the CPU as its CUDA path does: EXIF orientation ignored, and a
    CMYK/YCCK file refused (nvJPEG's error, raised for the whole batched call). Returns the list of batches it was
    given (each a list of file sizes)."""
    import torchvision.io

    real, calls = torchvision.io.decode_jpeg, []

    def decode_jpeg(batch, mode, device, apply_exif_orientation=False):
        calls.append([int(f.numel()) for f in batch])
        for f in batch:
            if torch.ops.fastload._jpeg_info(f, 1)[3] == 4:
                raise RuntimeError("Error while decoding JPEG images: nvjpegDecode failed: 8 (JPEG_NOT_SUPPORTED)")
        return real(batch, mode=mode, device="cpu", apply_exif_orientation=False)

    monkeypatch.setattr(torchvision.io, "decode_jpeg", decode_jpeg)
    return calls


def oriented_jpegs() -> list[fl.EncodedImage]:
    """One 24 x 40 photo as a JPEG with each EXIF orientation 1..8."""
    base = plain_jpeg(photo(np.random.default_rng(5), 24, 40))
    return [
        fl.EncodedImage(base[:2] + app1(b"Exif\0\0" + ifd0(orientation_entry(k))) + base[2:], f"orientation{k}.jpg")
        for k in range(1, 9)
    ]


def cmyk_jpeg() -> fl.EncodedImage:
    buf = io.BytesIO()
    Image.fromarray(photo(np.random.default_rng(6), 30, 20)).convert("CMYK").save(buf, "JPEG", quality=90)
    return fl.EncodedImage(buf.getvalue(), "cmyk.jpg")


@pytest.mark.parametrize("order", ["rgb", "bgr"])
def test_the_cuda_decode_path_applies_every_exif_orientation(monkeypatch, order):
    # torchvision's CUDA decoder has no EXIF orientation: the batch's images are oriented after it, as OpenCV does.
    # Before: 5-8 came out with h and w swapped (a ValueError, the batch lost), 2-4 silently mirrored.
    calls = cuda_like_torchvision(monkeypatch)
    files = oriented_jpegs()
    got = EncodedBatch.pack(files).decode(order=order, torchvision=True)
    assert len(calls) == 1 and len(calls[0]) == 8
    for k, (img, decoded) in enumerate(zip(files, got), start=1):
        want = fl.decode_image(img, output_order=order)
        assert decoded.shape == want.shape == ((40, 24, 3) if k >= 5 else (24, 40, 3)), img.path
        assert int((decoded.int() - want.int()).abs().max()) <= 1, img.path


def test_cmyk_files_skip_nvjpeg_and_decode_on_the_cpu(monkeypatch):
    # nvJPEG refuses CMYK/YCCK: such a file goes to fastload's decoder without failing the batched call (before:
    # the whole batch failed and every file was decoded again one by one).
    calls = cuda_like_torchvision(monkeypatch)
    files = oriented_jpegs()[:3] + [cmyk_jpeg()]
    got = EncodedBatch.pack(files).decode(torchvision=True)
    assert calls == [[int(f.data.numel()) for f in files[:3]]]
    assert torch.equal(got[3], fl.decode_image(files[3], output_order="rgb"))
    assert got[3].shape == (30, 20, 3)


@pytest.mark.cuda
def test_nvjpeg_decodes_and_crops_on_the_gpu(tree):
    folder = fl.ImageFolder(tree)
    _, device = collates(True)
    # The same collate settings and workers (2, seeded alike) on both sides, so that the crops drawn are the same
    # ones (before: a collate without workers and without resize=80 against this one: other boxes).
    same = fl.CropCollate(64, train=True, resize=80, label_mode="classification", num_classes=3)
    expected = seeded_batches(DataLoader(folder, batch_size=6, num_workers=2, collate_fn=same))
    shipped = seeded_batches(DataLoader(folder, batch_size=6, num_workers=2, collate_fn=device))
    for (a, _), (b, _) in zip(expected, shipped):
        got = b.finish(None, device="cuda")
        assert got.is_cuda and got.shape == (len(b.images), 64, 64, 3)
        diff = (got.cpu().int() - a.finish(None).int()).abs()
        # nvJPEG's IDCT and upsampling are not libjpeg's: close, not equal.
        assert float(diff.float().mean()) < 2.0 and int(diff.max()) <= 64, (float(diff.float().mean()), int(diff.max()))
    batches = list(
        fl.DevicePrefetcher(DataLoader(folder, batch_size=6, num_workers=2, collate_fn=device), "cuda", fl.IMAGENET)
    )
    assert all(b.is_cuda and b.shape == (6, 3, 64, 64) and torch.isfinite(b).all() for b, _ in batches)
    assert np.isfinite(sum(float(b.sum()) for b, _ in batches))


@pytest.mark.cuda
def test_decodes_in_flight_never_overwrite_images_still_being_read():
    # pytorch/vision#9606: nvJPEG writes on torchvision's own stream into blocks the allocator hands back from the
    # current stream, while that stream's kernels may still read the previous batch. Batch after batch is decoded
    # and cropped with the GPU kept busy; each result must equal a serial decode of the same batch.
    rng = np.random.default_rng(9)
    batches = [
        EncodedBatch.pack(
            [fl.EncodedImage(cv2.imencode(".jpg", photo(rng, 480 + 8 * k, 640))[1].tobytes()) for k in range(8)]
        )
        for _ in range(6)
    ]
    boxes = [(0, 0, 480, 640)] * 8

    def crop(batch):
        return fl.resized_crop_batch(batch.decode("cuda"), boxes, 224, fl.IMAGENET, input_order="rgb")

    serial = []
    for batch in batches:
        serial.append(crop(batch))
        torch.cuda.synchronize()
    busy = torch.empty(4096, 4096, device="cuda")
    for _ in range(3):
        in_flight = []
        for batch in batches:
            busy @ busy  # keeps the stream behind the host, as a training step does
            in_flight.append(crop(batch))
        torch.cuda.synchronize()
        assert all(torch.equal(a, b) for a, b in zip(serial, in_flight))
