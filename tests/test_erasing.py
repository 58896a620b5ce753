"""fastload.RandomErasing against timm's RandomErasing under the same `random` and torch seeds: every mode, counts,
clean splits, single images, half precision; the batch's own device by default; bad arguments."""

from __future__ import annotations

import random

import pytest
import torch

import fastload as fl

timm_erasing = pytest.importorskip("timm.data.random_erasing")

SETTINGS = [
    dict(probability=0.25, mode="pixel"),  # DeiT's recipe (reprob 0.25, remode pixel)
    dict(probability=0.5, mode="const"),
    dict(probability=1.0, mode="rand", min_count=1, max_count=3),
    dict(probability=0.9, mode="pixel", min_area=0.1, max_area=0.5, min_aspect=0.5, max_aspect=3.0, num_splits=2),
    dict(probability=1.0, mode="const", min_count=2),
]


@pytest.mark.parametrize("kw", SETTINGS, ids=range(len(SETTINGS)))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_equals_timm_under_the_same_seeds(kw, dtype):
    for seed in range(4):
        x = torch.randn(8, 3, 23, 31).to(dtype)
        random.seed(seed)
        torch.manual_seed(seed)
        want = timm_erasing.RandomErasing(**kw, device="cpu")(x.clone())
        random.seed(seed)
        torch.manual_seed(seed)
        got = x.clone()
        assert fl.RandomErasing(**kw)(got) is got  # in place
        assert torch.equal(got, want), (kw, seed)
        if kw["probability"] == 1.0:
            assert not torch.equal(got, x)  # something was erased: the test can fail


def test_a_single_image_and_the_random_state_after():
    x = torch.randn(3, 40, 40)
    random.seed(1)
    torch.manual_seed(1)
    want = timm_erasing.RandomErasing(probability=1.0, mode="pixel", device="cpu")(x.clone())
    after = (random.random(), torch.rand(1))
    random.seed(1)
    torch.manual_seed(1)
    got = fl.RandomErasing(probability=1.0, mode="pixel")(x.clone())
    assert torch.equal(got, want) and (random.random(), torch.rand(1)) == after


def test_probability_zero_leaves_the_batch_and_draws_once_per_image():
    x = torch.randn(4, 3, 8, 8)
    random.seed(0)
    got = fl.RandomErasing(probability=0.0)(x.clone())
    assert torch.equal(got, x)
    state = random.getstate()
    random.seed(0)
    for _ in range(4):
        random.random()
    assert random.getstate() == state


@pytest.mark.parametrize(
    "kw, words",
    [
        (dict(probability=1.5), ("probability",)),
        (dict(min_area=0.0), ("min_area",)),
        (dict(min_area=0.5, max_area=0.2), ("min_area", "max_area")),
        (dict(min_aspect=-1.0), ("min_aspect",)),
        (dict(mode="noise"), ("mode",)),
        (dict(min_count=0), ("min_count",)),
        (dict(min_count=3, max_count=2), ("max_count",)),
        (dict(num_splits=-1), ("num_splits",)),
    ],
)
def test_bad_arguments(kw, words):
    with pytest.raises(ValueError) as raised:
        fl.RandomErasing(**kw)
    assert all(w in str(raised.value) for w in words), raised.value


def test_bad_batches():
    erase = fl.RandomErasing()
    for bad in (torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(4, 4), [1.0]):
        with pytest.raises(ValueError, match="x must be a floating-point"):
            erase(bad)
