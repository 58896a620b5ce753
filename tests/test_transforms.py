"""fastload.transforms: ToNormalizedTensor as a drop-in for torchvision's Compose([ToTensor(), Normalize(...)]),
and RescaleKeepRatio against cv2.resize."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from images import make_image
from PIL import Image

import fastload as fl
from fastload.transforms import ToNormalizedTensor

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.fixture
def rgb(rng):
    return rng.integers(0, 256, size=(23, 35, 3), dtype=np.uint8)


def torchvision_pipeline(rgb_array):
    from torchvision import transforms as T

    return T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])(Image.fromarray(rgb_array))


def test_replaces_totensor_normalize_on_pil(rgb):
    t = ToNormalizedTensor(fl.Normalization.from_unit(MEAN, STD))
    got = t(Image.fromarray(rgb))  # PIL is RGB whatever input_order says
    torch.testing.assert_close(got, torchvision_pipeline(rgb), atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("as_tensor", [False, True])
def test_bgr_arrays_and_tensors(rgb, as_tensor):
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    t = ToNormalizedTensor(fl.IMAGENET, input_order="bgr")
    got = t(torch.from_numpy(bgr) if as_tensor else bgr)
    torch.testing.assert_close(got, torchvision_pipeline(rgb), atol=2e-5, rtol=1e-5)
    assert isinstance(t, torch.nn.Module) and "input_order='bgr'" in repr(t)


def test_grayscale_and_other_pil_modes(rng):
    gray = rng.integers(0, 256, size=(9, 11), dtype=np.uint8)
    out = ToNormalizedTensor(fl.Normalization(127.5, 127.5))(Image.fromarray(gray))
    assert out.shape == (1, 9, 11)
    torch.testing.assert_close(out[0], (torch.from_numpy(gray).float() - 127.5) / 127.5)
    rgba = rng.integers(0, 256, size=(9, 11, 4), dtype=np.uint8)
    out = ToNormalizedTensor(fl.IMAGENET)(Image.fromarray(rgba, "RGBA"))
    assert out.shape == (3, 9, 11)


def test_batch_dtype_and_channels_last(rng):
    batch = rng.integers(0, 256, size=(4, 8, 8, 3), dtype=np.uint8)
    out = ToNormalizedTensor(fl.IMAGENET, dtype=torch.bfloat16, channels_last=True)(batch)
    assert out.dtype == torch.bfloat16 and out.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out, fl.normalize(batch, fl.IMAGENET, dtype=torch.bfloat16))


def test_bad_arguments():
    with pytest.raises(TypeError, match="norm"):
        ToNormalizedTensor((0.5, 0.5))
    with pytest.raises(ValueError, match="input_order"):
        ToNormalizedTensor(fl.IMAGENET, input_order="xyz")
    with pytest.raises(ValueError, match="dtype"):
        ToNormalizedTensor(fl.IMAGENET, dtype=torch.float64)


def test_rescale_keep_ratio_transform(rng):
    img = make_image(rng, (480, 640, 3), "contiguous")
    t = fl.transforms.RescaleKeepRatio((1333, 800))
    out = t({"img": img, "id": 7})
    assert out["img"].shape == (800, 1067, 3) and out["img_shape"] == (800, 1067) and out["keep_ratio"]
    assert out["scale_factor"] == (1067 / 640, 800 / 480) and out["id"] == 7
    np.testing.assert_array_equal(out["img"], cv2.resize(img, (1067, 800), interpolation=cv2.INTER_LINEAR))
    gray = t(make_image(rng, (100, 50, 1), "contiguous"))
    assert gray.shape == (1333, 667, 1)
    with pytest.raises(ValueError, match="interpolation"):
        fl.transforms.RescaleKeepRatio(interpolation="cubic")


def test_rescale_keep_ratio_refuses_a_strip_that_rounds_to_nothing():
    with pytest.raises(
        ValueError, match=r"the image \(1x5000, h x w\) resized with scale=\(1333, 800\) would be 0x1333"
    ):
        fl.transforms.RescaleKeepRatio((1333, 800))(np.zeros((1, 5000, 3), np.uint8))
    with pytest.raises(TypeError, match="channels_last"):
        ToNormalizedTensor(fl.IMAGENET, channels_last="yes")


# mmcv 2.2.0's numbers: mmcv.transforms.Resize(scale, keep_ratio=True) on {"img": zeros(shape), "gt_bboxes": boxes
# as float32}, printed as (img_shape, scale_factor, gt_bboxes.tolist()). Reproduce with mmcv-lite 2.2.0 installed.
MMCV_RESIZE = [
    (
        (48, 64),
        (1333, 800),
        [[0, 0, 10, 20], [5.5, 7.25, 64, 48], [60, 40, 70, 50], [-3, -1, 2, 3]],
        (800, 1067),
        (16.671875, 16.666666666666668),
        [
            [0.0, 0.0, 166.71875, 333.33333333333337],
            [91.6953125, 120.83333333333334, 1067.0, 800.0],
            [1000.3125, 666.6666666666667, 1067.0, 800.0],
            [0.0, 0.0, 33.34375, 50.0],
        ],
    ),
    (
        (375, 500),
        (1333, 800),
        [[12.5, 30, 480.25, 370], [499, 374, 520, 400]],
        (800, 1067),
        (2.134, 2.1333333333333333),
        [[26.674999999999997, 64.0, 1024.8535, 789.3333333333334], [1064.866, 797.8666666666667, 1067.0, 800.0]],
    ),
    (
        (640, 427),
        (512, 512),
        [[0, 0, 427, 640], [100.5, 200.5, 300.25, 600.75]],
        (512, 342),
        (0.8009367681498829, 0.8),
        [[0.0, 0.0, 342.0, 512.0], [80.49414519906323, 160.4, 240.48126463700234, 480.6]],
    ),
]


@pytest.mark.parametrize("shape, scale, boxes, img_shape, factors, want", MMCV_RESIZE)
def test_rescale_keep_ratio_rescales_boxes_as_mmcv_does(shape, scale, boxes, img_shape, factors, want):
    sample = {
        "img": np.zeros((*shape, 3), np.uint8),
        "bboxes": np.array(boxes, np.float32),
        "gt_bboxes": torch.tensor(boxes),
    }
    given = sample["bboxes"].copy()
    out = fl.transforms.RescaleKeepRatio(scale)(sample)
    assert out["img_shape"] == img_shape and out["scale_factor"] == factors
    assert out["bboxes"].dtype == np.float64 and out["bboxes"].tolist() == want  # mmcv's float64 values, exactly
    assert out["gt_bboxes"].dtype == torch.float32 and out["gt_bboxes"].tolist() == torch.tensor(want).tolist()
    np.testing.assert_array_equal(sample["bboxes"], given)  # the caller's sample is not modified
    unclipped = fl.transforms.RescaleKeepRatio(scale, bbox_keys="bboxes", clip=False)(sample)["bboxes"]
    np.testing.assert_array_equal(unclipped, np.array(boxes, np.float32) * np.tile(np.array(factors), 2))
    assert "gt_bboxes" not in fl.transforms.RescaleKeepRatio(scale, bbox_keys=())({"img": sample["img"]})


def test_rescale_keep_ratio_checks_the_boxes():
    t = fl.transforms.RescaleKeepRatio((64, 64))
    img = np.zeros((32, 16, 3), np.uint8)
    assert t({"img": img, "bboxes": []})["bboxes"].shape == (0, 4)
    assert t({"img": img, "bboxes": None})["bboxes"] is None
    assert t({"img": img, "bboxes": [[1, 2, 3, 4]]})["bboxes"].tolist() == [[2.0, 4.0, 6.0, 8.0]]
    with pytest.raises(ValueError, match=r"sample\['bboxes'\] must be \(n, 4\) boxes"):
        t({"img": img, "bboxes": np.zeros((2, 5))})
    with pytest.raises(TypeError, match=r"sample\['bboxes'\] must hold numbers"):
        t({"img": img, "bboxes": [["a", "b", "c", "d"]]})
    with pytest.raises(TypeError, match="bbox_keys"):
        fl.transforms.RescaleKeepRatio(bbox_keys=[1])
    with pytest.raises(TypeError, match="clip"):
        fl.transforms.RescaleKeepRatio(clip="yes")


def test_torchvision_v2_images_drop_into_a_v2_compose():
    """v2 images are CHW uint8 tv_tensors.Image (RGB): ToNormalizedTensor replaces ToDtype(scale=True) + Normalize
    inside a v2 Compose, reading the image as a view; the crop transforms take them too."""
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    img = np.random.default_rng(3).integers(0, 256, (37, 53, 3), dtype=np.uint8)  # RGB, as v2.ToImage gets it
    mean, std = fl.IMAGENET.unit()
    ours = v2.Compose([v2.ToImage(), v2.RandomHorizontalFlip(1.0), fl.transforms.ToNormalizedTensor(fl.IMAGENET)])
    theirs = v2.Compose(
        [v2.ToImage(), v2.RandomHorizontalFlip(1.0), v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]
    )
    a, b = ours(img), theirs(img)
    assert isinstance(a, tv_tensors.Image) and a.shape == b.shape == (3, 37, 53)
    assert torch.allclose(a, b, atol=1e-5)
    chw = torch.from_numpy(img).permute(2, 0, 1).contiguous()
    calls = []
    original = fl.transforms.normalize
    fl.transforms.normalize = lambda x, *args, **kw: calls.append(x.data_ptr()) or original(x, *args, **kw)
    try:
        fl.transforms.ToNormalizedTensor(fl.IMAGENET)(tv_tensors.Image(chw))
    finally:
        fl.transforms.normalize = original
    assert calls == [chw.data_ptr()]  # a view of the v2 image, no copy
    plain = fl.transforms.ToNormalizedTensor(fl.IMAGENET, input_order="rgb", chw=True)(chw)
    assert not isinstance(plain, tv_tensors.Image) and torch.equal(plain, a.as_subclass(torch.Tensor).flip(-1))
    torch.manual_seed(0)
    crop = fl.transforms.RandomResizedCropNormalize(24, fl.IMAGENET)(tv_tensors.Image(chw))
    torch.manual_seed(0)
    want = fl.transforms.RandomResizedCropNormalize(24, fl.IMAGENET, input_order="rgb")(img)
    assert isinstance(crop, tv_tensors.Image) and torch.equal(crop.as_subclass(torch.Tensor), want)
    center = fl.transforms.ResizeCenterCropNormalize(32, 24, fl.IMAGENET, chw=True, input_order="rgb")(chw)
    assert torch.equal(center, fl.transforms.ResizeCenterCropNormalize(32, 24, fl.IMAGENET, input_order="rgb")(img))
    with pytest.raises(TypeError, match="chw=True"):
        fl.transforms.ToNormalizedTensor(fl.IMAGENET, chw=True)(img)


def test_bgra_and_grayscale_arrays():
    rng = np.random.default_rng(4)
    bgra = rng.integers(0, 256, (9, 11, 4), dtype=np.uint8)
    assert torch.equal(fl.normalize(bgra, fl.IMAGENET), fl.normalize(np.ascontiguousarray(bgra[..., :3]), fl.IMAGENET))
    gray = rng.integers(0, 256, (9, 11), dtype=np.uint8)
    norm = fl.Normalization([120.0], [60.0])
    assert torch.equal(fl.normalize(gray, norm), fl.normalize(gray[..., None], norm))
    batch = fl.pad_batch([bgra, bgra[:5]], fl.IMAGENET)
    assert batch.images.shape == (2, 3, 9, 11)
    collated = fl.PadCollate(norm)([(gray, 0), (gray[:4], 1)])[0]
    assert collated.shape == (2, 1, 9, 11)
    with pytest.raises(ValueError, match="channel"):  # one channel, then three (alpha dropped): mixed
        fl.pack_images([gray, bgra])
    grey_packed = fl.pack_images([gray, gray[:3]])
    assert grey_packed.channels == 1 and torch.equal(grey_packed[1], torch.from_numpy(gray[:3])[..., None])
    bgra_packed = fl.pack_images([bgra, bgra[::-1]])
    assert bgra_packed.channels == 3 and np.array_equal(bgra_packed[1].numpy(), bgra[::-1, :, :3])
    loader = torch.utils.data.DataLoader(
        [(gray, 0), (gray[:5], 1)] * 4, batch_size=4, num_workers=2, collate_fn=fl.PadCollate(pack=True)
    )
    for images, _ in loader:  # straight into the workers' rings
        assert images.channels == 1 and torch.equal(images[1], torch.from_numpy(gray[:5])[..., None])
    with pytest.raises(ValueError, match="1, 3 or 4"):
        fl.normalize(np.zeros((4, 4, 2), np.uint8), fl.IMAGENET)


def test_a_cuda_device_without_a_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    img = np.zeros((4, 4, 3), np.uint8)
    for call in (
        lambda: fl.pad_batch([img], fl.IMAGENET, device="cuda"),
        lambda: fl.resized_crop_batch([img], [(0, 0, 2, 2)], 2, fl.IMAGENET, device="cuda:0"),
        lambda: fl.resize_pad_batch([img], fl.IMAGENET, device="cuda"),
        lambda: fl.DevicePrefetcher([], "cuda"),
    ):
        with pytest.raises(ValueError, match="no CUDA GPU is available"):
            call()
    with pytest.raises(ValueError, match="device must be"):
        fl.pad_batch([img], fl.IMAGENET, device="gpu")
