"""fastload.adjust_color (torchvision v2's uint8 brightness / contrast / saturation / hue / grayscale / solarize and
RandAugment's sharpness / posterize / autocontrast / equalize / invert, per image in its own order) on every backend
against torchvision's functions and each other, in place and not."""

from __future__ import annotations

import harness
import numpy as np
import pytest
import torch
from conftest import backend, devices
from harness import Bad, OpTest, Sample

import fastload as fl

TF = pytest.importorskip("torchvision.transforms.v2.functional")
BACKENDS = ("auto", "reference", "cuda-emulation")


def draws(rng: np.random.Generator, n: int) -> dict:
    """Random per-image factors (some steps absent, some images skipping one), orders, grayscale and solarize."""
    kw = {}
    ranges = (("brightness", 0.0, 2.0), ("contrast", 0.0, 2.0), ("saturation", 0.0, 3.0), ("hue", -0.5, 0.5))
    for name, lo, hi in ranges:
        if rng.integers(4):
            kw[name] = [None if rng.integers(5) == 0 else float(rng.uniform(lo, hi)) for _ in range(n)]
    kw["order"] = [[int(v) for v in rng.permutation(4)] for _ in range(n)]
    if rng.integers(2):
        kw["grayscale"] = [bool(rng.integers(2)) for _ in range(n)]
    if rng.integers(2):
        kw["solarize"] = [None if rng.integers(3) == 0 else float(rng.integers(0, 256)) for _ in range(n)]
    if rng.integers(2):
        kw["sharpness"] = [None if rng.integers(3) == 0 else float(rng.uniform(0.0, 2.5)) for _ in range(n)]
    if rng.integers(2):
        kw["posterize"] = [None if rng.integers(3) == 0 else int(rng.integers(0, 9)) for _ in range(n)]
    if rng.integers(2):
        kw["invert"] = [bool(rng.integers(2)) for _ in range(n)]
    if rng.integers(2):
        kw["solarize_add"] = [None if rng.integers(3) == 0 else int(rng.integers(0, 256)) for _ in range(n)]
    for name in ("autocontrast", "equalize"):  # one reduction per image: these take the place of its contrast
        if rng.integers(2):
            kw[name] = [bool(rng.integers(2)) for _ in range(n)]
            for i in range(n):
                kw[name][i] &= not (kw.get("contrast") and kw["contrast"][i] is not None)
                kw[name][i] &= not (name == "equalize" and kw.get("autocontrast") and kw["autocontrast"][i])
    return kw


def samples(rng: np.random.Generator, layout: str, dtype) -> list[Sample]:
    x = harness.nchw_batch(rng, layout)
    kw = draws(rng, x.shape[0])
    order = str(rng.choice(["rgb", "bgr"]))
    out = [Sample((x,), {**kw, "input_order": order}, f"{layout} {tuple(x.shape)} {order}")]
    return out + [harness.with_out(s, fl.adjust_color) for s in out]


def torchvision_image(img: torch.Tensor, kw: dict, i: int) -> torch.Tensor:
    """Image i (RGB (C, H, W) uint8) through torchvision v2's functions with its factors and order."""
    fns = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    names = ("brightness", "contrast", "saturation", "hue")
    if kw.get("sharpness") and kw["sharpness"][i] is not None:
        img = TF.adjust_sharpness(img, kw["sharpness"][i])
    for k in kw["order"][i]:
        factor = kw.get(names[k])
        if factor is not None and factor[i] is not None:
            img = fns[k](img, factor[i])
    if kw.get("grayscale") and kw["grayscale"][i]:
        img = TF.rgb_to_grayscale(img, num_output_channels=img.shape[0])
    if kw.get("posterize") and kw["posterize"][i] is not None:
        img = TF.posterize(img, kw["posterize"][i])
    if kw.get("solarize") and kw["solarize"][i] is not None:
        img = TF.solarize(img, kw["solarize"][i])
    if kw.get("solarize_add") and kw["solarize_add"][i] is not None:  # timm's table (torchvision has none)
        img = torch.where(img < 128, (img.int() + kw["solarize_add"][i]).clamp(max=255).to(torch.uint8), img)
    for name, fn in (("autocontrast", TF.autocontrast), ("equalize", TF.equalize), ("invert", TF.invert)):
        if kw.get(name) and kw[name][i]:
            img = fn(img)
    return img


