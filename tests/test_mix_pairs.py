"""fastload.mix_pairs (batch Mixup / CutMix of image i with image N-1-i) on every backend against a float64 oracle
and each other, in place and not; fastload.Mixup against timm's Mixup under the same NumPy seed."""

from __future__ import annotations

import harness
import numpy as np
import pytest
import torch
from conftest import backend, devices, require_compiled
from harness import Bad, OpTest, Sample

import fastload as fl

BACKENDS = ("auto", "reference", "cuda-emulation")


def batch(rng: np.random.Generator, layout: str, dtype, n: int | None = None) -> torch.Tensor:
    h, w = harness.image_size(rng, layout)
    n = int(rng.integers(1, 6)) if n is None else n  # odd batches too: the middle image mixes with itself
    c = int(rng.choice([1, 2, 3]))
    x = torch.from_numpy(rng.standard_normal((n, c, h, w)).astype(np.float32) * 2).to(dtype)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    elif layout in ("sliced", "unaligned"):  # a crop of a larger batch (unaligned: starting one element in)
        big = torch.zeros(n, c, h + 3, w + 5, dtype=dtype)
        big[:, :, 1 : h + 1, 2 : w + 2] = x
        x = big[:, :, 1 : h + 1, 2 : w + 2]
    elif layout in ("transposed", "flipped"):  # H and W swapped in memory (a float tensor has no negative strides)
        x = x.transpose(2, 3).contiguous().transpose(2, 3)
    return x


def samples(rng: np.random.Generator, layout: str, dtype) -> list[Sample]:
    x = batch(rng, layout, dtype)
    h, w = x.shape[2:]
    lam = float(rng.uniform(0, 1))
    y0, y1 = sorted(int(v) for v in rng.integers(0, h + 1, 2))
    x0, x1 = sorted(int(v) for v in rng.integers(0, w + 1, 2))
    out = [
        Sample((x, lam), {}, f"{layout} {tuple(x.shape)} mixup lam={lam:.3f}"),
        Sample((x, lam), {"box": (y0, y1, x0, x1)}, f"{layout} {tuple(x.shape)} cutmix {(y0, y1, x0, x1)}"),
    ]
    return out + [harness.with_out(s, fl.mix_pairs) for s in out]


def oracle(sample: Sample, result) -> None:
    x, lam = sample.args
    box = sample.kwargs.get("box")
    assert result.shape == x.shape and result.dtype == x.dtype
    flipped = x.flip(0)
    if box is not None:
        y0, y1, x0, x1 = box
        want = x.clone()
        want[:, :, y0:y1, x0:x1] = flipped[:, :, y0:y1, x0:x1]
        assert torch.equal(result.cpu(), want)
        return
    # float64 products and sum, each rounded to the dtype: exact for fp32 (a float64 product or sum of two fp32
    # values is exact); fp16/bf16 values go through fp32 first (torch's and the kernels' double rounding), 1 ulp.
    a, b = x.double(), flipped.double()
    scaled = (a * float(np.float32(lam))).to(x.dtype).double()
    other = (b * float(np.float32(1.0 - lam))).to(x.dtype).double()
    want = (scaled + other).to(x.dtype)
    if x.dtype == torch.float32:
        assert torch.equal(result.cpu(), want)
    else:
        ulp = {torch.float16: 2.0**-10, torch.bfloat16: 2.0**-7}[x.dtype]
        diff = (result.cpu().double() - want.double()).abs()
        assert (diff <= 2 * ulp * want.double().abs().clamp(min=2.0**-14)).all()


MIX_PAIRS = OpTest("mix_pairs", fl.mix_pairs, samples, oracle, raw_ops=("mix_pairs", "mix_pairs_into"))

