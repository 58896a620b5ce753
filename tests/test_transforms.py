"""fastload.transforms: ToNormalizedTensor as a drop-in for torchvision's Compose([ToTensor(), Normalize(...)]),
and RescaleKeepRatio against cv2.resize."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import fastload as fl
from fastload.transforms import ToNormalizedTensor
from images import make_image

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
    with pytest.raises(ValueError, match=r"the image \(1x5000, h x w\) resized with scale=\(1333, 800\) would be 0x1333"):
        fl.transforms.RescaleKeepRatio((1333, 800))(np.zeros((1, 5000, 3), np.uint8))
    with pytest.raises(TypeError, match="channels_last"):
        ToNormalizedTensor(fl.IMAGENET, channels_last="yes")
