"""PadCollate and DevicePrefetcher in real DataLoaders (2 workers, fork and spawn, pin_memory), dict and tuple
samples, packed and padded, label conventions, bad samples."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import CUDA
from torch.utils.data import DataLoader, Dataset

import fastload as fl

SIZES = [(30, 41), (17, 64), (48, 33), (25, 25), (40, 12), (33, 50)]


class DetectionSet(Dataset):
    """Dict samples, mmdet style: a BGR image of its own size, boxes, 1-based labels, and a scalar."""

    def __len__(self):
        return len(SIZES)

    def __getitem__(self, i):
        h, w = SIZES[i]
        rng = np.random.default_rng(i)
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        if i % 2:
            img = img[:, ::-1]  # a flip augmentation as a negative-stride view
        n = i % 3 + 1
        return {"img": img, "bboxes": rng.random((n, 4)) * 10, "labels": np.arange(1, n + 1), "idx": i}


class ClassificationSet(DetectionSet):
    def __getitem__(self, i):
        sample = super().__getitem__(i)
        return sample["img"], i % 4


def expected_images(indices, norm, divisor):
    ds = DetectionSet()
    return fl.pad_batch([ds[i]["img"] for i in indices], norm, size_divisor=divisor)


@pytest.mark.parametrize("context", ["fork", "spawn"])
@pytest.mark.parametrize("pack", [False, True])
def test_dict_samples_in_workers(context, pack):
    collate = fl.PadCollate(
        None if pack else fl.IMAGENET, size_divisor=32, pack=pack, label_mode="detection", num_classes=3
    )
    # pin_memory=True always: without a GPU the DataLoader skips pinning (with a warning), with one it pins.
    loader = DataLoader(
        DetectionSet(),
        batch_size=3,
        num_workers=2,
        multiprocessing_context=context,
        collate_fn=collate,
        pin_memory=True,
    )
    seen = []
    for batch in loader:
        idx = batch["idx"].tolist()
        seen += idx
        want = expected_images(idx, fl.IMAGENET, 32)
        if pack:
            assert isinstance(batch["img"], fl.PackedImages)
            assert batch["img"].is_pinned() == CUDA
            got = fl.pad_batch(batch["img"], fl.IMAGENET, size_divisor=32).images
        else:
            got = batch["img"]
        assert torch.equal(got, want.images)
        assert batch["img_shape"] == [SIZES[i] for i in idx]
        assert batch["batch_input_shape"] == tuple(want.images.shape[-2:])
        # mmdet 3's pad_shape: each image's own size rounded up to the divisor (the batch extent is batch_input_shape)
        assert batch["pad_shape"] == [(-(-SIZES[i][0] // 32) * 32, -(-SIZES[i][1] // 32) * 32) for i in idx]
        assert all(lab.dtype == torch.int64 for lab in batch["labels"])
        assert all(box.dtype == torch.float32 and box.shape[1] == 4 for box in batch["bboxes"])
    assert sorted(seen) == list(range(len(SIZES)))


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_tuple_samples_and_uint8_batches(context):
    loader = DataLoader(
        ClassificationSet(),
        batch_size=4,
        num_workers=2,
        multiprocessing_context=context,
        pin_memory=True,
        collate_fn=fl.PadCollate(size_divisor=8, label_mode="classification", num_classes=4),
    )
    images, labels = next(iter(loader))
    assert images.dtype == torch.uint8 and images.shape == (4, 48, 64, 3)
    assert labels.dtype == torch.int64 and labels.tolist() == [0, 1, 2, 3]


def test_prefetcher_finishes_packed_batches_on_cpu():
    loader = DataLoader(DetectionSet(), batch_size=3, num_workers=2, collate_fn=fl.PadCollate(pack=True))
    prefetcher = fl.DevicePrefetcher(loader, "cpu", fl.IMAGENET, size_divisor=32)
    assert len(prefetcher) == 2
    for epoch in range(2):
        count = 0
        for batch in prefetcher:
            want = expected_images(batch["idx"].tolist(), fl.IMAGENET, 32)
            assert torch.equal(batch["img"], want.images)
            count += 1
        assert count == 2, epoch


def test_prefetcher_normalizes_uint8_tuples():
    loader = DataLoader(ClassificationSet(), batch_size=2, collate_fn=fl.PadCollate(size_divisor=4))
    batch = next(iter(fl.DevicePrefetcher(loader, "cpu", fl.IMAGENET, channels_last=True)))
    images, labels = batch
    assert images.dtype == torch.float32 and images.is_contiguous(memory_format=torch.channels_last)
    ds = ClassificationSet()
    # The padding was added in pixel space (byte 0) before normalization: it is normalized black, not 0.
    raw = fl.pad_batch([ds[0][0], ds[1][0]], size_divisor=4).images
    assert torch.equal(images, fl.normalize(raw, fl.IMAGENET)) and labels.tolist() == [0, 1]
    assert images[0, 0, -1, -1] == pytest.approx((0 - fl.IMAGENET.mean[0]) / fl.IMAGENET.std[0])


@pytest.mark.cuda
@pytest.mark.parametrize("pack", [False, True])
def test_prefetcher_on_cuda(pack):
    collate = fl.PadCollate(None if pack else fl.IMAGENET, pack=pack, size_divisor=32)
    loader = DataLoader(DetectionSet(), batch_size=3, num_workers=2, collate_fn=collate, pin_memory=True)
    for batch in fl.DevicePrefetcher(loader, "cuda", fl.IMAGENET, size_divisor=32):
        assert batch["img"].is_cuda
        want = expected_images(batch["idx"].tolist(), fl.IMAGENET, 32)
        assert torch.equal(batch["img"].cpu(), want.images)
        assert all(b.is_cuda for b in batch["bboxes"])


@pytest.mark.parametrize(
    "labels, mode, k, words",
    [
        ([0, 1], "detection", 3, ["sample 1 of the batch", "label 0", "[1, K]", "background"]),
        ([1, 4], "detection", 3, ["label 4", "K = 3"]),
        ([3, -1], "classification", None, ["label -1", "[0, K-1]"]),
        ([0, 5], "classification", 5, ["label 5", "K = 5"]),
    ],
)
def test_label_conventions(labels, mode, k, words):
    img = np.zeros((4, 4, 3), np.uint8)
    samples = [{"img": img, "labels": [1]}, {"img": img, "labels": labels}]
    with pytest.raises(ValueError) as info:
        fl.PadCollate(label_mode=mode, num_classes=k)(samples)
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    fl.PadCollate(label_mode=None)(samples)  # unchecked without a mode


def test_bad_samples_and_arguments():
    img = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match=r"sample 1 of the batch has no image key 'img'"):
        fl.PadCollate()([{"img": img}, {"image": img}])
    with pytest.raises(ValueError, match="empty"):
        fl.PadCollate()([])
    with pytest.raises(ValueError, match="images\\[1\\].*channel"):
        fl.PadCollate()([{"img": img}, {"img": img[..., :1]}])
    with pytest.raises(TypeError, match="uint8"):
        fl.PadCollate()([{"img": img}, {"img": img.astype(np.float32)}])
    with pytest.raises(ValueError, match="size_divisor"):
        fl.PadCollate(size_divisor=0)
    with pytest.raises(ValueError, match="label_mode"):
        fl.PadCollate(label_mode="segmentation")
    with pytest.raises(ValueError, match="pack=True"):
        fl.PadCollate(fl.IMAGENET, pack=True)
    with pytest.raises(TypeError, match="dict or tuple"):
        fl.PadCollate()([img, img])
    if not CUDA:
        with pytest.raises(ValueError, match="no CUDA"):
            fl.DevicePrefetcher([], "cuda")


# Findings of the adversarial probe (each failed before its fix).

IMG = np.zeros((5, 7, 3), np.uint8)


def test_prefetcher_padding_updates_the_metadata():
    loader = DataLoader(DetectionSet(), batch_size=2, collate_fn=fl.PadCollate(pack=True))
    for batch in fl.DevicePrefetcher(loader, "cpu", fl.IMAGENET, size_divisor=32):
        hp, wp = batch["img"].shape[-2:]
        assert hp % 32 == 0 and wp % 32 == 0
        assert batch["batch_input_shape"] == (hp, wp)
        assert batch["pad_shape"] == [(-(-h // 32) * 32, -(-w // 32) * 32) for h, w in batch["img_shape"]]


@pytest.mark.parametrize(
    "labels, words",
    [
        ([2.7, 9.99], ["sample 1 of the batch", "whole numbers"]),
        ([float("nan")], ["sample 1 of the batch", "finite"]),
        ([True], ["sample 1 of the batch", "bool"]),
    ],
)
def test_labels_are_checked_before_any_cast(labels, words):
    samples = [{"img": IMG, "labels": [1]}, {"img": IMG, "labels": labels}]
    for mode in (None, "detection"):
        with pytest.raises((TypeError, ValueError)) as info:
            fl.PadCollate(label_mode=mode)(samples)
        for word in words:
            assert word in str(info.value), (word, str(info.value))
    with pytest.raises(ValueError, match="sample 1 of the batch: labels must be whole numbers"):
        fl.PadCollate(label_mode="classification")([(IMG, 1), (IMG, 2.5)])


def test_label_dtypes_are_int64():
    out = fl.PadCollate()([{"img": IMG, "labels": np.array([1, 2], np.int32)}, {"img": IMG, "labels": [3.0]}])
    assert [t.dtype for t in out["labels"]] == [torch.int64, torch.int64] and out["labels"][1].tolist() == [3]
    images, labels = fl.PadCollate(label_mode="classification")([(IMG, np.int32(1)), (IMG, 2.0)])
    assert labels.dtype == torch.int64 and labels.tolist() == [1, 2]


def test_a_sample_without_annotations_gets_empty_entries():
    boxes = np.ones((2, 4))
    for order in ((0, 1), (1, 0)):
        samples = [[{"img": IMG}, {"img": IMG, "bboxes": boxes, "labels": [1, 2]}][i] for i in order]
        out = fl.PadCollate(label_mode="detection")(samples)
        empty = order.index(0)
        assert out["bboxes"][empty].shape == (0, 4) and out["bboxes"][empty].dtype == torch.float32
        assert out["labels"][empty].shape == (0,) and out["labels"][empty].dtype == torch.int64
        assert out["bboxes"][1 - empty].shape == (2, 4)
    out = fl.PadCollate()([{"img": IMG, "bboxes": None}, {"img": IMG, "bboxes": boxes}])
    assert out["bboxes"][0].shape == (0, 4)


def test_a_missing_ordinary_key_names_the_key_and_the_sample():
    samples = [{"img": IMG, "img_id": 3, "score": 0.5}, {"img": IMG, "img_id": 4}]
    with pytest.raises(ValueError, match=r"sample 1 of the batch \(img_id=4\) has no key 'score'"):
        fl.PadCollate()(samples)
    with pytest.raises(ValueError, match=r"sample 1 of the batch \(img_path='b.jpg'\): label 0 breaks the rule"):
        fl.PadCollate(label_mode="detection")(
            [{"img": IMG, "labels": [1], "img_path": "a.jpg"}, {"img": IMG, "labels": [0], "img_path": "b.jpg"}]
        )


def test_constructor_checks_every_argument():
    with pytest.raises(TypeError, match="dtype"):
        fl.PadCollate(dtype="float16")
    with pytest.raises(TypeError, match="channels_last"):
        fl.PadCollate(channels_last=1)
    with pytest.raises(TypeError, match="pad_value"):
        fl.PadCollate(pad_value="grey")
    with pytest.raises(ValueError, match="pad_value"):
        fl.PadCollate(pad_value=300)
    with pytest.raises(TypeError, match="channels_last"):
        fl.DevicePrefetcher([], "cpu", channels_last="yes")
    with pytest.raises(ValueError, match="pad_value"):
        fl.DevicePrefetcher([], "cpu", pad_value=1e39)
    # A single string is one key, not one key per character.
    out = fl.PadCollate(list_keys="points")([{"img": IMG, "points": [[1, 2]]}, {"img": IMG, "points": [[3, 4]]}])
    assert isinstance(out["points"], list) and out["points"][0].dtype == torch.float32


def test_prefetcher_keeps_namedtuple_batches():
    from collections import namedtuple

    Batch = namedtuple("Batch", "images labels")
    One = namedtuple("One", "images")
    raw = fl.pad_batch([IMG, IMG], size_divisor=4).images
    out = next(iter(fl.DevicePrefetcher([Batch(raw, torch.tensor([1, 2]))], "cpu", fl.IMAGENET)))
    assert isinstance(out, Batch) and out.images.dtype == torch.float32 and out.labels.tolist() == [1, 2]
    single = next(iter(fl.DevicePrefetcher([One(raw)], "cpu", fl.IMAGENET)))
    assert isinstance(single, One) and isinstance(single.images, torch.Tensor)


# Findings of the new-user review (each failed before its fix).


class RescaledSet(DetectionSet):
    """DetectionSet behind RescaleKeepRatio, as a detection pipeline has it: samples carry img_shape, scale_factor
    (tuples), keep_ratio, their own ori_shape, and boxes rescaled to the new image."""

    def __getitem__(self, i):
        sample = super().__getitem__(i)
        sample["ori_shape"] = tuple(sample["img"].shape[:2])
        return fl.transforms.RescaleKeepRatio((96, 64))(sample)


@pytest.mark.parametrize("workers", [0, 2])
def test_per_image_metadata_stays_per_image(workers):
    ds = RescaledSet()
    loader = DataLoader(ds, batch_size=3, num_workers=workers, collate_fn=fl.PadCollate(fl.IMAGENET, size_divisor=8))
    for batch in loader:
        samples = [ds[i] for i in batch["idx"].tolist()]
        assert batch["img_shape"] == [tuple(s["img"].shape[:2]) for s in samples]
        assert batch["scale_factor"] == [s["scale_factor"] for s in samples]  # (w_scale, h_scale) per image
        assert batch["ori_shape"] == [s["ori_shape"] for s in samples]
        hp, wp = batch["batch_input_shape"]
        assert batch["pad_shape"] == [(-(-h // 8) * 8, -(-w // 8) * 8) for h, w in batch["img_shape"]]
        assert batch["img"].shape[-2:] == (hp, wp) == tuple(max(v) for v in zip(*batch["pad_shape"]))
        assert batch["keep_ratio"].tolist() == [True] * 3
        for got, s in zip(batch["bboxes"], samples):
            assert torch.equal(got, torch.from_numpy(s["bboxes"]).float())


def test_the_collates_own_shapes_win_over_sample_keys():
    samples = [{"img": IMG, "img_shape": (1, 1), "pad_shape": (2, 2), "batch_input_shape": (3, 3), "meta": [4, 5]}] * 2
    out = fl.PadCollate(size_divisor=4)(samples)
    assert out["img_shape"] == [(5, 7)] * 2 and out["pad_shape"] == [(8, 8)] * 2 and out["batch_input_shape"] == (8, 8)
    assert out["meta"] == [[4, 5], [4, 5]]  # lists too stay per image
    images, labels, shapes = fl.PadCollate()([(IMG, 1, (5, 7)), (IMG, 2, (5, 7))])  # tuple samples alike
    assert labels.tolist() == [1, 2] and shapes == [(5, 7), (5, 7)]


class PILSet(Dataset):
    """torchvision ImageFolder style: PIL images (RGB, or 'L' / 'P' modes) and int labels."""

    def __init__(self, mode="RGB"):
        self.mode = mode

    def __len__(self):
        return len(SIZES)

    def rgb(self, i):
        h, w = SIZES[i]
        return np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8)

    def __getitem__(self, i):
        from PIL import Image

        return Image.fromarray(self.rgb(i)).convert(self.mode), i


@pytest.mark.parametrize("mode", ["RGB", "L", "P"])
def test_the_collates_take_pil_images(mode):
    from PIL import Image

    ds = PILSet(mode)
    # What the collate must see: the PIL image's pixels (RGB, converted as PIL converts), in the collate's order.
    arrays = [np.asarray(ds[i][0].convert("L" if mode == "L" else "RGB")) for i in range(len(ds))]
    arrays = [a[:, :, None] if a.ndim == 2 else a for a in arrays]
    norm = fl.Normalization([120.0], [50.0]) if mode == "L" else fl.IMAGENET
    for order in ("bgr", "rgb"):
        as_given = [a if order == "rgb" or a.shape[-1] == 1 else a[:, :, ::-1] for a in arrays]
        for collate in (
            fl.PadCollate(norm, input_order=order),
            fl.PadCollate(input_order=order),
            fl.CropCollate(16, norm, train=False, resize=20, input_order=order),
        ):
            images, labels = next(iter(DataLoader(ds, batch_size=6, num_workers=2, collate_fn=collate)))
            want, _ = collate([(a, i) for i, a in enumerate(as_given)])
            assert torch.equal(images, want) and labels.tolist() == list(range(6))
        packed = fl.PadCollate(pack=True, input_order=order)([{"img": ds[i][0]} for i in range(6)])["img"]
        for i, a in enumerate(as_given):
            assert torch.equal(packed[i], torch.from_numpy(a.copy()))
    assert isinstance(ds[0][0], Image.Image)
