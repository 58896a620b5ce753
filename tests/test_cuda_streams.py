"""Every CUDA op runs on the caller's current stream: on a side stream, a sleep and then a copy that gives the input
its values are queued before the op. An op on that stream sees the new values; an op on any other stream (the
default one) would read the input before the copy lands and give the old values' result."""

from __future__ import annotations

import pytest
import torch

import fastload as fl

pytestmark = pytest.mark.cuda

OPS = {
    "normalize": (lambda x: fl.normalize(x, fl.IMAGENET), torch.uint8),
    "denormalize": (lambda x: fl.denormalize(x, fl.IMAGENET), torch.float32),
    "pad_batch": (lambda x: fl.pad_batch([x[0], x[1, :40]], fl.IMAGENET, size_divisor=32).images, torch.uint8),
    "resize_pad_batch": (lambda x: fl.resize_pad_batch(list(x), fl.IMAGENET, scale=(96, 64)).images, torch.uint8),
    "resized_crop_batch": (
        lambda x: fl.resized_crop_batch(list(x), [(3, 5, 40, 50)] * 2, 32, fl.IMAGENET, flips=[True, False]),
        torch.uint8,
    ),
    "channel_stats": (lambda x: fl.channel_stats(list(x)), torch.uint8),
}


def inputs(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    if dtype == torch.uint8:
        a, b = (torch.randint(0, 256, (2, 48, 64, 3), dtype=torch.uint8, generator=g) for _ in range(2))
    else:
        a, b = (torch.randn(2, 3, 48, 64, generator=g) for _ in range(2))
    return a.cuda(), b.cuda()


@pytest.mark.parametrize("name", list(OPS))
def test_cuda_ops_run_on_the_current_stream(name):
    op, dtype = OPS[name]
    old, new = inputs(dtype)
    want = op(new)
    torch.cuda.synchronize()
    x = old.clone()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        torch.cuda._sleep(200_000_000)  # ~0.1 s of GPU time before the copy: long enough for a wrong stream to run
        x.copy_(new)
        got = op(x)
    torch.cuda.current_stream().wait_stream(stream)
    assert torch.equal(got, want), f"{name} did not run on the current stream"
    assert not torch.equal(op(old), want)  # the test can tell the two apart