def oracle(sample: Sample, result) -> None:
    """torchvision v2 image by image: equal on the CPU (ATen fuses the same multiply-adds), within 1 level else."""
    (x,) = sample.args
    kw = sample.kwargs
    assert result.shape == x.shape and result.dtype == torch.uint8
    bgr = kw["input_order"] == "bgr" and x.shape[1] == 3
    for i in range(x.shape[0]):
        img = x[i].flip(0) if bgr else x[i]
        want = torchvision_image(img, kw, i)
        got = result[i].cpu().flip(0) if bgr else result[i].cpu()
        if result.device.type == "cpu":
            assert torch.equal(got, want), (sample.label, i)
        else:
            assert (got.int() - want.int()).abs().max() <= 1, (sample.label, i)


ADJUST_COLOR = OpTest(
    "adjust_color", fl.adjust_color, samples, oracle, raw_ops=("adjust_color", "adjust_color_into"), dtypes=(None,)
)

test_backends = harness.backend_test(ADJUST_COLOR)
test_property = harness.property_test(ADJUST_COLOR, max_examples=30)
test_opcheck = harness.opcheck_test(ADJUST_COLOR)
test_compile = harness.compile_test(ADJUST_COLOR)


def normalized_samples(rng: np.random.Generator, layout: str, dtype) -> list[Sample]:
    """adjust_color with norm: random draws, input order, norm (mean/std in pixel units, either model order) and
    output layout."""
    x = harness.nchw_batch(rng, layout)
    kw = draws(rng, x.shape[0])
    order, model = (str(v) for v in rng.choice(["rgb", "bgr"], 2))
    mean, std = rng.uniform(0, 255, x.shape[1]).tolist(), rng.uniform(0.5, 80, x.shape[1]).tolist()
    norm = fl.Normalization(mean, std, model if x.shape[1] == 3 else "rgb")
    last = bool(rng.integers(2))
    kw.update(input_order=order, norm=norm, dtype=dtype, channels_last=last)
    out = [Sample((x,), kw, f"{layout} {tuple(x.shape)} {order}->{norm.order} channels_last={last}")]
    return out + [harness.with_out(s, fl.adjust_color) for s in out]


def normalized_oracle(sample: Sample, result) -> None:
    """torchvision v2's adjusted bytes (oracle's), then `fl.normalize`: the same bits on the CPU; elsewhere within
    the 1 grey level the uint8 result may differ by."""
    (x,) = sample.args
    kw = sample.kwargs
    norm, dtype = kw["norm"], kw["dtype"]
    assert result.shape == x.shape and result.dtype == dtype
    last = kw["channels_last"]
    layout = torch.channels_last if last else torch.contiguous_format
    assert result.is_contiguous(memory_format=layout) or result.numel() == 0, sample.label
    bgr = kw["input_order"] == "bgr" and x.shape[1] == 3
    adjusted = [torchvision_image(x[i].flip(0) if bgr else x[i], kw, i) for i in range(x.shape[0])]
    adjusted = torch.stack(adjusted) if adjusted else torch.empty_like(x)
    want = fl.normalize(adjusted.permute(0, 2, 3, 1), norm, input_order="rgb", dtype=dtype, channels_last=last)
    if result.device.type == "cpu":
        harness.assert_same_bits(result, want, sample.label)
    else:
        level = max(1.0 / s for s in norm.std) * 1.01 + 0.01
        assert (result.cpu().float() - want.float()).abs().max() <= level, sample.label


