"""fastload.denormalize / to_numpy_images / Denormalize: every backend against a float64 oracle and each other,
the exact round trip with normalize, layouts, NaN/inf, sizes, bad input."""

from __future__ import annotations

import harness
import numpy as np
import pytest
import torch
from conftest import backend, devices, require_compiled
from harness import Bad, OpTest, Sample
from images import make_image, random_norm

import fastload as fl

DTYPES = (torch.float32, torch.float16, torch.bfloat16)
PRESETS = (fl.IMAGENET, fl.CAFFE, fl.Normalization((0.0, 127.5, 255.0), (1.0, 127.5, 0.5), "bgr"))


def run(x, norm, device, mode, **kw):
    x = x.to(device)
    if mode == "compiled":
        require_compiled("denormalize", device)
    with backend("auto" if mode == "compiled" else "reference"):
        return fl.denormalize(x, norm, **kw)


def float64_oracle(x: torch.Tensor, norm, output_order: str) -> tuple[np.ndarray, np.ndarray]:
    """float64: clip(round_half_even(x * std + mean)), NaN -> 0, channels reordered, HWC; and a mask of the values
    so close to a rounding tie (x.5) that fp32 arithmetic may legitimately land on the other side."""
    v = x.detach().double().cpu().numpy()
    v = v * np.asarray(norm.std).reshape(-1, 1, 1) + np.asarray(norm.mean).reshape(-1, 1, 1)
    v = np.clip(np.nan_to_num(v, nan=0.0), 0, 255)
    near_tie = np.abs(np.abs(v - np.floor(v)) - 0.5) < 1e-4
    v = np.rint(v)  # half to even

    def hwc(a):
        a = np.moveaxis(a, -3, -1)
        return a[..., ::-1] if a.shape[-1] == 3 and output_order != norm.order else a

    return hwc(v).astype(np.uint8), hwc(near_tie)


def assert_matches_oracle(got: torch.Tensor, x: torch.Tensor, norm, output_order: str) -> None:
    want, near_tie = float64_oracle(x, norm, output_order)
    diff = np.abs(got.cpu().numpy().astype(int) - want.astype(int))
    assert diff.max(initial=0) <= 1 and not (diff[~near_tie] > 0).any()


def samples(rng: np.random.Generator, layout: str, dtype) -> list[Sample]:
    h, w = harness.image_size(rng, layout)
    batch = [(), (int(rng.integers(1, 4)),)][int(rng.integers(2))]
    channels = int(rng.choice([1, 3]))
    shape = batch + (channels, h, w)
    # About a third of the values land outside [0, 255] after scaling: both clips are exercised.
    x = (torch.from_numpy(rng.standard_normal(shape).astype(np.float32)) * 3).to(dtype)
    if layout == "channels_last":
        x = x.movedim(-3, -1).contiguous().movedim(-1, -3)
    elif layout == "sliced":  # a crop of a larger tensor
        big = torch.zeros(*shape[:-2], h + 3, w + 5, dtype=dtype)
        big[..., 1:-2, 2:-3] = x
        x = big[..., 1:-2, 2:-3]
    elif layout == "transposed":
        x = x.transpose(-1, -2).contiguous().transpose(-1, -2)
    norm = random_norm(rng, channels)
    # A float tensor has no negative strides: "flipped" is the channel swap (output order != the model's).
    order = ("rgb" if norm.order == "bgr" else "bgr") if layout == "flipped" else str(rng.choice(["bgr", "rgb"]))
    out = [Sample((x, norm), {"output_order": order}, f"{layout} {shape}")]
    out.append(harness.with_out(out[0], fl.denormalize))
    if batch:
        sizes = [(int(rng.integers(0, h + 1)), int(rng.integers(0, w + 1))) for _ in range(batch[0])]
        out.append(Sample((x, norm), {"output_order": order, "sizes": sizes}, f"{layout} {shape} sizes"))
    return out


def oracle(sample: Sample, result) -> None:
    x, norm = sample.args
    order = sample.kwargs["output_order"]
    if "sizes" not in sample.kwargs:
        assert result.dtype == torch.uint8 and result.is_contiguous()  # out= too: it must be the same tensor
        assert_matches_oracle(result, x, norm, order)
        return
    for i, (crop, (h, w)) in enumerate(zip(result, sample.kwargs["sizes"])):
        assert crop.shape == (h, w, x.shape[1]) and crop.is_contiguous()
        assert_matches_oracle(crop, x[i, :, :h, :w], norm, order)


