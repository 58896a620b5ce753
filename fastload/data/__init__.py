"""Feeding a training loop: the DataLoader collate functions (`CropCollate`, `MultiCropCollate`, `PadCollate`), the
`CropBatch` a
collate ships when the crop is finished later, `DevicePrefetcher`, the file datasets (`ImageFiles`, `ImageFolder`,
`CocoDetection`)
and WebDataset shards read by fastload's tar reader (`WebDataset`, `tarfile_to_samples`: they need the `webdataset`
package). Inside, `samples` holds the rules for the samples a collate accepts (labels, dict keys)."""

from fastload.data.coco import CocoDetection
from fastload.data.collate import PadCollate, keep_batch
from fastload.data.crop_batch import CropBatch
from fastload.data.crop_collate import CropCollate
from fastload.data.crop_groups import CropGroup, dino_groups
from fastload.data.datasets import ImageFiles, ImageFolder
from fastload.data.multi_crop import MultiCropCollate
from fastload.data.prefetcher import DevicePrefetcher

__all__ = [
    "CocoDetection",
    "CropBatch",
    "CropCollate",
    "CropGroup",
    "DevicePrefetcher",
    "ImageFiles",
    "ImageFolder",
    "MultiCropCollate",
    "PadCollate",
    "WebDataset",
    "dino_groups",
    "keep_batch",
    "tarfile_to_samples",
]
# Imported on first use: they need the optional `webdataset` package.
_WEBDATASET = ("WebDataset", "tarfile_to_samples")


def __getattr__(name: str):
    if name in _WEBDATASET:
        try:
            from fastload.data import webdataset
        except ModuleNotFoundError as error:
            if error.name != "webdataset":
                raise
            raise ImportError(f"fastload.data.{name} needs the webdataset package: pip install webdataset") from None
        return getattr(webdataset, name)
    raise AttributeError(f"module 'fastload.data' has no attribute {name!r}")
