"""fastload.normalize (and its out= form, normalize_into): the op table over every backend x layout x dtype against
a float64 oracle and bit for bit between backends; exhaustive values and rounding; torchvision equivalence; bad
input in Python and in the C++ op."""

from __future__ import annotations

import harness
import numpy as np
import pytest
import torch
from conftest import backend, devices, require_compiled
from harness import DTYPES, Bad, OpTest, Sample
from images import fp32_error, make_image, normalize_oracle, random_norm

import fastload as fl


def samples(rng: np.random.Generator, layout: str, dtype) -> list[Sample]:
    h, w = harness.image_size(rng, layout)
    batch = [(), (int(rng.integers(1, 4)),)][int(rng.integers(2))]
    channels = int(rng.choice([1, 3]))
    shape = batch + (h, w, channels)
    img = harness.image_in_layout(rng, shape, harness.storage_layout(layout))
    if layout == "transposed" and rng.integers(2):
        img = torch.from_numpy(np.ascontiguousarray(img)).transpose(-3, -2).contiguous().transpose(-3, -2)
    channels_last = layout == "channels_last"
    kw = dict(input_order=str(rng.choice(["bgr", "rgb"])), dtype=dtype, channels_last=channels_last)
    norm = random_norm(rng, channels)
    out = [Sample((img, norm), kw, f"{layout} {shape}")]
    # The out= form (normalize_into) on a buffer in the requested layout, prefilled with NaN.
    *lead, c = batch + (channels,)
    if channels_last:
        buf = torch.full((*lead, h, w, c), float("nan"), dtype=dtype).movedim(-1, -3)
    else:
        buf = torch.full((*lead, c, h, w), float("nan"), dtype=dtype)
    out.append(Sample((img, norm), {**kw, "out": buf}, f"{layout} {shape} out="))
    return out


def check_against_oracle(out, img, norm, input_order, dtype):
    expected = normalize_oracle(img, norm.mean, norm.std, norm.order, input_order)
    assert tuple(out.shape) == expected.shape
    got = out.float().cpu().numpy().astype(np.float64)
    error = fp32_error(expected, norm)  # fp32 (x - mean) * (1/std)
    if dtype == torch.float32:
        np.testing.assert_array_less(np.abs(got - expected), error + 1e-12)
    else:
        # fp16/bf16 are the fp32 result rounded once: within half an ulp of it (+ the fp32 error).
        eps = {torch.float16: 2.0**-11, torch.bfloat16: 2.0**-8}[dtype]
        np.testing.assert_array_less(np.abs(got - expected), eps * np.abs(expected) + (1 + eps) * error + 6e-8)


def oracle(sample: Sample, result) -> None:
    img, norm = sample.args
    kw = sample.kwargs
    assert result.dtype == kw["dtype"]
    if kw["channels_last"] and result.dim() == 4:
        assert result.is_contiguous(memory_format=torch.channels_last)
    elif result.dim() == 4:
        assert result.is_contiguous()
    check_against_oracle(result, img, norm, kw["input_order"], kw["dtype"])


NORMALIZE = OpTest("normalize", fl.normalize, samples, oracle, raw_ops=("normalize", "normalize_into"))

test_backends = harness.backend_test(NORMALIZE)
test_property = harness.property_test(NORMALIZE, max_examples=150)
test_opcheck = harness.opcheck_test(NORMALIZE)
test_compile = harness.compile_test(NORMALIZE)

