"""Suite `recipes`: modern training recipes from JPEG files, end to end (a DataLoader with 2 workers over the same
ImageNet-style tree as the `files` suite, batches of 32, one epoch a timed call).

timm's default recipe: `create_transform(224, is_training=True)` is RandomResizedCrop + flip + ColorJitter(0.4, 0.4,
0.4) + normalize.
- fastload: `fl.ImageFolder` + `CropCollate(224, norm, color_jitter=(0.4, 0.4, 0.4, 0))`: each crop's box decoded,
  cropped to uint8, then `adjust_color` with the drawn factors, normalizing in the same pass, in the workers;
- fastload's plain crop from the same files (no colour): what the recipe costs on top of it;
- torchvision v2: PIL decode, RandomResizedCrop, RandomHorizontalFlip, PILToTensor, ColorJitter on the uint8 tensor,
  ToDtype, Normalize per sample in the workers; each batch seeds the workers' torch RNG with its first index, so it
  draws the same boxes, flips, orders and factors as fastload (compared within a few grey levels: the crop's 1-level
  resampling difference, widened by factors above 1);
- timm: `create_transform(224, is_training=True)` as a new user runs it (ColorJitter on PIL images; its own
  interpolation choice; not compared);
- decode only: `cv2.imread` of every full image in the workers and nothing else.

The RandAugment recipe: the same with torchvision's `RandAugment()` (2 operations at magnitude 9 per image) in
place of the jitter: fastload's `CropCollate(auto_augment=fl.RandAugment())` vs torchvision v2's pipeline with
`v2.RandAugment()` on the uint8 tensor (the same draws; compared as per-image channel means, since equalize and
posterize turn the crop's 1-level difference into large ones on a few pixels), and timm's `create_transform(...,
auto_augment="rand-m9-mstd0.5")` (timm's own RandAugment: other operations, magnitude noise, PIL; not compared)
beside fastload's `CropCollate(auto_augment="rand-m9-mstd0.5")` (timm's draws and operation list, torchvision's
operations; not compared).

DINO's multi-crop: `fl.MultiCropCollate(norm)` (2 global 224 crops at scale (0.4, 1) and 8 local 96 crops at
(0.05, 0.4), bicubic, each with its flip, RandomApply(ColorJitter(0.4, 0.4, 0.2, 0.1), 0.8), RandomGrayscale(0.2),
DINO's blur probabilities and the second crop's solarize; one decode of the union of an image's boxes) against DINO's
`DataAugmentationDINO` as its repository ships it (torchvision's PIL transforms, PIL's GaussianBlur and solarize,
bench/ssl_loaders.py). Both draw the same boxes, flips, jitter and blur decisions under the per-batch seeds (torch's
and Python's); the values are compared as each crop's per-image channel means (PIL's enhancements and box-pass blur
are not torchvision's tensor functions).

The colour alone, on decoded images (no loader): 64 photos -> RandomResizedCrop 224 + flip + ColorJitter(0.4, 0.4,
0.4, 0.1) in a random order per image + normalize, the same drawn boxes, flips, orders and factors on both sides:
fastload's crop to uint8 + `adjust_color(..., norm=)` (adjusted and normalized in one pass: what
`CropCollate(color_jitter=...)` runs) vs
torchvision v2's functions per image (resized_crop, horizontal_flip, the four adjust_* in the order, to_dtype,
normalize; stacked), and fastload's plain fused crop of the same boxes. On the same uint8 crop `adjust_color` equals
torchvision's functions exactly (tests/test_adjust_color.py); here the crops differ by up to 1 grey level and a hue
turn followed by a contrast or saturation factor above 1 widens that to a few levels on some pixels (8.6 measured),
so the torchvision row is compared within HUE_LEVELS.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

import fastload as fl
from fastload.bench import peers
from fastload.bench.core import FASTLOAD, REFERENCE, TORCHVISION, Case, Impl, copy_floor, epoch, suite, with_backend
from fastload.bench.file_loaders import NORM, Seeded, TimmRecipe, TorchvisionRecipe, case_tree, loader_options
from fastload.bench.suites.crop import GREY_LEVEL
from fastload.bench.suites.crop import RAW_SIZES as CROP_SIZES
from fastload.bench.suites.files import classification_case

BATCH = 32
TIMM_JITTER = (0.4, 0.4, 0.4, 0.0)
# The colour steps widen the crop's 1-level resampling difference from torchvision (a contrast or saturation factor
# up to 1.4, a truncation on either side): up to 6 grey levels measured; a different draw differs by far more.
RECIPE_LEVELS = 8
# RandAugment's per-image channel means: the crop's difference through equalize / posterize / autocontrast.
MEAN_LEVELS = 3
# DINO's crops against its PIL pipeline, as per-crop means: PIL's enhancements and box blur against the tensor ops
# (up to 4.4 levels measured; another draw moves a crop's means by tens).
DINO_LEVELS = 8
HUE_LEVELS = 12


@suite("recipes")
def cases(settings) -> list[Case]:
    return [_timm_default(settings), _rand_augment(settings), _dino(settings), _colour_only(settings)]


def _timm_default(settings) -> Case:
    job = "timm's default recipe (crop {size}, flip, ColorJitter 0.4)"
    collate = dict(color_jitter=TIMM_JITTER)
    return _recipe(settings, job, collate, "color_jitter=(0.4, 0.4, 0.4, 0)", TorchvisionRecipe, None)


def _rand_augment(settings) -> Case:
    from torchvision.transforms import v2

    job = "RandAugment recipe (crop {size}, flip, RandAugment(2, 9)), values as per-image means"
    collate = dict(auto_augment=fl.RandAugment())
    return _recipe(
        settings,
        job,
        collate,
        "auto_augment=fl.RandAugment()",
        lambda size: TorchvisionRecipe(size, auto_augment=v2.RandAugment()),
        "rand-m9-mstd0.5",
        compare=_image_means,
        tolerance=MEAN_LEVELS * GREY_LEVEL,
        timm_grammar=True,
    )


def _dino(settings) -> Case:
    from fastload.bench.ssl_loaders import DinoRecipe
    from fastload.data import dino_groups

    device = settings.device
    _, _, size, root = case_tree(settings, CROP_SIZES, 256, 64)
    local = max(8, round(96 * size / 224))
    samples = fl.ImageFolder(root).samples
    files = Seeded(samples, fl.EncodedImage.from_file)
    groups = [g._replace(size=size if g.size == 224 else local) for g in dino_groups()]
    kernel = 13 if local > 13 else (local // 2) * 2 - 1  # the default (3 sigma of 2), unless a small crop needs less
    collate = fl.MultiCropCollate(NORM, groups, blur_kernel_size=kernel)
    dino = DataLoader(Seeded(samples, DinoRecipe(size, local)), **loader_options(BATCH))
    impls = _rows(
        device,
        files,
        size,
        collate,
        dino,
        _crop_means,
        f"MultiCropCollate(norm): DINO's 2 x {size} + 8 x {local}, one decode per image",
        "DINO's DataAugmentationDINO as shipped: torchvision on PIL, PIL's blur and solarize",
    )
    job = f"DINO multi-crop (2 x {size} + 8 x {local}, jitter, grayscale, blur, solarize), values as crop means"
    return classification_case("recipes", job, settings, samples, size, impls, {}, DINO_LEVELS * GREY_LEVEL)


def _rows(device, files, size, collate, peer, compare, note, peer_note) -> list[Impl]:
    """fastload's `collate` over `files`, the same with the reference ops, fastload's plain crop of the same files
    (not compared: what the recipe costs on top of it) and the torchvision-based `peer` loader, each a DataLoader
    epoch compared through `compare`."""
    main = DataLoader(files, collate_fn=collate, **loader_options(BATCH))
    reference = DataLoader(files, collate_fn=with_backend("reference", collate), **loader_options(BATCH))
    plain = DataLoader(files, collate_fn=fl.CropCollate(size, NORM), **loader_options(BATCH))
    return [
        Impl(FASTLOAD, lambda: epoch(main, device), compare, note=note),
        Impl(REFERENCE, lambda: epoch(reference, device), compare, note="the same with the pure-PyTorch ops"),
        Impl(
            f"{FASTLOAD} plain crop",
            lambda: epoch(plain, device),
            checked=False,
            note=f"CropCollate({size}, norm) without the recipe's steps, the same files",
        ),
        Impl(TORCHVISION, lambda: epoch(peer, device), compare, note=peer_note),
    ]


def _crop_means(crops: list) -> torch.Tensor:
    """Every crop's per-image channel means, concatenated: DINO's PIL blur (box passes) and PIL colour
    enhancements are not torchvision's tensor functions, but the same draws keep each crop's means close."""
    return torch.cat([c.float().mean(dim=(-2, -1)).flatten() for c in crops])


def _image_means(batch: torch.Tensor) -> torch.Tensor:
    """(N, C) channel means of each image: RandAugment's equalize and posterize can turn the crop's 1-level
    resampling difference into many levels on a few pixels, a different draw moves a whole image's mean."""
    return batch.float().mean(dim=(-2, -1))


