"""The Normalization spec: units, presets, validation, immutability."""

from __future__ import annotations

import pickle
import warnings

import pytest

import fastload as fl


def test_presets_match_their_sources():
    assert fl.IMAGENET == fl.Normalization.from_unit((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert fl.IMAGENET.mean == (123.675, 116.28, 103.53) and fl.IMAGENET.order == "rgb"
    assert fl.CAFFE.mean == (103.53, 116.28, 123.675) and fl.CAFFE.std == (1.0, 1.0, 1.0) and fl.CAFFE.order == "bgr"


def test_unit_round_trip_and_reorder():
    mean, std = fl.IMAGENET.unit()
    assert mean == pytest.approx((0.485, 0.456, 0.406)) and std == pytest.approx((0.229, 0.224, 0.225))
    bgr = fl.IMAGENET.with_order("bgr")
    assert bgr.order == "bgr" and bgr.mean == fl.IMAGENET.mean[::-1] and bgr.std == fl.IMAGENET.std[::-1]
    assert bgr.with_order("rgb") == fl.IMAGENET


def test_broadcast_single_value():
    spec = fl.Normalization(127.5, (50.0, 60.0, 70.0))
    assert spec.mean == (127.5, 127.5, 127.5) and spec.channels == 3
    assert fl.Normalization(127.5, 127.5).channels == 1


def test_value_semantics():
    a = fl.Normalization((1.0, 2.0, 3.0), (4.0, 5.0, 6.0), "BGR")
    b = fl.Normalization([1, 2, 3], [4, 5, 6], "bgr")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != fl.Normalization([1, 2, 3], [4, 5, 6], "rgb")
    assert "mean=(1.0, 2.0, 3.0)" in repr(a) and "'bgr'" in repr(a)
    assert pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(AttributeError):
        a.mean = (0.0,)


def test_unit_range_mistake_warns():
    with pytest.warns(UserWarning, match="from_unit"):
        fl.Normalization((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fl.Normalization((123.675, 116.28, 103.53), (58.395, 57.12, 57.375))
        fl.Normalization.from_unit((0.5,), (0.5,))
        fl.Normalization(0.0, 1.0)  # raw pixel values as float: deliberate, not a unit mistake


@pytest.mark.parametrize(
    "mean, std, order, exc, word",
    [
        ((1.0, 2.0), (1.0, 1.0), "rgb", ValueError, "mean"),
        ((1.0,) * 4, (1.0,), "rgb", ValueError, "mean"),
        ((1.0, 2.0, 3.0), (1.0, 0.0, 1.0), "rgb", ValueError, "std"),
        ((1.0, 2.0, 3.0), (1.0, -2.0, 1.0), "rgb", ValueError, "std"),
        ((float("nan"), 2.0, 3.0), (1.0,), "rgb", ValueError, "finite"),
        ((1.0, 2.0, 3.0), (float("inf"),), "rgb", ValueError, "finite"),
        ((1.0, 2.0, 3.0), (1.0,), "hsv", ValueError, "order"),
        ("abc", (1.0,), "rgb", TypeError, "mean"),
        ((1.0, "x", 3.0), (1.0,), "rgb", TypeError, "mean"),
    ],
)
def test_invalid_specs(mean, std, order, exc, word):
    with pytest.raises(exc, match=word):
        fl.Normalization(mean, std, order)


@pytest.mark.parametrize(
    "mean, std, words",
    [
        ((0.0,), (1e-40,), ["std", "1/std overflows float32"]),
        ((1e39,), (1.0,), ["mean", "finite in float32"]),
        ((0.0,), (1e39,), ["std", "finite in float32"]),
    ],
)
def test_values_that_overflow_float32_are_refused(mean, std, words):
    with pytest.raises(ValueError) as info:
        fl.Normalization(mean, std, check_units=False)
    for word in words:
        assert word in str(info.value)


def test_strings_are_not_numbers():
    with pytest.raises(TypeError, match="mean must hold numbers"):
        fl.Normalization(("1", "2", "3"), (1.0, 1.0, 1.0))