ADJUST_COLOR_NORMALIZE = OpTest(
    "adjust_color_normalize",
    fl.adjust_color,
    normalized_samples,
    normalized_oracle,
    raw_ops=("adjust_color_normalize", "adjust_color_normalize_into"),
)

test_normalized_backends = harness.backend_test(ADJUST_COLOR_NORMALIZE)
test_normalized_property = harness.property_test(ADJUST_COLOR_NORMALIZE, max_examples=30)
test_normalized_opcheck = harness.opcheck_test(ADJUST_COLOR_NORMALIZE)
test_normalized_compile = harness.compile_test(ADJUST_COLOR_NORMALIZE)


def test_normalized_equals_adjust_then_normalize_on_every_backend():
    """adjust_color(norm=) is adjust_color then normalize, bit for bit, on each backend (sharpness included: the CUDA
    kernels then sharpen into a uint8 scratch batch first)."""
    rng = np.random.default_rng(11)
    x = harness.nchw_batch(rng, "odd", n=5, c=3)
    kw = dict(sharpness=[1.7, None, 0.3, 2.0, None], brightness=1.3, equalize=[True, False, True, False, True])
    kw.update(hue=[0.1, -0.2, None, 0.4, 0.0], order=[3, 1, 0, 2], input_order="bgr")
    for mode in BACKENDS:
        with backend(mode):
            for dtype, last in ((torch.float32, False), (torch.bfloat16, True), (torch.float16, False)):
                got = fl.adjust_color(x, **kw, norm=fl.IMAGENET, dtype=dtype, channels_last=last)
                plain = fl.adjust_color(x, **kw).permute(0, 2, 3, 1)
                want = fl.normalize(plain, fl.IMAGENET, input_order="bgr", dtype=dtype, channels_last=last)
                harness.assert_same_bits(got, want, f"{mode} {dtype}")


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "sliced", "odd"])
def test_in_place_equals_a_new_batch(device, layout):
    """out=images adjusts in place: the same bits as a new tensor, on every backend (contrast reads the image
    before writing it)."""
    rng = np.random.default_rng(harness.seed_of("in place", layout))
    x = harness.nchw_batch(rng, layout, n=3, c=3).to(device)
    kw = dict(brightness=0.7, contrast=[1.5, 0.2, 0.9], saturation=1.8, hue=0.2, order=[1, 3, 0, 2], solarize=200)
    _in_place_equals_a_new_batch(x, kw, device)


def _in_place_equals_a_new_batch(x: torch.Tensor, kw: dict, device: str) -> dict:
    """adjust_color(x, **kw) in place on every backend of `device` equals its new batch bit for bit; returns each
    backend's result."""
    results = {}
    for mode in BACKENDS if device == "cpu" else ("auto", "reference"):
        with backend(mode):
            want = fl.adjust_color(x, **kw)
            y = x.clone(memory_format=torch.preserve_format)
            assert fl.adjust_color(y, **kw, out=y) is y
        harness.assert_same_bits(y, want, mode)
        results[mode] = y
    return results


def test_a_photo_equals_torchvision_step_by_step():
    """A real photo at 224 px, every step alone and all of them in ColorJitter's random orders."""
    data = pytest.importorskip("skimage.data")
    img = torch.from_numpy(np.ascontiguousarray(data.astronaut()[::2, ::2])).permute(2, 0, 1)[None]
    single = [
        dict(brightness=1.37),
        dict(contrast=0.61),
        dict(saturation=1.9),
        dict(hue=-0.31),
        dict(grayscale=True),
        dict(solarize=128.0),
        dict(sharpness=0.3),
        dict(sharpness=1.9, brightness=1.2, posterize=5, solarize=200.0, equalize=True, invert=True),
        dict(posterize=3),
        dict(autocontrast=True),
        dict(equalize=True),
        dict(invert=True),
    ]
    for kw in single + [
        dict(brightness=0.8, contrast=1.3, saturation=0.7, hue=0.05, order=list(o))
        for o in (range(4), (3, 2, 1, 0), (1, 0, 3, 2))
    ]:
        got = fl.adjust_color(img, **kw)
        per_image = {k: ([v] if k != "order" else [v]) for k, v in kw.items()}
        per_image.setdefault("order", [[0, 1, 2, 3]])
        assert torch.equal(got[0], torchvision_image(img[0], per_image, 0)), kw


