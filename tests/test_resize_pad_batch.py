"""resize_pad_batch: the op table over every backend x layout x dtype, bit for bit between backends and against
cv2.resize (bilinear within 1 grey level, nearest exact) or torchvision's antialiased bicubic resize (within 1 grey
level) + a float64 normalize and pad; bad input."""

from __future__ import annotations

import cv2
import harness
import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from conftest import require_compiled
from harness import Bad, OpTest, Sample
from images import make_image, pad_batch_oracle, random_norm

import fastload as fl


def peer_path(images, norm, scale, divisor, interpolation, input_order="bgr"):
    """The peer's resize of each image (`resized_bytes`), then fastload normalize + pad: the three-pass path the
    fused op replaces."""
    resized = []
    for img in images:
        (nw, nh), _ = fl.rescale_size((img.shape[1], img.shape[0]), scale)
        resized.append(resized_bytes(img, (nh, nw), interpolation))
    return fl.pad_batch(resized, norm, input_order=input_order, size_divisor=divisor)


def resized_bytes(img: np.ndarray, size: tuple[int, int], interpolation: str) -> np.ndarray:
    """(h, w, C) uint8 `img` resized to `size` (h, w) by the peer each interpolation follows: cv2.resize for
    "bilinear" and "nearest", torchvision v2's antialiased bicubic `resize` for "bicubic"."""
    a = np.ascontiguousarray(np.asarray(img))
    if interpolation == "bicubic":
        chw = torch.from_numpy(a.copy()).permute(2, 0, 1)  # fresh strides: a (1, w) or (h, 1) view may keep a -1
        return TF.resize(chw, list(size), TF.InterpolationMode.BICUBIC, antialias=True).permute(1, 2, 0).numpy()
    flag = cv2.INTER_LINEAR if interpolation == "bilinear" else cv2.INTER_NEAREST
    return cv2.resize(a, size[::-1], interpolation=flag).reshape(*size, a.shape[2])


SIZES = [(48, 64), (64, 48), (33, 17), (1, 5), (7, 1), (100, 3)]
SCALES = [(96, 64), (40, 30), (1333, 800), 0.5, 2.0]


@pytest.mark.parametrize("scale", SCALES)
def test_bicubic_against_torchvision(scale, rng):
    images = [make_image(rng, (h, w, 3), "contiguous") for h, w in SIZES]
    got = fl.resize_pad_batch(images, fl.IMAGENET, scale=scale, size_divisor=8, interpolation="bicubic")
    want = peer_path(images, fl.IMAGENET, scale, 8, "bicubic")
    assert got.images.shape == want.images.shape
    std = torch.tensor(fl.IMAGENET.std).view(1, 3, 1, 1)
    assert ((got.images - want.images) * std).abs().max() * 255 <= 1.0 + 1e-3


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("scale", SCALES)
def test_against_cv2_resize(interpolation, scale, rng):
    images = [make_image(rng, (h, w, 3), "contiguous") for h, w in SIZES]
    got = fl.resize_pad_batch(images, fl.IMAGENET, scale=scale, size_divisor=8, interpolation=interpolation)
    want = peer_path(images, fl.IMAGENET, scale, 8, interpolation)
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


def samples(rng: np.random.Generator, layout: str, dtype) -> list[Sample]:
    n = int(rng.integers(1, 4))
    channels = int(rng.choice([1, 3]))
    sizes = [harness.image_size(rng, layout) for _ in range(n)]
    images = [harness.image_in_layout(rng, (h, w, channels), harness.storage_layout(layout)) for h, w in sizes]
    norm = random_norm(rng, channels)
    scales = [(96, 64), (40, 30), (17, 9), 0.5, 2.0, 1.7]
    scale = scales[int(rng.integers(len(scales)))]
    if any(min(fl.rescale_size((w, h), scale)[0]) < 1 for h, w in sizes):
        scale = 2.0  # a thin strip that this scale would shrink to nothing is a bad input (see the Bad table)
    kw = dict(
        scale=scale,
        input_order=str(rng.choice(["bgr", "rgb"])),
        size_divisor=int(rng.choice([1, 8, 32])),
        pad_value=rng.uniform(-3, 3, channels).round(3).tolist(),
        dtype=dtype,
        channels_last=layout == "channels_last",
        interpolation=str(rng.choice(["bilinear", "nearest", "bicubic"])),
    )
    out = [Sample((images, norm), kw, f"{layout} {sizes} {kw['scale']} {kw['interpolation']}")]
    if layout in ("contiguous", "flipped", "odd"):
        out.append(Sample((fl.pack_images(images), norm), kw, f"{layout} {sizes} packed"))
        if kw["interpolation"] == "bicubic":  # runs the crop and pad ops: one packed sample of the op itself too
            kw = dict(kw, interpolation="bilinear")
            out.append(Sample((fl.pack_images(images), norm), kw, f"{layout} {sizes} packed bilinear"))
    return out + [harness.with_out(s, fl.resize_pad_batch, lambda r: r.images) for s in out]


