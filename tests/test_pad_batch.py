"""pad_batch / pack_images: every backend against the reference and an independent numpy oracle, over image-size
lists, layouts, dtypes, memory formats, pad values, packed input, devices; equivalence with mmengine's stack_batch;
the round trip through denormalize(sizes=); bad input."""

from __future__ import annotations

import harness
import numpy as np
import pytest
import torch
from conftest import devices, require_compiled
from harness import Bad, OpTest, Sample
from images import fp32_error, make_image, pad_batch_oracle, random_norm

import fastload as fl

SIZES = [(5, 7), (3, 9), (6, 2), (1, 1), (17, 30)]


def make_images(rng, sizes, views=("contiguous",), channels=3):
    return [make_image(rng, (h, w, channels), views[i % len(views)]) for i, (h, w) in enumerate(sizes)]


def samples(rng: np.random.Generator, layout: str, dtype) -> list[Sample]:
    n = int(rng.integers(1, 5))
    channels = int(rng.choice([1, 3]))
    sizes = [harness.image_size(rng, layout if i == 0 or layout != "empty" else "contiguous") for i in range(n)]
    images = [harness.image_in_layout(rng, (h, w, channels), harness.storage_layout(layout)) for h, w in sizes]
    normalized = bool(rng.integers(4))  # mostly normalized: that is where dtype and channels_last matter
    norm = random_norm(rng, channels) if normalized else None
    pad = rng.uniform(-3, 3, channels).round(3).tolist() if normalized else rng.integers(0, 256, channels).tolist()
    kw = dict(
        input_order=str(rng.choice(["bgr", "rgb"])),
        size_divisor=int(rng.choice([1, 2, 7, 32])),
        pad_value=pad,
        dtype=dtype,
        channels_last=layout == "channels_last",
    )
    out = [Sample((images, norm), kw, f"{layout} {sizes} norm={normalized}")]
    if layout in ("contiguous", "flipped", "odd", "empty"):
        out.append(Sample((fl.pack_images(images), norm), kw, f"{layout} {sizes} packed"))
    return out + [harness.with_out(s, fl.pad_batch, lambda r: r.images) for s in out]


def oracle_check(sample: Sample, result) -> None:
    images, norm = sample.args
    kw = sample.kwargs
    if isinstance(images, fl.PackedImages):
        images = images.unpack()
    assert result.sizes.tolist() == [list(np.shape(img)[:2]) for img in images] and result.sizes.dtype == torch.int64
    expected = pad_batch_oracle(images, norm, kw["input_order"], kw["size_divisor"], kw["pad_value"])
    got = result.images
    if norm is None:
        assert got.dtype == torch.uint8
        np.testing.assert_array_equal(got.cpu().numpy(), expected)
        return
    assert got.dtype == kw["dtype"]
    if kw["channels_last"]:
        assert got.is_contiguous(memory_format=torch.channels_last)
    # fp16/bf16: the fp32 result rounded once (half an ulp, with margin); fp32's own error per fp32_error.
    rtol = {torch.float32: 0.0, torch.float16: 1e-3, torch.bfloat16: 8e-3}[kw["dtype"]]
    tolerance = rtol * np.abs(expected) + (1 + rtol) * fp32_error(expected, norm) + 6e-8
    np.testing.assert_array_less(np.abs(got.float().cpu().numpy().astype(np.float64) - expected), tolerance)


PAD_BATCH = OpTest(
    "pad_batch",
    fl.pad_batch,
    samples,
    oracle_check,
    raw_ops=("pad_batch", "pad_batch_packed", "pad_batch_into", "pad_batch_packed_into"),
)

test_backends = harness.backend_test(PAD_BATCH)
test_property = harness.property_test(PAD_BATCH, max_examples=80)
test_opcheck = harness.opcheck_test(PAD_BATCH)
test_compile = harness.compile_test(PAD_BATCH)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("normalized", [True, False])
def test_packed_input_equals_list_input(device, normalized, rng):
    images = make_images(rng, SIZES, ("contiguous", "flip_w", "transposed"))
    packed = fl.pack_images(images)
    assert len(packed) == len(images) and packed.channels == 3
    for img, view in zip(images, packed.unpack()):
        assert np.array_equal(np.asarray(img), view.numpy())
    norm = fl.IMAGENET if normalized else None
    want = fl.pad_batch(images, norm, size_divisor=8)
    got = fl.pad_batch(packed.to(device), norm, size_divisor=8)
    assert torch.equal(got.images.cpu(), want.images) and torch.equal(got.sizes, want.sizes)


