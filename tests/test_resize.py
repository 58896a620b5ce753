"""rescale_size (against the mmcv rule), RescaleKeepRatio, and the fused resize_pad_batch: every backend against the
reference bit for bit, and against cv2.resize + normalize + pad_batch (bilinear within 1 grey level, nearest exact)."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
import torch

import fastload as fl
from conftest import backend, devices, require_compiled
from images import make_image

DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def mmcv_rescale_size(old_size, scale):
    """A transcription of OpenMMLab's mmcv.rescale_size(old_size, scale, return_scale=True)."""
    w, h = old_size
    if isinstance(scale, (float, int)):
        scale_factor = scale
    else:
        max_long_edge, max_short_edge = max(scale), min(scale)
        scale_factor = min(max_long_edge / max(h, w), max_short_edge / min(h, w))
    return (int(w * float(scale_factor) + 0.5), int(h * float(scale_factor) + 0.5)), scale_factor


def test_rescale_size_matches_mmcv_rule_on_a_dense_grid():
    sizes = list(itertools.product(range(1, 400, 7), range(1, 400, 11)))
    scales = [(1333, 800), (800, 1333), (640, 640), (512, 300), (1, 1), 0.5, 1, 2.0, 0.123, 3]
    for (w, h), scale in itertools.product(sizes, scales):
        assert fl.rescale_size((w, h), scale) == mmcv_rescale_size((w, h), scale), ((w, h), scale)


def test_rescale_size_matches_mmcv_when_installed():
    mmcv = pytest.importorskip("mmcv")
    for (w, h), scale in itertools.product([(640, 480), (480, 640), (333, 1000), (1, 1)], [(1333, 800), 0.7]):
        assert fl.rescale_size((w, h), scale) == mmcv.rescale_size((w, h), scale, return_scale=True)


@pytest.mark.parametrize("scale", [(0, 800), (-1, 3), (1, 2, 3), float("nan"), -2.0, 0, "big", None, (1, float("inf"))])
def test_rescale_size_invalid_scale(scale):
    with pytest.raises(ValueError, match="scale"):
        fl.rescale_size((640, 480), scale)


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


def cv2_path(images, norm, scale, divisor, interpolation, input_order="bgr"):
    """OpenCV resize of each image, then fastload normalize + pad: the three-pass path the fused op replaces."""
    flag = cv2.INTER_LINEAR if interpolation == "bilinear" else cv2.INTER_NEAREST
    resized = []
    for img in images:
        a = np.ascontiguousarray(img)
        (nw, nh), _ = fl.rescale_size((a.shape[1], a.shape[0]), scale)
        r = cv2.resize(a, (nw, nh), interpolation=flag)
        resized.append(r[:, :, None] if r.ndim == 2 else r)
    return fl.pad_batch(resized, norm, input_order=input_order, size_divisor=divisor)


SIZES = [(48, 64), (64, 48), (33, 17), (1, 5), (7, 1), (100, 3)]
SCALES = [(96, 64), (40, 30), (1333, 800), 0.5, 2.0]


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("scale", SCALES)
def test_against_cv2_resize(interpolation, scale, rng):
    images = [make_image(rng, (h, w, 3), "contiguous") for h, w in SIZES]
    got = fl.resize_pad_batch(images, fl.IMAGENET, scale=scale, size_divisor=8, interpolation=interpolation)
    want = cv2_path(images, fl.IMAGENET, scale, 8, interpolation)
    assert torch.equal(got.sizes, want.sizes) and got.images.shape == want.images.shape
    std = torch.tensor(fl.IMAGENET.std).view(1, 3, 1, 1)
    grey_levels = ((got.images - want.images) * std).abs()  # back in pixel units
    if interpolation == "nearest":
        assert grey_levels.max() < 1e-3
    else:
        assert grey_levels.max() <= 1.0 + 1e-3
    for i, (h, w) in enumerate(SIZES):
        nh, nw = got.sizes[i].tolist()
        assert got.scale_factors[i].tolist() == pytest.approx([nw / w, nh / h])


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("views", [("contiguous",), ("flip_w", "transposed", "bgra", "flip_all")])
def test_backends_match_reference(device, interpolation, views, rng):
    require_compiled("resize_pad_batch", device)
    images = [make_image(rng, (h, w, 3), views[i % len(views)]) for i, (h, w) in enumerate(SIZES)]
    for dtype in DTYPES:
        for channels_last in (False, True):
            for scale in ((50, 40), 1.7):
                kw = dict(scale=scale, size_divisor=32, dtype=dtype, channels_last=channels_last,
                          interpolation=interpolation, pad_value=(0.5, -1.0, 2.0), device=device)
                got = fl.resize_pad_batch(images, fl.IMAGENET, **kw)
                with backend("reference"):
                    want = fl.resize_pad_batch(images, fl.IMAGENET, **kw)
                assert got.images.device.type == device and got.images.stride() == want.images.stride()
                assert torch.equal(got.images, want.images), (dtype, channels_last, scale)
    packed = fl.pack_images(images)
    got = fl.resize_pad_batch(packed, fl.IMAGENET, scale=(50, 40), interpolation=interpolation, device=device)
    want = fl.resize_pad_batch(images, fl.IMAGENET, scale=(50, 40), interpolation=interpolation)
    assert torch.equal(got.images.cpu(), want.images)


