"""Every public op in one namespace, in the style of torchvision.transforms.functional (`import fastload.functional
as F`): normalize and denormalize, padded and packed batches, keep-ratio resize + pad, the classification crops,
colour adjustments (ColorJitter's, per image), RandAugment's operations and affine warps (per image), Gaussian blur,
pair mixing (Mixup/CutMix), dataset statistics, and the size and crop-sampling rules they follow. Each is also
`fastload.<name>`."""

from fastload.functional._augment import GEOMETRIC as AUGMENT_GEOMETRIC
from fastload.functional._augment import OPS as AUGMENT_OPS
from fastload.functional._augment import augment
from fastload.functional._blur import gaussian_blur
from fastload.functional._center_crop import resize_center_crop_batch
from fastload.functional._color import adjust_color
from fastload.functional._crop import resized_crop_batch
from fastload.functional._geometry import (
    center_crop_anchor,
    random_resized_crop_params,
    rescale_size,
    resized_short_side,
)
from fastload.functional._mix import mix_pairs
from fastload.functional._normalize import denormalize, normalize, to_numpy_images
from fastload.functional._pad import PaddedBatch, pack_images, pad_batch
from fastload.functional._resize_pad import resize_pad_batch
from fastload.functional._stats import channel_stats, compute_mean_std
from fastload.functional._warp import warp_affine

__all__ = [
    "AUGMENT_GEOMETRIC",
    "AUGMENT_OPS",
    "PaddedBatch",
    "adjust_color",
    "augment",
    "center_crop_anchor",
    "channel_stats",
    "compute_mean_std",
    "denormalize",
    "gaussian_blur",
    "mix_pairs",
    "normalize",
    "pack_images",
    "pad_batch",
    "random_resized_crop_params",
    "rescale_size",
    "resize_center_crop_batch",
    "resize_pad_batch",
    "resized_crop_batch",
    "resized_short_side",
    "to_numpy_images",
    "warp_affine",
]
