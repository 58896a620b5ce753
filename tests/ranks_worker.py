"""One rank of tests/test_ranks.py, run under `torchrun --nproc_per_node 2` (gloo, CPU): for each data source (an
ImageFolder tree, WebDataset shards, a Hugging Face dataset) and epoch, the samples this rank's loader yields
through fastload's CropCollate in 2 workers; the batch counts of a resampled WebDataset epoch; and one DDP training
step on a batch. Writes what it saw to OUT/rank<r>.json for the test to check across ranks.

Usage: python -m torch.distributed.run --nproc_per_node 2 tests/ranks_worker.py DATA_DIR OUT_DIR
"""

from __future__ import annotations

import glob
import json
import os
import sys

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

import fastload as fl

EPOCHS, BATCH, WORKERS = 2, 4, 2
EVAL = dict(size=16, norm=fl.IMAGENET, train=False, resize=20)


class Indexed(Dataset):
    """ImageFolder samples with their index: (EncodedImage, label, index)."""

    def __init__(self, folder: fl.ImageFolder):
        self.folder = folder

    def __len__(self):
        return len(self.folder)

    def __getitem__(self, i):
        image, label = self.folder[i]
        return image, label, i


def image_folder(data: str, rank: int, world: int) -> tuple[dict, str]:
    # Both ranks ask for the index at once: one scans and writes it, the other waits and reuses it.
    folder = fl.ImageFolder(os.path.join(data, "tree"), index=os.path.join(data, "tree.index"))
    return distributed_epochs(Indexed(folder), rank, world, lambda batch: batch[2]), folder.index_state


def distributed_epochs(dataset, rank: int, world: int, indices) -> dict:
    """The sample indices (`indices(batch)`, a tensor) this rank's loader yields in each epoch under a shuffling
    DistributedSampler (set_epoch every epoch)."""
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=0)
    loader = DataLoader(
        dataset, batch_size=BATCH, sampler=sampler, num_workers=WORKERS, collate_fn=fl.CropCollate(**EVAL)
    )
    seen = {}
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)
        seen[epoch] = [i for batch in loader for i in indices(batch).tolist()]
    return seen


def webdataset(data: str, rank: int, world: int) -> tuple[dict, list]:
    import webdataset as wds

    urls = sorted(glob.glob(os.path.join(data, "shards", "*.tar")))
    seen = {}
    for epoch in range(EPOCHS):
        # fastload's tar reader (fl.data.WebDataset); the resampled epochs below use webdataset's own.
        dataset = fl.data.WebDataset(urls, shardshuffle=False, nodesplitter=wds.split_by_node, empty_check=False)
        dataset = dataset.batched(BATCH, collation_fn=fl.CropCollate(**EVAL))
        loader = DataLoader(dataset, batch_size=None, num_workers=WORKERS)
        seen[epoch] = [key for batch in loader for key in batch["__key__"]]
    resampled = wds.WebDataset(urls, resampled=True, shardshuffle=False, nodesplitter=wds.split_by_node, seed=rank)
    resampled = resampled.batched(BATCH, collation_fn=fl.CropCollate(**EVAL)).with_epoch(3)
    counts = [sum(1 for _ in DataLoader(resampled, batch_size=None, num_workers=WORKERS)) for _ in range(EPOCHS)]
    return seen, counts


def hugging_face(data: str, rank: int, world: int) -> dict:
    import datasets

    paths = sorted(glob.glob(os.path.join(data, "tree", "*", "*.jpg")))
    table = datasets.Dataset.from_dict({"image": paths, "label": [0] * len(paths), "idx": list(range(len(paths)))})
    table = table.cast_column("image", datasets.Image(decode=False))
    return distributed_epochs(table, rank, world, lambda batch: batch["idx"])


def ddp_step(data: str, rank: int, world: int) -> list:
    """One DDP step on this rank's first ImageFolder batch; returns a checksum of the parameters after it."""
    torch.manual_seed(0)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1)
    dataset = Indexed(fl.ImageFolder(os.path.join(data, "tree")))
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=False)
    loader = DataLoader(
        dataset, batch_size=BATCH, sampler=sampler, num_workers=WORKERS, collate_fn=fl.CropCollate(**EVAL)
    )
    images, labels, _ = next(iter(fl.DevicePrefetcher(loader, "cpu")))
    loss = torch.nn.functional.cross_entropy(ddp(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return [float(p.detach().double().sum()) for p in model.parameters()]


def main(data: str, out: str) -> int:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    wds_seen, wds_counts = webdataset(data, rank, world)
    folder_seen, index_state = image_folder(data, rank, world)
    result = {
        "world": world,
        "image_folder": folder_seen,
        "image_folder_index": index_state,
        "webdataset": wds_seen,
        "webdataset_resampled_batches": wds_counts,
        "hugging_face": hugging_face(data, rank, world),
        "ddp_parameters": ddp_step(data, rank, world),
    }
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(result, f)
    dist.barrier()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