def _recipe(
    settings, job, collate_kw, collate_note, tv_recipe, timm_aa, compare=None, tolerance=None, timm_grammar=False
) -> Case:
    """A recipe from the suite's files: fastload's CropCollate(**collate_kw), its reference, its plain crop,
    torchvision v2's `tv_recipe(size)` per sample (the same draws), timm's `create_transform` (auto_augment=timm_aa;
    own draws, not compared), and with `timm_grammar` fastload's CropCollate(auto_augment=timm_aa) (timm's draws and
    operations list; not compared)."""
    device = settings.device
    _, _, size, root = case_tree(settings, CROP_SIZES, 256, 64)
    samples = fl.ImageFolder(root).samples
    files = Seeded(samples, fl.EncodedImage.from_file)
    tv = DataLoader(Seeded(samples, tv_recipe(size)), **loader_options(BATCH))
    impls = _rows(
        device,
        files,
        size,
        fl.CropCollate(size, NORM, **collate_kw),
        tv,
        compare,
        f"CropCollate({size}, norm, {collate_note}) from the files",
        "PIL decode + v2 crop, flip, the recipe's step on uint8, normalize",
    )
    if timm_grammar:
        timm_collate = fl.CropCollate(size, NORM, auto_augment=timm_aa)
        grammar = DataLoader(files, collate_fn=timm_collate, **loader_options(BATCH))
        impls.insert(
            3,
            Impl(
                f"{FASTLOAD} timm grammar",
                lambda: epoch(grammar, device),
                checked=False,
                note=f"CropCollate({size}, norm, auto_augment={timm_aa!r}): timm's draws, torchvision's operations",
            ),
        )
    unavailable = {}
    timm, reason = peers.load("timm")
    if timm is None:
        unavailable["timm"] = reason
    else:
        timm_loader = DataLoader(Seeded(samples, TimmRecipe(size, timm_aa)), **loader_options(BATCH))
        impls.append(
            Impl(
                "timm",
                lambda: epoch(timm_loader, device),
                checked=False,
                note=f"create_transform({size}, is_training=True, auto_augment={timm_aa!r}) on PIL images; own RNG",
            )
        )
    tolerance = RECIPE_LEVELS * GREY_LEVEL if tolerance is None else tolerance
    return classification_case("recipes", job.format(size=size), settings, samples, size, impls, unavailable, tolerance)


