"""The batch `CropCollate` ships when it leaves the crop to the main process or the device: raw images and the
crops to take from them."""

from __future__ import annotations

from typing import NamedTuple

import torch

from fastload import _validation as V
from fastload.autoaugment import AugmentDraw
from fastload.data.color import apply_draws, color_steps
from fastload.functional._center_crop import resize_center_crop_regions
from fastload.functional._crop import resized_crop_batch
from fastload.functional._geometry import resized_short_side
from fastload.functional._normalize import normalize
from fastload.io.encoded_batch import EncodedBatch
from fastload.memory.packed import PackedImages
from fastload.normalization import Normalization


class CropBatch(NamedTuple):
    """Raw images and the crops to take from them, as `CropCollate` ships them without `norm` (a NamedTuple).

    `finish(norm)` (or `DevicePrefetcher(norm=...)`, on the device) runs the fused crop + resize + flip + normalize;
    `to(device)` moves the images; `shapes()` gives the per-image geometry dict batches carry.

    Attributes:
        images: a `PackedImages` of the decoded images (or regions), or an `EncodedBatch` of the files' bytes
            (`CropCollate(decode_on="device")`: `finish` decodes them on its device first).
        boxes: train crops: (top, left, height, width) per image, in source-image pixels; [] for eval.
        flips: train crops: a horizontal flip per image (bools); [] for eval.
        size: the output (h, w).
        resize: None for train crops; else the eval pipeline Resize(resize) + CenterCrop(size).
        interpolation: "bilinear", "bicubic" (antialiased only) or "nearest".
        antialias: torchvision's antialiased resize (True) or OpenCV INTER_LINEAR (False).
        regions: None, or per image the (top, left, full h, full w) region of its source image the images hold (as a
            decoder gave it); the result is the same bits as from the whole images.
        meta: what `shapes()` reports when the images are not the source images (draft decodes), else None.
        color: None, or per image its colour draws (`fastload.data.color.ColorDraw`: the four ColorJitter factors,
            their order, grayscale, the blur's sigma, the solarize threshold), applied to the uint8 crop before it is
            normalized.
        blur_kernel_size: the blur's kernel size (odd), for draws with a sigma.
        augment: None, or the RandAugment / TrivialAugmentWide draws (`fastload.autoaugment.AugmentDraw`: per image
            its operations and magnitudes), applied to the uint8 crop before it is normalized.
    """

    images: PackedImages | EncodedBatch
    boxes: list
    flips: list
    size: tuple
    resize: object = None
    interpolation: str = "bilinear"
    antialias: bool = True
    regions: list | None = None
    meta: dict | None = None  # what shapes() reports, when the images are not the source images (draft decodes)
    color: list | None = None
    blur_kernel_size: int = 23
    augment: AugmentDraw | None = None

    def to(self, device, non_blocking: bool = False) -> CropBatch:
        return self._replace(images=self.images.to(device, non_blocking=non_blocking))

    def shapes(self) -> dict:
        """Per-image geometry, for dict batches: `ori_shape` (h, w) of each source image and `img_shape` (the
        output h, w); train crops add `crop_box` (top, left, height, width) and `flip` (bool), eval crops
        `resized_shape` (h, w of the resized image the centre crop is taken from)."""
        if self.meta is not None:
            return self.meta
        if self.regions is not None:
            sizes = [(fh, fw) for _, _, fh, fw in self.regions]
        else:
            sizes = (
                self.images.sizes.tolist()
                if isinstance(self.images, (PackedImages, EncodedBatch))
                else [img.shape[:2] for img in self.images]
            )
        sizes = [(int(h), int(w)) for h, w in sizes]
        out = {"ori_shape": sizes, "img_shape": [tuple(self.size)] * len(sizes)}
        if self.color is not None:
            out["color"] = [dict(d._asdict()) for d in self.color]
        if self.augment is not None:
            out["augment"] = self.augment.per_image()
        if self.resize is None:
            return {**out, "crop_box": [tuple(int(v) for v in box) for box in self.boxes], "flip": list(self.flips)}
        resized = [
            self.resize if isinstance(self.resize, tuple) else resized_short_side(h, w, self.resize) for h, w in sizes
        ]
        return {**out, "resized_shape": resized}

    def finish(
        self,
        norm: Normalization | None,
        *,
        input_order: str = "bgr",
        dtype: torch.dtype = torch.float32,
        channels_last: bool = False,
        device=None,
        out: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The batch: `resized_crop_batch` / `resize_center_crop_batch` of the images, with input_order, dtype,
        channels_last, device and out as there. Encoded images are decoded on `device` first; `input_order` is then
        the channel order of a uint8 result (without norm)."""
        images = self.images
        if isinstance(images, EncodedBatch):  # decoded in the order a uint8 result keeps; normalized, any will do
            input_order = "rgb" if norm is not None else V.check_order("input_order", input_order)
            images = images.decode(device, input_order)
        # Colour without a blur, normalized: resized_crop_batch's color=, each crop adjusted in the crop's pass.
        fused = None if self.color is None or norm is None or self.resize is not None else color_steps(self.color)
        if fused is None and (self.color is not None or self.augment is not None):  # crop to uint8, adjust, normalize
            plain = self._replace(images=images, color=None, augment=None)  # decoded already
            into = out if norm is None and self.augment is None else None
            crops = plain.finish(None, input_order=input_order, device=device, out=into)
            order = V.check_order("input_order", input_order)
            if self.color is not None and norm is not None:  # the last colour call normalizes: no uint8 pass more
                kw = dict(dtype=dtype, channels_last=channels_last, out=out)
                return apply_draws(crops.permute(0, 3, 1, 2), self.color, self.blur_kernel_size, order, norm, **kw)
            if self.color is not None:
                apply_draws(crops.permute(0, 3, 1, 2), self.color, self.blur_kernel_size, order)  # in place
            else:
                crops = self.augment.apply(crops.permute(0, 3, 1, 2), order).permute(0, 2, 3, 1)
            if norm is None:
                return crops if out is None or into is not None else out.copy_(crops)
            return normalize(crops, norm, input_order=input_order, dtype=dtype, channels_last=channels_last, out=out)
        kw = dict(input_order=input_order, dtype=dtype, channels_last=channels_last, device=device, out=out)
        if self.resize is None:
            boxes = (
                self.boxes
                if self.regions is None
                else [(t - r[0], left - r[1], h, w) for (t, left, h, w), r in zip(self.boxes, self.regions)]
            )
            return resized_crop_batch(
                images,
                boxes,
                self.size,
                norm,
                flips=self.flips,
                interpolation=self.interpolation,
                antialias=self.antialias,
                color=fused,
                **kw,
            )
        return resize_center_crop_regions(
            images=images,
            regions=self.regions,
            resize=self.resize,
            crop=self.size,
            norm=norm,
            interpolation=self.interpolation,
            antialias=self.antialias,
            **kw,
        )
