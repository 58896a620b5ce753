"""From JPEG files to batches: fl.ImageFolder / fl.ImageFiles hand over EncodedImages, and the collates decode them
(only the crop's region for CropCollate), bit for bit equal to cv2.imdecode of every file followed by the same
collate on the decoded arrays, under the same seed; bad files named or skipped."""

from __future__ import annotations

import os
import warnings

import cv2
import numpy as np
import pytest
import torch
from files import Decoded, photo, same_libjpeg, seeded_batches
from torch.utils.data import DataLoader

import fastload as fl
from fastload.io import decode as decoding

needs_libjpeg = pytest.mark.skipif(decoding.jpeg_decoder() != "libjpeg-turbo", reason="built without libjpeg-turbo")


def test_image_folder_is_torchvisions_layout(tree):
    from torchvision.datasets import ImageFolder as TorchvisionFolder

    ours, theirs = fl.ImageFolder(tree), TorchvisionFolder(str(tree))
    assert ours.classes == theirs.classes and ours.class_to_idx == theirs.class_to_idx
    assert ours.samples == theirs.samples and ours.targets == theirs.targets and len(ours) == 18
    image, label = ours[4]
    assert isinstance(image, fl.EncodedImage) and image.path == ours.samples[4][0] and label == ours.targets[4]
    assert image.size == cv2.imread(image.path).shape[:2]
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        fl.ImageFolder(tree / "missing")
    empty = tree.parent / "empty_root"
    os.makedirs(empty / "a", exist_ok=True)
    with pytest.raises(ValueError, match="found no valid file for the classes a"):
        fl.ImageFolder(empty)
    with pytest.raises(ValueError, match="no image files"):
        fl.ImageFolder(empty, allow_empty=True)
    with pytest.raises(ValueError, match="no class folder"):
        fl.ImageFolder(empty / "a")
    files = fl.ImageFiles([p for p, _ in ours.samples[:3]])
    assert len(files) == 3 and isinstance(files[0], fl.EncodedImage)
    assert fl.ImageFiles([p for p, _ in ours.samples[:2]], labels=["x", "y"])[1][1] == "y"
    with pytest.raises(ValueError, match="2 labels for 3 paths"):
        fl.ImageFiles([p for p, _ in ours.samples[:3]], labels=[1, 2])


@needs_libjpeg
@same_libjpeg
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("norm", [None, fl.IMAGENET])
def test_crop_collate_from_files_equals_decoding_everything(tree, train, norm):
    folder = fl.ImageFolder(tree)
    collate = fl.CropCollate(64, norm, train=train, resize=80, label_mode="classification", num_classes=3)
    files = seeded_batches(DataLoader(folder, batch_size=6, collate_fn=collate))
    arrays = seeded_batches(DataLoader(Decoded(folder), batch_size=6, collate_fn=collate))
    assert len(files) == len(arrays) == 3
    for (a, la), (b, lb) in zip(files, arrays):
        assert torch.equal(la, lb)
        if norm is None:  # CropBatch: the decoded regions, finished anywhere
            assert isinstance(a, fl.data.CropBatch) and a.regions is not None
            assert a.shapes() == b.shapes()
            a, b = a.finish(fl.IMAGENET), b.finish(fl.IMAGENET)
        assert a.dtype == torch.float32 and torch.equal(a, b)


def recorded_decodes(monkeypatch, key: str) -> list:
    """The list each decode the collates make appends its `key` argument to (the decoder still runs)."""
    asked, decode = [], decoding.decode_image

    def recording(data, **kw):
        asked.append(kw[key])
        return decode(data, **kw)

    monkeypatch.setattr("fastload.io.batch_decoder.decode_image", recording)
    return asked


@needs_libjpeg
def test_crop_collate_decodes_only_the_crops_region(tree, monkeypatch):
    asked = recorded_decodes(monkeypatch, "box")
    folder = fl.ImageFolder(tree)
    torch.manual_seed(0)
    batch = fl.CropCollate(64, train=True)([folder[i] for i in range(6)])[0]
    assert asked == [tuple(b) for b in batch.boxes]  # exactly each drawn box
    asked.clear()
    fl.CropCollate(64, train=False, resize=80)([folder[i] for i in range(6)])
    for (_top, _left, h, w), i in zip(asked, range(6)):
        full_h, full_w = folder[i][0].size
        assert h * w < full_h * full_w  # Resize 80 + CenterCrop 64 reads the centre only


