"""WebDataset shards through the fused path, with the real `webdataset` package (issue 34, part 2): shards written by
`wds.ShardWriter`, read from local paths and through `pipe:`, the collate inside the workers (`.batched(n,
collation_fn=...)` with `DataLoader(batch_size=None)`) or as the DataLoader's `collate_fn`, with the shared-memory
ring; every sample seen once per epoch across workers; `resampled=True` + `with_epoch(n)`; and the batches equal
the ones fastload makes from the same images as `fl.EncodedImage` files, bit for bit. Each with webdataset's reader
and with `fl.data.WebDataset` (fastload's tar reader)."""

from __future__ import annotations

import os
import shutil

import cv2
import numpy as np
import pytest
import torch
from files import photo
from torch.utils.data import DataLoader

import fastload as fl

wds = pytest.importorskip("webdataset")

N, SHARDS, BATCH = 48, 4, 8


@pytest.fixture(params=["webdataset", "fastload"])
def reader(request):
    """The shard reader: webdataset's own, or fl.data.WebDataset (the same class with fastload's tar reader)."""
    return wds.WebDataset if request.param == "webdataset" else fl.data.WebDataset


@pytest.fixture
def http_server(shards):
    """The shards' folder served over HTTP on a free local port (a stand-in for object storage)."""
    import functools
    import http.server
    import threading

    folder = os.path.dirname(shards[0][0])
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=folder)
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """N JPEG samples (`jpg`, `cls`) in SHARDS tar shards; returns (shard paths, {key: (bytes, label)})."""
    folder = tmp_path_factory.mktemp("shards")
    rng = np.random.default_rng(7)
    samples = {}
    with wds.ShardWriter(str(folder / "train-%04d.tar"), maxcount=N // SHARDS, verbose=0) as sink:
        for i in range(N):
            h, w = int(rng.integers(40, 90)), int(rng.integers(40, 90))
            data = cv2.imencode(".jpg", photo(rng, h, w))[1].tobytes()
            key = f"sample{i:05d}"
            samples[key] = (data, i % 5)
            sink.write({"__key__": key, "jpg": data, "cls": i % 5})
    paths = sorted(str(p) for p in folder.glob("train-*.tar"))
    assert len(paths) == SHARDS
    return paths, samples


def _expected(samples: dict, keys: list, collate) -> tuple[torch.Tensor, list]:
    """The batch fastload makes from the same images wrapped as EncodedImage (eval crops: no RNG involved)."""
    images, labels = collate([(fl.EncodedImage(samples[k][0], k), samples[k][1]) for k in keys])
    return images, labels.tolist()


EVAL = dict(size=32, norm=fl.IMAGENET, train=False, resize=40, label_mode="classification", num_classes=5)


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("keep", [False, True])
def test_batched_in_the_workers_sees_every_sample_once_and_equals_the_files_path(reader, shards, workers, keep):
    paths, samples = shards
    collate = fl.CropCollate(**EVAL)
    dataset = reader(paths, shardshuffle=False, empty_check=False).batched(BATCH, collation_fn=collate)
    # keep_batch: the batch as the collate made it (torch's default_convert turns its tuples into lists)
    extra = {"collate_fn": fl.data.keep_batch} if keep else {}
    loader = DataLoader(dataset, batch_size=None, num_workers=workers, **extra)
    seen = []
    for batch in loader:
        assert set(batch) >= {"jpg", "cls", "__key__"} and batch["jpg"].shape[1:] == (3, 32, 32)
        assert isinstance(batch["img_shape"][0], tuple if keep else list)
        images, labels = _expected(samples, batch["__key__"], fl.CropCollate(**EVAL))
        assert torch.equal(batch["jpg"], images) and batch["cls"].tolist() == labels
        seen += batch["__key__"]
    assert sorted(seen) == sorted(samples)  # split_by_worker: disjoint and complete


def test_as_collate_fn_through_the_ring(reader, shards):
    paths, samples = shards
    dataset = reader(paths, shardshuffle=False, empty_check=False)
    loader = DataLoader(dataset, batch_size=BATCH, num_workers=2, collate_fn=fl.CropCollate(**EVAL))
    before = fl.memory.ring.stats()["received"]
    seen = []
    for batch in loader:
        images, labels = _expected(samples, batch["__key__"], fl.CropCollate(**EVAL))
        assert torch.equal(batch["jpg"], images) and batch["cls"].tolist() == labels
        seen += batch["__key__"]
    assert sorted(seen) == sorted(samples)
    assert fl.memory.ring.stats()["received"] > before  # the batches came through the workers' rings


def test_pipe_urls_and_shuffled_train_crops_finished_by_the_prefetcher(reader, shards):
    paths, samples = shards
    urls = [f"pipe:cat {p}" for p in paths]
    dataset = (
        reader(urls, shardshuffle=SHARDS, seed=0, empty_check=False)
        .shuffle(16)
        .batched(BATCH, collation_fn=fl.CropCollate(32, label_mode="classification", num_classes=5))
    )
    seen = []
    for batch in fl.DevicePrefetcher(DataLoader(dataset, batch_size=None, num_workers=2), "cpu", fl.IMAGENET):
        assert batch["jpg"].shape[1:] == (3, 32, 32) and batch["jpg"].dtype == torch.float32
        assert batch["cls"].tolist() == [samples[k][1] for k in batch["__key__"]]
        seen += batch["__key__"]
    assert sorted(seen) == sorted(samples)


def test_resampled_epochs_have_equal_batch_counts(reader, shards):
    paths, _ = shards
    collate = fl.CropCollate(**EVAL)
    dataset = reader(paths, resampled=True, shardshuffle=False, seed=1).batched(BATCH, collation_fn=collate)
    dataset = dataset.with_epoch(5)  # batches per worker per epoch, as DDP needs for equal epochs
    loader = DataLoader(dataset, batch_size=None, num_workers=2)
    counts = [sum(1 for _ in loader) for _ in range(2)]
    assert counts == [10, 10]


@pytest.mark.skipif(shutil.which("curl") is None, reason="webdataset streams http:// URLs through curl")
def test_streamed_over_http(reader, shards, http_server):
    paths, samples = shards
    urls = [f"{http_server}/{os.path.basename(p)}" for p in paths]
    dataset = reader(urls, shardshuffle=False, empty_check=False).batched(BATCH, collation_fn=fl.CropCollate(**EVAL))
    seen = []
    for batch in DataLoader(dataset, batch_size=None, num_workers=2):
        images, labels = _expected(samples, batch["__key__"], fl.CropCollate(**EVAL))
        assert torch.equal(batch["jpg"], images) and batch["cls"].tolist() == labels
        seen += batch["__key__"]
    assert sorted(seen) == sorted(samples)
