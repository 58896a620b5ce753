"""Feeding a training loop: the DataLoader collate functions (`CropCollate`, `PadCollate`), the `CropBatch` a
collate ships when the crop is finished later, `DevicePrefetcher`, and the file datasets (`ImageFiles`,
`ImageFolder`). Inside, `samples` holds the rules for the samples a collate accepts (labels, dict keys)."""

from fastload.data.collate import PadCollate
from fastload.data.crop_batch import CropBatch
from fastload.data.crop_collate import CropCollate
from fastload.data.datasets import ImageFiles, ImageFolder
from fastload.data.prefetcher import DevicePrefetcher

__all__ = ["CropBatch", "CropCollate", "DevicePrefetcher", "ImageFiles", "ImageFolder", "PadCollate"]
