"""Drop-in transforms (callables and nn.Modules) over the fused ops."""

from __future__ import annotations

import torch
from torch import nn

from fastload import _validation as V
from fastload.functional import _crop as crops
from fastload.functional import _geometry as G
from fastload.functional._center_crop import resize_center_crop_batch
from fastload.functional._normalize import denormalize, normalize
from fastload.io.pil import is_pil_image, pil_to_array
from fastload.keep_ratio import RescaleKeepRatio  # noqa: F401  (fl.transforms.RescaleKeepRatio, as before)
from fastload.normalization import Normalization


class ToNormalizedTensor(nn.Module):
    """Replaces `Compose([ToTensor(), Normalize(mean, std)])` (and a BGR->RGB flip) with one fused pass (an nn.Module).

    Takes an HWC uint8 numpy array or tensor in `input_order`, a batch (N, H, W, C), a PIL image (always RGB; "L"
    stays one channel), or torchvision v2's CHW uint8 `tv_tensors.Image` (RGB, read as a view; the result is a
    `tv_tensors.Image`, so it drops into a v2 Compose in place of `ToDtype(torch.float32, scale=True),
    Normalize(mean, std)`). Returns (C, H, W) / (N, C, H, W) `dtype`, channels in `norm.order`, value
    (x - mean) / std.

    Args:
        norm: the model's `Normalization`.
        input_order: channel order of array and tensor inputs ("bgr" or "rgb").
        dtype: torch.float32, float16 or bfloat16.
        channels_last: give the result channels_last strides.
        chw: read plain (C, H, W) / (N, C, H, W) uint8 tensors (in `input_order`) instead of HWC.

    Raises:
        TypeError: an argument of the wrong type (naming it); a non-uint8 input when called.
        ValueError: an invalid argument (naming it); an input whose channels differ from `norm` when called.
    """

    def __init__(
        self,
        norm: Normalization,
        input_order: str = "bgr",
        dtype: torch.dtype = torch.float32,
        channels_last: bool = False,
        chw: bool = False,
    ):
        super().__init__()
        self.norm = V.check_norm(norm)
        self.input_order = V.check_order("input_order", input_order)
        self.dtype = V.check_float_dtype(dtype)
        self.channels_last = V.check_bool("channels_last", channels_last)
        self.chw = V.check_bool("chw", chw)

    def forward(self, img) -> torch.Tensor:
        hwc, order = _image_and_order(img, self.input_order, self.chw)
        return _like(
            normalize(hwc, self.norm, input_order=order, dtype=self.dtype, channels_last=self.channels_last), img
        )

    def extra_repr(self) -> str:
        return f"norm={self.norm}, input_order={self.input_order!r}, dtype={self.dtype}"


class Denormalize(nn.Module):
    """The inverse of `ToNormalizedTensor` (an nn.Module): normalized float -> HWC uint8, rounded and clipped.

    Called on (C, H, W) / (N, C, H, W) float32, float16 or bfloat16 with channels in `norm.order`; returns (H, W, C) /
    (N, H, W, C) uint8 in `output_order` on the same device (see `fastload.denormalize`).

    Args:
        norm: the `Normalization` the tensor was normalized with.
        output_order: channel order of the result ("bgr" for OpenCV, "rgb" for matplotlib and PIL).
    """

    def __init__(self, norm: Normalization, output_order: str = "bgr"):
        super().__init__()
        self.norm = V.check_norm(norm)
        self.output_order = V.check_order("output_order", output_order)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return denormalize(x, self.norm, output_order=self.output_order)

    def extra_repr(self) -> str:
        return f"norm={self.norm}, output_order={self.output_order!r}"


def _is_v2_image(img) -> bool:
    """Whether `img` is a torchvision v2 `tv_tensors.Image` (CHW), without importing torchvision."""
    kind = type(img)
    return isinstance(img, torch.Tensor) and kind.__name__ == "Image" and kind.__module__.startswith("torchvision")


def _image_and_order(img, input_order: str, chw: bool):
    """(the image as fastload reads it: HWC, its channel order). A PIL image becomes its (RGB) array; a v2
    `tv_tensors.Image` (RGB, CHW) and, with `chw`, a plain (C, H, W) / (N, C, H, W) tensor become HWC views (no
    copy); arrays and tensors keep the configured order."""
    if not isinstance(img, torch.Tensor) and is_pil_image(img):
        return pil_to_array(img), "rgb"
    if _is_v2_image(img):
        return img.as_subclass(torch.Tensor).movedim(-3, -1), "rgb"
    if chw:
        if not isinstance(img, torch.Tensor) or img.dim() not in (3, 4):
            raise TypeError(
                f"chw=True takes (C, H, W) or (N, C, H, W) tensors, got {type(img).__name__} of shape "
                f"{tuple(getattr(img, 'shape', ()))}"
            )
        return img.movedim(-3, -1), input_order
    return img, input_order


def _like(result: torch.Tensor, img) -> torch.Tensor:
    """The result as a tv_tensors.Image when the input was one, so the rest of a v2 Compose sees an image."""
    if not _is_v2_image(img):
        return result
    from torchvision import tv_tensors

    return tv_tensors.wrap(result, like=img)


