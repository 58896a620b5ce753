"""CropCollate's colour draws (ColorJitter, RandomGrayscale, RandomSolarize): drawn with torchvision's RNG calls
image after image (box, flip, colour), applied to the uint8 crop: the batch equals crop-to-uint8, then
`adjust_color` with the drawn factors, then `normalize`, bit for bit, and torchvision's own pipeline under the same
seed within the crop's 1-level resampling difference."""

from __future__ import annotations

import pytest
import torch
from images import files_with_a_bad_one, smooth_images

import fastload as fl

T = pytest.importorskip("torchvision.transforms.v2")
SETTINGS = [
    dict(color_jitter=(0.4, 0.4, 0.4, 0.0)),  # timm's default recipe
    dict(color_jitter=(0.4, 0.4, 0.2, 0.1), color_jitter_p=0.8, grayscale_p=0.2, solarize_p=0.2),  # DINO's
    dict(color_jitter=((0.5, 1.5), 0.0, (0.0, 2.0), (-0.2, 0.3))),
    dict(grayscale_p=0.5),
    dict(color_jitter=(0.4, 0.4, 0.2, 0.1), color_jitter_p=0.8, grayscale_p=0.2, blur_p=0.5, blur_kernel_size=9),
    dict(blur_p=1.0, blur_sigma=(0.5, 1.5), blur_kernel_size=7, solarize_p=0.5),  # BYOL's second view, roughly
]


def torchvision_pipeline(kw: dict, size: int) -> T.Compose:
    steps = [T.RandomResizedCrop(size, antialias=True), T.RandomHorizontalFlip()]
    if "color_jitter" in kw:
        jitter = T.ColorJitter(*kw["color_jitter"])
        p = kw.get("color_jitter_p", 1.0)
        steps.append(jitter if p == 1.0 else T.RandomApply([jitter], p=p))
    if kw.get("grayscale_p"):
        steps.append(T.RandomGrayscale(kw["grayscale_p"]))
    if kw.get("blur_p"):
        blur = T.GaussianBlur(kw["blur_kernel_size"], kw.get("blur_sigma", (0.1, 2.0)))
        steps.append(blur if kw["blur_p"] == 1.0 else T.RandomApply([blur], p=kw["blur_p"]))
    if kw.get("solarize_p"):
        steps.append(T.RandomSolarize(128.0, kw["solarize_p"]))
    return T.Compose(steps)


@pytest.mark.parametrize("kw", SETTINGS, ids=range(len(SETTINGS)))
def test_the_drawn_batch_is_crop_then_adjust_color_then_normalize(kw):
    imgs = smooth_images(6, 1)
    collate = fl.CropCollate(32, fl.IMAGENET, input_order="rgb", **kw)
    torch.manual_seed(5)
    batch = collate([{"image": img, "label": i} for i, img in enumerate(imgs)])
    draws = batch["color"]
    names = ("brightness", "contrast", "saturation", "hue", "grayscale")
    assert len(draws) == 6 and set(draws[0]) == {*names, "order", "blur", "solarize"}
    crops = fl.resized_crop_batch(imgs, batch["crop_box"], 32, flips=batch["flip"], input_order="rgb")
    x = fl.adjust_color(
        crops.permute(0, 3, 1, 2), **{k: [d[k] for d in draws] for k in names}, order=[list(d["order"]) for d in draws]
    )  # a pipeline's order: jitter, grayscale, blur, solarize
    if any(d["blur"] is not None for d in draws):
        x = fl.gaussian_blur(x, kw["blur_kernel_size"], [d["blur"] for d in draws])
    x = fl.adjust_color(x, solarize=[d["solarize"] for d in draws])
    want = fl.normalize(x.permute(0, 2, 3, 1), fl.IMAGENET, input_order="rgb")
    assert torch.equal(batch["image"], want)


@pytest.mark.parametrize("kw", SETTINGS, ids=range(len(SETTINGS)))
def test_the_same_seed_draws_what_torchvisions_pipeline_draws(kw):
    imgs = smooth_images(8, 2)
    torch.manual_seed(11)
    shipped = fl.CropCollate(32, input_order="rgb", **kw)([(img, i) for i, img in enumerate(imgs)])[0]
    got = shipped.finish(None, input_order="rgb")
    after_ours = torch.rand(1)
    pipeline = torchvision_pipeline(kw, 32)
    torch.manual_seed(11)
    want = torch.stack([pipeline(torch.from_numpy(img).permute(2, 0, 1)) for img in imgs]).permute(0, 2, 3, 1)
    assert torch.equal(torch.rand(1), after_ours)  # the same number of draws
    diff = (got.int() - want.int()).abs()
    # The crop is within 1 grey level of torchvision's; the colour steps can widen that a little (a contrast or
    # saturation factor above 1, a hue turn), never to what another draw would give.
    assert diff.float().mean() < 0.5 and diff.max() <= 6, (diff.float().mean(), diff.max())


