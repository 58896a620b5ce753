"""fastload: decoded images -> model-ready PyTorch batches, each job in one fused pass (C++/CUDA, with a pure-PyTorch
fallback)."""

from __future__ import annotations

from fastload import _ops, functional, reference, transforms, utils
from fastload._ops import backend_info
from fastload.batching import PaddedBatch, pack_images, pad_batch
from fastload.collate import CropCollate, PadCollate
from fastload.crop_geometry import center_crop_anchor, random_resized_crop_params, resized_short_side
from fastload.crops import resize_center_crop_batch, resized_crop_batch
from fastload.datasets import ImageFiles, ImageFolder
from fastload.decoding import EncodedImage, decode_image, image_size
from fastload.geometry import rescale_size
from fastload.loader import DevicePrefetcher
from fastload.memory import cpu_cache_stats, empty_cache, set_cpu_cache_limit
from fastload.normalization import CAFFE, IMAGENET, Normalization
from fastload.normalizing import denormalize, normalize, to_numpy_images
from fastload.packed import PackedImages
from fastload.resizing import resize_pad_batch
from fastload.stats import channel_stats, compute_mean_std
from fastload.utils import conv_output_size, load_pretrained, to_tensor

__version__ = "0.1.0"

__all__ = [
    "CAFFE",
    "CropCollate",
    "DevicePrefetcher",
    "EncodedImage",
    "IMAGENET",
    "ImageFiles",
    "ImageFolder",
    "Normalization",
    "PackedImages",
    "PadCollate",
    "PaddedBatch",
    "backend_info",
    "center_crop_anchor",
    "channel_stats",
    "compute_mean_std",
    "conv_output_size",
    "cpu_cache_stats",
    "decode_image",
    "denormalize",
    "empty_cache",
    "functional",
    "image_size",
    "load_pretrained",
    "normalize",
    "pack_images",
    "pad_batch",
    "reference",
    "random_resized_crop_params",
    "rescale_size",
    "resize_center_crop_batch",
    "set_cpu_cache_limit",
    "resize_pad_batch",
    "resized_crop_batch",
    "resized_short_side",
    "to_numpy_images",
    "to_tensor",
    "transforms",
    "utils",
]