class _CropNormalize(nn.Module):
    """The settings the fused crop transforms share."""

    def __init__(
        self,
        *,
        norm: Normalization,
        antialias: bool,
        interpolation: str,
        input_order: str,
        dtype: torch.dtype,
        chw: bool = False,
    ):
        super().__init__()
        self.chw = V.check_bool("chw", chw)
        self.norm = V.check_norm(norm)
        self.interpolation, self.antialias = crops.check_resampling(interpolation, antialias)
        self.input_order = V.check_order("input_order", input_order)
        self.dtype = V.check_float_dtype(dtype)

    def _options(self, order: str) -> dict:
        return dict(interpolation=self.interpolation, antialias=self.antialias, input_order=order, dtype=self.dtype)


class RandomResizedCropNormalize(_CropNormalize):
    """Replaces `Compose([RandomResizedCrop, RandomHorizontalFlip, ToTensor, Normalize])`, one fused pass a sample.

    Draws the box and the flip from the torch RNG exactly as those torchvision transforms do (same calls, same order),
    so seeded alike they crop and flip alike. Takes what `ToNormalizedTensor` takes (one image); returns (C, h, w)
    `dtype`, channels in `norm.order`. For whole batches in a DataLoader, `fl.CropCollate` does the same per batch.

    Args:
        size: the output (h, w), or an int for a square.
        norm: the model's `Normalization`.
        scale: RandomResizedCrop's (low, high) area fraction.
        ratio: RandomResizedCrop's (low, high) aspect ratio.
        flip_p: the probability of a horizontal flip.
        antialias: torchvision's antialiased resize (True) or OpenCV INTER_LINEAR (False).
        interpolation: "bilinear", "bicubic" (antialiased only) or "nearest".
        input_order: channel order of array and tensor inputs ("bgr" or "rgb").
        dtype: torch.float32, float16 or bfloat16.
        chw: read plain (C, H, W) uint8 tensors instead of HWC.

    Raises:
        TypeError: an argument of the wrong type (naming it).
        ValueError: an invalid argument (naming it); an empty image when called.
    """

    def __init__(
        self,
        size,
        norm: Normalization,
        scale=(0.08, 1.0),
        ratio=(3 / 4, 4 / 3),
        flip_p: float = 0.5,
        antialias: bool = True,
        interpolation: str = "bilinear",
        input_order: str = "bgr",
        dtype: torch.dtype = torch.float32,
        chw: bool = False,
    ):
        super().__init__(
            norm=norm, antialias=antialias, interpolation=interpolation, input_order=input_order, dtype=dtype, chw=chw
        )
        self.size = G.check_pair("size", size)
        self.scale, self.ratio = G.check_range("scale", scale), G.check_range("ratio", ratio)
        self.flip_p = G.check_probability("flip_p", flip_p)

    def forward(self, img) -> torch.Tensor:
        hwc, order = _image_and_order(img, self.input_order, self.chw)
        boxes, flips = G.draw_crops(
            sizes=[V.as_image_tensor(hwc)[0].shape[:2]],
            scale=self.scale,
            ratio=self.ratio,
            flip_p=self.flip_p,
            name="img",
        )
        return _like(
            crops.resized_crop_batch([hwc], boxes, self.size, self.norm, flips=flips, **self._options(order))[0], img
        )

    def extra_repr(self) -> str:
        return f"size={self.size}, norm={self.norm}, scale={self.scale}, ratio={self.ratio}, flip_p={self.flip_p}"


class ResizeCenterCropNormalize(_CropNormalize):
    """Replaces the evaluation `Compose([Resize(resize), CenterCrop(crop), ToTensor(), Normalize(mean, std)])` with one
    fused pass per sample: no intermediate resized image. Returns (C, crop_h, crop_w) `dtype`.

    Args:
        resize: an int (the short side, as torchvision's `Resize(int)`) or an (h, w) pair.
        crop: the centre crop (h, w), or an int for a square.
        norm: the model's `Normalization`.
        antialias: torchvision's antialiased resize (True) or OpenCV INTER_LINEAR (False).
        interpolation: "bilinear", "bicubic" (antialiased only) or "nearest".
        input_order: channel order of array and tensor inputs ("bgr" or "rgb").
        dtype: torch.float32, float16 or bfloat16.
        chw: read plain (C, H, W) uint8 tensors instead of HWC.

    Raises:
        TypeError: an argument of the wrong type (naming it).
        ValueError: an invalid argument, or a `crop` no resized image can hold (both sides longer than an int
            `resize`), when the transform is built.
    """

    def __init__(
        self,
        resize,
        crop,
        norm: Normalization,
        antialias: bool = True,
        interpolation: str = "bilinear",
        input_order: str = "bgr",
        dtype: torch.dtype = torch.float32,
        chw: bool = False,
    ):
        super().__init__(
            norm=norm, antialias=antialias, interpolation=interpolation, input_order=input_order, dtype=dtype, chw=chw
        )
        self.resize = G.check_resize(resize)
        self.crop = G.check_pair("crop", crop)
        G.check_crop_fits(self.resize, self.crop)

    def forward(self, img) -> torch.Tensor:
        hwc, order = _image_and_order(img, self.input_order, self.chw)
        return _like(resize_center_crop_batch([hwc], self.resize, self.crop, self.norm, **self._options(order))[0], img)

    def extra_repr(self) -> str:
        return f"resize={self.resize}, crop={self.crop}, norm={self.norm}"
