"""The per-sample loaders and collates the `files` suite times: the JPEG tree it writes, the datasets (fastload's
files, cv2.imread, PIL), torchvision's, timm's and DALI's pipelines, and the entropy-decoding bound. Picklable at
module level: the suite's DataLoader workers start from a forkserver and import them from here.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import random
import shutil
import tempfile

import numpy as np
import torch
from torch.utils.data import Dataset

import fastload as fl
from fastload.functional._geometry import draw_crops

NORM = fl.IMAGENET
MEAN_UNIT, STD_UNIT = NORM.unit()
CROP = 224


def loader_options(batch_size: int | None) -> dict:
    """The DataLoader arguments every end-to-end loader of the benchmark gets: 2 workers, kept between epochs,
    started from a fresh forkserver process. Not forked from this one: a forked worker inherits this process's
    heap, and once a peer has run here (DALI's pipeline, in this suite or an earlier one) that heap serves the
    per-image buffers of cv2.imread and PIL without page faults, which made the loaders after it look a third
    faster than they are. Every loader starts clean. The forkserver imports this module (torch, numpy, fastload)
    once, before it forks any worker: a worker then starts in milliseconds instead of importing them again (a
    --quick run's worker start-ups took most of its time), with a heap that has only done those imports."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return dict(batch_size=batch_size, num_workers=2, persistent_workers=True, multiprocessing_context=context)


def case_tree(settings, sizes, count: int, quick_count: int) -> tuple[int, float, int, str]:
    """(files, the image scale, the crop's size, the tree's root) of a case: `quick_count` files for --quick or a
    scaled-down smoke run, else `count`."""
    count = quick_count if settings.scale < 1 or settings.min_time < 0.1 else count
    s = min(1.0, settings.scale)
    return count, s, max(8, round(CROP * s)), write_tree(settings.source, sizes, count, s)


def write_tree(source, sizes, count: int, scale: float, classes: int = 8) -> str:
    """An ImageFolder tree of `count` JPEGs (sizes cycling through `sizes` x `scale`, quality 75-95) written from
    the benchmark's photos into a temporary folder removed at exit."""
    import cv2

    root = tempfile.mkdtemp(prefix="fastload-files-")
    atexit.register(shutil.rmtree, root, True)
    rng = np.random.default_rng(0)
    for i, img in enumerate(source.images(sizes, count, scale, minimum=8)):
        folder = os.path.join(root, f"class{i % classes}")
        os.makedirs(folder, exist_ok=True)
        cv2.imwrite(os.path.join(folder, f"{i:05d}.JPEG"), img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(75, 96))])
    return root


class SeededBatches(Dataset):
    """`dataset` fetched a batch at a time with the torch RNG (and Python's) seeded by the batch's first index:
    every loader draws the same crops and flips for a batch, in every epoch, whichever worker runs it."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        return self.dataset[i]

    def __getitems__(self, indices: list) -> list:
        torch.manual_seed(indices[0])
        random.seed(indices[0])  # DINO's blur and solarize draw from Python's generator
        return [self[i] for i in indices]


class Seeded(SeededBatches):
    """(path, label) samples loaded by `load(path)`, fetched as `SeededBatches`."""

    def __init__(self, samples: list, load):
        super().__init__(samples)
        self.load = load

    def __getitem__(self, i):
        path, label = self.dataset[i]
        return self.load(path), label


def cv2_image(path: str) -> np.ndarray:
    """The file decoded whole by OpenCV: (H, W, 3) uint8 BGR."""
    import cv2

    return cv2.imread(path, cv2.IMREAD_COLOR)


def pil_image(path: str):
    """The file as an RGB PIL image, opened as torchvision's `default_loader` opens it."""
    from PIL import Image

    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")  # torchvision's default_loader


class TorchvisionCrop:
    """torchvision's classification training transforms (v2 RandomResizedCrop, RandomHorizontalFlip, PILToTensor,
    ToDtype, Normalize) on a file, PIL-decoded, or on a PIL image: a (3, size, size) float32 tensor."""

    def __init__(self, size: int):
        from torchvision.transforms import v2

        self.transform = v2.Compose(
            [
                v2.RandomResizedCrop(size, antialias=True),
                v2.RandomHorizontalFlip(),
                v2.PILToTensor(),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(MEAN_UNIT, STD_UNIT),
            ]
        )

    def __call__(self, image) -> torch.Tensor:
        return self.transform(pil_image(image) if isinstance(image, str) else image).as_subclass(torch.Tensor)


class TimmCrop:
    """timm's training transforms (`create_transform(is_training=True)`, bilinear, flip) on a file, PIL-decoded: a
    (3, size, size) float32 normalized tensor."""

    def __init__(self, size: int):
        from timm.data import create_transform

        self.transform = create_transform(
            size, is_training=True, interpolation="bilinear", hflip=0.5, color_jitter=None, auto_augment=None
        )

    def __call__(self, path: str) -> torch.Tensor:
        return self.transform(pil_image(path))