def test_files_carry_their_draws_and_skip_with_their_file(tmp_path):
    imgs = smooth_images(4, 3)
    files = files_with_a_bad_one(tmp_path, imgs)
    collate = fl.CropCollate(24, fl.IMAGENET, on_error="skip", color_jitter=(0.4, 0.4, 0.4, 0.1), grayscale_p=0.5)
    torch.manual_seed(3)
    with pytest.warns(RuntimeWarning, match="bad.png"):
        batch = collate([{"image": f, "label": i} for i, f in enumerate(files)])
    assert batch["label"].tolist() == [0, 1, 3, 4] and len(batch["color"]) == 4
    torch.manual_seed(3)
    arrays = fl.CropCollate(24, fl.IMAGENET, input_order="rgb", color_jitter=(0.4, 0.4, 0.4, 0.1), grayscale_p=0.5)
    want = arrays([{"image": img, "label": i} for i, img in enumerate(imgs)])  # the bad file drew nothing
    assert batch["color"] == want["color"] and batch["crop_box"] == want["crop_box"]
    assert torch.equal(batch["image"], want["image"])


def test_bad_colour_arguments():
    with pytest.raises(ValueError, match="color_jitter"):
        fl.CropCollate(32, color_jitter=(0.4, 0.4))
    with pytest.raises(ValueError, match="brightness"):
        fl.CropCollate(32, color_jitter=(-0.4, 0.4, 0.4, 0.0))
    with pytest.raises(ValueError, match="hue"):
        fl.CropCollate(32, color_jitter=(0.4, 0.4, 0.4, 0.7))
    with pytest.raises(TypeError, match="contrast"):
        fl.CropCollate(32, color_jitter=(0.4, "x", 0.4, 0.0))
    with pytest.raises(ValueError, match="grayscale_p"):
        fl.CropCollate(32, grayscale_p=1.5)
    with pytest.raises(ValueError, match="solarize_threshold"):
        fl.CropCollate(32, solarize_p=0.2, solarize_threshold=300)
    with pytest.raises(ValueError, match="train"):
        fl.CropCollate(32, train=False, color_jitter=(0.4, 0.4, 0.4, 0.0))
    with pytest.raises(ValueError, match="blur_kernel_size"):
        fl.CropCollate(32, blur_p=0.5, blur_kernel_size=4)
    with pytest.raises(ValueError, match="too large"):
        fl.CropCollate(16, blur_p=0.5, blur_kernel_size=33)
    with pytest.raises(ValueError, match="blur_sigma"):
        fl.CropCollate(32, blur_p=0.5, blur_sigma=(2.0, 1.0))


@pytest.mark.parametrize("kw", SETTINGS + [dict(color_jitter=(0.0, 0.0, 0.0, 0.0))], ids=range(len(SETTINGS) + 1))
def test_the_compiled_draws_equal_the_python_draws(kw):
    """fastload::_draw_crops_color (C++, the same ATen calls) against the Python draws (draw_crops' per-image hook
    with draw_color): the same boxes, flips, colour draws and RNG state after."""
    from fastload import _backend
    from fastload.data import color
    from fastload.functional import _geometry

    if not _backend.defines("fastload::_draw_crops_color"):
        pytest.skip("the extension is not built")
    settings = fl.CropCollate(32, **kw).color
    sizes = [(40, 60), (7, 300), (300, 7), (1, 1), (96, 96)] * 3
    for seed in range(6):
        torch.manual_seed(seed)
        got = color.draw_crops_color(sizes, (0.08, 1.0), (3 / 4, 4 / 3), 0.5, settings, "image {}")
        after = torch.rand(1)
        torch.manual_seed(seed)
        draws = []
        boxes, flips = _geometry.draw_crops(
            sizes, (0.08, 1.0), (3 / 4, 4 / 3), 0.5, after_each=lambda d=draws: d.append(color.draw_color(settings))
        )
        assert got == (boxes, flips, draws) and torch.equal(torch.rand(1), after), (kw, seed)


def test_a_shipped_batch_finished_by_the_prefetcher_equals_the_workers_batch():
    """Without norm the colour draws travel in the CropBatch and DevicePrefetcher applies them: the same batch as
    the collate normalizing in the worker, under the same seed."""
    imgs = smooth_images(4, 5)
    samples = [(img, i) for i, img in enumerate(imgs)]
    kw = dict(color_jitter=(0.4, 0.4, 0.2, 0.1), grayscale_p=0.5, blur_p=0.5, blur_kernel_size=5, solarize_p=0.5)
    torch.manual_seed(2)
    want, _ = fl.CropCollate(24, fl.IMAGENET, input_order="rgb", **kw)(samples)
    torch.manual_seed(2)
    shipped = fl.CropCollate(24, input_order="rgb", **kw)(samples)  # what a worker sends without norm
    assert isinstance(shipped[0], fl.data.CropBatch) and shipped[0].color is not None
    got, labels = next(iter(fl.DevicePrefetcher([shipped], "cpu", fl.IMAGENET, input_order="rgb")))
    assert torch.equal(got, want) and labels.tolist() == [0, 1, 2, 3]