@needs_libjpeg
@same_libjpeg
@pytest.mark.parametrize("pack", [False, True])
def test_pad_collate_from_files_in_workers(tree, pack):
    files = fl.ImageFiles([p for p, _ in fl.ImageFolder(tree).samples], labels=list(range(18)))
    collate = fl.PadCollate(None if pack else fl.IMAGENET, pack=pack, size_divisor=32)
    for images, labels in DataLoader(files, batch_size=4, num_workers=2, collate_fn=collate):
        decoded = [cv2.imdecode(np.fromfile(files.paths[i], np.uint8), cv2.IMREAD_COLOR) for i in labels.tolist()]
        if pack:
            assert isinstance(images, fl.PackedImages)
            assert all(np.array_equal(img.numpy(), d) for img, d in zip(images.unpack(), decoded))
        else:
            assert torch.equal(images, fl.pad_batch(decoded, fl.IMAGENET, size_divisor=32).images)


def test_a_bad_file_is_named_or_skipped(tree, tmp_path):
    good = [p for p, _ in fl.ImageFolder(tree).samples[:4]]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(open(good[0], "rb").read()[:300])
    files = fl.ImageFiles([good[0], str(bad), good[1], good[2]], labels=[0, 1, 2, 3])
    samples = [files[i] for i in range(4)]
    for collate in (fl.CropCollate(32), fl.PadCollate(pack=True)):
        with pytest.raises(ValueError, match=rf"sample 1 of the batch: {bad}: "):
            collate(samples)
    for collate in (fl.CropCollate(32, on_error="skip"), fl.PadCollate(pack=True, on_error="skip")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            images, labels = collate(samples)
        assert labels.tolist() == [0, 2, 3] and collate.skipped == 1
        assert len([w for w in caught if str(bad) in str(w.message)]) == 1
    dicts = [{"img": s[0], "id": s[1]} for s in samples]
    out = fl.PadCollate(on_error="skip")(dicts)
    assert out["id"].tolist() == [0, 2, 3] and len(out["img_shape"]) == 3
    with pytest.raises(ValueError, match="on_error"):
        fl.PadCollate(on_error="ignore")
    with pytest.raises(ValueError, match="encoded files .* or decoded images, not both"):
        fl.PadCollate()([samples[0], (np.zeros((4, 4, 3), np.uint8), 1)])
    # A batch of only bad files is an empty batch (batch_size=1: the first bad file does not end the epoch).
    with pytest.warns(RuntimeWarning, match="skipped sample 0"):
        images, labels = fl.PadCollate(on_error="skip")([samples[1]])
    assert images.shape == (0, 0, 0, 3) and labels.shape == (0,) and labels.dtype == torch.int64


@needs_libjpeg
def test_draft_decodes_big_crops_at_a_reduced_scale(tmp_path, monkeypatch):
    # A 1600 x 1200 photo: a crop box of ~900 pixels for a 224 output is decoded at 1/4 (what PIL's draft picks), a
    # small box stays exact; eval Resize 256 of a 1200-pixel short side decodes at 1/4.
    rng = np.random.default_rng(5)
    path = tmp_path / "big.jpg"
    path.write_bytes(cv2.imencode(".jpg", cv2.resize(photo(rng, 300, 400), (1600, 1200)))[1].tobytes())
    image = fl.EncodedImage.from_file(path)
    asked = recorded_decodes(monkeypatch, "reduce")
    torch.manual_seed(1)
    draft = fl.CropCollate(224, fl.IMAGENET, scale=(0.5, 0.6), draft=True)([(image, 0)] * 4)
    torch.manual_seed(1)
    exact = fl.CropCollate(224, fl.IMAGENET, scale=(0.5, 0.6))([(image, 0)] * 4)
    assert asked == [4] * 4 + [1] * 4
    grey = (draft[0] - exact[0]).abs() * 57  # normalized units -> grey levels (about: 1 / (255 * min std))
    assert draft[0].shape == exact[0].shape and 0 < float(grey.mean()) < 8, float(grey.mean())  # the same crop
    asked.clear()
    meta = fl.CropCollate(224, scale=(0.01, 0.02), draft=True)([{"img": image}] * 2)
    assert asked == [1, 1] and meta["ori_shape"] == [(1200, 1600)] * 2  # small boxes: no reduction
    asked.clear()
    batch = fl.CropCollate(224, draft=True, train=False, resize=256)([{"img": image}])
    assert asked == [4] and batch["ori_shape"] == [(1200, 1600)] and batch["resized_shape"] == [(256, 341)]
    with pytest.raises(TypeError, match="draft"):
        fl.CropCollate(224, draft="yes")
