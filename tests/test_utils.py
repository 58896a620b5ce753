"""fastload.utils against PyTorch's own behaviour: to_tensor, conv_output_size (vs real Conv/Pool modules on a dense
grid), load_pretrained (a real torchvision model saved to disk with a new head)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from fastload.utils import conv_output_size, image_to_tensor, labels_to_tensor, load_pretrained, to_tensor


def test_to_tensor():
    t = torch.ones(2)
    assert to_tensor(t) is t
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    shared = to_tensor(a)
    a[0, 0] = 99
    assert shared[0, 0] == 99  # no copy
    flipped = to_tensor(a[:, ::-1])
    assert flipped.tolist() == a[:, ::-1].tolist()
    assert to_tensor(a[:, ::2]).tolist() == a[:, ::2].tolist()
    assert to_tensor(3).dtype == torch.int64 and to_tensor(3).tolist() == [3]
    assert to_tensor(0.5).dtype == torch.float32 and to_tensor(0.5).tolist() == [0.5]
    assert to_tensor([1, 2]).tolist() == [1, 2] and to_tensor((1.5,)).dtype == torch.float32
    for bad in ("abc", {1: 2}, None, object(), True):
        with pytest.raises(TypeError):
            to_tensor(bad)
    assert image_to_tensor(np.zeros((2, 2), np.uint8)).dtype == torch.float32
    assert labels_to_tensor([1.0, 2.0]).dtype == torch.int64
    with pytest.raises(ValueError, match="whole"):
        labels_to_tensor([1.5])


def test_conv_output_size_matches_pytorch_modules():
    x_cache = {}
    for size, k, s, p, d in itertools.product([1, 2, 5, 8, 13], [1, 2, 3, 5], [1, 2, 3], [0, 1, 2], [1, 2]):
        if size + 2 * p < d * (k - 1) + 1:
            with pytest.raises(ValueError, match="larger than the padded input"):
                conv_output_size(size, k, s, p, d)
            continue
        x = x_cache.setdefault(size, torch.zeros(1, 1, size, size))
        conv = nn.Conv2d(1, 1, k, s, p, d)
        assert conv_output_size(size, k, s, p, d) == conv(x).shape[-1]
        if p <= k // 2:  # PyTorch's pooling limit on padding
            for ceil in (False, True):
                pool = nn.MaxPool2d(k, s, p, d, ceil_mode=ceil)
                assert conv_output_size(size, k, s, p, d, ceil_mode=ceil) == pool(x).shape[-1], (size, k, s, p, d)
                if d == 1:
                    avg = nn.AvgPool2d(k, s, p, ceil_mode=ceil)
                    assert conv_output_size(size, k, s, p, ceil_mode=ceil) == avg(x).shape[-1]


def test_conv_output_size_pairs_and_errors():
    conv = nn.Conv2d(1, 1, (3, 5), (2, 1), (1, 2))
    assert conv_output_size((17, 23), (3, 5), (2, 1), (1, 2)) == tuple(conv(torch.zeros(1, 1, 17, 23)).shape[-2:])
    with pytest.raises(ValueError, match="stride"):
        conv_output_size(10, 3, stride=0)
    with pytest.raises(ValueError, match="pair"):
        conv_output_size((10, 10, 10), 3)


def test_load_pretrained_real_torchvision_model(tmp_path):
    from torchvision.models import resnet18

    source = resnet18(num_classes=1000)
    hidden = tmp_path / ".cache" / "torch"
    hidden.mkdir(parents=True)
    path = hidden / "resnet18.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}, "epoch": 3}, path)
    target = resnet18(num_classes=10)
    report = load_pretrained(target, str(path), verbose=False)
    assert set(report.mismatched) == {"fc.weight", "fc.bias"}
    assert report.mismatched["fc.weight"] == ((1000, 512), (10, 512))
    assert not report.unexpected and "fc.weight" not in report.missing  # reported once, as replaced
    assert str(report).count("fc.weight") == 1 and "replaced (shape differs) fc.weight" in str(report)
    assert torch.equal(target.conv1.weight, source.conv1.weight)
    with pytest.raises(RuntimeError, match="fc.weight"):
        load_pretrained(resnet18(num_classes=10), path, strict=True, verbose=False)
    report = load_pretrained(resnet18(), source.state_dict(), strict=True, verbose=False)
    assert report.ok and len(report.loaded) == len(source.state_dict())
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_pretrained(target, tmp_path / "missing.pth", verbose=False)
    with pytest.raises(TypeError, match="checkpoint"):
        load_pretrained(target, 42, verbose=False)


def test_negative_stride_on_a_length_one_dim():
    # np.ascontiguousarray keeps such a stride (the array counts as contiguous); torch.from_numpy refuses it.
    a = np.zeros((1, 4))[::-1]
    assert a.strides[0] < 0
    assert to_tensor(a).tolist() == [[0.0] * 4]
    assert labels_to_tensor(np.arange(3).reshape(1, 3)[::-1]).tolist() == [[0, 1, 2]]


def test_small_argument_mistakes_name_the_parameter(tmp_path):
    with pytest.raises(TypeError, match="size must be an int or an"):
        conv_output_size(224.0, 3)
    with pytest.raises(ValueError, match="finite"):
        labels_to_tensor([float("nan")])
    model = nn.Linear(2, 2)
    report = load_pretrained(
        model,
        {"module.weight": torch.zeros(2, 2), "module.bias": torch.zeros(2)},
        strip_prefixes="module.",
        verbose=False,
    )
    assert report.ok  # a single string is one prefix, not one prefix per character
