"""fl.augment, fl.RandAugment and fl.TrivialAugmentWide against torchvision v2: every operation at many magnitudes
on photos, noise, flat and one-channel images, odd sizes and strided batches (bit for bit); the policies draw for
draw (the same torch RNG calls, the same state after) with the same images; bad input."""

from __future__ import annotations

import harness
import numpy as np
import pytest
import torch
from conftest import devices
from harness import OpTest, Sample
from images import files_with_a_bad_one, smooth_images

import fastload as fl
from fastload.photos import bundled_photos

T = pytest.importorskip("torchvision.transforms.v2")

MAGNITUDES = {
    "ShearX": [0.09, -0.3, 0.99],
    "ShearY": [0.09, -0.3, 0.99],
    "TranslateX": [13.0, -30.6, 0.4, 200.0],
    "TranslateY": [13.0, -30.6, 0.4],
    "Rotate": [9.0, -30.0, 90.0, -90.0, 180.0, 135.0, 0.0],
    "Brightness": [0.27, -0.9, -1.0],
    "Color": [0.27, -0.9, 0.99],
    "Contrast": [0.27, -0.9, 0.99],
    "Sharpness": [0.27, -0.9, 0.99],
    "Posterize": [8.0, 5.0, 1.0, 0.0],
    "Solarize": [1.0, 0.7, 0.0, 0.5],
    "SolarizeAdd": [0.0, 37.0, 110.0, 255.0],
}


def _torchvision(image: torch.Tensor, op: str, magnitude: float, interpolation="nearest", fill=None) -> torch.Tensor:
    """torchvision v2's operation on one (C, H, W) uint8 image, as its policies apply it (timm's SolarizeAdd, which
    torchvision lacks: its table, values under 128 raised and capped at 255)."""
    if op == "SolarizeAdd":
        return torch.where(image < 128, (image.int() + int(magnitude)).clamp(max=255).to(torch.uint8), image)
    policy = T.RandAugment(interpolation=T.InterpolationMode(interpolation), fill=fill)
    return policy._apply_image_or_video_transform(image, op, magnitude, policy.interpolation, policy._fill)


def _images(rng, n: int, c: int, h: int, w: int) -> torch.Tensor:
    """Noise, a flat image, a two-level image and (at 3 channels) crops of the bundled photos."""
    x = torch.from_numpy(rng.integers(0, 256, (n, c, h, w), dtype=np.uint8))
    x[0] = 77  # flat: autocontrast and equalize keep it
    if n > 1:
        x[1] = x[1] // 128 * 255
    photos = bundled_photos()
    for i in range(2, n):
        p = photos[i % len(photos)]
        if c == 3 and p.shape[0] >= h and p.shape[1] >= w:
            x[i] = torch.from_numpy(np.ascontiguousarray(p[:h, :w, ::-1])).permute(2, 0, 1)
    return x


@pytest.mark.parametrize("c, h, w", [(3, 37, 53), (1, 24, 24), (3, 2, 9), (3, 64, 48)])
@pytest.mark.parametrize("op", fl.AUGMENT_OPS)
def test_each_operation_is_torchvisions(op, c, h, w, rng):
    images = _images(rng, 4, c, h, w)
    for m in MAGNITUDES.get(op, [0.0]):
        got = fl.augment(images, [[op]] * 4, [[m]] * 4)
        for i in range(4):
            want = _torchvision(images[i], op, m)
            assert torch.equal(got[i], want), (op, m, i)


@pytest.mark.parametrize("interpolation, fill", [("bilinear", None), ("nearest", [10, 200, 30]), ("bilinear", 128)])
@pytest.mark.parametrize("op", fl.functional.AUGMENT_GEOMETRIC)
def test_geometry_with_bilinear_and_fill(op, interpolation, fill, rng):
    images = _images(rng, 3, 3, 40, 33)
    for m in MAGNITUDES[op]:
        got = fl.augment(images, [[op]] * 3, [[m]] * 3, interpolation=interpolation, fill=fill)
        for i in range(3):
            assert torch.equal(got[i], _torchvision(images[i], op, m, interpolation, fill)), (op, m, i)