def _colour_only(settings) -> Case:
    from fastload.bench.suites.crop import COUNT, SIZE

    device, s = settings.device, min(1.0, settings.scale)
    images = settings.source.images(CROP_SIZES, COUNT, s, minimum=8)
    rgb = [torch.from_numpy(img[:, :, ::-1].copy()).to(device) for img in images]
    generator = torch.Generator().manual_seed(0)
    boxes = [fl.random_resized_crop_params(img.shape[0], img.shape[1], generator=generator) for img in images]
    flips = (torch.rand(COUNT, generator=generator) < 0.5).tolist()
    orders = [torch.randperm(4, generator=generator).tolist() for _ in images]
    factors = torch.rand(COUNT, 4, generator=generator, dtype=torch.float64) * 0.8 + 0.6
    factors[:, 3] = factors[:, 3] / 4 - 0.25  # hue in [-0.1, 0.1]
    jitter = dict(zip(("brightness", "contrast", "saturation", "hue"), factors.T.tolist()))
    size = round(SIZE * s) if s < 1 else SIZE
    out_bytes = COUNT * 3 * size * size * 4

    def fused():
        crops = fl.resized_crop_batch(rgb, boxes, size, flips=flips, input_order="rgb")
        return fl.adjust_color(crops.permute(0, 3, 1, 2), **jitter, order=orders, input_order="rgb", norm=NORM)

    def plain():
        return fl.resized_crop_batch(rgb, boxes, size, NORM, flips=flips, input_order="rgb")

    def torchvision():
        from torchvision.transforms.v2 import functional as F

        adjust = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue)
        mean, std = NORM.unit()
        out = []
        for i, img in enumerate(rgb):
            x = F.resized_crop(img.permute(2, 0, 1), *boxes[i], [size, size], antialias=True)
            x = F.horizontal_flip(x) if flips[i] else x
            for k in orders[i]:
                x = adjust[k](x, float(factors[i, k]))
            out.append(F.normalize(F.to_dtype(x, torch.float32, scale=True), mean, std))
        return torch.stack(out)

    impls = [
        Impl(FASTLOAD, fused, note="crop to uint8, adjust_color normalizing (CropCollate's colour path)"),
        Impl(REFERENCE, with_backend("reference", fused)),
        Impl(f"{FASTLOAD} plain crop", plain, checked=False, note="the fused crop + normalize of the same boxes"),
        Impl(TORCHVISION, torchvision, note="v2 functions per image: crop, flip, 4 adjust_* in order, normalize"),
        copy_floor(sum(img.size for img in images) + out_bytes, device),
    ]
    return Case(
        suite="recipes",
        name=f"{COUNT} photos -> crop {size}, flip, ColorJitter(0.4, 0.4, 0.4, 0.1), random order",
        device=device,
        bytes_moved=sum(img.size for img in images) + out_bytes,
        items=COUNT,
        impls=impls,
        tolerance=HUE_LEVELS * GREY_LEVEL,
    )
