"""MultiCropCollate: DINO's crops drawn as DINO's DataAugmentationDINO draws them (torch's RNG for the crops, flips,
jitter and grayscale, Python's `random` for its blur and solarize), each crop equal to torchvision v2's functions
with those draws; files decoded once per image (the union of its boxes) give the arrays' batch; bad arguments."""

from __future__ import annotations

import os
import random

import pytest
import torch
from images import files_with_a_bad_one, smooth_images

import fastload as fl
from fastload.data import CropGroup

T = pytest.importorskip("torchvision.transforms.v2")
F = pytest.importorskip("torchvision.transforms.v2.functional")

GLOBAL, LOCAL, KERNEL = 32, 16, 5
GROUPS = [
    CropGroup(GLOBAL, (0.4, 1.0), 1, blur_p=1.0),
    CropGroup(GLOBAL, (0.4, 1.0), 1, blur_p=0.1, solarize_p=0.2),
    CropGroup(LOCAL, (0.05, 0.4), 4, blur_p=0.5),
]


class DinoBlur:
    """DINO's utils.GaussianBlur with torchvision's Gaussian in place of PIL's: Python's `random` decides."""

    def __init__(self, p: float):
        self.p = p

    def __call__(self, img):
        if random.random() <= self.p:
            return F.gaussian_blur(img, [KERNEL, KERNEL], [random.uniform(0.1, 2.0)] * 2)
        return img


class DinoSolarize:
    def __init__(self, p: float):
        self.p = p

    def __call__(self, img):
        return F.solarize(img, 128.0) if random.random() < self.p else img