def oracle(sample: Sample, result) -> None:
    """cv2.resize (torchvision's bicubic resize) each image, then a float64 normalize and pad: bilinear and bicubic
    within 1 grey level (OpenCV rounds to uint8 after its fixed-point blend), nearest exact; all up to the output
    dtype's rounding."""
    images, norm = sample.args
    kw = sample.kwargs
    if isinstance(images, fl.PackedImages):
        images = images.unpack()
    arrays = [np.ascontiguousarray(np.asarray(img)) for img in images]
    resized = []
    for a in arrays:
        (nw, nh), _ = fl.rescale_size((a.shape[1], a.shape[0]), kw["scale"])
        resized.append(resized_bytes(a, (nh, nw), kw["interpolation"]))
    assert result.sizes.tolist() == [list(r.shape[:2]) for r in resized]
    for a, r, factors in zip(arrays, resized, result.scale_factors.tolist()):
        assert factors == pytest.approx([r.shape[1] / a.shape[1], r.shape[0] / a.shape[0]])
    expected = pad_batch_oracle(resized, norm, kw["input_order"], kw["size_divisor"], kw["pad_value"])
    got = result.images.float().cpu().numpy().astype(np.float64)
    assert result.images.dtype == kw["dtype"] and got.shape == expected.shape
    if kw["channels_last"]:
        assert result.images.is_contiguous(memory_format=torch.channels_last)
    grey = 1e-3 if kw["interpolation"] == "nearest" else 1.0 + 1e-3
    per_channel = grey / np.asarray(norm.std).reshape(1, -1, 1, 1)
    eps = {torch.float32: 1e-6, torch.float16: 2.0**-11, torch.bfloat16: 2.0**-8}[kw["dtype"]]
    np.testing.assert_array_less(np.abs(got - expected), per_channel * (1 + eps) + eps * np.abs(expected) + 1e-5)


RESIZE_PAD_BATCH = OpTest(
    "resize_pad_batch",
    fl.resize_pad_batch,
    samples,
    oracle,
    raw_ops=("resize_pad_batch", "resize_pad_batch_packed", "resize_pad_batch_into", "resize_pad_batch_packed_into"),
    layouts=tuple(x for x in harness.LAYOUTS if x != "empty"),
)

test_backends = harness.backend_test(RESIZE_PAD_BATCH)
test_property = harness.property_test(RESIZE_PAD_BATCH, max_examples=60)
test_opcheck = harness.opcheck_test(RESIZE_PAD_BATCH)
test_compile = harness.compile_test(RESIZE_PAD_BATCH)


def test_grayscale_and_rgb_input(rng):
    gray = [make_image(rng, (h, w, 1), "contiguous") for h, w in ((20, 30), (9, 4))]
    norm = fl.Normalization(127.5, 58.0)
    got = fl.resize_pad_batch(gray, norm, scale=(60, 40), size_divisor=4)
    want = peer_path(gray, norm, (60, 40), 4, "bilinear")
    assert ((got.images - want.images) * 58.0).abs().max() <= 1.0 + 1e-3
    rgb = [make_image(rng, (20, 30, 3), "contiguous")]
    a = fl.resize_pad_batch(rgb, fl.IMAGENET, scale=2.0, input_order="rgb").images
    b = fl.resize_pad_batch([np.ascontiguousarray(rgb[0][..., ::-1])], fl.IMAGENET, scale=2.0).images
    assert torch.equal(a, b)