def test_mixed_operations_per_image_strided_and_bgr(rng):
    n, steps = 12, 3
    names = list(fl.AUGMENT_OPS)
    ops = [[names[int(rng.integers(len(names)))] for _ in range(steps)] for _ in range(n)]
    mags = [[float(rng.choice(MAGNITUDES.get(op, [0.0]))) for op in row] for row in ops]
    wide = torch.from_numpy(rng.integers(0, 256, (n, 3, 30, 50), dtype=np.uint8))
    images = wide[:, :, :, 3:44].transpose(2, 3).contiguous().transpose(2, 3)  # strided, H and W swapped in memory
    before = images.clone()
    got = fl.augment(images, ops, mags, input_order="bgr")
    assert torch.equal(images, before)  # the caller's batch is not modified
    for i in range(n):
        want = images[i].flip(0)  # torchvision's colour weights are RGB's: give it RGB
        for op, m in zip(ops[i], mags[i]):
            want = _torchvision(want, op, m)
        assert torch.equal(got[i], want.flip(0)), (ops[i], mags[i])


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: fl.RandAugment(), lambda: T.RandAugment()),
        (lambda: fl.RandAugment(3, 17, 21, fill=[1, 2, 3]), lambda: T.RandAugment(3, 17, 21, fill=[1, 2, 3])),
        (lambda: fl.TrivialAugmentWide(), lambda: T.TrivialAugmentWide()),
        (
            lambda: fl.TrivialAugmentWide(11, interpolation="bilinear", fill=90),
            lambda: T.TrivialAugmentWide(11, interpolation=T.InterpolationMode.BILINEAR, fill=90),
        ),
    ],
)
def test_policies_draw_and_apply_as_torchvision(ours, theirs, rng):
    images = _images(rng, 24, 3, 48, 40)
    torch.manual_seed(11)
    got = ours()(images)
    after = torch.rand(3)
    torch.manual_seed(11)
    policy = theirs()
    want = torch.stack([policy(img) for img in images])
    assert torch.equal(got, want)
    assert torch.equal(after, torch.rand(3))  # the same RNG calls: the same state after


def test_draw_with_a_generator_leaves_the_global_rng():
    state = torch.get_rng_state()
    a = fl.RandAugment().draw(8, 32, 32, generator=torch.Generator().manual_seed(3))
    b = fl.RandAugment().draw(8, 32, 32, generator=torch.Generator().manual_seed(3))
    assert a == b and len(a.ops) == 8 and all(len(r) == 2 for r in a.ops)
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("device", devices())
def test_on_every_device(device, rng):
    images = _images(rng, 6, 3, 20, 28)
    ops = [["Rotate", "Equalize"], ["ShearX", "Brightness"], ["Sharpness", "Posterize"]] * 2
    mags = [[9.0, 0.0], [0.2, 0.5], [0.4, 4.0]] * 2
    want = fl.augment(images, ops, mags)
    assert torch.equal(fl.augment(images.to(device), ops, mags).cpu(), want)


def samples(rng: np.random.Generator, layout: str, dtype) -> list[Sample]:
    """0-3 random operations per image at magnitudes torchvision's spaces hold, either interpolation, a fill or
    none, either channel order."""
    x = harness.nchw_batch(rng, layout)
    n, c = x.shape[:2]
    stages, names = int(rng.integers(0, 4)), list(fl.AUGMENT_OPS)
    ops = [[names[int(rng.integers(len(names)))] for _ in range(stages)] for _ in range(n)]
    mags = [[float(rng.choice(MAGNITUDES.get(op, [0.0]))) for op in row] for row in ops]
    fill = [None, float(rng.integers(0, 256)), [float(v) for v in rng.integers(0, 256, c)]][int(rng.integers(3))]
    order = str(rng.choice(["rgb", "bgr"]))
    kw = dict(interpolation=str(rng.choice(["nearest", "bilinear"])), fill=fill, input_order=order)
    return [Sample((x, ops, mags), kw, f"{layout} {tuple(x.shape)} {ops} {mags} {kw}")]


