"""fastload.functional._stats: channel_stats through the op table (every backend x layout, exact against numpy's integer
sums), and compute_mean_std against numpy's float64 mean/std for every input kind."""

from __future__ import annotations

import harness
import numpy as np
import pytest
import torch
from conftest import backend, devices, require_compiled
from harness import Bad, OpTest, Sample
from images import make_image
from torch.utils.data import DataLoader

import fastload as fl


def samples(rng: np.random.Generator, layout: str, dtype) -> list[Sample]:
    n = int(rng.integers(1, 4))
    channels = int(rng.choice([1, 3]))
    sizes = [harness.image_size(rng, layout) for _ in range(n)]
    images = [harness.image_in_layout(rng, (h, w, channels), harness.storage_layout(layout)) for h, w in sizes]
    out = [Sample((images,), {}, f"{layout} {sizes}")]
    if layout in ("contiguous", "odd"):
        out.append(Sample((fl.pack_images(images),), {}, f"{layout} {sizes} packed"))
    return out


def oracle(sample: Sample, result) -> None:
    images = sample.args[0]
    if isinstance(images, fl.PackedImages):
        images = images.unpack()
    pixels = np.concatenate([np.asarray(img).reshape(-1, np.shape(img)[-1]) for img in images]).astype(np.int64)
    assert result.dtype == torch.int64 and result.shape == (2, pixels.shape[1])
    np.testing.assert_array_equal(result.cpu().numpy(), np.stack([pixels.sum(0), (pixels * pixels).sum(0)]))


CHANNEL_STATS = OpTest(
    "channel_stats",
    fl.channel_stats,
    samples,
    oracle,
    raw_ops=("channel_stats",),
    dtypes=(None,),
    layouts=tuple(x for x in harness.LAYOUTS if x != "channels_last"),
)

test_backends = harness.backend_test(CHANNEL_STATS)
test_property = harness.property_test(CHANNEL_STATS, max_examples=40)
test_opcheck = harness.opcheck_test(CHANNEL_STATS, layouts=("contiguous", "flipped"))
test_compile = harness.compile_test(CHANNEL_STATS)

test_bad_input = harness.bad_input_test(
    [
        Bad(lambda: fl.channel_stats([]), ValueError, ("images", "empty")),
        Bad(lambda: fl.channel_stats([np.zeros((2, 2, 3), np.float32)]), TypeError, ("images[0]", "uint8")),
        Bad(
            lambda: fl.channel_stats([np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2, 1), np.uint8)]),
            ValueError,
            ("images[1]", "channel"),
        ),
        Bad(lambda: fl.channel_stats("abc"), TypeError, ("images",)),
        Bad(lambda: fl.compute_mean_std(iter([])), ValueError, ("no pixels",)),
        Bad(lambda: fl.compute_mean_std([np.zeros((2, 2, 3), np.uint8)], order="xyz"), ValueError, ("order",)),
    ]
)


def test_cpp_op_rechecks_its_arguments():
    require_compiled("channel_stats", "cpu")
    img = torch.zeros(2, 2, 3, dtype=torch.uint8)
    with pytest.raises(RuntimeError, match="fastload::channel_stats: need one flip mask per image"):
        torch.ops.fastload.channel_stats([img], [0, 0])
    with pytest.raises(RuntimeError, match="fastload::channel_stats: images\\[0\\] must be uint8"):
        torch.ops.fastload.channel_stats([img.float()], [0])


def numpy_stats(images, input_order="bgr", order="rgb"):
    pixels = np.concatenate([np.ascontiguousarray(i).reshape(-1, i.shape[-1]) for i in images]).astype(np.float64)
    mean, std = pixels.mean(0), pixels.std(0)
    if pixels.shape[1] == 3 and input_order != order:
        mean, std = mean[::-1], std[::-1]
    return mean, std


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("mode", ["compiled", "reference"])
def test_compute_mean_std_matches_numpy(device, mode, rng):
    images = [
        make_image(rng, (h, w, 3), v)
        for (h, w), v in zip([(5, 7), (30, 20), (1, 1), (64, 33)], ["contiguous", "flip_w", "transposed", "bgra"])
    ]
    if mode == "compiled":
        require_compiled("channel_stats", device)
    inputs = images if device == "cpu" else [torch.from_numpy(np.ascontiguousarray(i)).to(device) for i in images]
    with backend("auto" if mode == "compiled" else "reference"):
        spec = fl.compute_mean_std(inputs)
        packed = fl.compute_mean_std(fl.pack_images(images), order="bgr")
    mean, std = numpy_stats(images)
    np.testing.assert_allclose(spec.mean, mean, rtol=1e-6)
    np.testing.assert_allclose(spec.std, std, rtol=1e-6)
    np.testing.assert_allclose(packed.mean, mean[::-1], rtol=1e-6)
    assert spec.order == "rgb" and packed.order == "bgr"


def test_compute_mean_std_from_a_dataloader_and_gray(rng):
    images = [make_image(rng, (h, w, 1), "contiguous") for h, w in ((8, 9), (4, 3), (7, 7))]
    loader = DataLoader([{"img": i} for i in images], batch_size=2, collate_fn=fl.PadCollate(pack=True))
    spec = fl.compute_mean_std(loader)
    mean, std = numpy_stats(images)
    np.testing.assert_allclose(spec.mean, mean, rtol=1e-6)
    np.testing.assert_allclose(spec.std, std, rtol=1e-6)
    assert spec.channels == 1
    with pytest.raises(ValueError, match="no pixels"):
        fl.compute_mean_std(iter([]))


def test_compute_mean_std_input_kinds():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    one = fl.compute_mean_std(img)  # a single image
    assert one == fl.compute_mean_std([img])
    for bad in ({"img": img}, "images", b"x"):
        with pytest.raises(TypeError, match="compute_mean_std: images must be"):
            fl.compute_mean_std(bad)
    flipped = fl.compute_mean_std([img[..., ::-1]], input_order="rgb")
    with backend("reference"):
        assert fl.compute_mean_std([img[..., ::-1]], input_order="rgb") == flipped


def test_two_channel_images_are_refused_by_every_compiled_backend():
    # The kernels exist for 1 and 3 channels; a 2-channel image used to reach the CUDA kernel as 3.
    img = torch.zeros(4, 4, 2, dtype=torch.uint8)
    ops = [torch.ops.fastload.channel_stats]
    if hasattr(torch.ops, "fastload_emulation") and "channel_stats" in dir(torch.ops.fastload_emulation):
        ops.append(torch.ops.fastload_emulation.channel_stats)
    for op in ops:
        with pytest.raises(RuntimeError, match="fastload::channel_stats: images must have 1 or 3 channels, got 2"):
            op([img], [0])