@pytest.mark.cuda
def test_cpu_images_to_cuda_in_one_transfer(rng):
    images = make_images(rng, SIZES, ("contiguous", "flip_w"))
    got = fl.pad_batch(images, fl.IMAGENET, size_divisor=32, device="cuda")
    want = fl.pad_batch(images, fl.IMAGENET, size_divisor=32)
    assert got.images.is_cuda and torch.equal(got.images.cpu(), want.images)


def test_round_trip_through_denormalize(rng):
    images = make_images(rng, SIZES, ("contiguous", "flip_w", "sliced"))
    for norm in (fl.IMAGENET, fl.CAFFE):
        batch = fl.pad_batch(images, norm, size_divisor=32, input_order="bgr")
        back = fl.denormalize(batch.images, norm, output_order="bgr", sizes=batch.sizes)
        for img, b in zip(images, back):
            np.testing.assert_array_equal(b.numpy(), np.asarray(img))


def test_equals_mmengine_stack_batch(rng):
    mmengine = pytest.importorskip("mmengine")
    from mmengine.model.utils import stack_batch

    images = make_images(rng, [(37, 50), (64, 41), (20, 20)])
    normalized = [fl.normalize(img, fl.IMAGENET) for img in images]  # BGR in, RGB normalized CHW out
    want = stack_batch(normalized, pad_size_divisor=32, pad_value=0)
    got = fl.pad_batch(images, fl.IMAGENET, size_divisor=32)
    assert got.images.shape == want.shape == (3, 3, 64, 64)
    assert torch.equal(got.images, want)
    del mmengine


def test_pixel_colour_padding_via_output_space_value(rng):
    # README recipe: pad with a pixel colour c (e.g. 114 grey) -> pad_value = (c - mean) / std per channel.
    images = make_images(rng, [(4, 5), (6, 3)])
    colour = 114
    pad = [(colour - m) / s for m, s in zip(fl.IMAGENET.mean, fl.IMAGENET.std)]
    batch = fl.pad_batch(images, fl.IMAGENET, pad_value=pad)
    back = fl.denormalize(batch.images, fl.IMAGENET)
    assert (back[0, 4:, :] == colour).all() and (back[1, :, 3:] == colour).all()


def test_pad_to_and_grayscale(rng):
    images = make_images(rng, [(4, 5), (6, 3)], channels=1)
    batch = fl.pad_batch(images, fl.Normalization(127.5, 127.5), pad_to=(8, 10))
    assert batch.images.shape == (2, 1, 8, 10)
    raw = fl.pad_batch(images, pad_to=(6, 5), pad_value=7)
    assert raw.images.shape == (2, 6, 5, 1) and raw.images.dtype == torch.uint8 and int(raw.images[0, 5, 4, 0]) == 7


IMAGES = [np.zeros((4, 5, 3), np.uint8), np.zeros((6, 3, 3), np.uint8)]
OUT_IMAGES = [np.zeros((5, 7, 3), np.uint8), np.zeros((6, 3, 3), np.uint8)]  # pad to (6, 7)
OWN_BYTES = torch.zeros(2 * 3 * 6 * 7 * 4, dtype=torch.uint8)

