"""What the `shards` suite builds and times: the same JPEGs as WebDataset shards (`wds.TarWriter`, with timm's
`_info.json`) and as a Hugging Face dataset on disk (Arrow, `Image(decode=False)`), and the per-batch seeding that
lets every loader draw the crops the files loader draws. Picklable at module level: the DataLoader workers start
from a forkserver and import them from here.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile

import torch

from fastload.bench.file_loaders import TorchvisionCrop


def write_shards(samples: list[tuple[str, int]], shards: int, batch: int, workers: int) -> list[str]:
    """`samples` ((path, label) in the files loader's order) as `shards` WebDataset tar files of whole batches,
    written by `wds.ShardWriter` into a temporary folder removed at exit: keys `%05d` (the index in `samples`),
    `jpg` (the file's bytes), `cls` (the label); the folder holds timm's `_info.json` too. Returns the shards' paths.

    The batches are laid out so that `workers` DataLoader workers (worker w reads shards w, w + workers, ...; the
    loader takes one batch from each in turn) yield the files loader's batches in its order, each made by the
    worker that makes it from the files: the same work on each worker, whatever the images' sizes."""
    import webdataset as wds

    root = tempfile.mkdtemp(prefix="fastload-shards-")
    atexit.register(shutil.rmtree, root, True)
    batches = len(samples) // batch
    per_shard = batches // shards  # batches in a shard
    if shards % workers or per_shard * shards != batches:
        raise ValueError(f"{batches} batches do not fill {shards} shards read by {workers} workers evenly")
    layout = [[] for _ in range(shards)]
    for j in range(batches):  # the j-th batch the loader yields: worker j % workers's (j // workers)-th
        worker, m = j % workers, j // workers
        layout[worker + workers * (m // per_shard)].append(j)
    names = []
    for k, shard_batches in enumerate(layout):
        names.append(f"train-{k:04d}.tar")
        with wds.TarWriter(os.path.join(root, names[-1])) as sink:
            for j in shard_batches:
                for i in range(j * batch, (j + 1) * batch):
                    with open(samples[i][0], "rb") as f:
                        sink.write({"__key__": f"{i:05d}", "jpg": f.read(), "cls": samples[i][1]})
    lengths = [len(b) * batch for b in layout]
    split = {"name": "train", "num_samples": sum(lengths), "filenames": names, "shard_lengths": lengths}
    with open(os.path.join(root, "_info.json"), "w") as f:
        json.dump({"name": "fastload-bench", "splits": {"train": split}}, f)
    return [os.path.join(root, n) for n in names]


def write_hf_dataset(samples: list[tuple[str, int]]) -> str:
    """`samples` as a Hugging Face dataset saved to disk (Arrow, memory-mapped when loaded): columns `image`
    (`Image(decode=False)`: {"bytes", "path"}), `label`, `idx` (the index in `samples`). Returns its folder."""
    import datasets

    root = tempfile.mkdtemp(prefix="fastload-hf-")
    atexit.register(shutil.rmtree, root, True)
    images = []
    for path, _ in samples:
        with open(path, "rb") as f:
            images.append({"bytes": f.read(), "path": None})
    features = datasets.Features(
        {"image": datasets.Image(decode=False), "label": datasets.Value("int64"), "idx": datasets.Value("int64")}
    )
    table = {"image": images, "label": [label for _, label in samples], "idx": list(range(len(samples)))}
    shown = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # no progress bar of its own amid the benchmark's table
    try:
        datasets.Dataset.from_dict(table, features=features).save_to_disk(root)
    finally:
        if shown:
            datasets.enable_progress_bars()
    return root


class SeededCollate:
    """`collate` with the torch RNG seeded, before each batch, by its first sample's index (`key`: a dict key whose
    value is the index or its decimal string): the crops and flips the files loader draws for the same batch."""

    def __init__(self, collate, key: str):
        self.collate, self.key = collate, key

    def __call__(self, samples: list):
        torch.manual_seed(int(samples[0][self.key]))
        return self.collate(samples)


class SeedAtBatchStart:
    """A WebDataset map stage, before the per-sample transforms: seeds the torch RNG at each sample whose index
    (its `__key__`) starts a batch, so that the per-sample transforms draw the files loader's crops."""

    def __init__(self, batch: int):
        self.batch = batch

    def __call__(self, sample: dict) -> dict:
        index = int(sample["__key__"])
        if index % self.batch == 0:
            torch.manual_seed(index)
        return sample


def label(value):
    """A WebDataset `cls` as decoded (`.decode("pil")` makes it an int)."""
    return int(value)


class HFTorchvision:
    """The Hugging Face recipe's transform (`dataset.with_transform(...)`): torchvision's crop on each decoded PIL
    image of a batch of rows, the RNG seeded by the batch's first `idx` as the files loader seeds it."""

    def __init__(self, size: int):
        self.crop = TorchvisionCrop(size)

    def __call__(self, rows: dict) -> dict:
        torch.manual_seed(rows["idx"][0])
        return {"image": [self.crop(image.convert("RGB")) for image in rows["image"]], "label": rows["label"]}
