"""fastload.functional._geometry: rescale_size against the mmcv rule (a transcription, and mmcv itself when installed),
and the padded extent of a batch."""

from __future__ import annotations

import itertools

import pytest

import fastload as fl
from fastload.functional._geometry import batch_extent


def mmcv_rescale_size(old_size, scale):
    """A transcription of OpenMMLab's mmcv.rescale_size(old_size, scale, return_scale=True)."""
    w, h = old_size
    if isinstance(scale, (float, int)):
        scale_factor = scale
    else:
        max_long_edge, max_short_edge = max(scale), min(scale)
        scale_factor = min(max_long_edge / max(h, w), max_short_edge / min(h, w))
    return (int(w * float(scale_factor) + 0.5), int(h * float(scale_factor) + 0.5)), scale_factor


def test_rescale_size_matches_mmcv_rule_on_a_dense_grid():
    sizes = list(itertools.product(range(1, 400, 7), range(1, 400, 11)))
    scales = [(1333, 800), (800, 1333), (640, 640), (512, 300), (1, 1), 0.5, 1, 2.0, 0.123, 3]
    for (w, h), scale in itertools.product(sizes, scales):
        assert fl.rescale_size((w, h), scale) == mmcv_rescale_size((w, h), scale), ((w, h), scale)


def test_rescale_size_matches_mmcv_when_installed():
    mmcv = pytest.importorskip("mmcv")
    for (w, h), scale in itertools.product([(640, 480), (480, 640), (333, 1000), (1, 1)], [(1333, 800), 0.7]):
        assert fl.rescale_size((w, h), scale) == mmcv.rescale_size((w, h), scale, return_scale=True)


@pytest.mark.parametrize("scale", [(0, 800), (-1, 3), (1, 2, 3), float("nan"), -2.0, 0, "big", None, (1, float("inf"))])
def test_rescale_size_invalid_scale(scale):
    with pytest.raises(ValueError, match="scale"):
        fl.rescale_size((640, 480), scale)


def test_batch_extent():
    assert batch_extent([(5, 7), (3, 9)], 1, None) == (5, 9)
    assert batch_extent([(5, 7), (3, 9)], 4, None) == (8, 12)
    assert batch_extent([(5, 7)], 32, (10, 8)) == (10, 8)
    with pytest.raises(ValueError, match="pad_to"):
        batch_extent([(5, 7)], 1, (4, 8))
    with pytest.raises(TypeError, match=r"pad_to\[1\]"):
        batch_extent([(5, 7)], 1, (10, 8.0))
