"""resized_crop_batch(..., color=) (fastload::resized_crop_color: each uint8 crop through adjust_color's steps and
normalized in one pass) on every backend: bit for bit "crop to uint8, then adjust_color(norm=)", which the crop and
colour tests hold to torchvision; and the colour collate taking that one pass."""

from __future__ import annotations

import functools

import harness
import numpy as np
import pytest
import torch
from conftest import backend
from harness import Bad, OpTest, Sample
from test_adjust_color import draws
from test_resized_crop_batch import samples as crop_samples

import fastload as fl
from fastload.data import color as color_module


def color_draws(rng: np.random.Generator, n: int) -> dict:
    """test_adjust_color's random per-image steps, without the ones the fused crop refuses."""
    return {k: v for k, v in draws(rng, n).items() if k not in ("sharpness", "autocontrast", "equalize")}


def two_passes(images, boxes, size, norm, color: dict, **kw) -> torch.Tensor:
    """The uint8 crops (resized_crop_batch without norm), then adjust_color(norm=): what color= fuses."""
    dtype, last = kw.pop("dtype"), kw.pop("channels_last")
    crops = fl.resized_crop_batch(images, boxes, size, None, **kw)
    order = kw["input_order"]
    return fl.adjust_color(
        crops.permute(0, 3, 1, 2), **color, input_order=order, norm=norm, dtype=dtype, channels_last=last
    )


def oracle(sample: Sample, result) -> None:
    """The two passes on the reference backend, bit for bit (values, dtype and layout)."""
    images, boxes, size, norm = sample.args
    kw = {k: v for k, v in sample.kwargs.items() if k not in ("color", "out")}
    if isinstance(images, fl.PackedImages):
        images = images.unpack()
    with backend("reference"):
        want = two_passes(images, boxes, size, norm, sample.kwargs["color"], **kw)
    assert result.shape == want.shape and result.dtype == want.dtype, sample.label
    if kw["channels_last"]:
        assert result.is_contiguous(memory_format=torch.channels_last) or result.shape[1] == 1, sample.label
    harness.assert_same_bits(result.cpu(), want, sample.label)


CROP_COLOR = OpTest(
    "resized_crop_color",
    fl.resized_crop_batch,
    functools.partial(crop_samples, color=color_draws),
    oracle,
    raw_ops=("resized_crop_color", "resized_crop_color_into"),
    layouts=tuple(x for x in harness.LAYOUTS if x != "empty"),
)

test_backends = harness.backend_test(CROP_COLOR)
test_property = harness.property_test(CROP_COLOR, max_examples=30)
test_opcheck = harness.opcheck_test(CROP_COLOR, layouts=("contiguous", "flipped"))
test_compile = harness.compile_test(CROP_COLOR)


def test_a_contrast_reads_the_mean_grey_of_each_crop():
    """Two crops of one image with different boxes: contrast's mean grey is of each crop (after the steps before
    it), not of the image. A dark and a bright half give means far apart, so a mean of the wrong pixels shows."""
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, 40:] = 230
    img[::3, ::5] = 90  # some texture in both halves
    boxes = [(0, 0, 40, 40), (0, 40, 40, 40)]
    color = dict(brightness=[1.3, 0.7], contrast=[0.4, 0.4], order=[[0, 1, 2, 3]] * 2)
    for mode in ("auto", "reference", "cuda-emulation"):
        with backend(mode):
            got = fl.resized_crop_batch([img, img], boxes, 24, fl.IMAGENET, color=color)
            want = two_passes([img, img], boxes, 24, fl.IMAGENET, color, input_order="bgr", dtype=torch.float32,
                              channels_last=False)  # fmt: skip
        harness.assert_same_bits(got, want, mode)