def test_grayscale_and_rgb_input(rng):
    gray = [make_image(rng, (h, w, 1), "contiguous") for h, w in ((20, 30), (9, 4))]
    norm = fl.Normalization(127.5, 58.0)
    got = fl.resize_pad_batch(gray, norm, scale=(60, 40), size_divisor=4)
    want = cv2_path(gray, norm, (60, 40), 4, "bilinear")
    assert ((got.images - want.images) * 58.0).abs().max() <= 1.0 + 1e-3
    rgb = [make_image(rng, (20, 30, 3), "contiguous")]
    a = fl.resize_pad_batch(rgb, fl.IMAGENET, scale=2.0, input_order="rgb").images
    b = fl.resize_pad_batch([np.ascontiguousarray(rgb[0][..., ::-1])], fl.IMAGENET, scale=2.0).images
    assert torch.equal(a, b)


def test_opcheck(rng):
    images = [torch.from_numpy(make_image(rng, (h, w, 3), "contiguous")) for h, w in ((6, 9), (5, 4))]
    args = (images, [0, 0], [12, 18, 10, 8], [16, 24], [1.0, 2.0, 3.0], [0.5, 0.25, 2.0], [2, 1, 0],
            [0.0, 0.0, 0.0], 0, torch.float16, True)
    torch.library.opcheck(torch.ops.fastload.resize_pad_batch.default, args)
    packed = fl.pack_images(images)
    torch.library.opcheck(torch.ops.fastload.resize_pad_batch_packed.default,
                          (packed.data, packed.offsets, packed.sizes, 3, [3, 4, 2, 2], [4, 4], [1.0] * 3, [1.0] * 3,
                           [0, 1, 2], [0.0] * 3, 1, torch.float32, False))


def test_bad_input(rng):
    img = make_image(rng, (10, 12, 3), "contiguous")
    with pytest.raises(ValueError, match="scale"):
        fl.resize_pad_batch([img], fl.IMAGENET, scale=(0, 10))
    with pytest.raises(ValueError, match="interpolation"):
        fl.resize_pad_batch([img], fl.IMAGENET, interpolation="area")
    with pytest.raises(ValueError, match="empty"):
        fl.resize_pad_batch([np.zeros((0, 5, 3), np.uint8)], fl.IMAGENET)
    with pytest.raises(ValueError, match="images"):
        fl.resize_pad_batch([], fl.IMAGENET)
    with pytest.raises(TypeError, match="norm"):
        fl.resize_pad_batch([img], None)
    with pytest.raises(ValueError, match="channel"):
        fl.resize_pad_batch([img[..., :1]], fl.IMAGENET)
    require_compiled("resize_pad_batch", "cpu")
    t = torch.from_numpy(img)
    with pytest.raises(RuntimeError, match="does not fit"):
        torch.ops.fastload.resize_pad_batch([t], [0], [20, 20], [10, 10], [0.0] * 3, [1.0] * 3, [0, 1, 2], [0.0] * 3,
                                            0, torch.float32, False)
    with pytest.raises(RuntimeError, match="interpolation"):
        torch.ops.fastload.resize_pad_batch([t], [0], [5, 5], [10, 10], [0.0] * 3, [1.0] * 3, [0, 1, 2], [0.0] * 3,
                                            2, torch.float32, False)