IMG = np.zeros((4, 4, 3), np.uint8)
test_bad_input = harness.bad_input_test(
    [
        Bad(lambda: fl.normalize(np.zeros((4, 4, 3), np.float32), fl.IMAGENET), TypeError, ("img", "uint8")),
        Bad(lambda: fl.normalize(torch.zeros(4, 4, 3), fl.IMAGENET), TypeError, ("img", "uint8")),
        Bad(lambda: fl.normalize([[1, 2, 3]], fl.IMAGENET), TypeError, ("img", "list")),
        Bad(lambda: fl.normalize(np.zeros((4, 3), np.uint8), fl.IMAGENET), ValueError, ("img", "1 channel")),  # grey
        Bad(lambda: fl.normalize(np.zeros((1, 2, 4, 4, 3), np.uint8), fl.IMAGENET), ValueError, ("img",)),
        Bad(lambda: fl.normalize(np.zeros((3, 4, 4), np.uint8), fl.IMAGENET), ValueError, ("ambiguous", "HWC")),
        Bad(lambda: fl.normalize(np.zeros((3, 4, 5), np.uint8), fl.IMAGENET), ValueError, ("channels", "HWC")),
        Bad(lambda: fl.normalize(np.zeros((4, 4, 1), np.uint8), fl.IMAGENET), ValueError, ("1 channel", "norm")),
        Bad(lambda: fl.normalize(IMG, fl.Normalization(0.0, 1.0)), ValueError, ("norm",)),
        Bad(lambda: fl.normalize(IMG, fl.IMAGENET, input_order="rbg"), ValueError, ("input_order",)),
        Bad(lambda: fl.normalize(IMG, fl.IMAGENET, dtype=torch.int32), ValueError, ("dtype",)),
        Bad(lambda: fl.normalize(IMG, fl.IMAGENET, dtype="float32"), TypeError, ("dtype",)),
        Bad(lambda: fl.normalize(IMG, (0.5, 0.5)), TypeError, ("norm", "Normalization")),
        Bad(lambda: fl.normalize(IMG, fl.IMAGENET, channels_last=1), TypeError, ("channels_last",)),
        Bad(lambda: fl.normalize(IMG, fl.IMAGENET, out=[1]), TypeError, ("out",)),
        Bad(lambda: fl.normalize(IMG, fl.IMAGENET, out=torch.empty(3, 4, 5)), ValueError, ("out", "shape")),
        Bad(
            lambda: fl.normalize(IMG, fl.IMAGENET, out=torch.empty(3, 4, 4, dtype=torch.float64)),
            ValueError,
            ("out", "float32"),
        ),
        Bad(
            lambda: fl.normalize(IMG, fl.IMAGENET, out=torch.empty(3, 4, 4), dtype=torch.float16),
            ValueError,
            ("disagrees",),
        ),
        Bad(
            lambda: fl.normalize(IMG, fl.IMAGENET, out=torch.empty(3, 4, 4), channels_last=True),
            ValueError,
            ("channels_last",),
        ),
        Bad(
            lambda: fl.normalize(IMG, fl.IMAGENET, out=torch.empty(4, 3, 4).transpose(0, 1)),
            ValueError,
            ("contiguous or channels_last",),
        ),
    ]
)


def run(img, norm, device, mode, **kw):
    """normalize with the compiled op ('compiled') or the reference, on `device`."""
    if isinstance(img, np.ndarray) and device != "cpu":
        img = torch.from_numpy(np.ascontiguousarray(img))
    if isinstance(img, torch.Tensor):
        img = img.to(device)
    if mode == "compiled":
        require_compiled("normalize", device)
    with backend("auto" if mode == "compiled" else "reference"):
        return fl.normalize(img, norm, **kw)


@pytest.mark.parametrize("device", devices())
def test_every_uint8_value_every_channel_and_spec(device):
    # All 256 values in each channel, both presets and both orders: exhaustive over the value domain.
    values = torch.arange(256, dtype=torch.uint8)
    img = torch.stack([values, values.flip(0), values.roll(77)], dim=-1).reshape(16, 16, 3)
    for norm in (fl.IMAGENET, fl.CAFFE):
        for order in ("bgr", "rgb"):
            for dtype in DTYPES:
                got = run(img, norm, device, "compiled", input_order=order, dtype=dtype)
                want = run(img, norm, device, "reference", input_order=order, dtype=dtype)
                assert torch.equal(got, want)
                check_against_oracle(got, img, norm, order, dtype)