test_bad_input = harness.bad_input_test(
    [
        Bad(
            lambda: fl.pad_batch(OUT_IMAGES, fl.IMAGENET, out=np.zeros((2, 3, 6, 7), np.float32)),
            TypeError,
            ("out", "Tensor"),
        ),
        Bad(lambda: fl.pad_batch(OUT_IMAGES, fl.IMAGENET, out=torch.empty(2, 3, 6, 8)), ValueError, ("out", "shape")),
        Bad(
            lambda: fl.pad_batch(OUT_IMAGES, fl.IMAGENET, out=torch.empty(2, 3, 6, 7, dtype=torch.float16)),
            ValueError,
            ("out", "float32"),
        ),
        Bad(
            lambda: fl.pad_batch(OUT_IMAGES, fl.IMAGENET, out=torch.empty(2, 6, 7, 3).permute(0, 3, 1, 2)),
            ValueError,
            ("out", "contiguous"),
        ),
        Bad(
            lambda: fl.pad_batch(OUT_IMAGES, fl.IMAGENET, channels_last=True, out=torch.empty(2, 3, 6, 7)),
            ValueError,
            ("out", "channels_last"),
        ),
        Bad(
            lambda: fl.pad_batch(OUT_IMAGES, fl.IMAGENET, out=torch.empty(2, 3, 6, 7, requires_grad=True)),
            ValueError,
            ("out", "grad"),
        ),
        Bad(lambda: fl.pad_batch(OUT_IMAGES, out=torch.empty(2, 3, 6, 7)), ValueError, ("out", "uint8")),
        Bad(
            lambda: fl.pad_batch(
                [OWN_BYTES[: 5 * 7 * 3].view(5, 7, 3), OUT_IMAGES[1]],
                fl.IMAGENET,
                out=OWN_BYTES.view(torch.float32).view(2, 3, 6, 7),
            ),
            ValueError,
            ("out", "overlaps"),
        ),
        Bad(lambda: fl.pad_batch([], fl.IMAGENET), ValueError, ("images", "empty")),
        Bad(lambda: fl.pad_batch(IMAGES[0], fl.IMAGENET), ValueError, ("images", "wrap a single image")),
        Bad(lambda: fl.pad_batch([IMAGES[0], IMAGES[1][..., :1]], fl.IMAGENET), ValueError, ("images[1]", "channel")),
        Bad(
            lambda: fl.pad_batch([IMAGES[0], IMAGES[1].astype(np.float32)], fl.IMAGENET),
            TypeError,
            ("images[1]", "uint8"),
        ),
        Bad(lambda: fl.pad_batch(IMAGES, fl.IMAGENET, size_divisor=0), ValueError, ("size_divisor",)),
        Bad(lambda: fl.pad_batch(IMAGES, fl.IMAGENET, size_divisor=1.5), TypeError, ("size_divisor",)),
        Bad(lambda: fl.pad_batch(IMAGES, fl.IMAGENET, pad_to=(4, 4)), ValueError, ("images[", "pad_to")),
        Bad(lambda: fl.pad_batch(IMAGES, fl.IMAGENET, pad_to=(4,)), ValueError, ("pad_to",)),
        Bad(lambda: fl.pad_batch(IMAGES, None, pad_value=300), ValueError, ("pad_value", "255")),
        Bad(lambda: fl.pad_batch(IMAGES, fl.IMAGENET, pad_value=(1, 2)), ValueError, ("pad_value",)),
        Bad(lambda: fl.pad_batch(IMAGES, fl.Normalization(0.0, 1.0)), ValueError, ("channel", "norm")),
        Bad(lambda: fl.pad_batch("abc", fl.IMAGENET), TypeError, ("images",)),
        Bad(lambda: fl.pack_images([]), ValueError, ("empty",)),
        # Values beyond the output dtype, sizes beyond any machine, checks that held only with norm.
        Bad(
            lambda: fl.pad_batch(IMAGES, fl.IMAGENET, pad_value=1e39), ValueError, ("pad_value", "overflows", "float32")
        ),
        Bad(
            lambda: fl.pad_batch(IMAGES, fl.IMAGENET, pad_value=7e4, dtype=torch.float16),
            ValueError,
            ("pad_value", "overflows", "float16"),
        ),
        Bad(lambda: fl.pad_batch(IMAGES, fl.IMAGENET, pad_to=(10**9, 10**9)), ValueError, ("pad_to", "bytes")),
        Bad(lambda: fl.pad_batch(IMAGES, fl.IMAGENET, size_divisor=10**9), ValueError, ("size_divisor", "bytes")),
        Bad(lambda: fl.pad_batch(IMAGES, fl.IMAGENET, size_divisor=2**64), ValueError, ("size_divisor", "<=")),
        Bad(lambda: fl.pad_batch(IMAGES, fl.IMAGENET, pad_to=(2**40, 4)), ValueError, ("pad_to[0]", "<=")),
        Bad(lambda: fl.pad_batch(IMAGES, None, dtype="uint8"), TypeError, ("dtype",)),
        Bad(lambda: fl.pad_batch(IMAGES, None, channels_last="no"), TypeError, ("channels_last",)),
    ]
)


def test_cpp_op_rechecks_its_arguments():
    require_compiled("pad_batch", "cpu")
    img = torch.zeros(4, 5, 3, dtype=torch.uint8)
    op = torch.ops.fastload.pad_batch
    with pytest.raises(RuntimeError, match="does not fit"):
        op([img], [0], [3, 5], None, None, [0, 1, 2], [0.0] * 3, None, False)
    with pytest.raises(RuntimeError, match="empty"):
        op([], [], [3, 5], None, None, [0, 1, 2], [0.0] * 3, None, False)
    with pytest.raises(RuntimeError, match="flip mask"):
        op([img], [9], [4, 5], None, None, [0, 1, 2], [0.0] * 3, None, False)
    with pytest.raises(RuntimeError, match=r"\[0, 255\]"):
        op([img], [0], [4, 5], None, None, [0, 1, 2], [256.0] * 3, None, False)
    data = torch.zeros(10, dtype=torch.uint8)
    with pytest.raises(RuntimeError, match="past the end"):
        torch.ops.fastload.pad_batch_packed(
            data, torch.tensor([0]), torch.tensor([[2, 2]]), 3, [2, 2], None, None, [0, 1, 2], [0.0] * 3, None, False
        )
    with pytest.raises(RuntimeError, match="past the end"):
        torch.ops.fastload.pad_batch_packed(
            data,
            torch.tensor([4]),
            torch.tensor([[2**40, 2**40]]),
            3,
            [2**40, 2**40],
            None,
            None,
            [0, 1, 2],
            [0.0] * 3,
            None,
            False,
        )


