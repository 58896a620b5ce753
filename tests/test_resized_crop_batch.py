"""fastload.functional._crop: torchvision's RandomResizedCrop sampling and Resize + CenterCrop geometry (exactly), and
the fused resized_crop_batch / resize_center_crop_batch through the op table (every backend x layout x dtype, bit for
bit) against torchvision v2 (antialiased bilinear within 1 grey level, nearest exactly) and OpenCV (INTER_LINEAR)."""

from __future__ import annotations

import cv2
import harness
import numpy as np
import pytest
import torch
from harness import Bad, OpTest, Sample
from images import random_norm
from torchvision.transforms import RandomResizedCrop, v2
from torchvision.transforms import functional as F1
from torchvision.transforms.v2 import functional as F

import fastload as fl
from fastload.functional import _crop_taps as crop_tables
from fastload.functional import _geometry as crop_geometry

SIZES = [(375, 500), (500, 375), (224, 224), (37, 300), (300, 37), (1, 1), (2, 9)]


@pytest.mark.parametrize(
    "scale, ratio",
    [((0.08, 1.0), (3 / 4, 4 / 3)), ((0.9, 1.0), (3.0, 4.0)), ((0.5, 0.6), (0.2, 0.3)), ((1.0, 1.0), (1.0, 1.0))],
)
def test_random_resized_crop_params_draw_torchvisions_boxes(scale, ratio):
    for seed in range(40):
        for h, w in SIZES:
            torch.manual_seed(seed)
            want = RandomResizedCrop.get_params(torch.empty(3, h, w), list(scale), list(ratio))
            torch.manual_seed(seed)
            v2_params = v2.RandomResizedCrop(8, scale=scale, ratio=ratio).make_params([torch.empty(3, h, w)])
            torch.manual_seed(seed)
            got = fl.random_resized_crop_params(h, w, scale, ratio)
            assert got == want == tuple(v2_params[k] for k in ("top", "left", "height", "width")), (seed, h, w)
            torch.manual_seed(seed + 1000)  # the same RNG consumption: the next draw agrees too
            after_tv = (RandomResizedCrop.get_params(torch.empty(3, h, w), list(scale), list(ratio)), torch.rand(1))
            torch.manual_seed(seed + 1000)
            after_fl = (fl.random_resized_crop_params(h, w, scale, ratio), torch.rand(1))
            assert after_tv[0] == after_fl[0] and torch.equal(after_tv[1], after_fl[1])


@pytest.mark.parametrize(
    "scale, ratio",
    [((0.08, 1.0), (3 / 4, 4 / 3)), ((0.9, 1.0), (3.0, 4.0)), ((0.5, 0.6), (0.2, 0.3)), ((1.0, 1.0), (1.0, 1.0))],
)
def test_batch_draws_are_torchvisions_box_then_flip_image_after_image(scale, ratio):
    """draw_crops (the collates' and transforms' draws; the C++ op when built) against torchvision's transforms
    called image after image: the same boxes, flips and RNG state after (central-crop fallbacks included)."""
    sizes = SIZES * 3
    for seed in range(15):
        torch.manual_seed(seed)
        want = []
        for h, w in sizes:
            box = RandomResizedCrop.get_params(torch.empty(3, h, w), list(scale), list(ratio))
            want.append((box, bool(torch.rand(1) < 0.3)))
        after_tv = torch.rand(1)
        torch.manual_seed(seed)
        boxes, flips = crop_geometry.draw_crops(sizes, scale, ratio, 0.3)
        assert list(zip(boxes, flips)) == want and torch.equal(torch.rand(1), after_tv), seed
        assert all(isinstance(b, tuple) for b in boxes) and all(isinstance(f, bool) for f in flips)


def test_random_resized_crop_params_with_a_generator_leave_the_global_rng_alone():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    state = torch.get_rng_state()
    boxes = [fl.random_resized_crop_params(375, 500, generator=g1) for _ in range(20)]
    assert boxes == [fl.random_resized_crop_params(375, 500, generator=g2) for _ in range(20)]
    assert torch.equal(state, torch.get_rng_state()) and len(set(boxes)) > 10


def test_eval_geometry_is_torchvisions():
    for h in range(1, 700, 37):
        for w in range(1, 700, 53):
            assert list(fl.resized_short_side(h, w, 256)) == F1._compute_resized_output_size((h, w), [256])
    img = torch.arange(17 * 23).reshape(1, 17, 23)
    for ch, cw in [(5, 7), (17, 23), (4, 22), (16, 1)]:
        top, left = fl.center_crop_anchor(17, 23, ch, cw)
        assert torch.equal(img[:, top : top + ch, left : left + cw], F.center_crop(img, [ch, cw]))


