"""DataLoader collate functions for variable-size images: padded (optionally normalized) batches, or packed raw
uint8 batches to be normalized on the GPU, plus the label conventions checked on the way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from fastload import _validation as V
from fastload import crop_geometry as G
from fastload import crops, decoding, reference, ring
from fastload.batching import pack_images, pad_batch
from fastload.decode_batch import BatchDecoder, check_decode_on, encoded
from fastload.encoded_batch import EncodedBatch
from fastload.geometry import batch_extent
from fastload.normalization import Normalization
from fastload.packed import PackedImages
from fastload.pil import is_pil_image, pil_to_array
from fastload.samples import (LABEL_KEYS, LABEL_MODES, checked_labels, describe_sample, empty_like_others,
                              kept_samples, no_rows, per_image_values)
from fastload.utils import to_tensor

def _sizes(images) -> list[tuple[int, int]]:
    """(h, w) of each image of a list, a PackedImages or an EncodedBatch."""
    if isinstance(images, (PackedImages, EncodedBatch)):
        return [tuple(hw) for hw in images.sizes.tolist()]
    return [tuple(int(v) for v in img.shape[:2]) for img in images]


class PadCollate:
    """`collate_fn` for variable-size HWC uint8 images, for dict samples (mmdet style: {"img": ..., "bboxes": ...})
    and tuple samples (image first).

    Images become `pad_batch(images, norm, ...)` (normalized float (N, C, Hp, Wp)) with `norm`, a padded uint8
    (N, Hp, Wp, C) batch without, or a `PackedImages` with `pack=True` (raw uint8 shipped as one buffer, to be
    normalized and padded on the GPU by `DevicePrefetcher`). Images are HWC uint8 arrays or tensors in
    `input_order`, or PIL images (RGB or grey, as torchvision's ImageFolder loads them). Dict samples also get
    per-image `img_shape` (h, w) and `pad_shape` (Hp, Wp) lists and `batch_input_shape` (Hp, Wp), which replace
    sample keys of the same name. Keys in `list_keys` become lists of tensors (labels int64, everything else
    float32; a sample without the key, or with None, gets an empty entry); every other key must be in every sample:
    tuple or list values (`scale_factor`, `ori_shape`, ...) become a list of the per-image values, as mmdet keeps
    them, and the rest goes through torch's `default_collate` (tuple samples' other positions alike). With
    `label_mode`, labels are checked: "classification" 0..K-1, "detection" 1..K; tuple samples then get their labels
    (position 1) as int64.
    In DataLoader workers the images (packed or padded) are written straight into each worker's persistent
    shared-memory ring (`fastload.ring`: one write by the worker, no new segment per batch); `ring=False` turns that
    off. Encoded files (`fl.ImageFolder`, `fl.ImageFiles`) are decoded in the worker (bad files: `on_error`,
    `strict`), or with `pack=True, decode_on="device"` shipped as an `EncodedBatch` (the files' bytes) that
    `DevicePrefetcher(norm=...)` decodes on the GPU (nvJPEG) and pads.
    """

    def __init__(self, norm: Normalization | None = None, *, image_key: str = "img", input_order: str = "bgr",
                 size_divisor: int = 1, pad_value=0.0, pack: bool = False,
                 list_keys: Sequence[str] = ("bboxes", "labels", "masks"), label_mode: str | None = None,
                 num_classes: int | None = None, dtype: torch.dtype = torch.float32, channels_last: bool = False,
                 ring: bool = True, on_error: str = "raise", strict: bool | str = "complete",
                 decode_on: str = "worker"):
        # Every argument is checked here, so a mistake shows in the main process, not inside a worker.
        if norm is not None:
            V.check_norm(norm)
        if label_mode not in LABEL_MODES:
            raise ValueError(f"label_mode must be None, 'classification' or 'detection', got {label_mode!r}")
        if num_classes is not None:
            V.check_size("num_classes", num_classes, minimum=1)
        if pack and norm is not None:
            raise ValueError("pack=True ships raw uint8 images; normalize them later (DevicePrefetcher(norm=...)), "
                             "so give norm to the prefetcher, not to PadCollate")
        if not isinstance(image_key, str):
            raise TypeError(f"image_key must be a str, got {type(image_key).__name__}")
        list_keys = (list_keys,) if isinstance(list_keys, str) else tuple(list_keys)
        if not all(isinstance(k, str) for k in list_keys):
            raise TypeError(f"list_keys must be a sequence of str, got {list_keys!r}")
        self.norm, self.image_key, self.pack, self.list_keys = norm, image_key, pack, list_keys
        self.ring = V.check_bool("ring", ring)
        self.input_order = V.check_order("input_order", input_order)
        self.size_divisor = V.check_size("size_divisor", size_divisor, minimum=1, maximum=V.MAX_SIDE)
        self.dtype = V.check_float_dtype(dtype)
        self.channels_last = V.check_bool("channels_last", channels_last)
        V.check_pad_value(pad_value, None, norm is not None, self.dtype)
        self.pad_value = pad_value
        self.label_mode, self.num_classes = label_mode, num_classes
        self.decoder = BatchDecoder(on_error, strict)
        self.decode_on = check_decode_on(decode_on, pack)

    @property
    def skipped(self) -> int:
        """Samples this process (a worker: each counts its own) left out of batches for bad files (on_error)."""
        return self.decoder.skipped

    def _images(self, images):
        if self.pack:
            return images if isinstance(images, (PackedImages, EncodedBatch)) else pack_images(images, ring=self.ring)
        kw = dict(input_order=self.input_order, size_divisor=self.size_divisor, pad_value=self.pad_value,
                  dtype=self.dtype, channels_last=self.channels_last)
        return self._into_ring(images, lambda hw: hw, lambda out: pad_batch(images, self.norm, out=out, **kw).images)

    def _into_ring(self, images: list, extent, run):
        """`run(out)`'s batch, written straight into a slot of this worker's ring when there is one (`extent` maps
        the batch extent (max h, max w rounded up to size_divisor) to the output's (h, w)); `run(None)` elsewhere,
        when no slot is free, or for images `run` would reject (it then raises its own error)."""
        if not self.ring or not ring.available() or len(images) == 0:
            return run(None)
        if not isinstance(images, PackedImages) and not all(getattr(img, "ndim", None) in (2, 3) for img in images):
            return run(None)
        sizes = _sizes(images)
        channels = images.channels if isinstance(images, PackedImages) else V.image_channels(images[0])
        like = reference.pad_batch_output(len(sizes), channels, extent(batch_extent(
            sizes, self.size_divisor, None)), self.norm is not None, self.dtype, self.channels_last, "meta")
        buffer = ring.reserve(like.numel() * like.element_size())
        if buffer is None:
            return run(None)
        return run(ring.tensor_in_slot(buffer, like))

    def _arrays(self, images: list) -> list:
        """PIL images (RGB or grey, as a torchvision ImageFolder loads them) as HWC uint8 arrays in `input_order` (a
        channel-reversed view for 'bgr', no copy); arrays and tensors as they are."""
        return [pil_to_array(img, self.input_order) if is_pil_image(img) else img for img in images]

    def _batch(self, images: list, where) -> tuple[object, dict, list | None]:
        """The images' batch, the entries dict batches get besides it, and the indices of the samples it holds
        (None: all). Encoded files are decoded whole, straight into one packed buffer, or with decode_on="device"
        shipped as they are (`where(i)` names sample i)."""
        kept = None
        if encoded(images, where):
            files = self._headers(images, where)
            kept = files.kept
            if self.decode_on == "device":
                images = EncodedBatch.pack([images[i] for i in kept], self.ring, self.decoder.strict, files.sizes)
                return images, self._metadata(images), kept
            kept, images = self.decoder.decode(images, files, [(0, 0, h, w) for h, w in files.sizes],
                                               self.input_order, self.pack, self.ring, where)
        return self._images(images), self._metadata(images), kept

    def _headers(self, images: list, where):
        """The batch's file headers read (bad files raised or skipped); files shipped to the device decoder must
        end with their end-of-image marker unless strict=False, as the worker's decoder would check."""
        need_end = self.decode_on == "device" and self.decoder.strict is not False
        return self.decoder.headers(images, where, need_end=need_end)

    def _metadata(self, images) -> dict:
        """Per-batch entries of dict batches besides the images: mmdet-style shapes."""
        sizes = _sizes(images)
        hp, wp = batch_extent(sizes, self.size_divisor, None)
        return {"img_shape": sizes, "pad_shape": [(hp, wp)] * len(sizes), "batch_input_shape": (hp, wp)}

    def __call__(self, samples: Sequence):
        if len(samples) == 0:
            raise ValueError("PadCollate got an empty list of samples")
        if isinstance(samples[0], Mapping):
            return self._collate_dicts(samples)
        if isinstance(samples[0], (tuple, list)):
            return self._collate_tuples(samples)
        raise TypeError(f"PadCollate takes dict or tuple samples, got {type(samples[0]).__name__}")

    def _collate_dicts(self, samples):
        for i, s in enumerate(samples):
            if not isinstance(s, Mapping):
                raise TypeError(f"{describe_sample(samples, i)} is a {type(s).__name__}, sample 0 a dict")
            if self.image_key not in s:
                raise ValueError(f"{describe_sample(samples, i)} has no image key {self.image_key!r} "
                                 f"(keys: {sorted(s)})")
        batch, metadata, kept = self._batch(self._arrays([s[self.image_key] for s in samples]),
                                            lambda i: describe_sample(samples, i))
        originals, samples = samples, kept_samples(samples, kept)
        out = {self.image_key: batch, **metadata}
        # The collate's own shapes describe the batch it made: they win over sample keys of the same name. The keys
        # are the given samples', so that a batch of skipped files still has them.
        keys = list(dict.fromkeys(k for s in originals for k in s if k != self.image_key and k not in metadata))
        for key in keys:
            values = [s.get(key) for s in samples]
            if key in self.list_keys:
                out[key] = [self._list_entry(key, v, values, samples, i) for i, v in enumerate(values)]
                continue
            missing = [i for i, s in enumerate(samples) if key not in s]
            if missing:
                raise ValueError(f"{describe_sample(samples, missing[0])} has no key {key!r}, which other samples "
                                 f"have; give every sample the key, or name it in list_keys to allow empty entries")
            out[key] = self._entry(key in LABEL_KEYS, values, samples, [s.get(key) for s in originals])
        return out

    def _entry(self, label: bool, values: list, samples, given: list):
        """The batch entry of one key or tuple position: labels (`label`) checked by label_mode and int64, a
        scalar label a scalar so that the batch is (N,); with every sample skipped, the `given` samples' entry with
        no row."""
        if label and self.label_mode is not None:
            checked = [checked_labels(v, describe_sample(samples, i), self.label_mode, self.num_classes)
                       for i, v in enumerate(values)]
            values = [t.reshape(()) if np.ndim(v) == 0 else t for t, v in zip(checked, values)]
        if not values:
            return no_rows(per_image_values(given))
        return per_image_values(values)

    def _list_entry(self, key: str, value, values: list, samples, i: int) -> torch.Tensor:
        dtype = torch.int64 if key == "labels" else torch.float32
        if value is None:
            return empty_like_others(values, dtype)
        if key == "labels":
            return checked_labels(value, describe_sample(samples, i), self.label_mode, self.num_classes)
        return to_tensor(value).to(dtype)

    def _collate_tuples(self, samples):
        batch, _, kept = self._batch(self._arrays([s[0] for s in samples]), lambda i: describe_sample(samples, i))
        originals, samples = samples, kept_samples(samples, kept)
        rest = [self._entry(position == 1, [s[position] for s in samples], samples, [s[position] for s in originals])
                for position in range(1, len(originals[0]))]
        return (batch, *rest)


class CropCollate(PadCollate):
    """`collate_fn` for classification (tuple samples `(image, label, ...)` or dict samples): each batch's crops are
    drawn in the worker, torchvision's way, and the crop + antialiased resize + flip + normalize runs as one pass.

    `train=True`: a RandomResizedCrop box per image (`random_resized_crop_params(h, w, scale, ratio)`) and a
    horizontal flip with probability `flip_p`, drawn from the worker's torch RNG as torchvision's transforms draw
    them; `train=False`: Resize(`resize`) + CenterCrop(`size`). With `norm` the worker produces the normalized
    (N, C, h, w) batch, written into its shared-memory ring; without, it ships the raw images packed (through the
    ring) with the crops as a `CropBatch`, which `DevicePrefetcher(norm=...)` finishes on the device (one kernel) or
    `batch.finish(norm)` anywhere. Labels as in `PadCollate` (`label_mode`, `num_classes`). Dict batches also get
    each image's geometry (`CropBatch.shapes`): `ori_shape`, `img_shape`, and `crop_box` and `flip` (train) or
    `resized_shape` (eval). Encoded files are decoded in the worker, only the region each crop reads (`draft=True`:
    at the largest DCT scale that keeps the crop's resolution; changes pixels); without norm, `decode_on="device"`
    ships the files' bytes instead, and `DevicePrefetcher` decodes them on the GPU (nvJPEG: not libjpeg's pixels)
    and crops there: the boxes are drawn in the worker all the same.
    """

    def __init__(self, size, norm: Normalization | None = None, *, train: bool = True, scale=(0.08, 1.0),
                 ratio=(3 / 4, 4 / 3), flip_p: float = 0.5, resize=256, interpolation: str = "bilinear",
                 antialias: bool = True, image_key: str = "img", input_order: str = "bgr",
                 list_keys: Sequence[str] = (), label_mode: str | None = None, num_classes: int | None = None,
                 dtype: torch.dtype = torch.float32, channels_last: bool = False, ring: bool = True,
                 on_error: str = "raise", strict: bool | str = "complete", draft: bool = False,
                 decode_on: str = "worker"):
        super().__init__(norm, image_key=image_key, input_order=input_order, list_keys=list_keys,
                         label_mode=label_mode, num_classes=num_classes, dtype=dtype, channels_last=channels_last,
                         ring=ring, on_error=on_error, strict=strict)
        self.size = G.check_pair("size", size)
        self.train = V.check_bool("train", train)
        self.scale, self.ratio = G.check_range("scale", scale), G.check_range("ratio", ratio)
        self.flip_p = G.check_probability("flip_p", flip_p)
        self.resize = G.check_resize(resize)
        if not self.train:
            G.check_crop_fits(self.resize, self.size)  # here, not in every worker batch
        self.interpolation = V.check_interpolation(interpolation, crops.INTERPOLATIONS)
        self.antialias = V.check_bool("antialias", antialias)
        self.draft = V.check_bool("draft", draft)
        self.decode_on = check_decode_on(decode_on, norm is None, self.draft)

    def _draws(self, sizes) -> tuple[list, list]:
        """The boxes and flips of a train batch of images of (h, w) `sizes`, torchvision's way."""
        return G.draw_crops(sizes, self.scale, self.ratio, self.flip_p, "the image of sample {} of the batch")

    def _crops(self, images) -> crops.CropBatch:
        """The batch's crops over `images` (a checked list, a PackedImages, or an EncodedBatch of whole files)."""
        if not self.train:
            return crops.CropBatch(images, [], [], self.size, self.resize, self.interpolation, self.antialias)
        boxes, flips = self._draws(_sizes(images))
        return crops.CropBatch(images, boxes, flips, self.size, None, self.interpolation, self.antialias)

    def _decoded_crops(self, images: list, where) -> tuple[crops.CropBatch, list]:
        """Encoded files: headers read, the crops drawn (the same RNG calls as for decoded images), and only the
        region each crop reads decoded (the box; for eval the rows and columns Resize + CenterCrop weight)."""
        files = self._headers(images, where)
        kept, sizes = files.kept, files.sizes
        if self.decode_on == "device":  # the files themselves travel; DevicePrefetcher decodes and crops them
            shipped = EncodedBatch.pack([images[i] for i in kept], self.ring, self.decoder.strict, sizes)
            return self._crops(shipped), kept
        boxes, flips = self._draws(sizes) if self.train else ([], [])
        reduce, source = [1] * len(kept), list(sizes)  # per image: the DCT scale decoded at, and that image's size
        if self.draft:
            for k, i in enumerate(kept):
                if decoding.is_jpeg(images[i]):
                    need = self.size if self.train else G.resize_need(self.resize, sizes[k])
                    reduce[k] = G.draft_reduce(boxes[k][2:] if self.train else sizes[k], need)
                    source[k] = decoding.image_size(images[i], reduce=reduce[k]) if reduce[k] > 1 else sizes[k]
        if self.train:
            regions = [G.reduced_box(b, f, s) if f > 1 else b for b, f, s in zip(boxes, reduce, source)]
        else:
            regions = crops.eval_regions(source, self.resize, self.size, self.interpolation, self.antialias)
        done, packed = self.decoder.decode(images, files, regions, self.input_order, self.norm is None, self.ring,
                                           where, reduce)
        at = [kept.index(i) for i in done]
        placed = [(*regions[k][:2], *source[k]) for k in at]
        batch = crops.CropBatch(packed, [regions[k] for k in at] if self.train else [], [flips[k] for k in at]
                                if self.train else [], self.size, None if self.train else self.resize,
                                self.interpolation, self.antialias, placed)
        if self.draft:  # the geometry of the files, not of the reduced images
            original = batch._replace(regions=[(0, 0, *sizes[k]) for k in at],
                                      boxes=[boxes[k] for k in at] if self.train else [])
            batch = batch._replace(meta=original.shapes())
        return batch, done

    def _batch(self, images: list, where) -> tuple[object, dict, list | None]:
        kept = None
        if encoded(images, where):
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