def oracle(sample: Sample, result) -> None:
    """torchvision v2's functions image by image: bit for bit on the CPU (within 1 level elsewhere)."""
    x, ops, mags = sample.args
    kw = sample.kwargs
    assert result.shape == x.shape and result.dtype == torch.uint8 and result.is_contiguous()
    bgr = kw["input_order"] == "bgr" and x.shape[1] == 3
    fill = kw["fill"]
    if isinstance(fill, list) and bgr:
        fill = fill[::-1]
    for i in range(x.shape[0]):
        want = x[i].flip(0) if bgr else x[i]
        for op, m in zip(ops[i], mags[i]):
            want = _torchvision(want, op, m, kw["interpolation"], fill)
        got = result[i].cpu().flip(0) if bgr else result[i].cpu()
        if result.device.type == "cpu":
            assert torch.equal(got, want), (sample.label, i)
        else:
            assert (got.int() - want.int()).abs().max() <= 1, (sample.label, i)


AUGMENT = OpTest(
    "augment", fl.augment, samples, oracle, raw_ops=("augment",), dtypes=(None,),
    layouts=tuple(x for x in harness.LAYOUTS if x != "empty"),
)  # fmt: skip

test_backends = harness.backend_test(AUGMENT)
test_property = harness.property_test(AUGMENT, max_examples=30)
test_opcheck = harness.opcheck_test(AUGMENT)
test_compile = harness.compile_test(AUGMENT)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda x: fl.augment(x.float(), [["Identity"]] * 2, [[0.0]] * 2), TypeError, "uint8"),
        (lambda x: fl.augment(x[:, :2], [["Identity"]] * 2, [[0.0]] * 2), ValueError, "C = 1 or 3"),
        (lambda x: fl.augment(x, [["Identity"]], [[0.0]]), ValueError, "ops must be one sequence"),
        (lambda x: fl.augment(x, [["Blur"]] * 2, [[0.0]] * 2), ValueError, "ops\\[0\\]"),
        (lambda x: fl.augment(x, [["Rotate"]] * 2, [[float("nan")]] * 2), ValueError, "magnitudes\\[0\\]"),
        (lambda x: fl.augment(x, [["Rotate"], []], [[1.0], []]), ValueError, "same length"),
        (lambda x: fl.augment(x, [["Posterize"]] * 2, [[9.0]] * 2), ValueError, "bits"),
        (lambda x: fl.augment(x, [["Solarize"]] * 2, [[1.5]] * 2), ValueError, "at most 255"),
        (lambda x: fl.augment(x, [["Contrast"]] * 2, [[-1.5]] * 2), ValueError, "non-negative"),
        (lambda x: fl.augment(x, [["Rotate"]] * 2, [[1.0]] * 2, fill=[1, 2]), ValueError, "fill"),
        (lambda x: fl.augment(x, [["Rotate"]] * 2, [[1.0]] * 2, interpolation="bicubic"), ValueError, "interpolation"),
        (lambda x: fl.RandAugment(magnitude=31), ValueError, "magnitude"),
        (lambda x: fl.RandAugment(num_ops=-1), ValueError, "num_ops"),
        (lambda x: fl.TrivialAugmentWide(fill=300), ValueError, "fill"),
        (lambda x: fl.TrivialAugmentWide(interpolation="area"), ValueError, "interpolation"),
    ],
)
def test_bad_input_names_the_parameter(call, error, words):
    with pytest.raises(error, match=words):
        call(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))


POLICIES = [
    (lambda: fl.RandAugment(), lambda: T.RandAugment()),
    (lambda: fl.TrivialAugmentWide(fill=[124, 116, 104]), lambda: T.TrivialAugmentWide(fill=[124, 116, 104])),
]