def test_the_fused_op_refuses_steps_that_read_beyond_a_pixel():
    """Sharpness (neighbours), autocontrast and equalize (histograms) are not in the fused pass: the compiled op (and
    its CUDA emulation) refuses them by name, as the Python function does before it (test_bad_input)."""
    from fastload import _backend

    img = torch.zeros(8, 8, 3, dtype=torch.uint8)
    starts, weights = torch.zeros(1, 4, dtype=torch.int64), torch.ones(1, 4, 1)
    ops = [torch.ops.fastload.resized_crop_color]
    if _backend.EMULATED:
        ops.append(torch.ops.fastload_emulation.resized_crop_color)
    for code in (6, 8, 9):  # sharpness, autocontrast, equalize (color_math.h)
        steps, factors = torch.tensor([[code] + [-1] * 11]), torch.ones(1, 12, dtype=torch.float64)
        for op in ops:
            with pytest.raises(RuntimeError, match="does not take"):
                op([img], [0], starts, weights, starts, weights, steps, factors, [2, 1, 0], [0.0] * 3, [1.0] * 3,
                   [0, 1, 2], torch.float32, False)  # fmt: skip


IMG = np.zeros((10, 12, 3), np.uint8)
BOX = [(0, 0, 6, 6)]

test_bad_input = harness.bad_input_test(
    [
        Bad(lambda: fl.resized_crop_batch([IMG], BOX, 4, color=dict(brightness=1.2)), ValueError, ("color", "norm")),
        Bad(lambda: fl.resized_crop_batch([IMG], BOX, 4, fl.IMAGENET, color=[1.2]), TypeError, ("color", "dict")),
        Bad(
            lambda: fl.resized_crop_batch([IMG], BOX, 4, fl.IMAGENET, color=dict(sharpness=2.0)),
            ValueError,
            ("color", "sharpness", "adjust_color"),
        ),
        Bad(
            lambda: fl.resized_crop_batch([IMG], BOX, 4, fl.IMAGENET, color=dict(brightness=-1.0)),
            ValueError,
            ("brightness",),
        ),
        Bad(
            lambda: fl.resized_crop_batch([IMG], BOX, 4, fl.IMAGENET, color=dict(hue=[0.1, 0.2])),
            ValueError,
            ("hue", "one per image"),
        ),
        Bad(
            lambda: fl.resized_crop_batch([IMG], BOX, 4, fl.IMAGENET, color=dict(order=[0, 1, 2])),
            ValueError,
            ("order", "permutation"),
        ),
    ]
)


def test_the_colour_collate_crops_and_adjusts_in_one_pass(monkeypatch):
    """CropCollate(color_jitter=, grayscale_p=, solarize_p=) with norm and no blur makes its batch in the fused pass
    (adjust_color is not called), with the bits of the two passes with the drawn factors (test_color_collate holds
    those to torchvision's pipeline)."""
    rng = np.random.default_rng(5)
    sizes = rng.integers(40, 90, (5, 2)).tolist()
    images = [rng.integers(0, 256, (h, w, 3), np.uint8) for h, w in sizes]
    kw = dict(color_jitter=(0.4, 0.4, 0.4, 0.1), grayscale_p=0.3, solarize_p=0.3)

    def refuse(*args, **kwargs):
        raise AssertionError("adjust_color called: the collate left the fused pass")

    monkeypatch.setattr(color_module, "adjust_color", refuse)
    torch.manual_seed(3)
    batch = fl.CropCollate(28, fl.IMAGENET, input_order="rgb", **kw)([{"image": im, "label": 0} for im in images])
    monkeypatch.undo()
    draws = batch["color"]
    names = ("brightness", "contrast", "saturation", "hue", "grayscale", "solarize")
    color = {k: [d[k] for d in draws] for k in names}
    want = two_passes(images, batch["crop_box"], 28, fl.IMAGENET, {**color, "order": [list(d["order"]) for d in draws]},
                      flips=batch["flip"], input_order="rgb", dtype=torch.float32, channels_last=False)  # fmt: skip
    assert torch.equal(batch["image"], want)
