"""Drop-in transforms (callables and nn.Modules) over the fused ops."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fastload import _validation as V
from fastload.functional import _crop as crops
from fastload.functional import _geometry as G
from fastload.functional._boxes import as_boxes, rescale_boxes
from fastload.functional._center_crop import resize_center_crop_batch
from fastload.functional._geometry import rescale_size, resized_size
from fastload.functional._normalize import denormalize, normalize
from fastload.functional._resize_pad import resize_pad_batch
from fastload.io.decode import EncodedImage, decode_image
from fastload.io.pil import is_pil_image, pil_to_array
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


def _resize_uint8(img: np.ndarray, scale, interpolation: str) -> np.ndarray:
    """`img` (h, w) or (h, w, C) uint8 resized as resize_pad_batch resizes it for `scale` (OpenCV's INTER_LINEAR /
    INTER_NEAREST coordinates, the size `resized_size` gives), the kernel's float result rounded back to uint8. Each
    channel goes as a one-channel image of one batch, so any channel count resizes (BGRA as cv2.resize takes it)."""
    planes = [img[:, :, None]] if img.ndim == 2 else [img[:, :, c : c + 1] for c in range(img.shape[2])]
    identity = Normalization([0.0], [1.0], check_units=False)
    batch = resize_pad_batch(planes, identity, scale=scale, size_divisor=1, interpolation=interpolation).images
    out = batch[:, 0].round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    return out if img.ndim == 3 else out[:, :, 0]


class RescaleKeepRatio:
    """Keep-ratio resize of an HWC uint8 image on the CPU, as mmcv's `Resize(keep_ratio=True)` does.

    Resizes with OpenCV where it is installed (`cv2.resize`), else with fastload's own resize kernel (within 1 grey
    level of cv2.resize). Takes HWC uint8 numpy arrays, HWC uint8 tensors (returned as tensors) and `fl.EncodedImage`
    files (decoded with fastload's decoder, BGR as `cv2.imread`, returned as arrays). Called on an image, returns the
    resized image; called on a dict sample, resizes
    `sample[key]`, records `img_shape` (new h, w), `scale_factor` (w_scale, h_scale) = (new_w / w, new_h / h) and
    `keep_ratio` = True, and rescales the boxes under `bbox_keys` by the scale factor (float64 arithmetic, as mmcv;
    numpy and lists come back as float64 arrays, tensors in their own float dtype). The caller's sample is not
    modified.

    Args:
        scale: a (w, h)-style bound such as (1333, 800) (orientation agnostic) or a factor; see
            `fastload.rescale_size`.
        interpolation: "bilinear" (cv2.INTER_LINEAR) or "nearest" (cv2.INTER_NEAREST).
        key: the image's key in dict samples.
        bbox_keys: keys of (n, 4) x1, y1, x2, y2 pixel boxes (numpy, tensor or nested lists) to rescale.
        clip: clip the rescaled boxes to the new image.

    Raises:
        ValueError: an invalid scale; when called, an image whose side would round to 0 (naming the image and
            `scale`).
        TypeError: an argument of the wrong type (naming it).
    """

    def __init__(
        self,
        scale=(1333, 800),
        interpolation: str = "bilinear",
        key: str = "img",
        bbox_keys=("bboxes", "gt_bboxes"),
        clip: bool = True,
    ):
        rescale_size((1, 1), scale)  # validates scale
        V.check_interpolation(interpolation)  # OpenCV's two: mmcv's resize is cv2.resize
        bbox_keys = (bbox_keys,) if isinstance(bbox_keys, str) else tuple(bbox_keys)
        if not all(isinstance(k, str) for k in bbox_keys):
            raise TypeError(f"bbox_keys must be a sequence of str, got {bbox_keys!r}")
        self.scale, self.interpolation, self.key, self.bbox_keys = scale, interpolation, key, bbox_keys
        self.clip = V.check_bool("clip", clip)

    def _resize(self, img):
        if isinstance(img, EncodedImage):  # decoded here (BGR, as cv2.imread), resized as an array
            img = decode_image(img).numpy()
        if isinstance(img, torch.Tensor) and img.dim() in (2, 3) and img.dtype == torch.uint8:
            out, factors = self._resize(img.cpu().numpy())  # a view of a CPU tensor, no copy
            return torch.from_numpy(out).to(img.device), factors
        if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
            raise TypeError(
                "RescaleKeepRatio takes HWC uint8 numpy arrays or tensors and fl.EncodedImage files, got "
                f"{type(img).__name__}{'' if not hasattr(img, 'shape') else f' of shape {tuple(img.shape)}'}"
            )
        h, w = img.shape[:2]
        new_h, new_w = resized_size(h, w, self.scale, "the image")
        try:
            import cv2
        except ImportError:
            return _resize_uint8(img, self.scale, self.interpolation), (new_w / w, new_h / h)
        flag = cv2.INTER_LINEAR if self.interpolation == "bilinear" else cv2.INTER_NEAREST
        out = cv2.resize(img, (new_w, new_h), interpolation=flag)
        if img.ndim == 3 and out.ndim == 2:  # OpenCV drops a single channel
            out = out[:, :, None]
        return out, (new_w / w, new_h / h)

    def _boxes(self, key: str, boxes, factors: tuple[float, float], shape: tuple[int, int]):
        """`boxes` (n, 4) scaled by (w_scale, h_scale, w_scale, h_scale) and clipped to the (h, w) `shape`."""
        scaled = rescale_boxes(as_boxes(boxes, f"sample[{key!r}]"), factors, shape, self.clip)
        if isinstance(boxes, torch.Tensor):
            return torch.from_numpy(scaled).to(boxes.dtype if boxes.is_floating_point() else torch.float64)
        return scaled

    def __call__(self, sample):
        if isinstance(sample, dict):
            img, factors = self._resize(sample[self.key])
            out = {**sample, self.key: img, "img_shape": img.shape[:2], "scale_factor": factors, "keep_ratio": True}
            for key in self.bbox_keys:
                if sample.get(key) is not None:
                    out[key] = self._boxes(key, sample[key], factors, img.shape[:2])
            return out
        return self._resize(sample)[0]

    def __repr__(self) -> str:
        return (
            f"RescaleKeepRatio(scale={self.scale}, interpolation={self.interpolation!r}, "
            f"bbox_keys={self.bbox_keys}, clip={self.clip})"
        )


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