@pytest.mark.parametrize("device", devices())
def test_reduced_precision_rounding_over_every_exponent(device):
    # y = (x - mean) * inv_std for all 256 x and inv_std across the whole fp32 exponent range: fp16 subnormals,
    # overflow to inf, ties; bf16 likewise. The compiled rounding must equal torch's own, bit for bit.
    # 1 and 3 channels, so both the scalar rounding and the SIMD (3-channel planar) rounding are covered.
    require_compiled("normalize", device)
    values = torch.arange(256, dtype=torch.uint8)
    gray = values.reshape(16, 16, 1).to(device)
    color = torch.stack([values, values.flip(0), values.roll(99)], -1).reshape(16, 16, 3).to(device)
    for k in range(-40, 40):
        for frac, mean in ((1.0, 0.0), (1.2345678, 0.0), (1.7, 127.3), (1.0, 128.0)):
            for img, cmap in ((gray, [0]), (color, [2, 1, 0]), (color, [0, 1, 2])):
                c = img.shape[-1]
                for dtype in (torch.float16, torch.bfloat16):
                    for channels_last in (False, True):
                        call = (img, [mean] * c, [frac * 2.0**k] * c, cmap, 0, dtype, channels_last)
                        got = torch.ops.fastload.normalize(*call)
                        want = fl.reference.normalize(*call)
                        assert torch.equal(got, want), (k, frac, mean, dtype, c, channels_last)


def test_torchvision_v2_equivalence(rng):
    from torchvision.transforms import v2

    img = make_image(rng, (45, 61, 3), "contiguous")  # BGR, as OpenCV decodes
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    pipeline = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)])
    want = pipeline(np.ascontiguousarray(img[..., ::-1]))
    got = fl.normalize(img, fl.Normalization.from_unit(mean, std), input_order="bgr")
    torch.testing.assert_close(got, want.as_subclass(torch.Tensor), atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "args, words",
    [
        ((torch.zeros(4, 4, 3), [0.0] * 3, [1.0] * 3, [0, 1, 2], 0, torch.float32, False), "uint8"),
        ((torch.zeros(4, 3, dtype=torch.uint8), [0.0] * 3, [1.0] * 3, [0, 1, 2], 0, torch.float32, False), "dims"),
        ((torch.zeros(4, 4, 2, dtype=torch.uint8), [0.0] * 2, [1.0] * 2, [0, 1], 0, torch.float32, False), "channels"),
        (
            (torch.zeros(4, 4, 3, dtype=torch.uint8), [0.0] * 2, [1.0] * 3, [0, 1, 2], 0, torch.float32, False),
            "one value per channel",
        ),
        (
            (torch.zeros(4, 4, 3, dtype=torch.uint8), [0.0] * 3, [1.0] * 3, [0, 0, 2], 0, torch.float32, False),
            "permutation",
        ),
        (
            (torch.zeros(4, 4, 3, dtype=torch.uint8), [0.0] * 3, [1.0] * 3, [0, 1, 3], 0, torch.float32, False),
            "permutation",
        ),
        (
            (torch.zeros(4, 4, 3, dtype=torch.uint8), [0.0] * 3, [1.0] * 3, [0, 1, 2], 32, torch.float32, False),
            "out of range",
        ),
        (
            (torch.zeros(4, 4, 3, dtype=torch.uint8), [0.0] * 3, [1.0] * 3, [0, 1, 2], -1, torch.float32, False),
            "out of range",
        ),
        ((torch.zeros(4, 4, 3, dtype=torch.uint8), [0.0] * 3, [1.0] * 3, [0, 1, 2], 0, torch.int32, False), "dtype"),
    ],
)
def test_cpp_op_rechecks_its_arguments(args, words):
    require_compiled("normalize", "cpu")
    with pytest.raises(RuntimeError, match=words) as info:
        torch.ops.fastload.normalize(*args)
    assert str(info.value).startswith("fastload::normalize: ")  # every message names the op


