"""Findings of the second adversarial probe on the crop surface (each failed before its fix): the crop ops and
transforms under torch.compile(fullgraph=True) with dynamic sizes and tensor boxes, sizes refused before anything is
allocated, every crop argument checked with an error naming it, the eval collate's geometry checked when it is built,
cache limits clamped, statistics that skip padding."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import fastload as fl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMG = np.zeros((10, 12, 3), np.uint8)


def images(rng, shapes):
    return [torch.from_numpy(rng.integers(0, 256, (*s, 3), dtype=np.uint8)) for s in shapes]


SHAPES = [[(30, 40), (25, 33)], [(41, 27), (64, 80)], [(19, 64), (33, 33)], [(80, 20), (21, 50)]]


def compiled_equals_eager(f, batches) -> None:
    torch._dynamo.reset()
    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    for args in batches:  # new sizes each call: dynamo recompiles with symbolic sizes after the first
        want, got = f(*args), compiled(*args)
        assert got.dtype == want.dtype and torch.equal(got, want)


def test_resized_crop_batch_compiles_with_list_and_tensor_boxes(rng):
    def boxes_of(imgs):
        return [(1, 2, img.shape[0] - 3, img.shape[1] - 5) for img in imgs]

    batches = [images(rng, s) for s in SHAPES]
    compiled_equals_eager(
        lambda a, b: fl.resized_crop_batch(
            [a, b], [(0, 0, 15, 20), (1, 2, 10, 12)], (16, 12), fl.IMAGENET, flips=[True, False]
        ),
        [(a, b) for a, b in batches],
    )
    compiled_equals_eager(
        lambda a, b, boxes, flips: fl.resized_crop_batch([a, b], boxes, 16, flips=flips, antialias=False),
        [(a, b, torch.tensor(boxes_of([a, b])), torch.tensor([False, True])) for a, b in batches],
    )


def test_resize_center_crop_batch_and_the_eval_transform_compile(rng):
    batches = [images(rng, s) for s in SHAPES]
    compiled_equals_eager(
        lambda a, b: fl.resize_center_crop_batch([a, b], 20, 16, fl.IMAGENET, dtype=torch.float16),
        [(a, b) for a, b in batches],
    )
    transform = fl.transforms.ResizeCenterCropNormalize(20, 16, fl.IMAGENET)
    compiled_equals_eager(transform, [(a,) for a, _ in batches])


def test_random_resized_crop_transform_compiles_with_graph_breaks(rng):
    # Its draws are torchvision's (.item() on random tensors), which end a graph; the crop itself is traced.
    transform = fl.transforms.RandomResizedCropNormalize(16, fl.IMAGENET)
    compiled = torch.compile(transform, backend="aot_eager")
    for a, _ in (images(rng, s) for s in SHAPES):
        torch.manual_seed(3)
        want = transform(a)
        torch.manual_seed(3)
        assert torch.equal(compiled(a), want)


def test_absurd_sizes_are_refused_before_anything_is_allocated():
    # In a process whose address space is capped at 4 GiB: building ~17 GB of tap tables first would fail there with
    # an allocator error (or the OOM killer without the cap), not the ValueError naming the argument.
    code = """
import resource, numpy as np, fastload as fl
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
img = np.zeros((10, 12, 3), np.uint8)
for call, word in [
        (lambda: fl.resized_crop_batch([img], [(0, 0, 10, 10)], (2**31 - 1, 2**31 - 1)), "size"),
        (lambda: fl.resized_crop_batch([img] * 64, [(0, 0, 10, 10)] * 64, (2**31 - 1, 2**16)), "size"),
        (lambda: fl.resize_center_crop_batch([img], 2**31 - 1, 2**31 - 1), "crop")]:
    try:
        call()
        print("no error")
    except ValueError as exc:
        print("ValueError", word in str(exc))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["ValueError", "True"] * 3, proc.stdout + proc.stderr[-2000:]


