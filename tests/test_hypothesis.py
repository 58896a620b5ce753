"""Random shapes, layouts, orders, dtypes and specs (hypothesis): compiled == reference, for every op."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("hypothesis")  # not installed on every GPU machine

import torch  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fastload as fl  # noqa: E402
from conftest import backend  # noqa: E402
from images import VIEWS, make_image  # noqa: E402
from test_normalize import DTYPES, run  # noqa: E402

finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    h=st.integers(1, 24),
    w=st.integers(1, 40),
    batch=st.one_of(st.none(), st.integers(1, 3)),
    channels=st.sampled_from([1, 3]),
    view=st.sampled_from(VIEWS),
    input_order=st.sampled_from(["bgr", "rgb"]),
    model_order=st.sampled_from(["bgr", "rgb"]),
    dtype=st.sampled_from(DTYPES),
    channels_last=st.booleans(),
    mean=st.lists(finite.filter(lambda v: abs(v) < 1e4), min_size=3, max_size=3),
    log_std=st.lists(st.floats(-12, 16), min_size=3, max_size=3),
    seed=st.integers(0, 2**32 - 1),
)
def test_hypothesis_compiled_equals_reference(h, w, batch, channels, view, input_order, model_order, dtype,
                                              channels_last, mean, log_std, seed):
    # std from 2^-12 to 2^16 drives fp16 into overflow (inf) and subnormals; results must still match bit for bit.
    std = [2.0**v for v in log_std]
    norm = fl.Normalization.__new__(fl.Normalization)
    norm._init(mean[:channels], std[:channels], model_order)  # no unit-range warning for random specs
    shape = ((batch,) if batch else ()) + (h, w, channels)
    img = make_image(np.random.default_rng(seed), shape, view)
    kw = dict(input_order=input_order, dtype=dtype, channels_last=channels_last)
    got = run(img, norm, "cpu", "compiled", **kw)
    want = run(img, norm, "cpu", "reference", **kw)
    assert got.stride() == want.stride()
    assert torch.equal(got, want)



@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    h=st.integers(1, 24),
    w=st.integers(1, 40),
    batch=st.one_of(st.none(), st.integers(1, 3)),
    channels=st.sampled_from([1, 3]),
    layout=st.sampled_from(["contiguous", "channels_last", "sliced", "transposed"]),
    dtype=st.sampled_from(DTYPES),
    model_order=st.sampled_from(["bgr", "rgb"]),
    output_order=st.sampled_from(["bgr", "rgb"]),
    scale=st.sampled_from([0.1, 1.0, 3.0, 1e3, 1e30]),
    specials=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_hypothesis_denormalize_compiled_equals_reference(h, w, batch, channels, layout, dtype, model_order,
                                                         output_order, scale, specials, seed):
    gen = torch.Generator().manual_seed(seed)
    shape = ((batch,) if batch else ()) + (channels, h, w)
    x = torch.randn(shape, generator=gen) * scale
    if specials:
        flat = x.view(-1)
        flat[:: 7] = float("nan")
        flat[3::11] = float("inf")
        flat[5::13] = -float("inf")
    x = x.to(dtype)
    if layout == "channels_last":
        x = x.movedim(-3, -1).contiguous().movedim(-1, -3)
    elif layout == "sliced":
        x = torch.cat([x, x], dim=-1)[..., w // 2: w // 2 + w]
    elif layout == "transposed":
        x = x.transpose(-1, -2).contiguous().transpose(-1, -2)
    norm = fl.Normalization.__new__(fl.Normalization)
    norm._init([11.5, 120.25, 250.0][:channels], [0.5, 58.0, 3.0][:channels], model_order)
    got = fl.denormalize(x, norm, output_order=output_order)
    with backend("reference"):
        want = fl.denormalize(x, norm, output_order=output_order)
    assert torch.equal(got, want)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.tuples(st.integers(1, 20), st.integers(1, 30)), min_size=1, max_size=5),
    channels=st.sampled_from([1, 3]),
    views=st.lists(st.sampled_from(VIEWS), min_size=1, max_size=3),
    normalized=st.booleans(),
    divisor=st.sampled_from([1, 2, 7, 32]),
    dtype=st.sampled_from(DTYPES),
    channels_last=st.booleans(),
    packed=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_hypothesis_pad_batch_compiled_equals_reference(sizes, channels, views, normalized, divisor, dtype,
                                                        channels_last, packed, seed):
    rng = np.random.default_rng(seed)
    images = [make_image(rng, (h, w, channels), views[i % len(views)]) for i, (h, w) in enumerate(sizes)]
    norm = (fl.IMAGENET if channels == 3 else fl.Normalization(127.5, 58.0)) if normalized else None
    source = fl.pack_images(images) if packed else images
    kw = dict(size_divisor=divisor, dtype=dtype, channels_last=channels_last, pad_value=3.0)
    got = fl.pad_batch(source, norm, **kw)
    with backend("reference"):
        want = fl.pad_batch(source, norm, **kw)
    assert got.images.stride() == want.images.stride()
    assert torch.equal(got.images, want.images) and torch.equal(got.sizes, want.sizes)
