"""Suite `recipes`: modern training recipes from JPEG files, end to end (a DataLoader with 2 workers over the same
ImageNet-style tree as the `files` suite, batches of 32, one epoch a timed call).

timm's default recipe: `create_transform(224, is_training=True)` is RandomResizedCrop + flip + ColorJitter(0.4, 0.4,
0.4) + normalize.
- fastload: `fl.ImageFolder` + `CropCollate(224, norm, color_jitter=(0.4, 0.4, 0.4, 0))`: each crop's box decoded,
  cropped to uint8, `adjust_color` with the drawn factors, normalized, in the workers;
- fastload's plain crop from the same files (no colour): what the recipe costs on top of it;
- torchvision v2: PIL decode, RandomResizedCrop, RandomHorizontalFlip, PILToTensor, ColorJitter on the uint8 tensor,
  ToDtype, Normalize per sample in the workers; each batch seeds the workers' torch RNG with its first index, so it
  draws the same boxes, flips, orders and factors as fastload (compared within a few grey levels: the crop's 1-level
  resampling difference, widened by factors above 1);
- timm: `create_transform(224, is_training=True)` as a new user runs it (ColorJitter on PIL images; its own
  interpolation choice; not compared);
- decode only: `cv2.imread` of every full image in the workers and nothing else.
"""

from __future__ import annotations

import os

from torch.utils.data import DataLoader

import fastload as fl
from fastload.bench import peers
from fastload.bench.core import FASTLOAD, TORCHVISION, Case, Impl, copy_floor, epoch, suite
from fastload.bench.file_loaders import (
    NORM,
    Seeded,
    TimmRecipe,
    TorchvisionRecipe,
    case_tree,
    cv2_image,
    labels_only,
    loader_options,
)
from fastload.bench.suites.crop import GREY_LEVEL
from fastload.bench.suites.crop import RAW_SIZES as CROP_SIZES

BATCH = 32
TIMM_JITTER = (0.4, 0.4, 0.4, 0.0)
# The colour steps widen the crop's 1-level resampling difference from torchvision (a contrast or saturation factor
# up to 1.4, a truncation on either side): up to 6 grey levels measured; a different draw differs by far more.
RECIPE_LEVELS = 8


@suite("recipes")
def cases(settings) -> list[Case]:
    return [_timm_default(settings)]


def _timm_default(settings) -> Case:
    device = settings.device
    count, s, size, root = case_tree(settings, CROP_SIZES, 256, 64)
    samples = fl.ImageFolder(root).samples
    files = Seeded(samples, fl.EncodedImage.from_file)
    recipe = DataLoader(files, collate_fn=fl.CropCollate(size, NORM, color_jitter=TIMM_JITTER), **loader_options(BATCH))
    plain = DataLoader(files, collate_fn=fl.CropCollate(size, NORM), **loader_options(BATCH))
    tv = DataLoader(Seeded(samples, TorchvisionRecipe(size, TIMM_JITTER)), **loader_options(BATCH))
    decode_only = DataLoader(Seeded(samples, cv2_image), collate_fn=labels_only, **loader_options(BATCH))
    encoded = sum(os.path.getsize(p) for p, _ in samples)
    impls = [
        Impl(
            FASTLOAD,
            lambda: epoch(recipe, device),
            note=f"CropCollate({size}, norm, color_jitter=(0.4, 0.4, 0.4, 0)) from the files",
        ),
        Impl(
            f"{FASTLOAD} plain crop",
            lambda: epoch(plain, device),
            checked=False,
            note="CropCollate without colour, the same files: the recipe's cost on top of it",
        ),
        Impl(
            TORCHVISION, lambda: epoch(tv, device), note="PIL decode + v2 crop, flip, ColorJitter on uint8, normalize"
        ),
    ]
    unavailable = {}
    timm, reason = peers.load("timm")
    if timm is None:
        unavailable["timm"] = reason
    else:
        timm_loader = DataLoader(Seeded(samples, TimmRecipe(size)), **loader_options(BATCH))
        impls.append(
            Impl(
                "timm",
                lambda: epoch(timm_loader, device),
                checked=False,
                note="create_transform(224, is_training=True) on PIL images (ColorJitter 0.4 included); own RNG",
            )
        )
    impls += [
        Impl(
            "decode only (cv2.imread in workers)",
            lambda: epoch(decode_only, device),
            checked=False,
            note="every full image decoded in the workers and nothing else",
        ),
        copy_floor(encoded + count * 3 * size * size * 4, device),
    ]
    label = f"{count} ImageNet-style JPEG files -> timm's default recipe (crop {size}, flip, ColorJitter 0.4)" + (
        "" if s == 1 else f" (x{s:g})"
    )
    return Case(
        suite="recipes",
        name=label,
        device=device,
        bytes_moved=encoded + count * 3 * size * size * 4,
        items=count,
        impls=impls,
        unavailable=unavailable,
        tolerance=RECIPE_LEVELS * GREY_LEVEL,
        reps=3,
    )