@pytest.mark.cuda
def test_cuda_matches_cpu_bit_for_bit_large_batch(rng):
    img = torch.from_numpy(make_image(rng, (64, 224, 224, 3), "contiguous"))
    for dtype in DTYPES:
        for channels_last in (False, True):
            cpu = fl.normalize(img, fl.IMAGENET, dtype=dtype, channels_last=channels_last)
            gpu = fl.normalize(img.cuda(), fl.IMAGENET, dtype=dtype, channels_last=channels_last)
            assert torch.equal(gpu.cpu(), cpu)


@pytest.mark.cuda
def test_cuda_more_than_2_31_output_elements():
    # int64 indexing: 2^31 + some output elements (fp16: ~4.3 GB out, ~2.2 GB in); check slices at both ends.
    n = (2**31) // (3 * 1024 * 1024) + 1
    img = torch.randint(0, 256, (n, 1024, 1024, 3), dtype=torch.uint8, device="cuda")
    out = fl.normalize(img, fl.IMAGENET, dtype=torch.float16)
    for i in (0, n - 1):
        with backend("reference"):
            want = fl.normalize(img[i], fl.IMAGENET, dtype=torch.float16)
        assert torch.equal(out[i], want)


def test_normalize_into_cpp_checks(rng):
    require_compiled("normalize_into", "cpu")
    img = torch.from_numpy(make_image(rng, (5, 7, 3), "contiguous"))
    args = (img, [0.0] * 3, [1.0] * 3, [0, 1, 2], 0)
    with pytest.raises(RuntimeError, match="shape"):
        torch.ops.fastload.normalize_into(*args, torch.empty(3, 7, 5))
    with pytest.raises(RuntimeError, match="contiguous or channels_last"):
        torch.ops.fastload.normalize_into(*args, torch.empty(5, 3, 7).transpose(0, 1))
    with pytest.raises(RuntimeError, match="dtype"):
        torch.ops.fastload.normalize_into(*args, torch.empty(3, 5, 7, dtype=torch.float64))
    aliased = torch.empty(3 * 5 * 7 * 4, dtype=torch.uint8)
    with pytest.raises(RuntimeError, match="overlaps img"):
        torch.ops.fastload.normalize_into(
            aliased[: 5 * 7 * 3].view(5, 7, 3), *args[1:], aliased.view(torch.float32).view(3, 5, 7)
        )
    out = torch.empty(3, 5, 7, dtype=torch.bfloat16)
    torch.library.opcheck(torch.ops.fastload.normalize_into.default, args + (out,))


def test_out_overlapping_img_through_another_storage_is_refused():
    # A numpy view of the output's own bytes used as the input: a different storage, the same memory.
    out = torch.zeros(3, 4, 4)
    img = out.numpy().view(np.uint8).reshape(-1)[: 4 * 4 * 3].reshape(4, 4, 3)
    with pytest.raises(ValueError, match="out overlaps img"):
        fl.normalize(img, fl.IMAGENET, out=out)
    require_compiled("normalize_into", "cpu")
    with pytest.raises(RuntimeError, match="fastload::normalize_into: out overlaps img"):
        torch.ops.fastload.normalize_into(torch.from_numpy(img), [0.0] * 3, [1.0] * 3, [0, 1, 2], 0, out)


def test_out_requiring_grad_is_refused_and_numpy_bools_are_bools():
    img = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="out must not require grad"):
        fl.normalize(img, fl.IMAGENET, out=torch.zeros(3, 4, 4, requires_grad=True))
    out = fl.normalize(np.zeros((2, 4, 4, 3), np.uint8), fl.IMAGENET, channels_last=np.bool_(True))
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_numpy_input_under_compile_is_documented_as_unsupported():
    # torch.compile traces tensors; README says to pass torch tensors (torch.from_numpy) to compiled code.
    img = torch.zeros(4, 4, 3, dtype=torch.uint8)
    compiled = torch.compile(lambda x: fl.normalize(x, fl.IMAGENET), fullgraph=True, backend="aot_eager")
    assert torch.equal(compiled(img), fl.normalize(img, fl.IMAGENET))