def dino_views(img: torch.Tensor, groups=GROUPS) -> list[torch.Tensor]:
    """DataAugmentationDINO's __call__ on a (3, H, W) uint8 tensor with v2's tensor transforms (the same torch RNG
    calls as its PIL pipeline) and DINO's own blur and solarize draws."""

    def crop(g):
        jitter = [
            T.RandomHorizontalFlip(0.5),
            T.RandomApply([T.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
            T.RandomGrayscale(0.2),
        ]
        rrc = T.RandomResizedCrop(g.size, scale=g.scale, interpolation=T.InterpolationMode.BICUBIC, antialias=True)
        steps = [rrc, *jitter, DinoBlur(g.blur_p)] + ([DinoSolarize(g.solarize_p)] if g.solarize_p else [])
        return T.Compose(steps)

    return [crop(g)(img) for g in groups for _ in range(g.count)]


def test_the_views_are_dinos_draws_and_torchvisions_values():
    imgs = smooth_images(6, 1)
    collate = fl.MultiCropCollate(None, GROUPS, blur_kernel_size=KERNEL, input_order="rgb")
    torch.manual_seed(3)
    random.seed(3)
    crops, labels = collate([(img, i) for i, img in enumerate(imgs)])
    after = torch.rand(1), random.random()
    assert len(crops) == 6 and labels.tolist() == list(range(6))
    assert [tuple(c.shape) for c in crops] == [(6, GLOBAL, GLOBAL, 3)] * 2 + [(6, LOCAL, LOCAL, 3)] * 4
    torch.manual_seed(3)
    random.seed(3)
    want = [dino_views(torch.from_numpy(img).permute(2, 0, 1)) for img in imgs]
    assert (torch.rand(1), random.random()) == after  # the same draws from both generators
    for k, batch in enumerate(crops):
        for i in range(6):
            diff = (batch[i].permute(2, 0, 1).int() - want[i][k].int()).abs()
            # bicubic crops equal torchvision's uint8 bicubic, the jitter equal on the same uint8 crop, the blur
            # within 1 level: a level or two where a factor above 1 widens it.
            assert diff.float().mean() < 0.1 and diff.max() <= 3, (k, i, diff.float().mean(), diff.max())


def test_normalized_views_and_dict_metadata():
    imgs = smooth_images(4, 2)
    collate = fl.MultiCropCollate(fl.IMAGENET, GROUPS, blur_kernel_size=KERNEL, input_order="rgb")
    raw = fl.MultiCropCollate(None, GROUPS, blur_kernel_size=KERNEL, input_order="rgb")
    torch.manual_seed(1)
    random.seed(1)
    batch = collate([{"image": img, "label": i} for i, img in enumerate(imgs)])
    torch.manual_seed(1)
    random.seed(1)
    crops, _ = raw([(img, 0) for img in imgs])
    assert len(batch["crop_box"]) == 6 and len(batch["flip"][0]) == 4 and len(batch["color"][5]) == 4
    for got, u8 in zip(batch["image"], crops):
        assert torch.equal(got, fl.normalize(u8, fl.IMAGENET, input_order="rgb"))
    assert any(c["solarize"] is not None or c["blur"] is not None for view in batch["color"] for c in view)


def test_torchvision_draws_use_torchs_rng_only():
    imgs = smooth_images(3, 4)
    collate = fl.MultiCropCollate(None, GROUPS, blur_kernel_size=KERNEL, draws="torchvision")
    random.seed(0)
    state = random.getstate()
    torch.manual_seed(0)
    a, _ = collate([(img, 0) for img in imgs])
    assert random.getstate() == state
    torch.manual_seed(0)
    b, _ = collate([(img, 0) for img in imgs])
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_files_are_decoded_once_and_skip_with_their_sample(tmp_path):
    imgs = smooth_images(4, 5)
    files = files_with_a_bad_one(tmp_path, imgs)
    collate = fl.MultiCropCollate(fl.IMAGENET, GROUPS, blur_kernel_size=KERNEL, on_error="skip")
    torch.manual_seed(2)
    random.seed(2)
    with pytest.warns(RuntimeWarning, match="bad.png"):
        got = collate([{"image": f, "label": i} for i, f in enumerate(files)])
    assert got["label"].tolist() == [0, 1, 3, 4]
    torch.manual_seed(2)
    random.seed(2)
    arrays = fl.MultiCropCollate(fl.IMAGENET, GROUPS, blur_kernel_size=KERNEL, input_order="rgb")
    want = arrays([{"image": img, "label": i} for i, img in enumerate(imgs)])  # the bad file drew nothing
    assert got["crop_box"] == want["crop_box"] and got["color"] == want["color"]
    assert all(torch.equal(a, b) for a, b in zip(got["image"], want["image"]))


def test_dino_defaults():
    collate = fl.MultiCropCollate(fl.IMAGENET)
    assert [(g.size, g.count) for g in collate.groups] == [((224, 224), 1), ((224, 224), 1), ((96, 96), 8)]
    assert [g.blur_p for g in collate.groups] == [1.0, 0.1, 0.5] and collate.groups[1].solarize_p == 0.2
    assert collate.interpolation == "bicubic"
    assert collate.blur_kernel_size == 13  # 3 sigma of DINO's largest radius, 2


@pytest.mark.parametrize(
    "kw, error, words",
    [
        (dict(groups=[]), TypeError, "groups"),
        (dict(groups=[(224, (0.4, 1.0))]), TypeError, "CropGroup"),
        (dict(groups=[CropGroup(224, (0.4, 1.0), 0)]), ValueError, "count"),
        (dict(groups=[CropGroup(224, (0.4, 1.0), 1, blur_p=2.0)]), ValueError, "blur_p"),
        (dict(groups=[CropGroup(8, (0.4, 1.0), 1, blur_p=0.5)], blur_kernel_size=23), ValueError, "too large"),
        (dict(draws="pil"), ValueError, "draws"),
        (dict(color_jitter=(0.4,)), ValueError, "color_jitter"),
    ],
)
def test_bad_arguments_name_themselves(kw, error, words):
    with pytest.raises(error, match=words):
        fl.MultiCropCollate(fl.IMAGENET, **kw)


@pytest.mark.parametrize("draws", ["dino", "torchvision"])
def test_the_compiled_draws_equal_the_python_draws(draws, monkeypatch):
    """One fastload::_draw_crops_color call over every crop of the batch (per-entry scales and probabilities)
    against the Python draws crop by crop: the same boxes, flips, colour draws and RNG state after."""
    from fastload import _backend

    if not _backend.defines("fastload::_draw_crops_color"):
        pytest.skip("the extension is not built")
    groups = [*GROUPS, CropGroup(12, (0.2, 0.5), 2, blur_p=0.3, solarize_p=0.6)]
    collate = fl.MultiCropCollate(None, groups, blur_kernel_size=KERNEL, draws=draws)
    sizes = [(40, 60), (7, 300), (96, 96)] * 2
    torch.manual_seed(8)
    random.seed(8)
    compiled = collate._all_draws(sizes)
    after = torch.rand(1), random.random()
    defines = _backend.defines
    monkeypatch.setattr(_backend, "defines", lambda name: name != "fastload::_draw_crops_color" and defines(name))
    torch.manual_seed(8)
    random.seed(8)
    assert collate._all_draws(sizes) == compiled
    assert (torch.rand(1), random.random()) == after


class SeededCollate:
    """A MultiCropCollate that seeds torch's and Python's generators from the batch's first label, so that a batch
    made in a DataLoader worker can be made again here."""

    def __init__(self, collate):
        self.collate = collate

    def __call__(self, samples):
        torch.manual_seed(int(samples[0][1]))
        random.seed(int(samples[0][1]))
        return self.collate(samples)


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="the ring needs Linux memfd")
@pytest.mark.parametrize(
    "norm, dtype, channels_last",
    [(fl.IMAGENET, torch.float32, False), (None, None, False), (fl.IMAGENET, torch.float16, True)],
)
def test_every_view_of_a_batch_arrives_through_one_ring_slot(norm, dtype, channels_last):
    # The 6 views of a batch are written into one slot of the worker's ring and sent as one (a slot goes out by
    # reference once: sent one by one, all but the first would be copied into new shared memory).
    from torch.utils.data import DataLoader

    from fastload.memory import ring

    imgs = smooth_images(12, 6)
    kw = dict(dtype=dtype, channels_last=channels_last) if norm is not None else {}
    collate = SeededCollate(fl.MultiCropCollate(norm, GROUPS, blur_kernel_size=KERNEL, **kw))
    samples = [(img, i) for i, img in enumerate(imgs)]
    before = ring.stats()["received"]
    loader = DataLoader(samples, batch_size=4, num_workers=2, collate_fn=collate, multiprocessing_context="fork")
    for crops, labels in loader:
        assert type(crops) is list and len(crops) == 6
        assert len({c.untyped_storage().data_ptr() for c in crops}) == 1  # one slot holds them all
        want, _ = collate([samples[i] for i in labels.tolist()])  # here: no ring, a plain list
        assert type(want) is list
        for got, expected in zip(crops, want):
            assert torch.equal(got, expected) and got.stride() == expected.stride() and got.dtype == expected.dtype
    assert ring.stats()["received"] - before == 3
    del crops, labels, loader, got, expected, want
    assert all(state == 0 for r in ring.stats()["rings"] for state in r["states"])  # every slot went back


def test_views_not_in_their_slot_pickle_as_a_plain_list():
    import pickle

    from fastload.memory.slot_views import SlotViews, _views

    buffer = torch.arange(256, dtype=torch.uint8)
    inside = [buffer[64:128].view(torch.float32).view(4, 4), buffer[:8]]
    sent = SlotViews(buffer, inside)
    assert sent.__reduce__()[0] is _views  # offsets, shapes, strides and dtypes of the buffer's bytes
    back = pickle.loads(pickle.dumps(sent))
    assert type(back) is list and all(torch.equal(a, b) and a.dtype == b.dtype for a, b in zip(back, inside))
    for stranger in (torch.zeros(4), buffer.clone()[:8], "not a tensor"):
        back = pickle.loads(pickle.dumps(SlotViews(buffer, [*inside, stranger])))
        assert type(back) is list and len(back) == 3 and torch.equal(back[0], inside[0])
