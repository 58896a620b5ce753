"""The crop groups of multi-crop training: `CropGroup` (a size, a scale range, how many crops, their blur and
solarize probabilities) and DINO's three (`dino_groups`), for `MultiCropCollate`."""

from __future__ import annotations

from typing import NamedTuple


class CropGroup(NamedTuple):
    """`count` crops of one size, each with its own flip and colour draws (a NamedTuple).

    Args:
        size: the crops' (h, w), or an int for a square.
        scale: RandomResizedCrop's (low, high) area fraction.
        count: how many crops of the group each image gets.
        blur_p: the probability of each crop's blur (0: no blur transform, no draw).
        solarize_p: the probability of each crop's solarize (0: no solarize transform, no draw).
    """

    size: int | tuple[int, int]
    scale: tuple[float, float]
    count: int = 1
    blur_p: float = 0.0
    solarize_p: float = 0.0


def dino_groups(global_scale=(0.4, 1.0), local_scale=(0.05, 0.4), local_count: int = 8) -> list[CropGroup]:
    """DINO's `DataAugmentationDINO` crops: a 224 global crop always blurred, a 224 global crop blurred with p 0.1
    and solarized with p 0.2, and `local_count` 96 crops blurred with p 0.5.

    Args:
        global_scale: the global crops' scale (DINO's `global_crops_scale`).
        local_scale: the local crops' scale (`local_crops_scale`).
        local_count: how many local crops (`local_crops_number`).

    Returns:
        The three `CropGroup`s, for `MultiCropCollate(norm, groups)`.
    """
    return [
        CropGroup(224, global_scale, 1, blur_p=1.0),
        CropGroup(224, global_scale, 1, blur_p=0.1, solarize_p=0.2),
        CropGroup(96, local_scale, local_count, blur_p=0.5),
    ]
