"""`CropCollate`: the DataLoader collate function for classification crops, drawn in the worker torchvision's way
and run as one fused pass (or shipped as a `CropBatch` for the device to finish)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from fastload import _validation as V
from fastload.autoaugment import Policy, join_draws
from fastload.data.collate import PadCollate, batch_sizes
from fastload.data.color import check_settings, draw_crops_color
from fastload.data.crop_batch import CropBatch
from fastload.functional import _geometry as G
from fastload.functional._center_crop import eval_regions
from fastload.functional._crop import check_resampling
from fastload.functional._pad import pack_images
from fastload.io import decode
from fastload.io.batch_decoder import check_decode_on, encoded
from fastload.io.encoded_batch import EncodedBatch
from fastload.normalization import Normalization
from fastload.timm_augment import TimmRandAugment


class CropCollate(PadCollate):
    """`collate_fn` for classification: each batch's crops drawn in the worker, torchvision's way, and crop +
    antialiased resize + flip + normalize run as one pass over the batch.

    Takes tuple samples `(image, label, ...)` or dict samples; images as in `PadCollate` (arrays, PIL images or
    `fl.EncodedImage` files, of which only the region each crop reads is decoded). The boxes and flips come from the
    worker's torch RNG in torchvision's order, so a seeded run crops what torchvision's transforms would.

    Args:
        size: the output (h, w), or an int for a square.
        norm: with a `Normalization`, the worker writes the normalized (N, C, h, w) batch (into its ring); without,
            it ships the raw images packed, with the crops, as a `CropBatch`, which `DevicePrefetcher(norm=...)`
            finishes on the device or `batch.finish(norm)` anywhere.
        train: True: RandomResizedCrop + horizontal flip; False: Resize(`resize`) + CenterCrop(`size`).
        scale: RandomResizedCrop's (low, high) area fraction.
        ratio: RandomResizedCrop's (low, high) aspect ratio.
        flip_p: the probability of a horizontal flip (train).
        resize: eval's Resize: an int (short side) or an (h, w) pair.
        interpolation: "bilinear", "bicubic" or "nearest", as in `resized_crop_batch`.
        antialias: torchvision's antialiased resize (True, default) or OpenCV INTER_LINEAR (False; not with
            "bicubic").
        image_key: the images' key in dict samples; None (default): the first of "img", "image", "jpg", "jpeg",
            "png", "webp" the samples have, as in `PadCollate`.
        label_key: a key holding the label besides the usual ones, as in `PadCollate`.
        input_order: channel order of array images ("bgr" or "rgb").
        list_keys: dict keys collated as lists of per-image tensors, as in `PadCollate`.
        label_mode: None, "classification", "detection" or "mmdet", as in `PadCollate`.
        num_classes: K, for `label_mode`'s check.
        dtype: of a normalized batch: torch.float32, float16 or bfloat16.
        channels_last: give a normalized batch channels_last strides.
        ring: write batches into the worker's shared-memory ring (default).
        on_error: "raise" or "skip", for bad files, as in `PadCollate`.
        strict: "complete", True or False, as in `decode_image`.
        draft: decode each JPEG box at the largest DCT scale (1/2, 1/4, 1/8) that keeps it at least the crop's
            output size (PIL's `draft`): faster, not the exact pixels.
        decode_on: "worker" (default) or, without `norm`, "device": ship the files' bytes and decode them on the
            GPU (nvJPEG: not libjpeg's pixels); the boxes are still drawn in the worker.
        color_jitter: train only: None, or ColorJitter's (brightness, contrast, saturation, hue) (numbers or
            (min, max) pairs; timm's default recipe is (0.4, 0.4, 0.4, 0)), drawn per image as torchvision draws
            them and applied to the uint8 crop (`adjust_color`) before it is normalized.
        color_jitter_p: the probability of the jitter (torchvision's `RandomApply([ColorJitter(...)], p)`; 1: always,
            no draw, as a plain ColorJitter).
        grayscale_p: RandomGrayscale's probability (0: not in the pipeline, no draw).
        blur_p: the probability of torchvision's `GaussianBlur(blur_kernel_size, blur_sigma)` (under `RandomApply`
            when < 1; 0: not in the pipeline, no draw), after grayscale, before solarize (`gaussian_blur`).
        blur_sigma: GaussianBlur's (min, max) sigma, drawn per image.
        blur_kernel_size: GaussianBlur's odd kernel size (torchvision's 23 for 224 crops is common).
        solarize_p: RandomSolarize's probability (0: not in the pipeline, no draw).
        solarize_threshold: RandomSolarize's threshold.
        auto_augment: train only: None, an `fl.RandAugment` / `fl.TrivialAugmentWide` (torchvision's arguments),
            drawn per image after its box and flip as torchvision's pipeline [RandomResizedCrop,
            RandomHorizontalFlip, RandAugment] draws it, or timm's grammar ("rand-m9-mstd0.5": an
            `fl.TimmRandAugment` with create_transform's bilinear geometry and fill (norm's mean as bytes, ImageNet's
            without norm), drawn with NumPy's and Python's generators as timm), applied to the uint8 crop (`augment`)
            before it is normalized. Not with the colour transforms (timm's recipe takes one or the other).

    Returns:
        A callable `collate(samples) -> batch`: `(images, labels, ...)` for tuple samples, a dict for dict samples,
            where images are the (N, C, h, w) batch (with `norm`) or a `CropBatch`. Dict batches also get each image's
            geometry: `ori_shape`, `img_shape`, and `crop_box` (top, left, h, w) and `flip` (train) or `resized_shape`
            (eval), with colour draws `color`: per image its factors, order, grayscale and solarize, and with
            `auto_augment` `augment`: per image its (operation, magnitude) pairs.

    Raises:
        TypeError: an argument of the wrong type (naming it).
        ValueError: an invalid argument (naming it), an eval `size` that no resized image can hold; when
            collating, as in `PadCollate`.
    """

    def __init__(
        self,
        size,
        norm: Normalization | None = None,
        *,
        train: bool = True,
        scale=(0.08, 1.0),
        ratio=(3 / 4, 4 / 3),
        flip_p: float = 0.5,
        resize=256,
        interpolation: str = "bilinear",
        antialias: bool = True,
        image_key: str | None = None,
        label_key: str | None = None,
        input_order: str = "bgr",
        list_keys: Sequence[str] = (),
        label_mode: str | None = None,
        num_classes: int | None = None,
        dtype: torch.dtype = torch.float32,
        channels_last: bool = False,
        ring: bool = True,
        on_error: str = "raise",
        strict: bool | str = "complete",
        draft: bool = False,
        decode_on: str = "worker",
        color_jitter=None,
        color_jitter_p: float = 1.0,
        grayscale_p: float = 0.0,
        blur_p: float = 0.0,
        blur_sigma=(0.1, 2.0),
        blur_kernel_size: int = 23,
        solarize_p: float = 0.0,
        solarize_threshold: float = 128.0,
        auto_augment: Policy | TimmRandAugment | str | None = None,
    ):
        super().__init__(
            norm,
            image_key=image_key,
            label_key=label_key,
            input_order=input_order,
            list_keys=list_keys,
            label_mode=label_mode,
            num_classes=num_classes,
            dtype=dtype,
            channels_last=channels_last,
            ring=ring,
            on_error=on_error,
            strict=strict,
        )
        self.size = G.check_pair("size", size)
        self.train = V.check_bool("train", train)
        self.scale, self.ratio = G.check_range("scale", scale), G.check_range("ratio", ratio)
        self.flip_p = G.check_probability("flip_p", flip_p)
        self.resize = G.check_resize(resize)
        if not self.train:
            G.check_crop_fits(self.resize, self.size)  # here, not in every worker batch
        self.interpolation, self.antialias = check_resampling(interpolation, antialias)
        self.draft = V.check_bool("draft", draft)
        self.decode_on = check_decode_on(decode_on, norm is None, self.draft)
        self.color = check_settings(
            color_jitter,
            color_jitter_p,
            grayscale_p,
            blur_p,
            blur_sigma,
            blur_kernel_size,
            solarize_p,
            solarize_threshold,
            self.size,
        )
        if self.color is not None and not self.train:
            raise ValueError("color_jitter, grayscale_p, blur_p and solarize_p apply to train crops only (train=True)")
        if self.color is not None and self.decode_on == "device":
            raise ValueError("colour draws need the crops decoded in the worker: decode_on='device' does not take them")
        if isinstance(auto_augment, str):  # create_transform's fill: the model's mean in bytes (RGB), else ImageNet's
            mean = (124, 116, 104) if self.norm is None else self.norm.with_order("rgb").mean
            fill = tuple(min(255, max(0, round(m))) for m in mean)
            fill = fill[0] if len(fill) == 1 else fill
            auto_augment = TimmRandAugment(auto_augment, fill=fill)  # a ValueError names what the grammar lacks
        if auto_augment is not None and not isinstance(auto_augment, (Policy, TimmRandAugment)):
            raise TypeError(
                "auto_augment must be None, timm's grammar ('rand-m9-mstd0.5'), fl.RandAugment(...), "
                f"fl.TrivialAugmentWide(...) or fl.TimmRandAugment(...), got {auto_augment!r}"
            )
        if auto_augment is not None and (not self.train or self.color is not None or self.decode_on == "device"):
            raise ValueError(
                "auto_augment applies to train crops decoded in the worker (train=True, decode_on='worker'), "
                "without the colour transforms (color_jitter, grayscale_p, blur_p, solarize_p)"
            )
        self.auto_augment = auto_augment

    def _draws(self, sizes) -> tuple[list, list, dict]:
        """The boxes, flips and the CropBatch fields of the other draws (`color` or `augment`) of a train batch of
        images of (h, w) `sizes`, torchvision's way: image after image, its box, its flip, then its other draws."""
        name = "the image of sample {} of the batch"
        if self.color is not None:
            boxes, flips, colors = draw_crops_color(sizes, self.scale, self.ratio, self.flip_p, self.color, name)
            return boxes, flips, dict(color=colors)
        policy, draws, after_each = self.auto_augment, [], None
        if policy is not None and not getattr(policy, "draws_from_torch", True):
            # Its generators are not torch's: the boxes and flips (compiled) then its draws give every stream what
            # the interleaved per-image pipeline gives it.
            boxes, flips = G.draw_crops(sizes, self.scale, self.ratio, self.flip_p, name=name)
            return boxes, flips, dict(augment=policy.draw(len(boxes), *self.size))
        if policy is not None:
            after_each = lambda: draws.append(policy.draw(1, *self.size))  # noqa: E731
        boxes, flips = G.draw_crops(sizes, self.scale, self.ratio, self.flip_p, name=name, after_each=after_each)
        if policy is None:
            return boxes, flips, {}
        return boxes, flips, dict(augment=join_draws(draws) if draws else policy.draw(0, *self.size))

    def _crop_batch(self, images, boxes: list, flips: list, **extra) -> CropBatch:
        """A CropBatch of `images` with this collate's geometry: the train `boxes` and `flips`, or eval's resize."""
        if self.color is not None:
            extra["blur_kernel_size"] = self.color.blur_kernel_size
        return CropBatch(
            images=images,
            boxes=boxes if self.train else [],
            flips=flips if self.train else [],
            size=self.size,
            resize=None if self.train else self.resize,
            interpolation=self.interpolation,
            antialias=self.antialias,
            **extra,
        )

    def _crops(self, images) -> CropBatch:
        """The batch's crops over `images` (a checked list, a PackedImages, or an EncodedBatch of whole files)."""
        boxes, flips, drawn = self._draws(batch_sizes(images)) if self.train else ([], [], {})
        return self._crop_batch(images, boxes, flips, **drawn)

    def _decoded_crops(self, images: list, where) -> tuple[CropBatch, list]:
        """Encoded files: headers read, the crops drawn (the same RNG calls as for decoded images), and only the
        region each crop reads decoded (the box; for eval the rows and columns Resize + CenterCrop weight)."""
        files = self._headers(images, where)
        images, kept, sizes = files.images, files.kept, files.sizes
        if self.decode_on == "device":  # the files themselves travel; DevicePrefetcher decodes and crops them
            shipped = EncodedBatch.pack([images[i] for i in kept], self.ring, self.decoder.strict, sizes)
            return self._crops(shipped), kept
        boxes, flips, drawn = self._draws(sizes) if self.train else ([], [], {})
        reduce, source = [1] * len(kept), list(sizes)  # per image: the DCT scale decoded at, and that image's size
        if self.draft:
            for k, i in enumerate(kept):
                if decode.is_jpeg(images[i]):
                    need = self.size if self.train else G.resize_need(self.resize, sizes[k])
                    reduce[k] = G.draft_reduce(boxes[k][2:] if self.train else sizes[k], need)
                    source[k] = decode.image_size(images[i], reduce=reduce[k]) if reduce[k] > 1 else sizes[k]
        if self.train:
            regions = [G.reduced_box(b, f, s) if f > 1 else b for b, f, s in zip(boxes, reduce, source)]
        else:
            regions = eval_regions(
                sizes=source,
                resize=self.resize,
                crop=self.size,
                interpolation=self.interpolation,
                antialias=self.antialias,
            )
        done, packed = self.decoder.decode(
            images,
            files,
            regions,
            order=self.input_order,
            returned=self.norm is None,
            use_ring=self.ring,
            where=where,
            reduce=reduce,
        )
        at = [kept.index(i) for i in done]  # the files decoded (on_error="skip" may have left some out)
        done_flips = [flips[k] for k in at] if self.train else []
        if "color" in drawn:
            drawn["color"] = [drawn["color"][k] for k in at]
        if "augment" in drawn:
            drawn["augment"] = drawn["augment"].subset(at)
        meta = None
        if self.draft:  # the geometry the batch reports is the files', not the reduced images'
            files_boxes = [boxes[k] for k in at] if self.train else []
            whole = [(0, 0, *sizes[k]) for k in at]
            meta = self._crop_batch(packed, files_boxes, done_flips, regions=whole, **drawn).shapes()
        placed = [(*regions[k][:2], *source[k]) for k in at]
        done_boxes = [regions[k] for k in at] if self.train else []
        return self._crop_batch(packed, done_boxes, done_flips, regions=placed, meta=meta, **drawn), done

    def _batch(self, images: list, where) -> tuple[object, dict, list | None]:
        kept = None
        if encoded(images, where):  # EncodedImages, bytes, Hugging Face dicts, ...
            batch, kept = self._decoded_crops(images, where)
            images = batch.images
        else:
            images = V.check_image_list(images)[2]  # the caller's arrays, checked: HWC uint8, equal channels
            # Without norm the raw images travel packed (through the ring); with it the worker crops them in place.
            batch = self._crops(pack_images(images, ring=self.ring) if self.norm is None else images)
        if self.norm is None:
            return batch, batch.shapes(), kept
        kw = dict(input_order=self.input_order, dtype=self.dtype, channels_last=self.channels_last)
        out = self._into_ring(images, lambda hw: self.size, lambda out: batch.finish(self.norm, out=out, **kw))
        return out, batch.shapes(), kept
