"""PadCollate(scale=, flip_p=) from COCO files: pixels against fastload's own op run on the decoded images (bit for
bit) and mmcv's imrescale/imflip/imnormalize (within one grey level), boxes and metadata against mmcv 2's
`Resize(keep_ratio=True)` + `RandomFlip`, padding and extent against mmengine's `stack_batch`, pad_shape against
mmdet 3's `DetDataPreprocessor` rule."""

import os

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import fastload as fl
from fastload.bench.data import ImageSource
from fastload.bench.det_loaders import COCO_SIZES, write_coco
from fastload.bench.file_loaders import SeededBatches

mmcv = pytest.importorskip("mmcv")
mmcv_transforms = pytest.importorskip("mmcv.transforms")
mmengine_utils = pytest.importorskip("mmengine.model.utils")

SCALE, DIVISOR = (1333, 800), 32
STD = torch.tensor(fl.IMAGENET.std, dtype=torch.float64).view(3, 1, 1)


@pytest.fixture(scope="module")
def coco():
    root, ann_file = write_coco(ImageSource(), COCO_SIZES, 10, scale=0.5, seed=3)
    return fl.CocoDetection(root, ann_file, label_mode="mmdet")


def _collate(**kw):
    return fl.PadCollate(fl.IMAGENET, size_divisor=DIVISOR, scale=SCALE, flip_p=0.5, label_mode="mmdet", **kw)


def _mmcv_sample(sample: dict, flip: bool) -> dict:
    """mmcv 2's transforms on the decoded image: Resize(keep_ratio=True) then RandomFlip(prob=1 or 0)."""
    img = fl.decode_image(sample["img"]).numpy()
    results = {"img": img, "gt_bboxes": sample["bboxes"].numpy().copy()}
    results = mmcv_transforms.Resize(scale=SCALE, keep_ratio=True)(results)
    return mmcv_transforms.RandomFlip(prob=1.0 if flip else 0.0, direction="horizontal")(results)


def test_from_files_matches_mmcv_mmengine_and_the_op(coco):
    samples = [coco[i] for i in range(len(coco))]
    torch.manual_seed(0)
    batch = _collate(num_classes=coco.num_classes)(samples)
    assert any(batch["flip"]) and not all(batch["flip"])  # both kinds in the batch (seeded)
    images = batch["img"]
    for i, s in enumerate(samples):
        flip = batch["flip"][i]
        want = _mmcv_sample(s, flip)
        h, w = want["img_shape"]
        assert batch["img_shape"][i] == (h, w) and batch["ori_shape"][i] == s["ori_shape"]
        assert batch["scale_factor"][i] == want["scale_factor"] and batch["keep_ratio"][i] is True
        assert batch["flip_direction"][i] == ("horizontal" if flip else None) and want["flip"] == flip
        # Boxes: mmcv's float64 arithmetic, then float32.
        torch.testing.assert_close(batch["bboxes"][i], torch.from_numpy(want["gt_bboxes"]).float(), rtol=0, atol=1e-4)
        assert torch.equal(batch["labels"][i], s["labels"])
        # Pixels: bit for bit fastload's resize_pad_batch on the decoded (flipped) image; within one grey level of
        # mmcv's uint8 resize + imnormalize (OpenCV rounds with 11-bit weights, fastload keeps fp32).
        decoded = fl.decode_image(s["img"]).numpy()
        alone = fl.resize_pad_batch([decoded[:, ::-1] if flip else decoded], fl.IMAGENET, scale=SCALE).images[0]
        assert torch.equal(images[i, :, :h, :w], alone[:, :h, :w])
        normalized = mmcv.imnormalize(want["img"], np.array(fl.IMAGENET.mean), np.array(fl.IMAGENET.std), True)
        levels = (images[i, :, :h, :w].double() - torch.from_numpy(normalized).permute(2, 0, 1)).abs() * STD
        assert float(levels.max()) <= 1.0 + 1e-3
        assert not images[i, :, h:].any() and not images[i, :, :, w:].any()  # padding: 0, the mean colour
        # mmdet 3's pad_shape: the image's own size rounded up to the divisor.
        assert batch["pad_shape"][i] == (int(np.ceil(h / DIVISOR)) * DIVISOR, int(np.ceil(w / DIVISOR)) * DIVISOR)
    # mmengine's stack_batch over the per-image tensors rebuilds the batch: extent and padding as mmengine's.
    crops = [images[i, :, :h, :w] for i, (h, w) in enumerate(batch["img_shape"])]
    stacked = mmengine_utils.stack_batch(crops, pad_size_divisor=DIVISOR, pad_value=0)
    assert torch.equal(stacked, images) and batch["batch_input_shape"] == tuple(stacked.shape[-2:])