def torchvision_crop(img: np.ndarray, box, size, flip: bool, interpolation: str, antialias: bool) -> np.ndarray:
    """torchvision v2 on the uint8 CHW tensor: resized_crop (+ horizontal_flip), back to HWC uint8."""
    mode = {
        "bilinear": v2.InterpolationMode.BILINEAR,
        "bicubic": v2.InterpolationMode.BICUBIC,
        "nearest": v2.InterpolationMode.NEAREST,
    }[interpolation]
    # A C-order copy: torch's uint8 antialiased resize misreads a size-1 dim with an odd stride (a flipped or
    # Fortran-order view keeps one), which would make the oracle wrong, not fastload.
    x = torch.from_numpy(np.array(img, copy=True, order="C")).permute(2, 0, 1)
    y = F.resized_crop(x, *box, size=list(size), interpolation=mode, antialias=antialias)
    if flip:
        y = F.horizontal_flip(y)
    return y.permute(1, 2, 0).numpy()


def grey_levels(got_uint8_or_normalized, want: np.ndarray, norm) -> np.ndarray:
    """|got - want| in pixel units (got normalized: undone in float64)."""
    got = got_uint8_or_normalized
    if norm is not None:
        std = np.asarray(norm.std).reshape(-1, 1, 1)
        mean = np.asarray(norm.mean).reshape(-1, 1, 1)
        got = np.moveaxis(got.float().numpy().astype(np.float64) * std + mean, 0, -1)
        if got.shape[-1] == 3 and norm.order == "rgb":
            got = got[..., ::-1]  # back to the BGR input
    return np.abs(np.asarray(got, dtype=np.float64) - want.astype(np.float64))


@pytest.mark.parametrize("interpolation, antialias", [("bilinear", True), ("bicubic", True), ("nearest", False)])
def test_resized_crop_batch_matches_torchvision(interpolation, antialias, rng):
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in SIZES[:4]]
    boxes = [fl.random_resized_crop_params(h, w) for h, w in SIZES[:4]]
    flips = [True, False, True, False]
    for norm in (None, fl.IMAGENET):
        got = fl.resized_crop_batch(
            images, boxes, (224, 160), norm, flips=flips, interpolation=interpolation, antialias=antialias
        )
        for i, img in enumerate(images):
            want = torchvision_crop(img, boxes[i], (224, 160), flips[i], interpolation, antialias)
            diff = grey_levels(got[i], want, norm)
            assert diff.max() <= (1e-3 if interpolation == "nearest" else 1.0 + 1e-3), (i, diff.max())
            if interpolation == "bicubic":  # torch's fixed point: its bits but for rare sums fp32 cannot hold
                assert (diff > 1e-3).mean() < 1e-3, (i, (diff > 1e-3).mean())


def test_linear_without_antialias_is_opencvs(rng):
    img = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    got = fl.resized_crop_batch([img], [(5, 7, 40, 50)], (90, 33), antialias=False)[0].numpy()
    want = cv2.resize(img[5:45, 7:57], (33, 90), interpolation=cv2.INTER_LINEAR)
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_resize_center_crop_batch_matches_torchvision(interpolation, rng):
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(375, 500), (500, 333), (256, 300)]]
    images.append(np.repeat(np.repeat(images[0][:40, :50], 7, 0), 7, 1))  # upscaled blocks: sharp edges
    mode = {"bilinear": v2.InterpolationMode.BILINEAR, "bicubic": v2.InterpolationMode.BICUBIC}[interpolation]
    for norm in (None, fl.IMAGENET):
        got = fl.resize_center_crop_batch(images, 256, 224, norm, interpolation=interpolation)
        for i, img in enumerate(images):
            x = torch.from_numpy(img).permute(2, 0, 1)
            want = F.center_crop(F.resize(x, [256], interpolation=mode, antialias=True), [224, 224])
            assert grey_levels(got[i], want.permute(1, 2, 0).numpy(), norm).max() <= 1.0 + 1e-3, (norm, i)


