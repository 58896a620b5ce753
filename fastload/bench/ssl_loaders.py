"""DINO's data augmentation as DINO's repository ships it (`main_dino.DataAugmentationDINO` with its
`utils.GaussianBlur` and `utils.Solarization`: torchvision's PIL transforms, PIL's blur and solarize, Python's
`random` for those two), per file, for the `recipes` suite's multi-crop case. Picklable at module level (the
suite's workers import it from here)."""

from __future__ import annotations

import random

import torch

from fastload.bench.file_loaders import MEAN_UNIT, STD_UNIT, pil_image


class _PilBlur:
    """DINO's utils.GaussianBlur: with probability p (`random.random() <= p`), PIL's GaussianBlur of a radius drawn
    from [radius_min, radius_max] with `random.uniform`."""

    def __init__(self, p: float, radius_min: float = 0.1, radius_max: float = 2.0):
        self.p, self.radius_min, self.radius_max = p, radius_min, radius_max

    def __call__(self, img):
        from PIL import ImageFilter

        if random.random() > self.p:
            return img
        return img.filter(ImageFilter.GaussianBlur(radius=random.uniform(self.radius_min, self.radius_max)))


class _PilSolarize:
    """DINO's utils.Solarization: PIL's `ImageOps.solarize` (threshold 128) with probability p."""

    def __init__(self, p: float):
        self.p = p

    def __call__(self, img):
        from PIL import ImageOps

        return ImageOps.solarize(img) if random.random() < self.p else img


class DinoRecipe:
    """DataAugmentationDINO((0.4, 1), (0.05, 0.4), local_count) on a file, PIL-decoded: a list of 2 + local_count
    normalized (3, s, s) float32 tensors (global 224, local 96; `size` and `local` override them)."""

    def __init__(self, size: int = 224, local: int = 96, local_count: int = 8):
        from PIL import Image
        from torchvision import transforms

        flip_and_color_jitter = transforms.Compose(
            [
                transforms.RandomHorizontalFlip(p=0.5),
                transforms.RandomApply(
                    [transforms.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)], p=0.8
                ),
                transforms.RandomGrayscale(p=0.2),
            ]
        )
        normalize = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN_UNIT, STD_UNIT)])
        bicubic = Image.BICUBIC
        self.global1 = transforms.Compose(
            [
                transforms.RandomResizedCrop(size, scale=(0.4, 1.0), interpolation=bicubic),
                flip_and_color_jitter,
                _PilBlur(1.0),
                normalize,
            ]
        )
        self.global2 = transforms.Compose(
            [
                transforms.RandomResizedCrop(size, scale=(0.4, 1.0), interpolation=bicubic),
                flip_and_color_jitter,
                _PilBlur(0.1),
                _PilSolarize(0.2),
                normalize,
            ]
        )
        self.local = transforms.Compose(
            [
                transforms.RandomResizedCrop(local, scale=(0.05, 0.4), interpolation=bicubic),
                flip_and_color_jitter,
                _PilBlur(p=0.5),
                normalize,
            ]
        )
        self.local_count = local_count

    def __call__(self, path: str) -> list[torch.Tensor]:
        image = pil_image(path)
        return [self.global1(image), self.global2(image), *(self.local(image) for _ in range(self.local_count))]
