"""fl.TimmRandAugment (timm's "rand-m9-mstd0.5" grammar): parsed as timm parses it, drawn with timm's RNG calls
(the operations and arguments timm's RandAugment picks under the same seeds, checked against timm where installed),
applied with `augment`, and taken by CropCollate as a string."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from images import smooth_images

import fastload as fl
from fastload.timm_augment import TIMM_OPS, parse_timm_config


def test_the_grammar_parses_as_timms():
    assert parse_timm_config("rand-m9-mstd0.5") == dict(
        magnitude=9, num_layers=2, prob=0.5, magnitude_std=0.5, magnitude_max=None
    )
    o = parse_timm_config("rand-n3-m7-p1.0-mstd101-mmax8-inc0")
    assert (o["num_layers"], o["magnitude"], o["prob"], o["magnitude_std"], o["magnitude_max"]) == (
        3,
        7,
        1.0,
        float("inf"),
        8,
    )
    assert parse_timm_config("rand")["magnitude"] == 10.0


@pytest.mark.parametrize(
    "config, error, words",
    [
        (9, TypeError, ("auto_augment", "str")),
        ("augmix-m5", ValueError, ("rand-",)),
        ("rand-m9-inc1", ValueError, ("'inc1'",)),
        ("rand-m9-tweights", ValueError, ("'tweights'",)),
        ("rand-q3", ValueError, ("'q3'",)),
        ("rand-mx", ValueError, ("'mx'",)),
        ("rand-p1.5", ValueError, ("p in [0, 1]",)),
    ],
)
def test_bad_configs_name_the_section(config, error, words):
    with pytest.raises(error) as info:
        fl.TimmRandAugment(config)
    assert all(w in str(info.value) for w in words), str(info.value)


def _timm_log(transform, size: int, count: int) -> list[list[tuple[str, tuple]]]:
    """timm's RandAugment on `count` images: per image, the (name, level arguments) of the operations it applied
    (its operations replaced by a recorder; the draws are its own)."""
    from PIL import Image

    log: list = []
    for op in transform.ops:
        op.aug_fn = lambda img, *args, _name=op.name, **kw: log[-1].append((_name, args)) or img
    img = Image.new("RGB", (size, size))
    for _ in range(count):
        log.append([])
        transform(img)
    return log


def _as_augment(name: str, args: tuple, size: int) -> tuple[str, float] | None:
    """timm's operation and arguments as augment's operation and magnitude (None: it leaves the image)."""
    if name in ("AutoContrast", "Equalize", "Invert"):
        return name, 0.0
    (v,) = args
    if name == "Solarize":
        return None if v >= 256 else ("Solarize", v / 255.0)
    if name in ("Color", "Contrast", "Brightness", "Sharpness"):
        return name, v - 1.0
    if name in ("TranslateXRel", "TranslateYRel"):
        return name[:-3], -v * size
    return name, float(v)


@pytest.mark.parametrize("config", ["rand-m9-mstd0.5", "rand-m7-n3-p0.7", "rand-m10-mstd101", "rand-m5-mstd1-mmax6"])
def test_draws_equal_timms(config):
    """The same NumPy and Python seeds: timm's RandAugment applies the operations we draw, with the same arguments,
    and both generators end in the same state."""
    aa = pytest.importorskip("timm.data.auto_augment")
    size, count = 224, 200
    hparams = dict(translate_const=int(size * 0.45), img_mean=(124, 116, 104))
    np.random.seed(5), random.seed(5)
    theirs = _timm_log(aa.rand_augment_transform(config, hparams), size, count)
    state = (np.random.get_state()[1].copy(), random.getstate())
    np.random.seed(5), random.seed(5)
    draw = fl.TimmRandAugment(config).draw(count, size, size)
    assert np.array_equal(np.random.get_state()[1], state[0]) and random.getstate() == state[1]
    for i in range(count):
        ours = [(op, m) for op, m in zip(draw.ops[i], draw.magnitudes[i]) if op != "Identity"]
        want = [p for p in (_as_augment(name, args, size) for name, args in theirs[i]) if p is not None]
        assert [op for op, _ in ours] == [op for op, _ in want], i
        assert [m for _, m in ours] == pytest.approx([m for _, m in want], rel=1e-12, abs=1e-12), i
    assert {op for row in draw.ops for op in row} >= {"Rotate", "SolarizeAdd", "TranslateX", "Identity"}


def test_every_operation_is_drawn_and_applied():
    """Without timm: over many images every one of timm's 15 operations appears (as augment's names), magnitudes
    stay in timm's ranges, and applying the draw equals `augment` with it."""
    np.random.seed(0), random.seed(0)
    policy = fl.TimmRandAugment("rand-m9-mstd0.5")
    draw = policy.draw(400, 32, 32)
    names = {op for row in draw.ops for op in row}
    assert names >= {"AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "SolarizeAdd"}
    assert names >= {"Color", "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateX", "TranslateY"}
    assert len(TIMM_OPS) == 15
    for row, mags in zip(draw.ops, draw.magnitudes):
        for op, m in zip(row, mags):
            if op == "Rotate":
                assert abs(m) <= 30.0
            if op in ("Brightness", "Color", "Contrast", "Sharpness"):
                assert -0.9 - 1e-9 <= m <= 0.9 + 1e-9
            if op == "Posterize":
                assert m in (0.0, 1.0, 2.0, 3.0, 4.0)
    images = torch.from_numpy(np.stack([img[:32, :32] for img in smooth_images(6, 2)])).permute(0, 3, 1, 2)
    np.random.seed(1), random.seed(1)
    got = policy(images)
    np.random.seed(1), random.seed(1)
    d = policy.draw(6, 32, 32)
    assert torch.equal(got, fl.augment(images, d.ops, d.magnitudes, interpolation="bilinear", fill=(124, 116, 104)))


def test_crop_collate_takes_timms_grammar():
    imgs = smooth_images(8, 4)
    samples = [{"image": img, "label": i} for i, img in enumerate(imgs)]
    torch.manual_seed(2), np.random.seed(2), random.seed(2)
    batch = fl.CropCollate(32, fl.IMAGENET, input_order="rgb", auto_augment="rand-m9-mstd0.5")(samples)
    pairs = batch["augment"]
    assert len(pairs) == 8 and all(len(p) == 2 for p in pairs)
    crops = fl.resized_crop_batch(imgs, batch["crop_box"], 32, flips=batch["flip"], input_order="rgb")
    ops, mags = [[op for op, _ in p] for p in pairs], [[m for _, m in p] for p in pairs]
    x = fl.augment(crops.permute(0, 3, 1, 2), ops, mags, interpolation="bilinear", fill=(124, 116, 104))
    assert torch.equal(batch["image"], fl.normalize(x.permute(0, 2, 3, 1), fl.IMAGENET, input_order="rgb"))


def test_the_fill_is_the_models_mean_in_the_images_order():
    """A string takes create_transform's fill: norm's mean as bytes (RGB), ImageNet's without norm; a policy's RGB
    fill is reversed on BGR images, so BGR images give the RGB result with its channels reversed."""
    clip = fl.Normalization.from_unit((0.4815, 0.4578, 0.4082), (0.2686, 0.2613, 0.2758))
    assert fl.CropCollate(32, clip, auto_augment="rand-m9").auto_augment.fill == (123, 117, 104)
    assert fl.CropCollate(32, clip.with_order("bgr"), auto_augment="rand-m9").auto_augment.fill == (123, 117, 104)
    assert fl.CropCollate(32, auto_augment="rand-m9").auto_augment.fill == (124, 116, 104)
    images = torch.from_numpy(np.stack([img[:32, :32] for img in smooth_images(6, 5)])).permute(0, 3, 1, 2)
    policy = fl.TimmRandAugment("rand-m10-p1.0", fill=(250, 10, 120))
    np.random.seed(4), random.seed(4)
    draw = policy.draw(6, 32, 32)
    assert any(op in ("Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY") for row in draw.ops for op in row)
    rgb = draw.apply(images, "rgb")
    bgr = draw.apply(images.flip(1), "bgr")
    assert torch.equal(bgr.flip(1), rgb)


def test_the_collate_draws_what_the_per_image_pipeline_draws():
    # timm's draws come from NumPy's and Python's generators, so the collate draws every box and flip first (torch's
    # generator, compiled) and then the policy's draws: each stream must still give what the per-image pipeline
    # (box, flip, then the policy's draws, image after image) gives it.
    from fastload.functional import _geometry as G

    imgs = smooth_images(9, 6)
    collate = fl.CropCollate(32, fl.IMAGENET, input_order="rgb", auto_augment="rand-m9-n3-mstd0.5-p0.7")
    torch.manual_seed(4), np.random.seed(4), random.seed(4)
    batch = collate([{"image": img, "label": i} for i, img in enumerate(imgs)])
    after = (torch.rand(1), np.random.rand(), random.random())
    torch.manual_seed(4), np.random.seed(4), random.seed(4)
    draws = []
    sizes = [img.shape[:2] for img in imgs]
    policy = collate.auto_augment
    boxes, flips = G.draw_crops(
        sizes, collate.scale, collate.ratio, 0.5, after_each=lambda: draws.append(policy.draw(1, 32, 32))
    )
    assert (torch.rand(1), np.random.rand(), random.random()) == after
    assert batch["crop_box"] == [tuple(b) for b in boxes] and batch["flip"] == flips
    assert batch["augment"] == [list(zip(d.ops[0], d.magnitudes[0])) for d in draws]
