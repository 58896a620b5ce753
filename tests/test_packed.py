"""PackedImages: construction, views, pickling, pinning, moving, bounds checks."""

from __future__ import annotations

import pickle

import pytest
import torch
from conftest import CUDA
from images import make_image

import fastload as fl


def test_packed_images_api(rng):
    images = [make_image(rng, (h, w, 3), "contiguous") for h, w in [(4, 5), (6, 3)]]
    packed = fl.pack_images(images)
    clone = pickle.loads(pickle.dumps(packed))
    assert torch.equal(clone.data, packed.data) and torch.equal(clone.sizes, packed.sizes)
    assert "n=2" in repr(packed) and packed.nbytes == (4 * 5 + 6 * 3) * 3
    assert packed.to("cpu").device.type == "cpu"
    if CUDA:
        assert packed.pin_memory().is_pinned()
    with pytest.raises(ValueError, match="outside"):
        fl.PackedImages(packed.data[:10], packed.offsets, packed.sizes, 3)


def test_bad_constructor_arguments():
    data = torch.zeros(12, dtype=torch.uint8)
    with pytest.raises(ValueError, match="channels must be the int 1 or 3"):
        fl.PackedImages(data, [0], [[2, 2]], True)
    with pytest.raises(TypeError, match="offsets must hold integers"):
        fl.PackedImages(data, torch.tensor([0.5]), [[2, 2]], 3)
    with pytest.raises(TypeError, match="sizes must hold integers"):
        fl.PackedImages(data, [0], [[2.0, 2.0]], 3)


def test_pickling_a_view_sends_only_its_bytes():
    big = torch.zeros(10**6, dtype=torch.uint8)
    packed = fl.PackedImages(big[100:112], [0], [[2, 2]], 3)
    assert len(pickle.dumps(packed)) < 10_000
    clone = pickle.loads(pickle.dumps(packed))
    assert torch.equal(clone.data, packed.data)