test_backends = harness.backend_test(MIX_PAIRS)
test_property = harness.property_test(MIX_PAIRS, max_examples=40)
test_opcheck = harness.opcheck_test(MIX_PAIRS)
test_compile = harness.compile_test(MIX_PAIRS)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "sliced", "odd"])
@pytest.mark.parametrize("dtype", harness.DTYPES)
def test_in_place_equals_a_new_batch(device, layout, dtype):
    """out=x mixes in place, pair by pair: the same bits as a new tensor, on every backend; CutMix in place leaves
    every element outside the box as it was."""
    rng = np.random.default_rng(harness.seed_of("in place", layout, str(dtype)))
    x = batch(rng, layout, dtype, n=int(rng.integers(2, 6))).to(device)
    h, w = x.shape[2:]
    for box in (None, (h // 4, h - h // 3, w // 5, w - w // 4)):
        for mode in BACKENDS if device == "cpu" else ("auto", "reference"):
            with backend(mode):
                want = fl.mix_pairs(x, 0.3, box)
                y = x.clone(memory_format=torch.preserve_format)
                assert fl.mix_pairs(y, 0.3, box, out=y) is y
            harness.assert_same_bits(y, want, f"{mode} {box}")


def test_in_place_on_a_strided_view_and_an_expanded_batch_refused():
    x = torch.randn(6, 3, 5, 7)
    view = x[1:5:3]  # images 1 and 4: not contiguous, "too hard" for torch's overlap test
    want = fl.mix_pairs(view, 0.3)
    assert fl.mix_pairs(view, 0.3, out=view) is view and torch.equal(view, want)
    expanded = torch.randn(1, 3, 5, 7).expand(4, 3, 5, 7)
    with pytest.raises(ValueError, match="expanded"):
        fl.mix_pairs(expanded, 0.3, out=expanded)
    require_compiled("mix_pairs", "cpu")
    require_compiled("adjust_color", "cpu")
    with pytest.raises(RuntimeError, match="several indices"):  # the compiled op's own check, behind the wrapper's
        torch.ops.fastload.mix_pairs_into(expanded, 0.3, [], expanded)
    pixels = torch.zeros(1, 3, 4, 5, dtype=torch.uint8).expand(2, 3, 4, 5)
    with pytest.raises(RuntimeError, match="several indices"):
        torch.ops.fastload.adjust_color_into(
            pixels, torch.zeros(2, 1).long(), torch.ones(2, 12).double(), [0, 1, 2], pixels
        )


def test_batch_mixup_and_cutmix_equal_timms_under_the_same_seed():
    timm_mixup = pytest.importorskip("timm.data.mixup")
    rng = np.random.default_rng(3)
    settings = [
        dict(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=10),  # DeiT's recipe
        dict(mixup_alpha=0.2, cutmix_alpha=0.0, prob=0.5, label_smoothing=0.0, num_classes=7),
        dict(mixup_alpha=0.0, cutmix_alpha=1.0, correct_lam=False, num_classes=5),
        dict(cutmix_minmax=(0.2, 0.8), mixup_alpha=0.0, num_classes=5),
    ]
    for kw in settings:
        ours, theirs = fl.Mixup(**kw), timm_mixup.Mixup(**kw)
        for seed in range(6):
            x = torch.from_numpy(rng.standard_normal((8, 3, 13, 17)).astype(np.float32))
            target = torch.from_numpy(rng.integers(0, kw["num_classes"], 8))
            np.random.seed(seed)
            want_x, want_y = theirs(x.clone(), target.clone())
            np.random.seed(seed)
            got = x.clone()
            got_x, got_y = ours(got, target.clone())
            assert got_x is got  # mixed in place, as timm
            assert torch.equal(got_x, want_x), (kw, seed)
            assert got_y.dtype == want_y.dtype and torch.equal(got_y, want_y), (kw, seed)


@pytest.mark.parametrize("mode", ["pair", "elem"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_pair_and_elem_modes_equal_timms_under_the_same_seed(mode, dtype):
    timm_mixup = pytest.importorskip("timm.data.mixup")
    rng = np.random.default_rng(4)
    settings = [
        dict(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=10),
        dict(mixup_alpha=0.4, cutmix_alpha=0.0, prob=0.6, num_classes=7),
        dict(mixup_alpha=0.0, cutmix_alpha=1.0, correct_lam=False, num_classes=5),
        dict(cutmix_minmax=(0.2, 0.8), mixup_alpha=0.0, num_classes=5),
    ]
    for kw in settings:
        ours, theirs = fl.Mixup(mode=mode, **kw), timm_mixup.Mixup(mode=mode, **kw)
        for seed in range(5):
            x = torch.from_numpy(rng.standard_normal((6, 3, 11, 9)).astype(np.float32)).to(dtype)
            target = torch.from_numpy(rng.integers(0, kw["num_classes"], 6))
            np.random.seed(seed)
            want_x, want_y = theirs(x.clone(), target.clone())
            after = np.random.rand()
            np.random.seed(seed)
            got = x.clone()
            got_x, got_y = ours(got, target.clone())
            assert got_x is got and np.random.rand() == after  # in place; the same draws
            assert torch.equal(got_x, want_x), (kw, seed)
            assert got_y.dtype == want_y.dtype and torch.equal(got_y, want_y), (kw, seed)
            assert not torch.equal(got_x, x) or kw.get("prob", 1.0) < 1.0  # mixed: the test can fail


def test_mixup_draws_nothing_when_disabled_and_keeps_the_batch():
    mix = fl.Mixup(num_classes=4, label_smoothing=0.0)
    mix.mixup_enabled = False
    x = torch.randn(4, 3, 5, 5)
    before = x.clone()
    state = np.random.get_state()[1].copy()
    got, y = mix(x, torch.tensor([0, 1, 2, 3]))
    assert torch.equal(got, before) and torch.equal(y, torch.eye(4))
    assert np.array_equal(np.random.get_state()[1], state)


X = torch.zeros(2, 3, 4, 5)
BASE = torch.zeros(3, 3, 4, 5)

test_bad_input = harness.bad_input_test(
    [
        Bad(lambda: fl.mix_pairs(np.zeros((2, 3, 4, 5), np.float32), 0.5), TypeError, ("x",)),
        Bad(lambda: fl.mix_pairs(X.to(torch.uint8), 0.5), TypeError, ("x", "float")),
        Bad(lambda: fl.mix_pairs(X[0], 0.5), ValueError, ("x", "(N, C, H, W)")),
        Bad(lambda: fl.mix_pairs(X.clone().requires_grad_(), 0.5), ValueError, ("x", "grad")),
        Bad(lambda: fl.mix_pairs(X, 1.5), ValueError, ("lam",)),
        Bad(lambda: fl.mix_pairs(X, True), ValueError, ("lam",)),
        Bad(lambda: fl.mix_pairs(X, 0.5, (0, 5, 0, 2)), ValueError, ("box", "inside")),
        Bad(lambda: fl.mix_pairs(X, 0.5, (2, 1, 0, 2)), ValueError, ("box",)),
        Bad(lambda: fl.mix_pairs(X, 0.5, (0, 1, 0)), ValueError, ("box",)),
        Bad(lambda: fl.mix_pairs(X, 0.5, out=np.zeros(3)), TypeError, ("out",)),
        Bad(lambda: fl.mix_pairs(X, 0.5, out=torch.zeros(2, 3, 4, 4)), ValueError, ("out", "shape")),
        Bad(lambda: fl.mix_pairs(BASE[:2], 0.5, out=BASE[1:]), ValueError, ("out", "shares memory")),
        Bad(lambda: fl.Mixup(mixup_alpha=0.0, cutmix_alpha=0.0), ValueError, ("mixup_alpha", "cutmix_alpha")),
        Bad(lambda: fl.Mixup(mixup_alpha=-1.0), ValueError, ("mixup_alpha",)),
        Bad(lambda: fl.Mixup(prob=2.0), ValueError, ("prob",)),
        Bad(lambda: fl.Mixup(mode="half"), ValueError, ("mode", "elem")),
        Bad(lambda: fl.Mixup(cutmix_minmax=(0.9, 0.1)), ValueError, ("cutmix_minmax",)),
        Bad(lambda: fl.Mixup(label_smoothing=1.0), ValueError, ("label_smoothing",)),
        Bad(lambda: fl.Mixup(num_classes=0), ValueError, ("num_classes",)),
        Bad(
            lambda: fl.Mixup(num_classes=3)(torch.zeros(3, 3, 4, 4), torch.zeros(3, dtype=torch.long)),
            ValueError,
            ("x", "even"),
        ),
        Bad(lambda: fl.Mixup(num_classes=3)(X.clone(), torch.tensor([0, 3])), ValueError, ("target", "classes")),
        Bad(lambda: fl.Mixup(num_classes=3)(X.to(torch.uint8), torch.tensor([0, 1])), TypeError, ("x", "float")),
        Bad(lambda: fl.Mixup(num_classes=3)(X.clone(), torch.zeros(2)), ValueError, ("target", "int")),
    ]
)
