"""PackedImages: construction, views, pickling, pinning, moving, bounds checks."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import fastload as fl
from conftest import CUDA
from images import make_image


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