def test_bicubic_upscale_of_hard_edges_is_clamped_like_torchvisions(rng):
    """Bicubic's negative lobes overshoot past an edge; torch's uint8 resize stores each pass as bytes (rounded,
    clamped), so a crop that kept the overshoot in its horizontal pass would differ by levels after the vertical
    pass, and a normalized batch would hold values below 0 or above 255 (before normalizing)."""
    img = (rng.integers(0, 2, (12, 16, 3)) * 255).astype(np.uint8)  # black and white cells
    box, size = (1, 2, 10, 13), (47, 61)
    want = torchvision_crop(img, box, size, False, "bicubic", True)
    for norm in (None, fl.IMAGENET):
        got = fl.resized_crop_batch([img], [box], size, norm, interpolation="bicubic")[0]
        assert grey_levels(got, want, norm).max() <= 1.0 + 1e-3, norm
    x = torch.from_numpy(img).permute(2, 0, 1).float()[None, :, 1:11, 2:15]
    unclamped = torch.nn.functional.interpolate(x, size=size, mode="bicubic", antialias=True)
    assert unclamped.min() < -5 and unclamped.max() > 260  # the case is one that overshoots


def samples(rng: np.random.Generator, layout: str, dtype, color=None) -> list[Sample]:
    """Crops of 1-3 images in `layout`; with `color(rng, n)` (test_resized_crop_color's), always normalized, with
    `color=` its draws."""
    n = int(rng.integers(1, 4))
    channels = int(rng.choice([1, 3]))
    sizes = [harness.image_size(rng, layout if layout != "empty" else "contiguous") for _ in range(n)]
    sizes = [(max(h, 1), max(w, 1)) for h, w in sizes]
    images = [harness.image_in_layout(rng, (h, w, channels), harness.storage_layout(layout)) for h, w in sizes]
    boxes = []
    for h, w in sizes:
        bh, bw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
        boxes.append((int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1)), bh, bw))
    size = (int(rng.integers(1, 40)), int(rng.integers(1, 40)))
    norm = random_norm(rng, channels) if color is not None or rng.integers(4) else None
    interpolation = str(rng.choice(["bilinear", "bicubic", "nearest"]))
    kw = dict(
        flips=[bool(f) for f in rng.integers(0, 2, n)],
        interpolation=interpolation,
        antialias=interpolation == "bicubic" or (bool(rng.integers(2)) and interpolation == "bilinear"),
        input_order=str(rng.choice(["bgr", "rgb"])),
        dtype=dtype,
        channels_last=layout == "channels_last",
    )
    if color is not None:
        kw.update(channels_last=kw["channels_last"] or bool(rng.integers(4) == 0), color=color(rng, n))
    out = [Sample((images, boxes, size, norm), kw, f"{layout} {channels}ch {sizes} {boxes} -> {size}")]
    if layout in ("contiguous", "flipped", "odd"):
        out.append(Sample((fl.pack_images(images), boxes, size, norm), kw, f"{layout} packed"))
    return out + [harness.with_out(s, fl.resized_crop_batch) for s in out]


def oracle(sample: Sample, result) -> None:
    images, boxes, size, norm = sample.args
    kw = sample.kwargs
    if isinstance(images, fl.PackedImages):
        images = images.unpack()
    assert result.shape[0] == len(images)
    if norm is None:
        assert result.dtype == torch.uint8 and result.shape[1:3] == size
    else:
        assert result.dtype == kw["dtype"] and result.shape[2:] == size
        if kw["channels_last"]:
            assert result.is_contiguous(memory_format=torch.channels_last)
    for i, img in enumerate(images):
        a = np.array(np.asarray(img), copy=True, order="C")
        if kw["interpolation"] == "bilinear" and not kw["antialias"]:
            top, left, bh, bw = boxes[i]
            want = cv2.resize(a[top : top + bh, left : left + bw], size[::-1], interpolation=cv2.INTER_LINEAR)
            want = want.reshape(*size, a.shape[2])
            if kw["flips"][i]:
                want = want[:, ::-1]
        else:
            want = torchvision_crop(a, boxes[i], size, kw["flips"][i], kw["interpolation"], kw["antialias"])
        if norm is not None and a.shape[2] == 3 and kw["input_order"] != "bgr":
            want = want[..., ::-1]  # grey_levels compares in BGR input order
        got = result[i].cpu()
        tol = 1e-3 if kw["interpolation"] == "nearest" else 1.0 + 1e-3
        if norm is not None and kw["dtype"] != torch.float32:  # half an ulp of |x - mean| <= 255, in pixel units
            tol += {torch.float16: 2.0**-11, torch.bfloat16: 2.0**-8}[kw["dtype"]] * 255
        assert grey_levels(got, want, norm).max() <= tol, (i, sample.label)


