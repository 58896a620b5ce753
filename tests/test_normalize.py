"""fastload.normalize: every backend against a float64 oracle and against each other, over shapes, layouts, channel
orders, dtypes and memory formats; torchvision equivalence; opcheck and torch.compile; bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fastload as fl
from conftest import backend, devices, require_compiled
from images import VIEWS, make_image, normalize_oracle, to_numpy

DTYPES = (torch.float32, torch.float16, torch.bfloat16)
SHAPES = [(1, 1), (1, 7), (5, 1), (3, 5), (17, 31), (64, 33), (800, 1333)]


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


def check_against_oracle(out, img, norm, input_order, dtype):
    expected = normalize_oracle(img, norm.mean, norm.std, norm.order, input_order)
    assert tuple(out.shape) == expected.shape
    got = out.float().cpu().numpy().astype(np.float64)
    if dtype == torch.float32:
        # fp32 (x - mean) * (1/std): a few ulps of the result; 1e-5 absolute for |y| <= 1.
        np.testing.assert_array_less(np.abs(got - expected), 1e-5 * np.maximum(1.0, np.abs(expected)) + 1e-12)
    else:
        # fp16/bf16 are the fp32 result rounded once: within half an ulp of it (+ the fp32 error).
        eps = {torch.float16: 2.0**-11, torch.bfloat16: 2.0**-8}[dtype]
        np.testing.assert_array_less(np.abs(got - expected), eps * np.abs(expected) + 1e-5 + 6e-8)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("mode", ["compiled", "reference"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("batch", [None, 3])
def test_shapes_against_oracle(device, mode, shape, batch, rng):
    if batch and shape == (800, 1333):
        batch = 2
    full = ((batch,) if batch else ()) + shape + (3,)
    img = make_image(rng, full, "contiguous")
    out = run(img, fl.IMAGENET, device, mode)
    assert out.dtype == torch.float32 and out.device.type == device and out.is_contiguous()
    check_against_oracle(out, img, fl.IMAGENET, "bgr", torch.float32)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("batch", [None, 2])
@pytest.mark.parametrize("input_order", ["bgr", "rgb"])
def test_layouts_match_reference_bit_for_bit(device, view, channels, batch, input_order, rng):
    shape = ((batch,) if batch else ()) + (13, 21, channels)
    img = make_image(rng, shape, view)
    before = to_numpy(img).copy()
    norm = fl.IMAGENET if channels == 3 else fl.Normalization(127.5, 58.0)
    for dtype in DTYPES:
        for channels_last in (False, True):
            kw = dict(input_order=input_order, dtype=dtype, channels_last=channels_last)
            got = run(img, norm, device, "compiled", **kw)
            want = run(img, norm, device, "reference", **kw)
            assert got.dtype == dtype and got.shape == want.shape
            assert got.stride() == want.stride(), (got.stride(), want.stride())
            assert torch.equal(got, want), f"{view} {dtype} cl={channels_last}: max diff {(got.float() - want.float()).abs().max()}"
            check_against_oracle(got, img, norm, input_order, dtype)
    np.testing.assert_array_equal(to_numpy(img), before)  # the caller's data is untouched


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("mode", ["compiled", "reference"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_reduced_precision_is_fp32_rounded_once(device, mode, dtype, rng):
    img = make_image(rng, (4, 37, 29, 3), "contiguous")
    fp32 = run(img, fl.IMAGENET, device, mode)
    low = run(img, fl.IMAGENET, device, mode, dtype=dtype)
    assert torch.equal(low, fp32.to(dtype))


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("batched", [False, True])
def test_channels_last_layout(device, batched, rng):
    shape = (2, 9, 11, 3) if batched else (9, 11, 3)
    img = make_image(rng, shape, "contiguous")
    out = run(img, fl.IMAGENET, device, "compiled", channels_last=True)
    if batched:
        assert out.is_contiguous(memory_format=torch.channels_last)
    else:
        assert out.stride() == (1, 11 * 3, 3)  # HWC memory seen as CHW
        assert out.permute(1, 2, 0).is_contiguous()
    plain = run(img, fl.IMAGENET, device, "compiled")
    assert torch.equal(out, plain)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("shape", [(0, 5, 3), (4, 0, 3), (0, 4, 4, 3), (2, 0, 0, 1)])
def test_empty_images(device, shape):
    img = torch.zeros(shape, dtype=torch.uint8)
    norm = fl.IMAGENET if shape[-1] == 3 else fl.Normalization(0.0, 1.0)
    for mode in ("compiled", "reference"):
        out = run(img, norm, device, mode)
        *lead, h, w, c = shape
        assert tuple(out.shape) == (*lead, c, h, w)


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
                        call = (img, [mean] * c, [frac * 2.0**k] * c, cmap, [], dtype, channels_last)
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


def test_opcheck(rng):
    img = torch.from_numpy(make_image(rng, (2, 5, 7, 3), "contiguous"))
    for dtype in DTYPES:
        for channels_last in (False, True):
            args = (img, [1.0, 2.0, 3.0], [0.5, 0.25, 2.0], [2, 1, 0], [], dtype, channels_last)
            torch.library.opcheck(torch.ops.fastload.normalize.default, args)
    torch.library.opcheck(torch.ops.fastload.normalize.default,
                          (img[0], [1.0, 2.0, 3.0], [0.5, 0.25, 2.0], [0, 1, 2], [1], torch.float16, True))


def test_torch_compile_fullgraph(rng):
    img = torch.from_numpy(make_image(rng, (2, 8, 10, 3), "contiguous"))

    def f(x):
        return fl.normalize(x, fl.IMAGENET, dtype=torch.float32) * 2.0

    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(img), f(img), rtol=0, atol=0)


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: fl.normalize(np.zeros((4, 4, 3), np.float32), fl.IMAGENET), TypeError, ["img", "uint8"]),
        (lambda: fl.normalize(torch.zeros(4, 4, 3), fl.IMAGENET), TypeError, ["img", "uint8"]),
        (lambda: fl.normalize([[1, 2, 3]], fl.IMAGENET), TypeError, ["img", "list"]),
        (lambda: fl.normalize(np.zeros((4, 3), np.uint8), fl.IMAGENET), ValueError, ["img", "(H, W, C)"]),
        (lambda: fl.normalize(np.zeros((1, 2, 4, 4, 3), np.uint8), fl.IMAGENET), ValueError, ["img"]),
        (lambda: fl.normalize(np.zeros((3, 4, 4), np.uint8), fl.IMAGENET), ValueError, ["channels", "HWC"]),
        (lambda: fl.normalize(np.zeros((4, 4, 1), np.uint8), fl.IMAGENET), ValueError, ["1 channel", "norm"]),
        (lambda: fl.normalize(np.zeros((4, 4, 3), np.uint8), fl.Normalization(0.0, 1.0)), ValueError, ["norm"]),
        (lambda: fl.normalize(np.zeros((4, 4, 3), np.uint8), fl.IMAGENET, input_order="rbg"), ValueError,
         ["input_order"]),
        (lambda: fl.normalize(np.zeros((4, 4, 3), np.uint8), fl.IMAGENET, dtype=torch.int32), ValueError, ["dtype"]),
        (lambda: fl.normalize(np.zeros((4, 4, 3), np.uint8), fl.IMAGENET, dtype="float32"), TypeError, ["dtype"]),
        (lambda: fl.normalize(np.zeros((4, 4, 3), np.uint8), (0.5, 0.5)), TypeError, ["norm", "Normalization"]),
        (lambda: fl.normalize(np.zeros((4, 4, 3), np.uint8), fl.IMAGENET, channels_last=1), TypeError,
         ["channels_last"]),
    ],
)
def test_bad_input(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


@pytest.mark.parametrize(
    "args, words",
    [
        ((torch.zeros(4, 4, 3), [0.0] * 3, [1.0] * 3, [0, 1, 2], [], torch.float32, False), "uint8"),
        ((torch.zeros(4, 3, dtype=torch.uint8), [0.0] * 3, [1.0] * 3, [0, 1, 2], [], torch.float32, False), "dims"),
        ((torch.zeros(4, 4, 2, dtype=torch.uint8), [0.0] * 2, [1.0] * 2, [0, 1], [], torch.float32, False),
         "channels"),
        ((torch.zeros(4, 4, 3, dtype=torch.uint8), [0.0] * 2, [1.0] * 3, [0, 1, 2], [], torch.float32, False),
         "one value per channel"),
        ((torch.zeros(4, 4, 3, dtype=torch.uint8), [0.0] * 3, [1.0] * 3, [0, 0, 2], [], torch.float32, False),
         "permutation"),
        ((torch.zeros(4, 4, 3, dtype=torch.uint8), [0.0] * 3, [1.0] * 3, [0, 1, 3], [], torch.float32, False),
         "permutation"),
        ((torch.zeros(4, 4, 3, dtype=torch.uint8), [0.0] * 3, [1.0] * 3, [0, 1, 2], [5], torch.float32, False),
         "out of range"),
        ((torch.zeros(4, 4, 3, dtype=torch.uint8), [0.0] * 3, [1.0] * 3, [0, 1, 2], [0, -3], torch.float32, False),
         "twice"),
        ((torch.zeros(4, 4, 3, dtype=torch.uint8), [0.0] * 3, [1.0] * 3, [0, 1, 2], [], torch.int32, False), "dtype"),
    ],
)
def test_cpp_op_rechecks_its_arguments(args, words):
    require_compiled("normalize", "cpu")
    with pytest.raises(RuntimeError, match=words):
        torch.ops.fastload.normalize(*args)


@pytest.mark.cuda
def test_cuda_matches_cpu_bit_for_bit_large_batch(rng):
    img = torch.from_numpy(make_image(rng, (64, 224, 224, 3), "contiguous"))
    for dtype in DTYPES:
        for channels_last in (False, True):
            cpu = fl.normalize(img, fl.IMAGENET, dtype=dtype, channels_last=channels_last)
            gpu = fl.normalize(img.cuda(), fl.IMAGENET, dtype=dtype, channels_last=channels_last)
            assert torch.equal(gpu.cpu(), cpu)


@pytest.mark.cuda
def test_cuda_uses_current_stream(rng):
    img = torch.from_numpy(make_image(rng, (8, 64, 96, 3), "contiguous")).cuda()
    want = fl.normalize(img, fl.IMAGENET)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        got = fl.normalize(img, fl.IMAGENET)
    torch.cuda.current_stream().wait_stream(stream)
    assert torch.equal(got, want)


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


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("mode", ["compiled", "reference"])
@pytest.mark.parametrize("view", ["contiguous", "flip_w", "transposed"])
@pytest.mark.parametrize("batched", [False, True])
def test_out_buffer(device, mode, view, batched, rng):
    img = make_image(rng, (2, 11, 13, 3) if batched else (11, 13, 3), view)
    for dtype in DTYPES:
        for channels_last in (False, True):
            want = run(img, fl.IMAGENET, device, "reference", dtype=dtype, channels_last=channels_last)
            buf = torch.full_like(want, float("nan"))  # keeps want's layout
            got = run(img, fl.IMAGENET, device, mode, out=buf)
            assert got is buf and torch.equal(buf, want)
            buf.fill_(float("nan"))
            run(img, fl.IMAGENET, device, mode, out=buf, dtype=dtype, channels_last=channels_last)
            assert torch.equal(buf, want)


def test_out_buffer_bad_arguments(rng):
    img = make_image(rng, (2, 5, 7, 3), "contiguous")
    good = torch.empty(2, 3, 5, 7)
    cases = [
        (dict(out=[1]), TypeError, "out"),
        (dict(out=torch.empty(2, 3, 7, 5)), ValueError, "shape"),
        (dict(out=torch.empty(2, 3, 5, 7, dtype=torch.float64)), ValueError, "float32"),
        (dict(out=good, dtype=torch.float16), ValueError, "disagrees"),
        (dict(out=good, channels_last=True), ValueError, "channels_last"),
        (dict(out=torch.empty(2, 5, 3, 7).transpose(1, 2)), ValueError, "contiguous or channels_last"),
        (dict(out=torch.empty(3, 5, 7)), ValueError, "shape"),
    ]
    for kw, exc, word in cases:
        with pytest.raises(exc, match=word):
            fl.normalize(img, fl.IMAGENET, **kw)


def test_normalize_into_cpp_checks(rng):
    require_compiled("normalize_into", "cpu")
    img = torch.from_numpy(make_image(rng, (5, 7, 3), "contiguous"))
    args = (img, [0.0] * 3, [1.0] * 3, [0, 1, 2], [])
    with pytest.raises(RuntimeError, match="shape"):
        torch.ops.fastload.normalize_into(*args, torch.empty(3, 7, 5))
    with pytest.raises(RuntimeError, match="contiguous or channels_last"):
        torch.ops.fastload.normalize_into(*args, torch.empty(5, 3, 7).transpose(0, 1))
    with pytest.raises(RuntimeError, match="dtype"):
        torch.ops.fastload.normalize_into(*args, torch.empty(3, 5, 7, dtype=torch.float64))
    aliased = torch.empty(3 * 5 * 7 * 4, dtype=torch.uint8)
    with pytest.raises(RuntimeError, match="share memory"):
        torch.ops.fastload.normalize_into(aliased[: 5 * 7 * 3].view(5, 7, 3), *args[1:], aliased.view(torch.float32).view(3, 5, 7))
    out = torch.empty(3, 5, 7, dtype=torch.bfloat16)
    torch.library.opcheck(torch.ops.fastload.normalize_into.default, args + (out,))