IMG = np.zeros((10, 12, 3), np.uint8)
test_bad_input = harness.bad_input_test(
    [
        Bad(
            lambda: fl.resize_pad_batch([IMG], fl.IMAGENET, scale=1.0, size_divisor=1, out=torch.empty(1, 3, 2, 2)),
            ValueError,
            ("out", "shape"),
        ),
        Bad(lambda: fl.resize_pad_batch([IMG], fl.IMAGENET, scale=(0, 10)), ValueError, ("scale",)),
        Bad(lambda: fl.resize_pad_batch([IMG], fl.IMAGENET, interpolation="area"), ValueError, ("interpolation",)),
        Bad(
            lambda: fl.resize_pad_batch([np.zeros((0, 5, 3), np.uint8)], fl.IMAGENET),
            ValueError,
            ("images[0]", "empty"),
        ),
        Bad(lambda: fl.resize_pad_batch([], fl.IMAGENET), ValueError, ("images", "empty")),
        Bad(lambda: fl.resize_pad_batch([IMG], None), TypeError, ("norm",)),
        Bad(lambda: fl.resize_pad_batch([IMG[..., :1]], fl.IMAGENET), ValueError, ("channel",)),
        # Sizes that cannot be a batch.
        Bad(lambda: fl.resize_pad_batch([IMG], fl.IMAGENET, scale=(10**7, 10**7)), ValueError, ("scale", "bytes")),
        Bad(lambda: fl.resize_pad_batch([IMG], fl.IMAGENET, scale=1e300), ValueError, ("images[0]", "scale=1e+300")),
        Bad(
            lambda: fl.resize_pad_batch([np.zeros((1, 5000, 3), np.uint8)], fl.IMAGENET),
            ValueError,
            ("images[0] (1x5000", "0x1333"),
        ),
        Bad(
            lambda: fl.resize_pad_batch([IMG], fl.IMAGENET, interpolation=["bilinear"]), ValueError, ("interpolation",)
        ),
        Bad(lambda: fl.resize_pad_batch([IMG], fl.IMAGENET, size_divisor=2**64), ValueError, ("size_divisor",)),
    ]
)


def test_cpp_op_rechecks_its_arguments():
    require_compiled("resize_pad_batch", "cpu")
    t = torch.from_numpy(IMG)
    args = ([t], [0], [20, 20], [10, 10], [0.0] * 3, [1.0] * 3, [0, 1, 2], [0.0] * 3)
    with pytest.raises(RuntimeError, match="fastload::resize_pad_batch: image 0 resized to 20x20 does not fit"):
        torch.ops.fastload.resize_pad_batch(*args, "bilinear", torch.float32, False)
    with pytest.raises(RuntimeError, match="fastload::resize_pad_batch: interpolation must be"):
        torch.ops.fastload.resize_pad_batch([t], [0], [5, 5], *args[3:], "area", torch.float32, False)
    with pytest.raises(RuntimeError, match="fastload::resize_pad_batch: flip mask 8 out of range"):
        torch.ops.fastload.resize_pad_batch([t], [8], [5, 5], *args[3:], "nearest", torch.float32, False)
    data = torch.zeros(10, dtype=torch.uint8)
    with pytest.raises(RuntimeError, match="fastload::resize_pad_batch_packed: image 0 .* runs past the end"):
        torch.ops.fastload.resize_pad_batch_packed(
            data,
            torch.tensor([0]),
            torch.tensor([[2, 2]]),
            3,
            [2, 2],
            [2, 2],
            *args[4:],
            "nearest",
            torch.float32,
            False,
        )


def test_scale_as_a_0d_tensor_or_numpy_scalar():
    want = fl.resize_pad_batch([IMG], fl.IMAGENET, scale=2.0).images
    for scale in (torch.tensor(2.0), np.float64(2.0), np.array(2.0)):
        assert torch.equal(fl.resize_pad_batch([IMG], fl.IMAGENET, scale=scale).images, want)


def test_compile_recompiles_for_new_image_sizes():
    def f(images):
        return fl.resize_pad_batch(images, fl.IMAGENET, scale=(40, 30), size_divisor=8).images

    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    for h, w in ((10, 12), (14, 9), (20, 33)):
        images = [torch.from_numpy(make_image(np.random.default_rng(h), (h, w, 3), "contiguous"))]
        assert torch.equal(compiled(images), f(images))
