"""Every public op in one namespace, in the style of torchvision.transforms.functional (`import fastload.functional
as F`). Each lives in the module of its family; this file only gathers them."""

from fastload.batching import PaddedBatch, pack_images, pad_batch
from fastload.crop_geometry import random_resized_crop_params
from fastload.crops import resize_center_crop_batch, resized_crop_batch
from fastload.normalizing import denormalize, normalize, to_numpy_images
from fastload.resizing import resize_pad_batch
from fastload.stats import channel_stats, compute_mean_std

__all__ = ["PaddedBatch", "channel_stats", "compute_mean_std", "denormalize", "normalize", "pack_images", "pad_batch",
           "random_resized_crop_params", "resize_center_crop_batch", "resize_pad_batch", "resized_crop_batch",
           "to_numpy_images"]