X = torch.zeros(2, 3, 4, 5, dtype=torch.uint8)
BASE = torch.zeros(3, 3, 4, 5, dtype=torch.uint8)
EXPANDED = torch.zeros(1, 3, 4, 5, dtype=torch.uint8).expand(2, 3, 4, 5)

test_bad_input = harness.bad_input_test(
    [
        Bad(lambda: fl.adjust_color(np.zeros((2, 3, 4, 5), np.uint8)), TypeError, ("images",)),
        Bad(lambda: fl.adjust_color(X.float()), TypeError, ("images", "uint8")),
        Bad(lambda: fl.adjust_color(X[0]), ValueError, ("images", "(N, C, H, W)")),
        Bad(lambda: fl.adjust_color(torch.zeros(2, 2, 4, 5, dtype=torch.uint8)), ValueError, ("images", "C = 1 or 3")),
        Bad(lambda: fl.adjust_color(X, brightness=-0.1), ValueError, ("brightness", "non-negative")),
        Bad(lambda: fl.adjust_color(X, contrast=float("nan")), ValueError, ("contrast", "finite")),
        Bad(lambda: fl.adjust_color(X, hue=0.6), ValueError, ("hue", "[-0.5, 0.5]")),
        Bad(lambda: fl.adjust_color(X, solarize=256), ValueError, ("solarize", "255")),
        Bad(lambda: fl.adjust_color(X, saturation=[1.0]), ValueError, ("saturation", "per image")),
        Bad(lambda: fl.adjust_color(X, saturation="1"), TypeError, ("saturation", "numbers")),
        Bad(lambda: fl.adjust_color(X, grayscale=1), TypeError, ("grayscale", "bools")),
        Bad(lambda: fl.adjust_color(X, brightness=True), TypeError, ("brightness", "numbers")),
        Bad(lambda: fl.adjust_color(X, order=[0, 1, 2, 2]), ValueError, ("order", "permutation")),
        Bad(lambda: fl.adjust_color(X, input_order="rbg"), ValueError, ("input_order",)),
        Bad(lambda: fl.adjust_color(X, out=np.zeros(3)), TypeError, ("out",)),
        Bad(lambda: fl.adjust_color(X, out=torch.zeros(2, 3, 4, 4, dtype=torch.uint8)), ValueError, ("out", "shape")),
        Bad(lambda: fl.adjust_color(BASE[:2], brightness=2.0, out=BASE[1:]), ValueError, ("out", "shares memory")),
        Bad(lambda: fl.adjust_color(EXPANDED, brightness=2.0, out=EXPANDED), ValueError, ("images", "expanded")),
        Bad(lambda: fl.adjust_color(X, sharpness=-1.0), ValueError, ("sharpness", "non-negative")),
        Bad(lambda: fl.adjust_color(X, posterize=9), ValueError, ("posterize", "[0, 8]")),
        Bad(lambda: fl.adjust_color(X, posterize=2.5), ValueError, ("posterize", "integer")),
        Bad(lambda: fl.adjust_color(X, equalize=1), TypeError, ("equalize", "bools")),
        Bad(lambda: fl.adjust_color(X, solarize_add=256), ValueError, ("solarize_add", "[0, 255]")),
        Bad(lambda: fl.adjust_color(X, contrast=0.5, equalize=True), ValueError, ("contrast", "equalize", "image 0")),
        Bad(lambda: fl.adjust_color(X, sharpness=2.0, out=X), ValueError, ("sharpness", "out")),
        Bad(lambda: fl.adjust_color(X, dtype=torch.float16), ValueError, ("dtype", "norm")),
        Bad(lambda: fl.adjust_color(X, norm=(1, 2)), TypeError, ("norm",)),
        Bad(lambda: fl.adjust_color(X[:, :1], norm=fl.IMAGENET), ValueError, ("images", "channel")),
        Bad(lambda: fl.adjust_color(X, norm=fl.IMAGENET, dtype=torch.int32), ValueError, ("dtype", "float32")),
        Bad(lambda: fl.adjust_color(X, norm=fl.IMAGENET, out=torch.zeros(2, 3, 4, 5)[..., :4]), ValueError, ("out",)),
        Bad(lambda: fl.adjust_color(X, norm=fl.IMAGENET, out=X), ValueError, ("out", "float32")),
        Bad(
            lambda: fl.adjust_color(X, norm=fl.IMAGENET, out=torch.zeros(2, 3, 5, 4).transpose(2, 3)),
            ValueError,
            ("out", "strides"),
        ),
    ]
)