DENORMALIZE = OpTest("denormalize", fl.denormalize, samples, oracle, raw_ops=("denormalize", "denormalize_into"))

test_backends = harness.backend_test(DENORMALIZE)
test_property = harness.property_test(DENORMALIZE, max_examples=100)
test_opcheck = harness.opcheck_test(DENORMALIZE)
test_compile = harness.compile_test(DENORMALIZE)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("norm", PRESETS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["compiled", "reference"])
def test_exact_round_trip_every_value(device, norm, dtype, mode):
    values = torch.arange(256, dtype=torch.uint8)
    img = torch.stack([values, values.flip(0), values.roll(77)], dim=-1).reshape(16, 16, 3)
    for order in ("bgr", "rgb"):
        with backend("auto" if mode == "compiled" else "reference"):
            x = fl.normalize(img.to(device), norm, input_order=order, dtype=dtype)
        back = run(x, norm, device, mode, output_order=order).cpu()
        if dtype == torch.bfloat16:
            assert (back.int() - img.int()).abs().max() <= 1
        else:
            assert torch.equal(back, img), (norm, dtype, order)


@pytest.mark.parametrize("device", devices())
def test_nan_inf_and_ties(device):
    x = torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0, 1e30, -1e30, 0.5, 1.5, 2.5, 254.5, 255.5])
    x = x.reshape(1, 1, -1)
    norm = fl.Normalization(0.0, 1.0)
    for mode in ("compiled", "reference"):
        out = run(x, norm, device, mode).cpu().flatten().tolist()
        assert out == [0, 255, 0, 0, 255, 0, 0, 2, 2, 254, 255]
    # The same specials through the 3-channel planar path (vectorized on the CPU), every dtype, odd widths.
    x3 = torch.cat([x, x.flip(-1), x.roll(3, -1)], dim=0).repeat(1, 2, 3)[..., :31]
    norm3 = fl.Normalization((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    for dtype in DTYPES:
        got = run(x3.to(dtype), norm3, device, "compiled")
        want = run(x3.to(dtype), norm3, device, "reference")
        assert torch.equal(got, want), dtype


@pytest.mark.parametrize("device", devices())
def test_sizes_crop_and_to_numpy(device, rng):
    images = [make_image(rng, (h, w, 3), "contiguous") for h, w in ((5, 7), (3, 9), (6, 2))]
    x = torch.zeros(3, 3, 6, 9)
    for i, img in enumerate(images):
        x[i, :, : img.shape[0], : img.shape[1]] = fl.normalize(img, fl.IMAGENET)
    sizes = torch.tensor([img.shape[:2] for img in images])
    x = x.to(device)
    for s in (sizes, sizes.tolist(), [tuple(v) for v in sizes.tolist()]):
        crops = fl.denormalize(x, fl.IMAGENET, sizes=s)
        assert [tuple(c.shape) for c in crops] == [img.shape for img in images]
        for c, img in zip(crops, images):
            assert c.is_contiguous() and np.array_equal(c.cpu().numpy(), img)
    arrays = fl.to_numpy_images(x, fl.IMAGENET, sizes=sizes)
    for a, img in zip(arrays, images):
        assert isinstance(a, np.ndarray) and a.flags["C_CONTIGUOUS"] and np.array_equal(a, img)
    full = fl.to_numpy_images(x, fl.IMAGENET)
    assert len(full) == 3 and full[0].shape == (6, 9, 3)
    single = fl.to_numpy_images(x[0], fl.IMAGENET, output_order="rgb")
    assert len(single) == 1 and np.array_equal(single[0][:5, :7], images[0][..., ::-1])


def test_requires_grad_is_detached():
    x = torch.randn(3, 4, 4, requires_grad=True)
    out = fl.denormalize(x * 1.0, fl.IMAGENET)
    assert not out.requires_grad and out.dtype == torch.uint8


def test_matches_mmcv_style_imdenormalize_with_round_and_clip():
    # mmcv: img * std + mean (float64 there), then RGB->BGR; we add the round and clip it lacks.
    x = torch.randn(3, 12, 10, generator=torch.Generator().manual_seed(5)) * 2
    mean, std = np.array(fl.IMAGENET.mean), np.array(fl.IMAGENET.std)
    hwc = x.permute(1, 2, 0).double().numpy()
    mm = (hwc * std + mean)[..., ::-1]
    want = np.clip(np.rint(mm), 0, 255).astype(np.uint8)
    near_tie = np.abs(np.abs(mm - np.floor(mm)) - 0.5) < 1e-4
    diff = np.abs(fl.denormalize(x, fl.IMAGENET, output_order="bgr").numpy().astype(int) - want)
    assert not (diff[~near_tie] > 0).any() and diff.max() <= 1


def test_transform():
    t = fl.transforms.Denormalize(fl.CAFFE, output_order="rgb")
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    assert np.array_equal(t(fl.normalize(img, fl.CAFFE, input_order="rgb")).numpy(), img)
    assert "output_order='rgb'" in repr(t) and isinstance(t, torch.nn.Module)


X = torch.zeros(2, 3, 4, 4)
test_bad_input = harness.bad_input_test(
    [
        Bad(
            lambda: fl.denormalize(torch.zeros(3, 4, 4), fl.IMAGENET, out=torch.empty(4, 4, 3)),
            ValueError,
            ("out", "uint8"),
        ),
        Bad(
            lambda: fl.denormalize(torch.zeros(3, 4, 4), fl.IMAGENET, out=torch.empty(3, 4, 4, dtype=torch.uint8)),
            ValueError,
            ("out", "shape"),
        ),
        Bad(
            lambda: fl.denormalize(
                torch.zeros(2, 3, 4, 4), fl.IMAGENET, sizes=[(2, 2)] * 2, out=torch.empty(2, 4, 4, 3, dtype=torch.uint8)
            ),
            ValueError,
            ("out", "sizes"),
        ),
        Bad(lambda: fl.denormalize(torch.zeros(3, 4, 4, dtype=torch.uint8), fl.IMAGENET), TypeError, ("x", "float")),
        Bad(lambda: fl.denormalize(torch.zeros(3, 4, 4, dtype=torch.int64), fl.IMAGENET), TypeError, ("x", "float")),
        Bad(lambda: fl.denormalize(np.zeros((3, 4, 4), np.float32), fl.IMAGENET), TypeError, ("x", "Tensor")),
        Bad(lambda: fl.denormalize(torch.zeros(1, 4, 4), fl.IMAGENET), ValueError, ("channel", "norm")),
        Bad(lambda: fl.denormalize(torch.zeros(4, 4), fl.IMAGENET), ValueError, ("(C, H, W)",)),
        Bad(lambda: fl.denormalize(X[0], fl.IMAGENET, output_order="xyz"), ValueError, ("output_order",)),
        Bad(lambda: fl.denormalize(X, fl.IMAGENET, sizes=[(4, 4), (5, 4)]), ValueError, ("sizes[1]", "larger")),
        Bad(lambda: fl.denormalize(X, fl.IMAGENET, sizes=[(4, 4), (-1, 4)]), ValueError, ("sizes[1]", "negative")),
        Bad(lambda: fl.denormalize(X, fl.IMAGENET, sizes=[(4, 4)]), ValueError, ("one (h, w)",)),
        Bad(lambda: fl.denormalize(X, fl.IMAGENET, sizes=[(4, 4, 1), (4, 4, 1)]), ValueError, ("sizes[0]", "pair")),
        Bad(lambda: fl.denormalize(X, fl.IMAGENET, sizes=torch.zeros(2, 2)), TypeError, ("sizes", "integers")),
        Bad(lambda: fl.denormalize(X[0], fl.IMAGENET, sizes=[(4, 4)]), ValueError, ("sizes", "batch")),
        Bad(lambda: fl.to_numpy_images(X, fl.IMAGENET, sizes=[(9, 4), (4, 4)]), ValueError, ("sizes[0]", "larger")),
    ]
)


def test_cpp_op_rechecks_its_arguments():
    require_compiled("denormalize", "cpu")
    op = torch.ops.fastload.denormalize
    with pytest.raises(RuntimeError, match="float32"):
        op(torch.zeros(3, 2, 2, dtype=torch.uint8), [0.0] * 3, [1.0] * 3, [0, 1, 2])
    with pytest.raises(RuntimeError, match="dims"):
        op(torch.zeros(2, 2), [0.0] * 3, [1.0] * 3, [0, 1, 2])
    with pytest.raises(RuntimeError, match="channels"):
        op(torch.zeros(2, 2, 2), [0.0] * 2, [1.0] * 2, [0, 1])
    with pytest.raises(RuntimeError, match="permutation"):
        op(torch.zeros(3, 2, 2), [0.0] * 3, [1.0] * 3, [0, 0, 1])
    with pytest.raises(RuntimeError, match="one value per channel"):
        op(torch.zeros(3, 2, 2), [0.0] * 2, [1.0] * 3, [0, 1, 2])