RESIZED_CROP = OpTest(
    "resized_crop_batch",
    fl.resized_crop_batch,
    samples,
    oracle,
    raw_ops=("resized_crop_batch", "resized_crop_batch_into"),
    layouts=tuple(x for x in harness.LAYOUTS if x != "empty"),
)

test_backends = harness.backend_test(RESIZED_CROP)
test_property = harness.property_test(RESIZED_CROP, max_examples=30)
test_opcheck = harness.opcheck_test(RESIZED_CROP, layouts=("contiguous", "flipped"))
test_compile = harness.compile_test(RESIZED_CROP)

IMG = np.zeros((10, 12, 3), np.uint8)

test_bad_input = harness.bad_input_test(
    [
        Bad(lambda: fl.resized_crop_batch([IMG], [(0, 0, 11, 5)], 4), ValueError, ("boxes[0]", "inside")),
        Bad(lambda: fl.resized_crop_batch([IMG], [(0, 0, 0, 5)], 4), ValueError, ("boxes[0]", "non-empty")),
        Bad(lambda: fl.resized_crop_batch([IMG], [(-1, 0, 2, 5)], 4), ValueError, ("boxes[0]",)),
        Bad(lambda: fl.resized_crop_batch([IMG], [(0, 0, 2)], 4), ValueError, ("boxes", "(N, 4)")),
        Bad(lambda: fl.resized_crop_batch([IMG], torch.zeros(1, 4), 4), ValueError, ("boxes", "integers")),
        Bad(lambda: fl.resized_crop_batch([IMG, IMG], [(0, 0, 2, 2)], 4), ValueError, ("boxes", "2 images")),
        Bad(lambda: fl.resized_crop_batch([IMG], [(0, 0, 2, 2)], 0), ValueError, ("size",)),
        Bad(lambda: fl.resized_crop_batch([IMG], [(0, 0, 2, 2)], (3, 4, 5)), ValueError, ("size",)),
        Bad(lambda: fl.resized_crop_batch([IMG], [(0, 0, 2, 2)], 4, flips=[True, False]), ValueError, ("flips",)),
        Bad(lambda: fl.resized_crop_batch([IMG], [(0, 0, 2, 2)], 4, flips=[1]), ValueError, ("flips",)),
        Bad(
            lambda: fl.resized_crop_batch([IMG], [(0, 0, 2, 2)], 4, interpolation="area"),
            ValueError,
            ("interpolation",),
        ),
        Bad(lambda: fl.resized_crop_batch([IMG], [(0, 0, 2, 2)], 4, antialias="yes"), TypeError, ("antialias",)),
        Bad(
            lambda: fl.resized_crop_batch([IMG], [(0, 0, 2, 2)], 4, interpolation="bicubic", antialias=False),
            ValueError,
            ("bicubic", "antialias"),
        ),
        Bad(
            lambda: fl.resized_crop_batch([IMG], [(0, 0, 2, 2)], 4, fl.IMAGENET, out=torch.empty(1, 3, 4, 5)),
            ValueError,
            ("out", "shape"),
        ),
        Bad(lambda: fl.resize_center_crop_batch([IMG], 8, 9), ValueError, ("crop", "resize")),
        Bad(lambda: fl.resize_center_crop_batch([IMG], 0, 4), ValueError, ("resize",)),
        Bad(lambda: fl.resize_center_crop_batch([np.zeros((0, 4, 3), np.uint8)], 8, 4), ValueError, ("images[0]",)),
    ]
)


def test_transforms_draw_and_crop_like_torchvision(rng):
    img = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)  # BGR
    rgb = torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1)
    ours = fl.transforms.RandomResizedCropNormalize((48, 40), fl.IMAGENET)
    theirs = v2.Compose([v2.RandomResizedCrop((48, 40), antialias=True), v2.RandomHorizontalFlip(0.5)])
    for seed in range(12):
        torch.manual_seed(seed)
        got = ours(img)
        torch.manual_seed(seed)
        want = theirs(rgb).permute(1, 2, 0).numpy()[..., ::-1]  # back to BGR for grey_levels
        assert grey_levels(got, want, fl.IMAGENET).max() <= 1.0 + 1e-3, seed
    evaluate = fl.transforms.ResizeCenterCropNormalize(64, 56, fl.IMAGENET)
    want = F.center_crop(F.resize(rgb, [64], antialias=True), [56, 56]).permute(1, 2, 0).numpy()[..., ::-1]
    assert grey_levels(evaluate(img), want, fl.IMAGENET).max() <= 1.0 + 1e-3
    # timm's ViT / ConvNeXt recipe: bicubic
    bicubic = v2.InterpolationMode.BICUBIC
    ours = fl.transforms.RandomResizedCropNormalize((48, 40), fl.IMAGENET, interpolation="bicubic")
    theirs = v2.Compose([v2.RandomResizedCrop((48, 40), interpolation=bicubic), v2.RandomHorizontalFlip(0.5)])
    for seed in range(4):
        torch.manual_seed(seed)
        got = ours(img)
        torch.manual_seed(seed)
        want = theirs(rgb).permute(1, 2, 0).numpy()[..., ::-1]
        assert grey_levels(got, want, fl.IMAGENET).max() <= 1.0 + 1e-3, seed
    with pytest.raises(ValueError, match="bicubic"):
        fl.transforms.RandomResizedCropNormalize(48, fl.IMAGENET, interpolation="bicubic", antialias=False)


