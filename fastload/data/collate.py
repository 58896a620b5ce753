"""`PadCollate`: the DataLoader collate function for variable-size images (padded, optionally normalized batches,
or packed raw uint8 batches to be normalized on the device; with `scale`/`flip_p`, detection's keep-ratio resize and
flip in the same pass), and the machinery `CropCollate` builds on: decoding a batch's files, writing into the
worker's ring. The samples around the images are collated by `SampleCollate`."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from fastload import _validation as V
from fastload import reference
from fastload.data.detection import BOX_KEYS, PIXEL_KEYS, DetectionGeometry, pad_shapes
from fastload.data.sample_collate import SampleCollate
from fastload.data.samples import LABEL_KEYS, check_label_mode, describe_sample
from fastload.functional._geometry import batch_extent
from fastload.functional._pad import pack_images, pad_batch
from fastload.functional._resize_pad import resize_pad_batch
from fastload.io.batch_decoder import BatchDecoder, check_decode_on, encoded
from fastload.io.encoded_batch import EncodedBatch
from fastload.io.pil import is_pil_image, pil_to_array
from fastload.memory import ring
from fastload.memory.packed import PackedImages
from fastload.normalization import Normalization


def batch_sizes(images) -> list[tuple[int, int]]:
    """(h, w) of each image of a list, a PackedImages or an EncodedBatch."""
    if isinstance(images, (PackedImages, EncodedBatch)):
        return [tuple(hw) for hw in images.sizes.tolist()]
    return [tuple(int(v) for v in img.shape[:2]) for img in images]


class PadCollate(SampleCollate):
    """`collate_fn` for variable-size images (detection, segmentation): one padded or packed batch per call.

    Takes dict samples (mmdet style: `{"img": ..., "bboxes": ..., "labels": ...}`) or tuple samples (image first).
    Images are HWC uint8 arrays or tensors in `input_order`, PIL images (RGB or grey), or `fl.EncodedImage` files,
    which are decoded in the worker. In DataLoader workers the images are written straight into the worker's
    shared-memory ring (`fastload.memory.ring`): one write, no new shared-memory segment per batch. Every argument is
    checked here, so a mistake shows in the main process, not inside a worker.

    Args:
        norm: with a `Normalization`, images become `pad_batch(images, norm, ...)`: normalized float (N, C, Hp, Wp);
            without, a padded uint8 (N, Hp, Wp, C) batch (or a `PackedImages` with `pack=True`).
        image_key: the images' key in dict samples; None (default): the first of "img", "image", "jpg", "jpeg",
            "png", "webp" that the first sample has (mmdet, Hugging Face, WebDataset). The batch keeps that key.
        label_key: a key holding a per-image label besides the usual ones ("label", "labels", "cls", "target",
            "gt_label", "gt_labels"), checked and collated alike. WebDataset's `cls` bytes (b"3") are read as ints.
        input_order: channel order of array images ("bgr" or "rgb").
        size_divisor: the padded extent is a multiple of this (e.g. 32).
        pad_value: the padding, as in `pad_batch` (output space with `norm`, a byte without).
        pack: ship the raw images as one `PackedImages` (no padding), for `DevicePrefetcher` to normalize and pad on
            the device: only uint8 crosses PCIe. Not with `norm`.
        list_keys: dict keys collated as lists of per-image tensors (labels int64, others float32); a sample without
            the key, or with None, gets an empty entry ((0, 4) boxes, (0,) labels).
        label_mode: None, "classification" (labels 0..K-1), "detection" (1..K, 0 is the background: torchvision) or
            "mmdet" (0..K-1, the background is K: mmdetection, detectron2); labels are checked before the int64 cast
            and a bad one names the sample.
        num_classes: K, for `label_mode`'s check.
        dtype: of a normalized batch: torch.float32, float16 or bfloat16.
        channels_last: give a normalized batch channels_last strides.
        ring: write batches into the worker's shared-memory ring (default); False uses torch's per-batch segments.
        on_error: "raise" (a bad file is a ValueError naming the file and the sample) or "skip" (the sample is left
            out of its batch, with a RuntimeWarning; a batch of only bad files is an empty batch).
        strict: what a file must pass to decode: "complete" (default: refuses truncated files), True (also any
            damage libjpeg warns about), False (only what libjpeg cannot read); see `decode_image`.
        decode_on: "worker" (default) or, with `pack=True`, "device": ship the files' bytes for
            `DevicePrefetcher` to decode on the GPU (nvJPEG).
        scale: with `norm`, resize each image keeping its ratio to this (w, h)-style bound (mmcv's `rescale_size`,
            e.g. (1333, 800)) in the same pass that normalizes and pads it (`resize_pad_batch`), files decoded into
            scratch first; the boxes under `bbox_keys` are rescaled and clipped (mmcv's `Resize`). Dict samples.
        flip_p: the probability of flipping each image left to right (drawn with the worker's torch RNG), read
            backwards by the fused op (no copy); its boxes are mirrored across its width (mmdet's `RandomFlip`).
        interpolation: of `scale`: "bilinear" (OpenCV INTER_LINEAR, mmcv's default), "nearest" or "bicubic"
            (torchvision's antialiased bicubic), as in `resize_pad_batch`.
        bbox_keys: dict keys of (n, 4) x1, y1, x2, y2 pixel boxes that follow `scale` and `flip_p`.

    Returns:
        A callable `collate(samples) -> batch`. Dict samples give a dict with the images under `image_key`,
            `list_keys` as lists, per-image `img_shape` (h, w) and `pad_shape` (h, w rounded up to `size_divisor`, as
            mmdet 3) lists and `batch_input_shape` (Hp, Wp); with `scale` also `ori_shape`, `scale_factor` (w_scale,
            h_scale) and `keep_ratio`, with `flip_p` also `flip` and `flip_direction` (all replacing sample keys of
            those names); tuple or list values (`scale_factor`, `ori_shape`) as lists
            of the per-image values, everything else through torch's `default_collate`. Tuple samples give a tuple:
            the images first, then the other positions collated alike (labels int64 with `label_mode`).

    Raises:
        TypeError: an argument of the wrong type (naming it); raw bytes or `{"bytes", "path"}` dicts instead of
            `fl.EncodedImage` (when collating).
        ValueError: an invalid argument (naming it); when collating, a bad label, a missing key or a bad file
            (naming the sample and the file).
    """

    def __init__(
        self,
        norm: Normalization | None = None,
        *,
        image_key: str | None = None,
        label_key: str | None = None,
        input_order: str = "bgr",
        size_divisor: int = 1,
        pad_value=0.0,
        pack: bool = False,
        list_keys: Sequence[str] = ("bboxes", "labels", "bboxes_ignore", "masks"),
        label_mode: str | None = None,
        num_classes: int | None = None,
        dtype: torch.dtype = torch.float32,
        channels_last: bool = False,
        ring: bool = True,
        on_error: str = "raise",
        strict: bool | str = "complete",
        decode_on: str = "worker",
        scale=None,
        flip_p: float = 0.0,
        interpolation: str = "bilinear",
        bbox_keys: Sequence[str] = BOX_KEYS,
    ):
        # Every argument is checked here, so a mistake shows in the main process, not inside a worker.
        if norm is not None:
            V.check_norm(norm)
        check_label_mode(label_mode)
        if num_classes is not None:
            V.check_size("num_classes", num_classes, minimum=1)
        if pack and norm is not None:
            raise ValueError(
                "pack=True ships raw uint8 images; normalize them later (DevicePrefetcher(norm=...)), "
                "so give norm to the prefetcher, not to PadCollate"
            )
        for name, key in (("image_key", image_key), ("label_key", label_key)):
            if key is not None and not isinstance(key, str):
                raise TypeError(f"{name} must be a str or None, got {type(key).__name__}")
        self.label_keys = LABEL_KEYS + ((label_key,) if label_key is not None else ())
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
        self.geometry = DetectionGeometry(scale, flip_p, interpolation)
        if scale is not None and norm is None:
            raise ValueError("scale= resizes in the pass that normalizes: give norm too (or resize on the device)")
        if self.geometry.active and self.decode_on == "device":
            raise ValueError("scale= and flip_p= need the images decoded in the worker, not decode_on='device'")
        bbox_keys = (bbox_keys,) if isinstance(bbox_keys, str) else tuple(bbox_keys)
        if not all(isinstance(k, str) for k in bbox_keys):
            raise TypeError(f"bbox_keys must be a sequence of str, got {bbox_keys!r}")
        self.bbox_keys = bbox_keys

    @property
    def skipped(self) -> int:
        """Samples this process (a worker: each counts its own) left out of batches for bad files (on_error)."""
        return self.decoder.skipped

    def _images(self, images, plans):
        """The batch of `images` (a checked list or a PackedImages): packed, padded, or (with `scale`) resized and
        padded; with `plans`, flipped images are read backwards."""
        if plans is not None:
            images = self.geometry.views(images, plans)
        if self.pack:
            return images if isinstance(images, (PackedImages, EncodedBatch)) else pack_images(images, ring=self.ring)
        kw = dict(
            input_order=self.input_order,
            size_divisor=self.size_divisor,
            pad_value=self.pad_value,
            dtype=self.dtype,
            channels_last=self.channels_last,
        )
        if self.geometry.scale is None:
            return self._into_ring(
                images, lambda hw: hw, lambda out: pad_batch(images, self.norm, out=out, **kw).images
            )
        g, extent = self.geometry, batch_extent([p.img_shape for p in plans], self.size_divisor, None)
        return self._into_ring(
            images,
            lambda hw: extent,
            lambda out: (
                resize_pad_batch(images, self.norm, scale=g.scale, interpolation=g.interpolation, out=out, **kw).images
            ),
        )

    def _into_ring(self, images: list, extent, run):
        """`run(out)`'s batch, written straight into a slot of this worker's ring when there is one (`extent` maps
        the batch extent (max h, max w rounded up to size_divisor) to the output's (h, w)); `run(None)` elsewhere,
        when no slot is free, or for images `run` would reject (it then raises its own error)."""
        if not self.ring or not ring.available() or len(images) == 0:
            return run(None)
        if not isinstance(images, PackedImages) and not all(getattr(img, "ndim", None) in (2, 3) for img in images):
            return run(None)
        sizes = batch_sizes(images)
        channels = images.channels if isinstance(images, PackedImages) else V.image_channels(images[0])
        like = reference.pad_batch_output(
            n=len(sizes),
            c=channels,
            batch_hw=extent(batch_extent(sizes, self.size_divisor, None)),
            normalized=self.norm is not None,
            dtype=self.dtype,
            channels_last=self.channels_last,
            device="meta",
        )
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
        if encoded(images, where):  # EncodedImages, bytes, Hugging Face dicts, ...
            files = self._headers(images, where)
            images, kept = files.images, files.kept
            if self.decode_on == "device":
                images = EncodedBatch.pack([images[i] for i in kept], self.ring, self.decoder.strict, files.sizes)
                return images, self._metadata(images, None), kept
            whole = [(0, 0, h, w) for h, w in files.sizes]
            # Shipped as decoded (pack) they go straight into the ring; flipped, they are copied there from scratch.
            returned = self.pack and self.geometry.flip_p == 0
            kept, images = self.decoder.decode(
                images, files, whole, order=self.input_order, returned=returned, use_ring=self.ring, where=where
            )
        plans = self.geometry.plan(batch_sizes(images)) if self.geometry.active else None
        return self._images(images, plans), self._metadata(images, plans), kept

    def _headers(self, images: list, where):
        """The batch's file headers read (bad files raised or skipped); files shipped to the device decoder must
        end with their end-of-image marker unless strict=False, as the worker's decoder would check."""
        need_end = self.decode_on == "device" and self.decoder.strict is not False
        return self.decoder.headers(images, where, need_end=need_end)

    def _metadata(self, images, plans) -> dict:
        """Per-batch entries of dict batches besides the images: mmdet-style shapes (and geometry, with `plans`)."""
        sizes = batch_sizes(images) if plans is None else [p.img_shape for p in plans]
        meta = {
            "img_shape": sizes,
            "pad_shape": pad_shapes(sizes, self.size_divisor),
            "batch_input_shape": batch_extent(sizes, self.size_divisor, None),
        }
        return meta if plans is None else {**meta, **self.geometry.metadata(plans)}

    def _moved(self, key: str, values: list, samples, metadata: dict) -> list:
        """The values of a box key moved with their images (rescaled, flipped); per-pixel annotations, which the
        collate cannot move, refused."""
        if not self.geometry.active or (key not in self.bbox_keys and key not in PIXEL_KEYS):
            return values
        where = lambda i: f"{describe_sample(samples, i)}[{key!r}]"  # noqa: E731
        if key in PIXEL_KEYS:
            i = next((i for i, v in enumerate(values) if v is not None), None)
            if i is not None:
                raise ValueError(f"{where(i)}: scale= and flip_p= move boxes only; resize and flip masks before")
            return values
        return [None if v is None else self.geometry.move_boxes(v, metadata, i, where(i)) for i, v in enumerate(values)]

    def _check_tuples(self) -> None:
        if self.geometry.active:
            raise ValueError(
                "scale= and flip_p= need dict samples, so that the boxes and metadata move with the images"
            )


def keep_batch(batch):
    """The DataLoader's `collate_fn` for a dataset that batches in its workers (`.batched(n, collation_fn=...)`
    with `DataLoader(batch_size=None)`): each batch as the collate made it. torch's default there
    (`default_convert`) walks every list of the batch again (the crop metadata and keys: 0.3 ms a batch of 32,
    about 1% of a worker's time) and turns its tuples into lists.

    Args:
        batch: what the dataset yields.

    Returns:
        `batch`, unchanged.
    """
    return batch