@pytest.mark.parametrize("device", devices())
def test_in_place_leaves_images_without_steps_as_they_are(device):
    """An image with no step is skipped in place (not read and rewritten) and equal to a new batch's copy of it."""
    x = harness.nchw_batch(np.random.default_rng(7), "channels_last", n=3, c=3).to(device)
    for mode in BACKENDS if device == "cpu" else ("auto", "reference"):
        with backend(mode):
            want = fl.adjust_color(x, brightness=[None, 1.5, None], solarize=[None, None, 99.0])
            y = x.clone(memory_format=torch.preserve_format)
            fl.adjust_color(y, brightness=[None, 1.5, None], solarize=[None, None, 99.0], out=y)
        harness.assert_same_bits(y, want, mode)
        assert torch.equal(y[0], x[0]) and not torch.equal(y[1], x[1]) and not torch.equal(y[2], x[2])


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "odd"])
def test_value_steps_in_place_equal_a_new_batch(device, layout):
    """posterize, autocontrast, equalize and invert in place (their statistics read before the image is written)
    give the bits of a new batch on every backend; a step's statistics are of the image after the steps before it."""
    rng = np.random.default_rng(harness.seed_of("value steps in place", layout))
    x = harness.nchw_batch(rng, layout, n=4, c=3).to(device)
    kw = dict(brightness=[1.6, None, 0.5, None], posterize=[None, 3, None, 6], invert=[True, False, True, False])
    kw.update(autocontrast=[True, False, False, True], equalize=[False, True, True, False])
    for mode, y in _in_place_equals_a_new_batch(x, kw, device).items():
        for i in range(4):
            per_image = {k: [v[i]] for k, v in kw.items()}
            oracle_image = torchvision_image(x[i].cpu(), {**per_image, "order": [[0, 1, 2, 3]]}, 0)
            assert (y[i].cpu().int() - oracle_image.int()).abs().max() <= (0 if device == "cpu" else 1), (mode, i)


def test_sharpness_in_place_is_refused_by_the_op():
    """The raw op refuses out=images with a sharpness step (a pixel's neighbours would be read after being
    written), naming it."""
    x = torch.zeros(1, 3, 4, 5, dtype=torch.uint8)
    steps = torch.tensor([[6] + [-1] * 11])
    factors = torch.zeros(1, 12, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="sharpness"):
        torch.ops.fastload.adjust_color_into(x, steps, factors, [0, 1, 2], x)
    with pytest.raises(RuntimeError, match="first step"):
        torch.ops.fastload.adjust_color(x, torch.tensor([[0, 6] + [-1] * 10]), factors, [0, 1, 2])
    # Empty batches share a null data pointer without being one tensor: out= another one is not in place.
    empty, buffer = torch.zeros(1, 3, 4, 0, dtype=torch.uint8), torch.zeros(1, 3, 4, 0, dtype=torch.uint8)
    assert fl.adjust_color(empty, sharpness=0.4, out=buffer) is buffer