def test_crop_collate_bicubic_equals_the_op_on_the_same_draws(rng):
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(50, 70), (64, 40), (33, 33)]]
    samples = [{"img": img, "label": i} for i, img in enumerate(images)]
    collate = fl.CropCollate((20, 24), fl.IMAGENET, ring=False, interpolation="bicubic")
    batch = collate(samples)
    want = fl.resized_crop_batch(
        images, batch["crop_box"], (20, 24), fl.IMAGENET, flips=batch["flip"], interpolation="bicubic"
    )
    assert torch.equal(batch["img"], want)
    assert not torch.equal(
        want, fl.resized_crop_batch(images, batch["crop_box"], (20, 24), fl.IMAGENET, flips=batch["flip"])
    )
    evaluate = fl.CropCollate(20, fl.IMAGENET, train=False, resize=24, interpolation="bicubic", ring=False)(samples)
    assert torch.equal(
        evaluate["img"], fl.resize_center_crop_batch(images, 24, 20, fl.IMAGENET, interpolation="bicubic")
    )
    with pytest.raises(ValueError, match="antialias"):
        fl.CropCollate(20, interpolation="bicubic", antialias=False)


class Photos(torch.utils.data.Dataset):
    def __init__(self, n=24):
        rng = np.random.default_rng(5)
        self.images = [rng.integers(0, 256, (60 + 7 * (i % 4), 80 - 5 * (i % 3), 3), dtype=np.uint8) for i in range(n)]

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], i


def _loader(collate, **kw):
    return torch.utils.data.DataLoader(Photos(), batch_size=8, num_workers=2, collate_fn=collate, timeout=120, **kw)


def test_crop_collate_in_workers():
    data = Photos()
    # eval crops are deterministic: the worker's normalized batch equals the op on the same images
    for images, labels in _loader(fl.CropCollate(32, fl.IMAGENET, train=False, resize=40)):
        want = fl.resize_center_crop_batch([data[i][0] for i in labels.tolist()], 40, 32, fl.IMAGENET)
        assert torch.equal(images, want)
    # train crops without norm arrive as a CropBatch of raw packed images, finished in the main process
    for batch, labels in _loader(fl.CropCollate((24, 20))):
        assert isinstance(batch, fl.data.CropBatch) and len(batch.boxes) == len(labels) == 8
        for (top, left, h, w), i in zip(batch.boxes, labels.tolist()):
            ih, iw = data[i][0].shape[:2]
            assert 0 <= top and 0 <= left and top + h <= ih and left + w <= iw
        out = batch.finish(fl.IMAGENET)
        assert out.shape == (8, 3, 24, 20) and torch.isfinite(out).all()
    prefetched = list(fl.DevicePrefetcher(_loader(fl.CropCollate(16)), "cpu", fl.IMAGENET))
    assert all(images.shape == (8, 3, 16, 16) and images.dtype == torch.float32 for images, _ in prefetched)


def test_crop_collate_dict_samples_carry_their_geometry(rng):
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(50, 70), (64, 40), (33, 33)]]
    samples = [{"img": img, "label": i} for i, img in enumerate(images)]
    torch.manual_seed(5)
    batch = fl.CropCollate((20, 24), fl.IMAGENET, ring=False)(samples)
    assert batch["ori_shape"] == [(50, 70), (64, 40), (33, 33)] and batch["img_shape"] == [(20, 24)] * 3
    assert batch["label"].tolist() == [0, 1, 2] and len(batch["crop_box"]) == len(batch["flip"]) == 3
    # the recorded boxes and flips are the ones the batch was cropped with
    want = fl.resized_crop_batch(images, batch["crop_box"], (20, 24), fl.IMAGENET, flips=batch["flip"])
    assert torch.equal(batch["img"], want)
    raw = fl.CropCollate(16, train=False, resize=20)(samples)
    assert isinstance(raw["img"], fl.data.CropBatch) and "crop_box" not in raw
    assert raw["resized_shape"] == [fl.resized_short_side(h, w, 20) for h, w in raw["ori_shape"]]
    assert torch.equal(raw["img"].finish(None), fl.resize_center_crop_batch(images, 20, 16))


