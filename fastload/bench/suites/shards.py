"""Suite `shards`: the `files` suite's classification job (256 ImageNet-style JPEGs, RandomResizedCrop 224 + flip +
ImageNet normalize, float32, batches of 32, a DataLoader with 2 workers, one epoch a timed call) with the images kept
the ways teams keep them at scale:

- WebDataset: 4 tar shards (2 for --quick) of whole batches, written by `wds.TarWriter` so that each of the 2
  workers makes the batches it makes from the files, in the same order. fastload reads them with its tar reader
  (`fl.data.WebDataset`; a row with webdataset's own reader beside it) and batches inside the workers
  (`.batched(32, collation_fn=CropCollate(224, norm))`, `DataLoader(batch_size=None,
  collate_fn=fl.data.keep_batch)`, so batches go through the workers' rings); the usual recipe
  (`.decode("pil").to_tuple("jpg", "cls").map_tuple(torchvision v2 transforms).batched(32)`); timm's own WebDataset
  reader (`create_dataset("wds/...")` + `create_transform`) where timm is installed (its own shuffle and RNG: values
  not compared).
- Hugging Face datasets: an Arrow dataset on disk (`save_to_disk` / `load_from_disk`) whose image column is
  `Image(decode=False)`. fastload: the rows straight into `CropCollate` as `collate_fn`; the usual recipe: the
  column decoded (`Image()`) and `with_transform` running torchvision's transforms on each batch of rows.

Each case also times fastload from the same images as files (`fl.ImageFolder` + `CropCollate`): the targets are
shards and datasets at least 0.95x as fast as files and 3x the usual recipes. Every loader's torch RNG is seeded at
each batch by the batch's first index, so the loaders draw the same crops and flips: fastload's batches from shards,
datasets and files are equal bit for bit; torchvision's within 1 grey level.
"""

from __future__ import annotations

import os

from torch.utils.data import DataLoader

import fastload as fl
from fastload.bench import peers
from fastload.bench.core import FASTLOAD, REFERENCE, TORCHVISION, Case, Impl, copy_floor, epoch, suite, with_backend
from fastload.bench.file_loaders import NORM, Seeded, TimmCrop, TorchvisionCrop, case_tree, loader_options
from fastload.bench.shard_loaders import (
    HFTorchvision,
    SeedAtBatchStart,
    SeededCollate,
    label,
    write_hf_dataset,
    write_shards,
)
from fastload.bench.suites.crop import GREY_LEVEL
from fastload.bench.suites.crop import RAW_SIZES as CROP_SIZES

BATCH, SHARDS = 32, 4


