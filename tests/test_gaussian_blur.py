"""fastload.gaussian_blur (torchvision v2's gaussian_blur per image, on the crop kernels) on every backend against
torchvision and each other: kernel sizes square and not, sigma per image (None: untouched), layouts, 1 and 3
channels; bad arguments."""

from __future__ import annotations

import harness
import numpy as np
import pytest
import torch
from harness import Bad, OpTest, Sample

import fastload as fl

TF = pytest.importorskip("torchvision.transforms.v2.functional")


def batch(rng: np.random.Generator, layout: str) -> torch.Tensor:
    h, w = int(rng.integers(5, 40)), int(rng.integers(5, 50))
    if layout == "odd":
        h, w = h | 1, w | 1
    n, c = int(rng.integers(1, 4)), int(rng.choice([1, 3, 3]))
    x = torch.from_numpy(harness.rand_image(rng, (n, c, h, w)))
    if rng.integers(2):
        x = x // 50 * 50  # flat regions
    if layout == "channels_last":
        return x.contiguous(memory_format=torch.channels_last)
    if layout == "sliced":
        big = torch.zeros(n, c, h + 3, w + 5, dtype=torch.uint8)
        big[:, :, 1 : h + 1, 2 : w + 2] = x
        return big[:, :, 1 : h + 1, 2 : w + 2]
    return x


def samples(rng: np.random.Generator, layout: str, dtype) -> list[Sample]:
    x = batch(rng, layout)
    h, w = x.shape[2:]
    kx = int(rng.integers(0, min(w, 12) // 2 + 1)) * 2 + 1 if w > 1 else 1
    ky = int(rng.integers(0, min(h, 12) // 2 + 1)) * 2 + 1 if h > 1 else 1
    kx, ky = min(kx, 2 * (w // 2) + 1 if w % 2 else w - 1), min(ky, 2 * (h // 2) + 1 if h % 2 else h - 1)
    sigma = [None if rng.integers(4) == 0 else float(rng.uniform(0.1, 3.0)) for _ in range(x.shape[0])]
    return [Sample((x, (kx, ky), sigma), {}, f"{layout} {tuple(x.shape)} k={(kx, ky)}")]


def oracle(sample: Sample, result) -> None:
    x, (kx, ky), sigma = sample.args
    assert result.shape == x.shape and result.dtype == torch.uint8
    for i, s in enumerate(sigma):
        got = result[i].cpu()
        if s is None:
            assert torch.equal(got, x[i])  # untouched: the identity taps copy the bytes
            continue
        want = TF.gaussian_blur(x[i], [kx, ky], [s, s])
        assert (got.int() - want.int()).abs().max() <= 1, (sample.label, i)


BLUR = OpTest(
    "gaussian_blur",
    fl.gaussian_blur,
    samples,
    oracle,
    raw_ops=("resized_crop_batch",),
    dtypes=(None,),
    layouts=("contiguous", "channels_last", "sliced", "odd"),
)

test_backends = harness.backend_test(BLUR)
test_property = harness.property_test(BLUR, max_examples=20)


def test_a_photo_within_one_level_of_torchvision_with_few_differences():
    data = pytest.importorskip("skimage.data")
    img = torch.from_numpy(np.ascontiguousarray(data.astronaut()[::2, ::2])).permute(2, 0, 1)
    for k, s in ((23, 1.7), (9, 0.6), (5, 2.0)):
        got = fl.gaussian_blur(img[None], k, s)[0]
        d = (got.int() - TF.gaussian_blur(img, [k, k], [s, s]).int()).abs()
        assert d.max() <= 1 and (d > 0).float().mean() < 1e-3, (k, s, float((d > 0).float().mean()))


def test_the_batched_kernels_are_torchvisions_bit_for_bit():
    # The tap tables are built for every image at once (one division, square and softmax per batch): each row must
    # be torchvision's own kernel for that sigma, and the folded reflected taps those of a single-image table.
    from fastload.functional._blur import _axis, _kernels

    kernel_1d = pytest.importorskip("torchvision.transforms.v2.functional._misc")._get_gaussian_kernel1d
    rng = np.random.default_rng(3)
    for size in (1, 3, 13, 23, 31):
        sigmas = np.concatenate([rng.uniform(0.01, 20.0, 300), [0.1, 1.0, 2.0, 1e-3, 1e3]]).tolist()
        got = _kernels(size, torch.tensor(sigmas, dtype=torch.float32))
        for row, s in zip(got, sigmas):
            assert torch.equal(row, kernel_1d(size, s, torch.float32, torch.device("cpu"))), (size, s)
    for length, size in ((96, 13), (7, 13), (13, 23), (3, 5), (224, 23)):
        sigmas = [None if rng.integers(3) == 0 else float(rng.uniform(0.1, 5.0)) for _ in range(20)]
        starts, weights = _axis(length, size, sigmas)
        for i, s in enumerate(sigmas):
            one_starts, one_weights = _axis(length, size, [s])
            assert torch.equal(starts[i], one_starts[0]) and torch.equal(weights[i], one_weights[0]), (length, i)
            taps = weights[i].sum(dim=1, dtype=torch.float64)
            assert torch.allclose(taps, torch.ones(length, dtype=torch.float64), atol=1e-6)  # reflections folded in


X = torch.zeros(2, 3, 8, 9, dtype=torch.uint8)

test_bad_input = harness.bad_input_test(
    [
        Bad(lambda: fl.gaussian_blur(np.zeros((2, 3, 8, 9), np.uint8), 3, 1.0), TypeError, ("images",)),
        Bad(lambda: fl.gaussian_blur(X.float(), 3, 1.0), TypeError, ("images", "uint8")),
        Bad(lambda: fl.gaussian_blur(X[0], 3, 1.0), ValueError, ("images", "(N, C, H, W)")),
        Bad(lambda: fl.gaussian_blur(X, 4, 1.0), ValueError, ("kernel_size", "odd")),
        Bad(lambda: fl.gaussian_blur(X, (3, 3, 3), 1.0), ValueError, ("kernel_size",)),
        Bad(lambda: fl.gaussian_blur(X, 17, 1.0), ValueError, ("kernel_size", "too large")),
        Bad(lambda: fl.gaussian_blur(X, 3, 0.0), ValueError, ("sigma",)),
        Bad(lambda: fl.gaussian_blur(X, 3, [1.0]), ValueError, ("sigma", "per image")),
        Bad(lambda: fl.gaussian_blur(X, 3, "1"), ValueError, ("sigma",)),
    ]
)