def test_crop_collate_bad_arguments():
    with pytest.raises(ValueError, match="flip_p"):
        fl.CropCollate(32, flip_p=1.5)
    with pytest.raises(ValueError, match="scale"):
        fl.CropCollate(32, scale=(0.5, 0.1))
    with pytest.raises(ValueError, match="size"):
        fl.CropCollate(0)
    with pytest.raises(TypeError, match="resize"):
        fl.CropCollate(32, resize=2.5)
    with pytest.raises(ValueError, match="ratio"):
        fl.transforms.RandomResizedCropNormalize(32, fl.IMAGENET, ratio=(0, 1))


def test_crop_kernels_paths_and_table_checks():
    images = [np.zeros((9, 11, 3), np.uint8)[:, ::-1], np.zeros((7, 5, 3), np.uint8)]
    boxes = [(1, 2, 6, 7), (0, 0, 7, 5)]
    fl._backend.emulation_launch_log()
    with fl._backend.backend("cuda-emulation"):
        fl.resized_crop_batch(images, boxes, 8, fl.IMAGENET, dtype=torch.float16, channels_last=True)
        fl.resized_crop_batch(images, boxes, (6, 9))
    assert [e.split()[0] for e in fl._backend.emulation_launch_log()] == ["crop_normalized_tiles", "crop_bytes_tiles"]
    # A weighted tap outside the image is refused by the op itself (the CUDA kernel reads weighted taps unclamped).
    img = torch.zeros(4, 4, 3, dtype=torch.uint8)
    starts, weights = torch.zeros(1, 2, dtype=torch.int64), torch.zeros(1, 2, 2)
    weights[0, 1] = torch.tensor([0.5, 0.5])
    starts[0, 1] = 3  # taps 3 and 4: 4 is outside
    for op in (torch.ops.fastload.resized_crop_batch, torch.ops.fastload_emulation.resized_crop_batch):
        with pytest.raises(RuntimeError, match="x_starts\\[0, 1\\] = 3 with taps to 4 reads outside image 0"):
            op(
                [img],
                [0],
                torch.zeros(1, 2, dtype=torch.int64),
                torch.ones(1, 2, 1),
                starts,
                weights,
                None,
                None,
                [0, 1, 2],
                None,
                False,
            )
        # The tables: contiguous host tensors whatever the images' device (checked there without a device sync).
        with pytest.raises(RuntimeError, match="y_starts must be a contiguous CPU"):
            op(
                [img],
                [0],
                torch.zeros(1, 4, dtype=torch.int64)[:, ::2],
                torch.ones(1, 2, 1),
                torch.zeros(1, 2, dtype=torch.int64),
                torch.ones(1, 2, 1),
                None,
                None,
                [0, 1, 2],
                None,
                False,
            )