@suite("shards")
def cases(settings) -> list[Case]:
    count, s, size, root = case_tree(settings, CROP_SIZES, 256, 64)
    samples = fl.ImageFolder(root).samples
    collate = fl.CropCollate(size, NORM)
    files = DataLoader(Seeded(samples, fl.EncodedImage.from_file), collate_fn=collate, **loader_options(BATCH))
    from_files = Impl(
        f"{FASTLOAD} from files",
        lambda: epoch(files, settings.device),
        note="the same images as files: fl.ImageFolder + CropCollate (the files suite's row)",
    )
    moved = sum(os.path.getsize(p) for p, _ in samples) + count * 3 * size * size * 4  # files read, batches written
    floor = copy_floor(moved, settings.device)
    common = dict(
        device=settings.device,
        bytes_moved=moved,
        items=count,
        tolerance=GREY_LEVEL,
        reps=5,  # the ratio to the files row is the point: more repetitions than the files suite's 3
    )
    # Shards of whole batches, laid out so that each worker makes the batches it makes from the files, and the
    # loader yields them in the files loader's order (see write_shards).
    shards = min(SHARDS, count // BATCH)
    job = f"RandomResizedCrop {size}, flip, batches of {BATCH}" + ("" if s == 1 else f" (x{s:g})")
    return [
        Case(
            suite="shards",
            name=f"{count} JPEGs in {shards} WebDataset shards -> {job}",
            **common,
            **_webdataset(settings, samples, shards, size, collate, [from_files, floor]),
        ),
        Case(
            suite="shards",
            name=f"{count} JPEGs in a Hugging Face dataset -> {job}",
            **common,
            **_hugging_face(settings, samples, size, collate, [from_files, floor]),
        ),
    ]


def _webdataset(settings, samples, shards: int, size: int, collate: fl.CropCollate, shared: list[Impl]) -> dict:
    """The WebDataset case's rows; `shared`: the rows both cases time (fastload from the files, the copy floor)."""
    from_files, floor = shared
    import webdataset as wds

    workers = loader_options(None)["num_workers"]
    device, urls = settings.device, write_shards(samples, shards, BATCH, workers)

    def reader(kind=fl.data.WebDataset):
        return kind(urls, shardshuffle=False, empty_check=False)

    ours = reader().batched(BATCH, collation_fn=SeededCollate(collate, "__key__"))
    reference = reader().batched(BATCH, collation_fn=SeededCollate(with_backend("reference", collate), "__key__"))
    their_tar = reader(wds.WebDataset).batched(BATCH, collation_fn=SeededCollate(collate, "__key__"))
    theirs = (
        reader(wds.WebDataset)
        .map(SeedAtBatchStart(BATCH))
        .decode("pil")
        .to_tuple("jpg", "cls")
        .map_tuple(TorchvisionCrop(size), label)
        .batched(BATCH)
    )
    options = loader_options(None)  # batches come from .batched() in the workers
    # fastload's recipe hands the workers' batches over as they are (collate_fn=keep_batch); webdataset's recipe
    # keeps torch's default.
    ours, reference, their_tar = (
        DataLoader(d, collate_fn=fl.data.keep_batch, **options) for d in (ours, reference, their_tar)
    )
    theirs = DataLoader(theirs, **options)
    impls = [
        Impl(
            FASTLOAD,
            lambda: epoch(ours, device),
            note=f"fl.data.WebDataset(urls).batched({BATCH}, collation_fn=fl.CropCollate({size}, norm)) in the "
            "workers: shards read by fastload's tar reader, the bytes straight into the fused crop",
        ),
        Impl(
            f"{FASTLOAD} (webdataset's tar reader)",
            lambda: epoch(their_tar, device),
            note="the same with wds.WebDataset(urls): Python's tarfile reads the shards",
        ),
        *_peer_rows(
            device,
            reference,
            from_files,
            theirs,
            'webdataset\'s recipe: .decode("pil").to_tuple("jpg", "cls").map_tuple(v2 RandomResizedCrop, flip, '
            f"PILToTensor, ToDtype, Normalize).batched({BATCH})",
        ),
    ]
    unavailable = {}
    timm, reason = peers.load("timm")
    if timm is None:
        unavailable["timm"] = reason
    else:
        from timm.data import create_dataset

        reader = create_dataset(
            "wds/fastload-bench", root=os.path.dirname(urls[0]), split="train", is_training=True, batch_size=BATCH
        )
        reader.transform = TimmCrop(size).transform
        # Forked workers: timm's reader holds a multiprocessing counter made in the default (fork) context, which
        # a forkserver worker refuses.
        timm_loader = DataLoader(reader, **{**loader_options(BATCH), "multiprocessing_context": "fork"})
        impls.append(
            Impl(
                "timm (wds reader)",
                lambda: epoch(timm_loader, device),
                checked=False,
                note='create_dataset("wds/...", is_training=True) + create_transform(is_training=True): its own '
                "shuffle and RNG (not compared); forked workers",
            )
        )
    impls.append(floor)
    return dict(impls=impls, unavailable=unavailable)


def _hugging_face(settings, samples, size: int, collate: fl.CropCollate, shared: list[Impl]) -> dict:
    """The Hugging Face case's rows; `shared` as in `_webdataset`."""
    from_files, floor = shared
    import datasets

    device, folder = settings.device, write_hf_dataset(samples)
    table = datasets.load_from_disk(folder)
    ours = DataLoader(table, collate_fn=SeededCollate(collate, "idx"), **loader_options(BATCH))
    reference_collate = SeededCollate(with_backend("reference", collate), "idx")
    reference = DataLoader(table, collate_fn=reference_collate, **loader_options(BATCH))
    decoded = table.cast_column("image", datasets.Image()).with_transform(HFTorchvision(size))
    theirs = DataLoader(decoded, **loader_options(BATCH))
    impls = [
        Impl(
            FASTLOAD,
            lambda: epoch(ours, device),
            note=f"Image(decode=False) rows as collate_fn=fl.CropCollate({size}, norm): the bytes straight into "
            "the fused crop",
        ),
        *_peer_rows(
            device,
            reference,
            from_files,
            theirs,
            "the datasets recipe: Image() decoded to PIL, with_transform(v2 RandomResizedCrop, flip, PILToTensor, "
            "ToDtype, Normalize) per batch of rows",
        ),
        floor,
    ]
    return dict(impls=impls, unavailable={})


def _peer_rows(device: str, reference, from_files: Impl, theirs, their_note: str) -> list[Impl]:
    """The rows both cases have after fastload's: its pure-PyTorch crop, fastload from the files, the usual recipe."""
    return [
        Impl(REFERENCE, lambda: epoch(reference, device), note="the same pipeline with the pure-PyTorch crop"),
        from_files,
        Impl(TORCHVISION, lambda: epoch(theirs, device), note=their_note),
    ]