@pytest.mark.parametrize(
    "args, kwargs, error, words",
    [
        ((0, 10), {}, ValueError, ("height", ">= 1")),
        ((-5, 10), {}, ValueError, ("height",)),
        ((10.5, 10), {}, TypeError, ("height", "int")),
        ((True, 10), {}, TypeError, ("height",)),
        ((10, 0), {}, ValueError, ("width",)),
        ((10, 10), {"scale": (1.0, 0.5)}, ValueError, ("scale", "low <= high")),
        ((10, 10), {"scale": (float("nan"), 1.0)}, ValueError, ("scale",)),
        ((10, 10), {"scale": (0.1, 0.5, 1.0)}, ValueError, ("scale", "pair")),
        ((10, 10), {"ratio": (0, 1.0)}, ValueError, ("ratio",)),
        ((10, 10), {"ratio": (True, 2.0)}, ValueError, ("ratio",)),
        ((10, 10), {"generator": 7}, TypeError, ("generator",)),
    ],
)
def test_random_resized_crop_params_checks_every_argument(args, kwargs, error, words):
    with pytest.raises(error) as info:
        fl.random_resized_crop_params(*args, **kwargs)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_an_empty_image_is_named_in_the_crop_transform_and_collate():
    empty = np.zeros((0, 5, 3), np.uint8)
    with pytest.raises(ValueError, match=r"img is empty \(0x5\)"):
        fl.transforms.RandomResizedCropNormalize(8, fl.IMAGENET)(empty)
    with pytest.raises(ValueError, match=r"sample 1 of the batch is empty \(0x5\)"):
        fl.CropCollate(8, fl.IMAGENET)([(IMG, 0), (empty, 1)])


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: fl.resized_crop_batch([IMG], [(True, 0, 5, 5)], 4), ("boxes[0]", "bool")),
        (lambda: fl.resized_crop_batch([IMG], np.array([[True, False, True, True]]), 4), ("boxes", "integers")),
        (lambda: fl.resized_crop_batch([IMG], [(0, 0, 5.0, 5)], 4), ("boxes[0]", "ints")),
        (lambda: fl.resized_crop_batch([IMG], "0 0 5 5", 4), ("boxes",)),
        (lambda: fl.resized_crop_batch([IMG], [(0, 0, 5, 5)], 4, flips=True), ("flips", "1 bools")),
        (lambda: fl.resized_crop_batch([IMG], [(0, 0, 5, 5)], 4, flips=torch.tensor([1])), ("flips",)),
        (lambda: fl.resized_crop_batch([IMG], torch.tensor([[0, 0, 11, 5]]), 4), ("boxes[0]", "inside")),
    ],
)
def test_boxes_and_flips_are_checked(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value), str(info.value)


def test_the_table_op_checks_what_compiled_callers_do_not():
    # Under torch.compile tensor boxes reach the ops unchecked by Python: the ops refuse what they cannot use.
    ok = torch.tensor([5]), torch.tensor([4]), torch.tensor([0])
    with pytest.raises(RuntimeError, match="src and resized must be >= 1"):
        torch.ops.fastload._crop_axis_table(torch.tensor([0]), 4, ok[1], ok[2], "antialias", torch.zeros(0, dtype=bool))
    with pytest.raises(RuntimeError, match="inside the resized span"):
        torch.ops.fastload._crop_axis_table(ok[0], 4, ok[1], torch.tensor([1]), "linear", torch.zeros(0, dtype=bool))
    with pytest.raises(RuntimeError, match="flips must be a 1-D Bool"):
        torch.ops.fastload._crop_axis_table(*ok[:1], 4, *ok[1:], "linear", torch.zeros(2, dtype=bool))
    with pytest.raises(RuntimeError, match="src must be a 1-D Long"):
        torch.ops.fastload._crop_axis_table(ok[0].int(), 4, ok[1], ok[2], "nearest", torch.zeros(0, dtype=bool))


def test_the_eval_geometry_is_checked_when_built():
    for make in (
        lambda: fl.CropCollate(8, train=False, resize=4),
        lambda: fl.transforms.ResizeCenterCropNormalize(4, 8, fl.IMAGENET),
        lambda: fl.CropCollate((6, 9), train=False, resize=(8, 8)),
    ):
        with pytest.raises(ValueError, match=r"does not fit .*\(resize\)"):
            make()
    fl.CropCollate((4, 9), train=False, resize=4)  # landscape images fit: allowed
    fl.CropCollate(8, train=True, resize=4)  # resize is not used for training crops


def test_cache_limits_are_checked_and_clamped():
    fl.set_cpu_cache_limit(64)
    try:
        with pytest.warns(RuntimeWarning, match="more than this machine's memory"):
            fl.set_cpu_cache_limit(2**60)
        ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") >> 20
        assert fl.cpu_cache_stats()["limit_bytes"] == ram << 20
    finally:
        fl.set_cpu_cache_limit(256)
    code = (
        "import fastload as fl, warnings; warnings.simplefilter('always'); print(fl.cpu_cache_stats()['limit_bytes'])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "FASTLOAD_CPU_CACHE_MB": "99999999999999"},
    )
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split()[-1]) > 0 and "more than this machine's memory" in proc.stderr


class Sized(torch.utils.data.Dataset):
    def __init__(self, value_of=lambda i: 100 + i):
        self.value_of = value_of

    def __len__(self):
        return 6

    def __getitem__(self, i):
        return {"img": np.full((8 + i, 5 + 2 * i, 3), self.value_of(i), np.uint8)}


def test_statistics_skip_the_padding_of_padded_batches():
    ds = Sized()
    want = fl.compute_mean_std([ds[i]["img"] for i in range(len(ds))])
    for collate in (fl.PadCollate(), fl.PadCollate(size_divisor=8)):
        got = fl.compute_mean_std(DataLoader(ds, batch_size=3, collate_fn=collate))
        assert got.mean == pytest.approx(want.mean) and got.std == pytest.approx(want.std)
    padded = [fl.pad_batch([ds[i]["img"] for i in range(k, k + 2)], size_divisor=16) for k in (0, 2, 4)]
    got = fl.compute_mean_std(iter(padded))  # an iterable of PaddedBatch, as a loader yields them
    assert got.mean == pytest.approx(want.mean) and got.std == pytest.approx(want.std)
