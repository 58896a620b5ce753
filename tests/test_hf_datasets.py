"""Hugging Face datasets through the fused path, with the real `datasets` package, offline (issue 34, part 3): a
dataset built in memory with `Image(decode=False)`, `load_dataset("imagefolder")` and Parquet with image bytes,
map-style under a DistributedSampler and streaming with `split_dataset_by_node`; each batch equals the one fastload
makes from the same images as `fl.EncodedImage` files, bit for bit, and every sample is seen once per epoch."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import torch
from files import photo
from torch.utils.data import DataLoader, DistributedSampler

import fastload as fl

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # everything here is local: never ask the Hub
os.environ.setdefault("HF_HUB_OFFLINE", "1")
datasets = pytest.importorskip("datasets")

N, BATCH = 24, 6
EVAL = dict(size=32, norm=fl.IMAGENET, train=False, resize=40, label_mode="classification", num_classes=3)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """N JPEG files in an imagefolder tree (class folders), and their bytes and labels in file order."""
    root = tmp_path_factory.mktemp("hf")
    rng = np.random.default_rng(3)
    files = []
    for i in range(N):
        label = i % 3
        data = cv2.imencode(".jpg", photo(rng, int(rng.integers(40, 80)), int(rng.integers(40, 80))))[1].tobytes()
        path = root / "train" / f"class{label}" / f"{i:03d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files.append((str(path), data, label))
    return root, files


def _in_memory(files):
    ds = datasets.Dataset.from_dict({"image": [p for p, _, _ in files], "label": [lb for _, _, lb in files]})
    return ds.cast_column("image", datasets.Image(decode=False))  # {"bytes": None, "path": ...}: read by the collate


def _expected(data: list[bytes], labels: list[int]):
    return fl.CropCollate(**EVAL)([(fl.EncodedImage(d), lb) for d, lb in zip(data, labels)])


@pytest.mark.parametrize("workers", [0, 2])
def test_a_dataset_with_undecoded_images_in_a_dataloader(images, workers):
    _, files = images
    ds = _in_memory(files)
    assert ds[0]["image"] == {"bytes": None, "path": files[0][0]}
    loader = DataLoader(ds, batch_size=BATCH, num_workers=workers, collate_fn=fl.CropCollate(**EVAL))
    batches = list(loader)
    assert len(batches) == N // BATCH
    for k, batch in enumerate(batches):
        chunk = files[k * BATCH : (k + 1) * BATCH]
        expected_images, expected_labels = _expected([d for _, d, _ in chunk], [lb for _, _, lb in chunk])
        assert torch.equal(batch["image"], expected_images)
        assert torch.equal(batch["label"], expected_labels)


def test_imagefolder_and_parquet(images, tmp_path):
    root, files = images
    folder = datasets.load_dataset("imagefolder", data_dir=str(root), split="train")
    folder = folder.cast_column("image", datasets.Image(decode=False))
    by_path = {p: (d, lb) for p, d, lb in files}
    order = [by_path[row["image"]["path"]] for row in folder]  # the imagefolder's order, its labels the folders'
    assert sorted(row["label"] for row in folder) == sorted(lb for *_, lb in files)
    for k, batch in enumerate(DataLoader(folder, batch_size=BATCH, collate_fn=fl.CropCollate(**EVAL))):
        chunk = order[k * BATCH : (k + 1) * BATCH]
        expected_images, _ = _expected([d for d, _ in chunk], [lb for _, lb in chunk])
        assert torch.equal(batch["image"], expected_images)
    # Parquet with the bytes inside: {"bytes": b"...", "path": name}
    table = datasets.Dataset.from_dict(
        {"image": [{"bytes": d, "path": p.rsplit("/", 1)[1]} for p, d, _ in files], "label": [lb for *_, lb in files]}
    ).cast_column("image", datasets.Image(decode=False))
    table.to_parquet(str(tmp_path / "train.parquet"))
    parquet = datasets.load_dataset("parquet", data_files=str(tmp_path / "train.parquet"), split="train")
    parquet = parquet.cast_column("image", datasets.Image(decode=False))
    assert parquet[0]["image"]["bytes"] == files[0][1]
    batches = list(DataLoader(parquet, batch_size=BATCH, collate_fn=fl.CropCollate(**EVAL)))
    for k, batch in enumerate(batches):
        chunk = files[k * BATCH : (k + 1) * BATCH]
        expected_images, expected_labels = _expected([d for _, d, _ in chunk], [lb for *_, lb in chunk])
        assert torch.equal(batch["image"], expected_images) and torch.equal(batch["label"], expected_labels)


def test_ranks_see_every_sample_once(images):
    _, files = images
    ds = _in_memory(files).add_column("idx", list(range(N)))
    seen = []
    for rank in range(2):  # map-style: a DistributedSampler per rank
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=0)
        sampler.set_epoch(1)
        loader = DataLoader(ds, batch_size=BATCH, sampler=sampler, num_workers=2, collate_fn=fl.CropCollate(**EVAL))
        seen += [i for batch in loader for i in batch["idx"].tolist()]
    assert sorted(seen) == list(range(N))
    streamed = []
    from datasets.distributed import split_dataset_by_node

    iterable = _in_memory(files).add_column("idx", list(range(N))).to_iterable_dataset(num_shards=4)
    for rank in range(2):  # streaming: split_dataset_by_node, the shards split again across workers
        part = split_dataset_by_node(iterable, rank=rank, world_size=2)
        loader = DataLoader(part, batch_size=BATCH, num_workers=2, collate_fn=fl.CropCollate(**EVAL))
        streamed += [i for batch in loader for i in batch["idx"].tolist()]
    assert sorted(streamed) == list(range(N))
