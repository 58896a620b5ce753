"""fastload: decoded images -> model-ready PyTorch batches, each job in one fused pass (C++/CUDA, with a pure-PyTorch
fallback)."""

from __future__ import annotations

from fastload import _backend, autoaugment, data, erasing, functional, io, memory, mixup, reference, transforms, utils  # noqa: F401
from fastload._backend import backend_info
from fastload.autoaugment import RandAugment, TrivialAugmentWide
from fastload.data import (
    CocoDetection,
    CropCollate,
    DevicePrefetcher,
    ImageFiles,
    ImageFolder,
    MultiCropCollate,
    PadCollate,
)
from fastload.erasing import RandomErasing
from fastload.functional import (
    AUGMENT_OPS,
    PaddedBatch,
    adjust_color,
    augment,
    center_crop_anchor,
    channel_stats,
    compute_mean_std,
    denormalize,
    gaussian_blur,
    mix_pairs,
    normalize,
    pack_images,
    pad_batch,
    random_resized_crop_params,
    rescale_size,
    resize_center_crop_batch,
    resize_pad_batch,
    resized_crop_batch,
    resized_short_side,
    to_numpy_images,
    warp_affine,
)
from fastload.io import EncodedImage, decode_image, image_size
from fastload.memory import PackedImages, cpu_cache_stats, empty_cache, set_cpu_cache_limit
from fastload.mixup import Mixup
from fastload.normalization import CAFFE, IMAGENET, Normalization
from fastload.timm_augment import TimmRandAugment
from fastload.utils import conv_output_size, load_pretrained, to_tensor

__version__ = "0.1.0"

__all__ = [
    "AUGMENT_OPS",
    "CAFFE",
    "CocoDetection",
    "CropCollate",
    "DevicePrefetcher",
    "EncodedImage",
    "IMAGENET",
    "ImageFiles",
    "ImageFolder",
    "Mixup",
    "MultiCropCollate",
    "Normalization",
    "PackedImages",
    "PadCollate",
    "PaddedBatch",
    "RandAugment",
    "RandomErasing",
    "TimmRandAugment",
    "TrivialAugmentWide",
    "adjust_color",
    "augment",
    "autoaugment",
    "backend_info",
    "center_crop_anchor",
    "channel_stats",
    "compute_mean_std",
    "conv_output_size",
    "cpu_cache_stats",
    "data",
    "decode_image",
    "denormalize",
    "gaussian_blur",
    "empty_cache",
    "functional",
    "image_size",
    "io",
    "load_pretrained",
    "memory",
    "mix_pairs",
    "mixup",
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
    "warp_affine",
]