class TorchvisionRecipe:
    """torchvision v2's version of timm's default training recipe on a file, PIL-decoded: RandomResizedCrop,
    RandomHorizontalFlip, PILToTensor, ColorJitter(0.4, 0.4, 0.4) (or, with `auto_augment`, that v2 policy
    instead) on the uint8 tensor, ToDtype, Normalize: a (3, size, size) float32 tensor, drawn with the same RNG
    calls as `CropCollate(color_jitter=...)` (`CropCollate(auto_augment=...)`)."""

    def __init__(self, size: int, color_jitter=(0.4, 0.4, 0.4, 0.0), auto_augment=None):
        from torchvision.transforms import v2

        middle = v2.ColorJitter(*color_jitter) if auto_augment is None else auto_augment
        self.transform = v2.Compose(
            [
                v2.RandomResizedCrop(size, antialias=True),
                v2.RandomHorizontalFlip(),
                v2.PILToTensor(),
                middle,
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(MEAN_UNIT, STD_UNIT),
            ]
        )

    def __call__(self, path: str) -> torch.Tensor:
        return self.transform(pil_image(path)).as_subclass(torch.Tensor)


class TimmRecipe:
    """timm's `create_transform(size, is_training=True, auto_augment=auto_augment)` with its other defaults
    (RandomResizedCrop, flip 0.5, ColorJitter 0.4 or the auto-augment policy on PIL images, ToTensor, Normalize) on a
    file, PIL-decoded: (3, size, size) float32."""

    def __init__(self, size: int, auto_augment: str | None = None):
        from timm.data import create_transform

        self.transform = create_transform(size, is_training=True, auto_augment=auto_augment)

    def __call__(self, path: str) -> torch.Tensor:
        return self.transform(pil_image(path))


class EntropyOnly:
    """The part of a crop's decode no DCT scale can skip: a baseline JPEG's Huffman data is read in order, so every
    row down to the bottom of the box is entropy-decoded whatever is done with it (with strict=True, the whole file's
    verdict, the rows below it too). Each batch draws the crops `collate` (a train CropCollate) draws, with the same
    RNG calls, and decodes, at 1/8 scale with the collate's strict, one pixel of each box's last row: the other rows
    are entropy-decoded only (jpeg_skip_scanlines). (Files without EXIF orientation, as the suite writes.)"""

    def __init__(self, collate: fl.CropCollate):
        self.scale, self.ratio, self.flip_p = collate.scale, collate.ratio, collate.flip_p
        self.strict = collate.decoder.strict

    def __call__(self, samples: list) -> torch.Tensor:
        sizes = [fl.image_size(image) for image, _ in samples]
        boxes, _ = draw_crops(sizes, self.scale, self.ratio, self.flip_p)
        for (image, _), (top, _, h, _) in zip(samples, boxes):
            rows = fl.image_size(image, reduce=8)[0]
            fl.decode_image(image, box=(min(rows, -(-(top + h) // 8)) - 1, 0, 1, 1), reduce=8, strict=self.strict)
        return labels_only(samples)


def labels_only(samples: list) -> torch.Tensor:
    """A collate that drops the images: the batch's labels, (N,) int64."""
    return torch.tensor([label for _, label in samples])


def dali_loader(root: str, size: int, threads: int, batch: int):
    """A run of one epoch of DALI's CPU pipeline over the tree at `root` (its own RNG); the last batch's images."""
    from nvidia.dali import fn, pipeline_def, types
    from nvidia.dali.plugin.pytorch import DALIGenericIterator

    @pipeline_def(batch_size=batch, num_threads=max(1, threads), device_id=None, prefetch_queue_depth=2)
    def graph():
        jpegs, labels = fn.readers.file(file_root=root, random_shuffle=False, name="files")
        x = fn.decoders.image_random_crop(jpegs, device="cpu", output_type=types.RGB)
        x = fn.resize(x, size=[size, size], antialias=True, interp_type=types.INTERP_LINEAR)
        x = fn.crop_mirror_normalize(
            x,
            dtype=types.FLOAT,
            output_layout="CHW",
            mean=list(NORM.mean),
            std=list(NORM.std),
            mirror=fn.random.coin_flip(),
        )
        return x, labels

    pipe = graph()
    pipe.build()
    iterator = DALIGenericIterator([pipe], ["images", "labels"], reader_name="files", auto_reset=True)

    def run():
        last = None
        for batch in iterator:
            last = batch[0]["images"]
        return last

    return run


class TorchvisionDetection:
    """torchvision's detection input on a file: PIL decode, v2 pil_to_tensor + to_dtype + normalize, (3, H, W)
    float32."""

    def __call__(self, path: str) -> torch.Tensor:
        from torchvision.transforms import v2

        x = v2.functional.pil_to_tensor(pil_image(path))
        x = v2.functional.to_dtype(x, torch.float32, scale=True)
        return v2.functional.normalize(x, MEAN_UNIT, STD_UNIT)