def test_decoded_images_give_the_batch_files_give(coco):
    samples = [coco[i] for i in range(4)]
    decoded = [{**s, "img": fl.decode_image(s["img"]).numpy()} for s in samples]
    torch.manual_seed(1)
    a = _collate()(samples)
    torch.manual_seed(1)
    b = _collate()(decoded)
    assert torch.equal(a["img"], b["img"]) and a["flip"] == b["flip"]
    assert all(torch.equal(x, y) for x, y in zip(a["bboxes"], b["bboxes"]))


def test_bicubic_is_the_ops_bicubic_on_the_flipped_images(coco):
    samples = [coco[i] for i in range(4)]
    torch.manual_seed(2)
    batch = _collate(interpolation="bicubic")(samples)
    assert any(batch["flip"])
    for i, s in enumerate(samples):
        decoded = fl.decode_image(s["img"]).numpy()
        view = decoded[:, ::-1] if batch["flip"][i] else decoded
        alone = fl.resize_pad_batch([view], fl.IMAGENET, scale=SCALE, interpolation="bicubic").images[0]
        h, w = batch["img_shape"][i]
        assert torch.equal(batch["img"][i, :, :h, :w], alone[:, :h, :w])


def test_flips_are_the_torch_rngs_draws(coco):
    samples = [coco[i] for i in range(8)]
    torch.manual_seed(7)
    want = [bool(torch.rand(1).item() < 0.3) for _ in samples]
    torch.manual_seed(7)
    batch = fl.PadCollate(fl.IMAGENET, flip_p=0.3)(samples)  # a flip without a resize
    assert batch["flip"] == want and "scale_factor" not in batch
    for i, s in enumerate(samples):
        h, w = s["ori_shape"]
        alone = fl.pad_batch([fl.decode_image(s["img"]).numpy()], fl.IMAGENET).images[0]
        assert torch.equal(batch["img"][i, :, :h, :w], alone.flip(-1) if want[i] else alone)
        boxes = s["bboxes"].double()
        if want[i]:
            boxes = torch.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], 1)
        assert torch.equal(batch["bboxes"][i], boxes.float())


def test_in_workers_through_the_ring(coco):
    before = fl.memory.ring.stats()["received"]
    collate = _collate(num_classes=coco.num_classes)
    loader = DataLoader(SeededBatches(coco), batch_size=4, num_workers=2, collate_fn=collate)
    seen = []
    for batch in loader:
        first = batch["img_id"][0].item() - 1  # write_coco numbers the images from 1, in order
        idx = list(range(first, first + len(batch["img_id"])))
        torch.manual_seed(idx[0])  # SeededBatches: the batch's first index seeds the worker's draws
        want = collate([coco[i] for i in idx])
        assert torch.equal(batch["img"], want["img"]) and batch["flip"] == want["flip"]
        seen += idx
    assert sorted(seen) == list(range(len(coco)))
    assert fl.memory.ring.stats()["received"] - before == 3


def test_pack_with_flips_ships_the_flipped_pixels(coco):
    samples = [coco[i] for i in range(3)]
    torch.manual_seed(0)
    batch = fl.PadCollate(pack=True, flip_p=1.0)(samples)
    assert isinstance(batch["img"], fl.PackedImages) and batch["flip"] == [True] * 3
    for i, s in enumerate(samples):
        assert np.array_equal(batch["img"][i].numpy(), fl.decode_image(s["img"]).numpy()[:, ::-1])


@pytest.mark.parametrize(
    "kw, error, words",
    [
        (dict(scale=(1333, 800)), ValueError, "give norm too"),
        (dict(norm=fl.IMAGENET, scale=(0, 800)), ValueError, "scale"),
        (dict(norm=fl.IMAGENET, flip_p=1.5), ValueError, "flip_p must be a probability"),
        (dict(norm=fl.IMAGENET, flip_p=0.5, interpolation="area"), ValueError, "interpolation"),
        (dict(pack=True, flip_p=0.5, decode_on="device"), ValueError, "decode_on='device'"),
        (dict(norm=fl.IMAGENET, flip_p=0.5, bbox_keys=[1]), TypeError, "bbox_keys"),
        (dict(label_mode="mmdetection"), ValueError, "'mmdet'"),
    ],
)
def test_bad_arguments_name_themselves(kw, error, words):
    with pytest.raises(error, match=words):
        fl.PadCollate(**kw)


