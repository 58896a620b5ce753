"""Keep-ratio resize of single HWC uint8 images on the CPU: mmcv's `Resize(keep_ratio=True)` (the transform
`RescaleKeepRatio`, re-exported by `fastload.transforms`) on `resize_pad_batch`'s kernel."""

from __future__ import annotations

import numpy as np
import torch

from fastload import _validation as V
from fastload.functional._boxes import as_boxes, rescale_boxes
from fastload.functional._geometry import rescale_size, resized_size
from fastload.functional._resize_pad import resize_pad_batch
from fastload.io.decode import decode_image
from fastload.io.encoded_image import EncodedImage
from fastload.normalization import Normalization


def resize_uint8(img: np.ndarray, scale, interpolation: str) -> np.ndarray:
    """`img` (h, w) or (h, w, C) uint8 resized as resize_pad_batch resizes it for `scale` (OpenCV's INTER_LINEAR /
    INTER_NEAREST coordinates, the size `resized_size` gives), the kernel's float result rounded back to uint8. Each
    channel goes as a one-channel image of one batch, so any channel count resizes (BGRA as cv2.resize takes it).

    Args:
        img: an (h, w) or (h, w, C) uint8 numpy array (checked by the caller).
        scale: mmcv's keep-ratio scale, as `rescale_size` takes it.
        interpolation: "bilinear" or "nearest".

    Returns:
        The resized uint8 array, 2-D or 3-D as `img`.
    """
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
            return resize_uint8(img, self.scale, self.interpolation), (new_w / w, new_h / h)
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