@pytest.mark.parametrize(
    "pad", [np.float32(0.5), np.int64(2), torch.tensor(1.0), np.array([1.0, 2.0, 3.0]), torch.tensor([0.5, 1.0, 1.5])]
)
def test_numpy_and_tensor_pad_values(pad):
    got = fl.pad_batch(IMAGES, fl.IMAGENET, pad_value=pad).images
    values = np.broadcast_to(np.asarray(pad.tolist(), np.float32), (3,))
    assert [float(got[0, k, -1, -1]) for k in range(3)] == values.tolist()


@pytest.mark.cuda
def test_cuda_graph_capture_is_refused_clearly():
    images = [torch.zeros(4, 5, 3, dtype=torch.uint8, device="cuda")]
    fl.pad_batch(images, fl.IMAGENET)  # warm up outside the capture
    graph = torch.cuda.CUDAGraph()
    with pytest.raises(RuntimeError, match="cannot be captured in a CUDA graph"):
        with torch.cuda.graph(graph):
            fl.pad_batch(images, fl.IMAGENET)


@pytest.mark.cuda
def test_cuda_images_with_device_cuda_are_not_repacked(monkeypatch):
    from fastload.functional import _pad as batching

    images = [torch.zeros(4, 5, 3, dtype=torch.uint8, device="cuda")]
    monkeypatch.setattr(batching, "pack", lambda *a, **k: pytest.fail("re-packed images already on the device"))
    assert fl.pad_batch(images, fl.IMAGENET, device="cuda").images.is_cuda


def test_into_ops_recheck_out():
    # The C++ `_into` ops (one adapter for every op and backend) check out themselves: callers of torch.ops get a
    # clear error, never a write outside the buffer.
    require_compiled("pad_batch_into", "cpu")
    images = [torch.zeros(5, 7, 3, dtype=torch.uint8)]
    args = (images, [0], [6, 8], [0.0] * 3, [1.0] * 3, [0, 1, 2], [0.0] * 3, torch.float32, False)
    with pytest.raises(RuntimeError, match="fastload::pad_batch_into: out must have shape"):
        torch.ops.fastload.pad_batch_into(*args, torch.empty(1, 3, 6, 7))
    with pytest.raises(RuntimeError, match="fastload::pad_batch_into: out must be Float"):
        torch.ops.fastload.pad_batch_into(*args, torch.empty(1, 3, 6, 8, dtype=torch.float16))
    with pytest.raises(RuntimeError, match="fastload::pad_batch_into: out must have strides"):
        torch.ops.fastload.pad_batch_into(*args, torch.empty(1, 6, 8, 3).permute(0, 3, 1, 2))
    shared = torch.zeros(3 * 6 * 8 * 4, dtype=torch.uint8)
    with pytest.raises(RuntimeError, match="fastload::pad_batch_into: out overlaps an input image"):
        torch.ops.fastload.pad_batch_into(
            [shared[:105].view(5, 7, 3)], *args[1:], shared.view(torch.float32).view(1, 3, 6, 8)
        )
    out = torch.full((1, 3, 6, 8), float("nan"))
    torch.ops.fastload.pad_batch_into(*args, out)
    assert torch.equal(out, torch.ops.fastload.pad_batch(*args))


def test_out_overlap_is_found_whichever_side_the_input_starts():
    # An input whose bytes end inside out (it starts before it) overlaps as much as one starting inside it; inputs
    # that end just before out or start just after it do not. One buffer: 108 bytes | out's 432 | 108 bytes.
    buf = torch.zeros(108 + 3 * 6 * 6 * 4 + 108, dtype=torch.uint8)
    out = buf[108:540].view(torch.float32).view(1, 3, 6, 6)
    for start in (0, 540):  # ends just before out, starts just after it
        assert fl.pad_batch([buf[start : start + 108].view(6, 6, 3)], fl.IMAGENET, out=out).images is out
    for start in (1, 300, 539):  # its last byte is out's first, inside out, its first byte is out's last
        with pytest.raises(ValueError, match="out overlaps an input"):
            fl.pad_batch([buf[start : start + 108].view(6, 6, 3)], fl.IMAGENET, out=out)