def test_what_cannot_move_with_the_images_is_refused(coco):
    s = coco[0]
    img = fl.decode_image(s["img"]).numpy()
    with pytest.raises(ValueError, match="need dict samples"):
        _collate()([(img, 1)])
    with pytest.raises(ValueError, match=r"\['masks'\]: scale= and flip_p= move boxes only"):
        _collate()([{**s, "masks": np.zeros((1, 4, 4), np.uint8)}])
    with pytest.raises(ValueError, match=r"\['bboxes'\] must be \(n, 4\) boxes"):
        _collate()([{**s, "bboxes": np.zeros((2, 3))}])


def test_label_modes_in_the_collate():
    img = np.zeros((4, 4, 3), np.uint8)
    ok = fl.PadCollate(label_mode="mmdet", num_classes=3)([{"img": img, "labels": [0, 2]}])
    assert ok["labels"][0].tolist() == [0, 2]
    with pytest.raises(ValueError, match=r"label 3 breaks the rule: mmdet labels are in \[0, K-1\] with K = 3 \(K is"):
        fl.PadCollate(label_mode="mmdet", num_classes=3)([{"img": img, "labels": [3]}])
    with pytest.raises(ValueError, match=r"label 0 breaks the rule: detection labels are in \[1, K\]"):
        fl.PadCollate(label_mode="detection")([{"img": img, "labels": [0]}])


def test_rescale_keep_ratio_takes_tensors_and_files(coco):
    s = coco[1]
    resize = fl.transforms.RescaleKeepRatio(SCALE)
    decoded = fl.decode_image(s["img"]).numpy()
    want = resize({"img": decoded, "bboxes": s["bboxes"]})
    from_file = resize({"img": s["img"], "bboxes": s["bboxes"]})
    from_tensor = resize({"img": torch.from_numpy(decoded), "bboxes": s["bboxes"]})
    assert np.array_equal(from_file["img"], want["img"]) and isinstance(from_tensor["img"], torch.Tensor)
    assert np.array_equal(from_tensor["img"].numpy(), want["img"])
    for got in (from_file, from_tensor):
        assert got["scale_factor"] == want["scale_factor"] and torch.equal(got["bboxes"], want["bboxes"])
    with pytest.raises(TypeError, match="RescaleKeepRatio takes HWC uint8 numpy arrays or tensors"):
        resize(os.fspath(s["img_path"]))


def test_readmes_detection_quickstart_runs(coco):
    """README's detection block, run as written on a small COCO set (its paths swapped for this one's)."""
    text = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    block = text.split("## Detection: COCO files", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    block = block.replace('"coco/train2017"', repr(coco.root)).replace(
        '"coco/annotations/instances_train2017.json"', repr(coco.ann_file)
    )
    block = block.replace("num_workers=8", "num_workers=2")
    scope = {"fl": fl, "DataLoader": DataLoader}
    exec(compile(block, "README.md (detection)", "exec"), scope)
    batch = scope["batch"]
    assert batch["img"].shape[0] == len(batch["bboxes"]) and batch["img"].shape[-1] % 32 == 0
    assert all(lab.max() < scope["train"].num_classes for lab in batch["labels"] if len(lab))


def test_a_skipped_file_leaves_boxes_and_metadata_aligned(coco):
    samples = [coco[i] for i in range(4)]
    samples[1] = {**samples[1], "img": fl.EncodedImage(b"not a jpeg", "bad.jpg")}
    torch.manual_seed(2)
    with pytest.warns(RuntimeWarning, match="bad.jpg"):
        batch = _collate(on_error="skip")(samples)
    kept = [samples[i] for i in (0, 2, 3)]
    torch.manual_seed(2)
    want = _collate()(kept)
    assert batch["img_id"].tolist() == [s["img_id"] for s in kept] and batch["flip"] == want["flip"]
    assert torch.equal(batch["img"], want["img"]) and batch["img_shape"] == want["img_shape"]
    assert all(torch.equal(a, b) for a, b in zip(batch["bboxes"], want["bboxes"]))