@pytest.mark.parametrize("ours, theirs", POLICIES)
def test_crop_collate_draws_as_torchvisions_pipeline_and_applies_augment(ours, theirs):
    imgs = smooth_images(12, 1)
    samples = [{"image": img, "label": i} for i, img in enumerate(imgs)]
    torch.manual_seed(4)
    batch = fl.CropCollate(32, fl.IMAGENET, input_order="rgb", auto_augment=ours())(samples)
    after_ours = torch.rand(1)
    # The batch: crop to uint8, then augment with the drawn operations, then normalize, bit for bit.
    pairs = batch["augment"]
    crops = fl.resized_crop_batch(imgs, batch["crop_box"], 32, flips=batch["flip"], input_order="rgb")
    ops, mags = [[op for op, _ in p] for p in pairs], [[m for _, m in p] for p in pairs]
    policy = ours()
    x = fl.augment(crops.permute(0, 3, 1, 2), ops, mags, interpolation=policy.interpolation, fill=policy.fill)
    assert torch.equal(batch["image"], fl.normalize(x.permute(0, 2, 3, 1), fl.IMAGENET, input_order="rgb"))
    # The draws: torchvision's pipeline under the same seed draws the same boxes, flips, operations and magnitudes
    # (recorded through its own per-operation hook), and as many numbers.
    pipeline = T.Compose([T.RandomResizedCrop(32, antialias=True), T.RandomHorizontalFlip(), theirs()])
    seen = []
    augmenter = pipeline.transforms[2]
    apply = augmenter._apply_image_or_video_transform
    augmenter._apply_image_or_video_transform = lambda img, op, m, **kw: seen.append((op, m)) or apply(img, op, m, **kw)
    torch.manual_seed(4)
    want = torch.stack([pipeline(torch.from_numpy(img).permute(2, 0, 1)) for img in imgs])
    assert torch.equal(torch.rand(1), after_ours)
    assert [p for row in pairs for p in row] == seen
    # The pixels: within the crop's resampling difference (ops such as equalize can widen it on a few values).
    diff = (x.int() - want.int()).abs().float()
    assert diff.mean() < 2.0, diff.mean()


def test_shipped_and_file_batches_carry_their_draws(tmp_path):
    imgs = smooth_images(4, 3)
    files = files_with_a_bad_one(tmp_path, imgs)
    collate = fl.CropCollate(24, fl.IMAGENET, on_error="skip", auto_augment=fl.TrivialAugmentWide())
    torch.manual_seed(3)
    with pytest.warns(RuntimeWarning, match="bad.png"):
        batch = collate([{"image": f, "label": i} for i, f in enumerate(files)])
    assert batch["label"].tolist() == [0, 1, 3, 4] and len(batch["augment"]) == 4
    arrays = [{"image": img, "label": i} for i, img in enumerate(imgs)]
    torch.manual_seed(3)
    want = fl.CropCollate(24, fl.IMAGENET, input_order="rgb", auto_augment=fl.TrivialAugmentWide())(arrays)
    assert batch["augment"] == want["augment"] and batch["crop_box"] == want["crop_box"]
    assert torch.equal(batch["image"], want["image"])
    # Without norm the draws travel in the CropBatch; the prefetcher finishes it to the worker's batch.
    torch.manual_seed(3)
    shipped = fl.CropCollate(24, input_order="rgb", auto_augment=fl.TrivialAugmentWide())([(a, 0) for a in imgs])
    assert shipped[0].augment is not None
    got, _ = next(iter(fl.DevicePrefetcher([shipped], "cpu", fl.IMAGENET, input_order="rgb")))
    assert torch.equal(got, want["image"])
    out = torch.empty(4, 24, 24, 3, dtype=torch.uint8)
    raw = shipped[0].finish(None, input_order="rgb", out=out)
    assert raw is out and torch.equal(fl.normalize(out, fl.IMAGENET, input_order="rgb"), want["image"])


def test_crop_collate_refuses_what_auto_augment_cannot_do():
    with pytest.raises(TypeError, match="auto_augment"):
        fl.CropCollate(32, auto_augment=7)
    with pytest.raises(ValueError, match="auto_augment.*'tweights'"):
        fl.CropCollate(32, auto_augment="rand-m9-tweights")
    with pytest.raises(ValueError, match="train"):
        fl.CropCollate(32, train=False, auto_augment=fl.RandAugment())
    with pytest.raises(ValueError, match="colour"):
        fl.CropCollate(32, color_jitter=(0.4, 0.4, 0.4, 0.0), auto_augment=fl.RandAugment())
