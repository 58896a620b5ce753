"""pad_batch / pack_images: every backend against the reference and an independent numpy oracle, over image-size
lists, layouts, dtypes, memory formats, pad values, packed input, devices; equivalence with mmengine's stack_batch;
the round trip through denormalize(sizes=); bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fastload as fl
from conftest import CUDA, backend, devices, require_compiled
from images import make_image, normalize_oracle

DTYPES = (torch.float32, torch.float16, torch.bfloat16)
SIZES = [(5, 7), (3, 9), (6, 2), (1, 1), (17, 30)]


def make_images(rng, sizes, views=("contiguous",), channels=3):
    return [make_image(rng, (h, w, channels), views[i % len(views)]) for i, (h, w) in enumerate(sizes)]


def oracle(images, norm, input_order, size_divisor, pad_value):
    """float64 (N, C, Hp, Wp) normalized batch, or uint8 (N, Hp, Wp, C) when norm is None."""
    arrays = [np.ascontiguousarray(img.cpu().numpy() if isinstance(img, torch.Tensor) else img) for img in images]
    d = size_divisor
    hp = -(-max(a.shape[0] for a in arrays) // d) * d
    wp = -(-max(a.shape[1] for a in arrays) // d) * d
    c = arrays[0].shape[2]
    pad = np.broadcast_to(np.asarray(pad_value, dtype=np.float64), (c,))
    if norm is None:
        out = np.empty((len(arrays), hp, wp, c), np.uint8)
        out[:] = pad.round().astype(np.uint8)
        for i, a in enumerate(arrays):
            out[i, : a.shape[0], : a.shape[1]] = a
        return out
    out = np.empty((len(arrays), c, hp, wp))
    out[:] = pad.reshape(1, c, 1, 1)
    for i, a in enumerate(arrays):
        out[i, :, : a.shape[0], : a.shape[1]] = normalize_oracle(a, norm.mean, norm.std, norm.order, input_order)
    return out


def run(images, norm, device, mode, **kw):
    if mode == "compiled":
        require_compiled("pad_batch", device)
    with backend("auto" if mode == "compiled" else "reference"):
        return fl.pad_batch(images, norm, device=device, **kw)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("views", [("contiguous",), ("flip_w", "transposed", "sliced", "torch", "flip_all", "bgra")])
@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("divisor", [1, 4, 32])
def test_backends_and_oracle(device, views, normalized, divisor, rng):
    images = make_images(rng, SIZES, views)
    norm = fl.IMAGENET if normalized else None
    pad = (0.0, -1.5, 2.25) if normalized else (0, 114, 255)
    for dtype in DTYPES if normalized else (torch.float32,):
        for channels_last in (False, True) if normalized else (False,):
            kw = dict(size_divisor=divisor, pad_value=pad, dtype=dtype, channels_last=channels_last)
            got = run(images, norm, device, "compiled", **kw)
            want = run(images, norm, device, "reference", **kw)
            assert got.images.device.type == device
            assert got.images.stride() == want.images.stride()
            assert torch.equal(got.images, want.images)
            assert got.sizes.tolist() == [list(s) for s in SIZES] and got.sizes.dtype == torch.int64
            expected = oracle(images, norm, "bgr", divisor, pad)
            if normalized:
                np.testing.assert_allclose(got.images.float().cpu().numpy(), expected,
                                           rtol={torch.float32: 1e-6, torch.float16: 1e-3, torch.bfloat16: 8e-3}[dtype],
                                           atol=1e-5)
                if channels_last:
                    assert got.images.is_contiguous(memory_format=torch.channels_last)
            else:
                np.testing.assert_array_equal(got.images.cpu().numpy(), expected)


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
    for mode in ("compiled", "reference"):
        got = run(packed.to(device), norm, device, mode, size_divisor=8)
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


def test_caller_data_untouched(rng):
    images = make_images(rng, SIZES)
    copies = [img.copy() for img in images]
    fl.pad_batch(images, fl.IMAGENET, size_divisor=32)
    fl.pack_images(images)
    for a, b in zip(images, copies):
        np.testing.assert_array_equal(a, b)


def test_opcheck(rng):
    images = [torch.from_numpy(img) for img in make_images(rng, [(3, 4), (2, 5)])]
    args = (images, [0, 0], [4, 8], [1.0, 2.0, 3.0], [0.5, 0.25, 2.0], [2, 1, 0], [0.0, 1.0, 2.0], torch.float16, True)
    torch.library.opcheck(torch.ops.fastload.pad_batch.default, args)
    torch.library.opcheck(torch.ops.fastload.pad_batch.default,
                          (images, [0, 0], [3, 5], None, None, [0, 1, 2], [1.0, 2.0, 3.0], None, False))
    packed = fl.pack_images(images)
    torch.library.opcheck(torch.ops.fastload.pad_batch_packed.default,
                          (packed.data, packed.offsets, packed.sizes, 3, [4, 8], [1.0, 2.0, 3.0], [0.5, 0.25, 2.0],
                           [0, 1, 2], [0.0, 0.0, 0.0], torch.float32, False))


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda imgs: fl.pad_batch([], fl.IMAGENET), ValueError, ["images", "empty"]),
        (lambda imgs: fl.pad_batch(imgs[0], fl.IMAGENET), ValueError, ["images[0]", "(H, W, C)"]),
        (lambda imgs: fl.pad_batch([imgs[0], imgs[1][..., :1]], fl.IMAGENET), ValueError, ["images[1]", "channel"]),
        (lambda imgs: fl.pad_batch([imgs[0], imgs[1].astype(np.float32)], fl.IMAGENET), TypeError,
         ["images[1]", "uint8"]),
        (lambda imgs: fl.pad_batch(imgs, fl.IMAGENET, size_divisor=0), ValueError, ["size_divisor"]),
        (lambda imgs: fl.pad_batch(imgs, fl.IMAGENET, size_divisor=1.5), TypeError, ["size_divisor"]),
        (lambda imgs: fl.pad_batch(imgs, fl.IMAGENET, pad_to=(4, 4)), ValueError, ["images[", "pad_to"]),
        (lambda imgs: fl.pad_batch(imgs, fl.IMAGENET, pad_to=(4,)), ValueError, ["pad_to"]),
        (lambda imgs: fl.pad_batch(imgs, None, pad_value=300), ValueError, ["pad_value", "255"]),
        (lambda imgs: fl.pad_batch(imgs, fl.IMAGENET, pad_value=(1, 2)), ValueError, ["pad_value"]),
        (lambda imgs: fl.pad_batch(imgs, fl.Normalization(0.0, 1.0)), ValueError, ["channel", "norm"]),
        (lambda imgs: fl.pad_batch("abc", fl.IMAGENET), TypeError, ["images"]),
        (lambda imgs: fl.pack_images([]), ValueError, ["empty"]),
    ],
)
def test_bad_input(call, exc, words, rng):
    images = make_images(rng, [(4, 5), (6, 3)])
    with pytest.raises(exc) as info:
        call(images)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


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
        torch.ops.fastload.pad_batch_packed(data, torch.tensor([0]), torch.tensor([[2, 2]]), 3, [2, 2], None, None,
                                            [0, 1, 2], [0.0] * 3, None, False)
    with pytest.raises(RuntimeError, match="past the end"):
        torch.ops.fastload.pad_batch_packed(data, torch.tensor([4]), torch.tensor([[2**40, 2**40]]), 3, [2**40, 2**40],
                                            None, None, [0, 1, 2], [0.0] * 3, None, False)


def test_packed_images_api(rng):
    import pickle

    images = make_images(rng, [(4, 5), (6, 3)])
    packed = fl.pack_images(images)
    clone = pickle.loads(pickle.dumps(packed))
    assert torch.equal(clone.data, packed.data) and torch.equal(clone.sizes, packed.sizes)
    assert "n=2" in repr(packed) and packed.nbytes == (4 * 5 + 6 * 3) * 3
    assert packed.to("cpu").device.type == "cpu"
    if CUDA:
        assert packed.pin_memory().is_pinned()
    with pytest.raises(ValueError, match="outside"):
        fl.PackedImages(packed.data[:10], packed.offsets, packed.sizes, 3)