def _image_before_a_guard_page(rng, h: int, w: int) -> np.ndarray:
    """An (h, w, 3) uint8 image whose last byte is the last byte of a mapped page, the next page unreadable."""
    import ctypes
    import mmap

    page, n = mmap.PAGESIZE, h * w * 3
    used = -(-n // page) * page  # whole pages for the image, then the guard
    pages = mmap.mmap(-1, used + page)
    address = ctypes.addressof(ctypes.c_char.from_buffer(pages))
    assert ctypes.CDLL(None).mprotect(ctypes.c_void_p(address + used), ctypes.c_size_t(page), 0) == 0
    img = np.frombuffer(pages, np.uint8, count=n, offset=used - n).reshape(h, w, 3)
    img[:] = rng.integers(0, 256, img.shape, dtype=np.uint8)
    return img


def _image_after_a_guard_page(rng, h: int, w: int) -> np.ndarray:
    """An (h, w, 3) uint8 image whose first byte is the first byte of a mapped page, the page before unreadable."""
    import ctypes
    import mmap

    page = mmap.PAGESIZE
    pages = mmap.mmap(-1, 2 * page + h * w * 3)
    address = ctypes.addressof(ctypes.c_char.from_buffer(pages))
    assert ctypes.CDLL(None).mprotect(ctypes.c_void_p(address), ctypes.c_size_t(page), 0) == 0
    img = np.frombuffer(pages, np.uint8, count=h * w * 3, offset=page).reshape(h, w, 3)
    img[:] = rng.integers(0, 256, img.shape, dtype=np.uint8)
    return img


def test_cpu_word_loads_stay_inside_the_image(rng):
    # The CPU kernel loads a pixel's channels as one 4-byte word, and a row's window of them as 16- or 64-byte parts:
    # rows whose loads would pass the image's first or last byte take masked loads or the byte loop. An image
    # between unreadable pages makes a stray byte a crash. Wide windows (a strong downscale) gather instead, and rows
    # are first split into channel planes whose windows take 1 to 5 parts on AVX2 and 1 or 2 with VBMI, whose split
    # reads a row's last pixels by masked loads (widths 41 .. 600 -> 70 here).
    for img in (
        _image_before_a_guard_page(rng, 23, 41),
        _image_after_a_guard_page(rng, 23, 41),
        _image_before_a_guard_page(rng, 9, 300),
        _image_after_a_guard_page(rng, 9, 600),
        _image_before_a_guard_page(rng, 9, 1000),
    ):
        h, w = img.shape[:2]
        boxes = [(0, 0, h, w), (h // 2, w - w // 4, h - h // 2, w // 4)]
        for view in (img, img[:, ::-1], img[::-1], img[:, :, ::-1]):
            for kw in (dict(), dict(antialias=False), dict(interpolation="nearest")):
                args = ([view, view], boxes, (9, 70), fl.IMAGENET)
                got = fl.resized_crop_batch(*args, flips=[False, True], **kw)
                with fl._backend.cpu_simd("none"):
                    want = fl.resized_crop_batch(*args, flips=[False, True], **kw)
                with fl._backend.cpu_simd("avx2"):
                    assert torch.equal(fl.resized_crop_batch(*args, flips=[False, True], **kw), want)
                assert torch.equal(got, want)


def test_cpu_kernel_with_rows_moving_up():
    # The CPU kernel keeps summed source rows in a ring of ky slots; tables whose rows move up (none that fastload
    # builds, but the op takes any) make it sum some rows again: same values as the CUDA kernel.
    img = torch.from_numpy(np.random.default_rng(3).integers(0, 256, (30, 20, 3), dtype=np.uint8))
    y_starts = torch.tensor([[25, 3, 14, 0, 27, 9]])
    y_weights = torch.tensor([[[0.25, 0.5, 0.25]] * 6])
    x_starts, x_weights = torch.arange(0, 20, 2)[None], torch.full((1, 10, 2), 0.5)
    args = ([img], [0], y_starts, y_weights, x_starts, x_weights, None, None, [2, 1, 0], None, False)
    got = torch.ops.fastload.resized_crop_batch(*args)
    assert torch.equal(got, torch.ops.fastload_emulation.resized_crop_batch(*args))
    want = sum(w * img[y_starts[0, :, None] + torch.arange(3)].float()[:, k] for k, w in enumerate([0.25, 0.5, 0.25]))
    assert (got[0].float() - (want[:, ::2] + want[:, 1::2]).mul(0.5)[..., [2, 1, 0]]).abs().max() <= 0.5 + 1e-4


@pytest.mark.parametrize("mode", ["nearest", "linear", "antialias", "bicubic"])
def test_tap_tables_from_cpp_equal_numpys(mode, rng):
    # The C++ table builder must give numpy_axis_table's bits: random spans from 1 to 5000 (downscales past 8 taps,
    # upscales), centre-crop offsets, flips, an empty batch, and images that repeat another's span (computed once,
    # each flipped or not on its own).
    for _ in range(40):
        n = int(rng.integers(0, 6))
        dst = int(rng.integers(1, 300))
        src = rng.integers(1, 5000, n)
        resized = np.maximum(dst + rng.integers(0, 50, n), 1) if rng.integers(2) else rng.integers(dst, 4 * dst, n)
        offset = np.array([int(rng.integers(0, r - dst + 1)) for r in resized], np.int64)
        if n > 1 and rng.integers(2):
            copies = rng.integers(0, n, n) % (np.arange(n) + 1)  # image i repeats an image at or before it
            src, resized, offset = src[copies], resized[copies], offset[copies]
        flips = [bool(f) for f in rng.integers(0, 2, n)] if rng.integers(2) else None
        want = crop_tables.numpy_axis_table(src, dst, resized, offset, mode, flips)
        flip_tensor = torch.tensor([] if flips is None else flips, dtype=torch.bool)
        args = (
            torch.from_numpy(src.astype(np.int64)),
            dst,
            torch.from_numpy(resized.astype(np.int64)),
            torch.from_numpy(offset),
            mode,
            flip_tensor,
        )
        got = torch.ops.fastload._crop_axis_table(*args)
        if n:
            torch.library.opcheck(torch.ops.fastload._crop_axis_table.default, args)
        for a, b in zip(got, want):
            assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), (mode, n, dst, list(src))


def test_cpu_kernel_splits_an_image_across_threads(rng):
    # Ranges of output rows that start inside an image (a single image on several threads) sum their first rows'
    # sources again: the same bits as one thread and as the reference.
    img = rng.integers(0, 256, (700, 500, 3), dtype=np.uint8)
    args = ([img], [(10, 20, 650, 470)], (300, 300), fl.IMAGENET)
    threads = torch.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            results.append(fl.resized_crop_batch(*args, flips=[True]))
    finally:
        torch.set_num_threads(threads)
    with fl._backend.backend("reference"):
        want = fl.resized_crop_batch(*args, flips=[True])
    assert all(torch.equal(r, want) for r in results)


def test_cpu_kernel_long_vertical_tables(rng):
    # A 2000-row box resized to 3 rows: each output row sums ~1,330 weighted source rows, more than the kernel sums in
    # one pass (64), so it folds partial sums: the same bits as the reference on every SIMD path.
    img = rng.integers(0, 256, (2000, 37, 3), dtype=np.uint8)
    args = ([img, img[:, ::-1]], [(0, 0, 2000, 37), (5, 3, 1990, 30)], (3, 19))
    for norm in (fl.IMAGENET, None):
        with fl._backend.backend("reference"):
            want = fl.resized_crop_batch(*args, norm, flips=[False, True])
        for simd in ("avx512", "avx2", "none"):
            with fl._backend.cpu_simd(simd):
                assert torch.equal(fl.resized_crop_batch(*args, norm, flips=[False, True]), want), (simd, norm)


def test_cpu_kernel_sums_from_plus_zero():
    # Every backend sums a value from +0: a negative weight on a zero pixel gives +0, not -0 (visible with mean 0),
    # also where the CPU kernel starts a row's sum with its first weighted tap instead of clearing it first.
    img = torch.zeros(4, 4, 1, dtype=torch.uint8)
    tables = (
        torch.zeros(1, 2, dtype=torch.int64),
        torch.full((1, 2, 1), -0.5),
        torch.zeros(1, 2, dtype=torch.int64),
        torch.ones(1, 2, 1),
    )
    args = ([img], [0], *tables, [0.0], [1.0], [0], torch.float32, False)
    for op in (torch.ops.fastload.resized_crop_batch, torch.ops.fastload_emulation.resized_crop_batch):
        out = op(*args)
        assert torch.equal(out, torch.zeros_like(out)) and not torch.signbit(out).any()


@pytest.mark.skipif(not fl._backend.EMULATED, reason="built without the CUDA emulation")
@pytest.mark.parametrize("norm", [None, fl.IMAGENET])
def test_cuda_crop_tiles_shared_and_direct_bands_equal_the_cpu(rng, norm):
    """The CUDA crop kernel sums a band's source rows into shared memory when its taps span at most 64 rows, and
    sums them per pixel otherwise (strong downscales): both, in one launch, bit-equal to the CPU kernel."""
    images = [
        rng.integers(0, 256, (700, 90, 3), dtype=np.uint8),  # 700 rows -> 9: each band spans ~600 rows
        rng.integers(0, 256, (61, 77, 3), dtype=np.uint8)[::-1],  # a mild downscale, flipped rows
        rng.integers(0, 256, (40, 300, 3), dtype=np.uint8)[:, 1::2],
    ]  # sliced columns
    boxes = [(0, 0, 700, 90), (3, 5, 50, 60), (2, 0, 37, 150)]
    for antialias in (True, False):
        kw = dict(flips=[False, True, True], antialias=antialias)
        want = fl.resized_crop_batch(images, boxes, (9, 33), norm, **kw)
        with fl._backend.backend("cuda-emulation"):
            got = fl.resized_crop_batch(images, boxes, (9, 33), norm, **kw)
        assert torch.equal(got, want), antialias
