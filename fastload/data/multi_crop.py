"""`MultiCropCollate`: the multi-crop views of self-supervised training (DINO, iBOT, SwAV) from one decode per
image. Every image's crops are drawn as DINO draws them, the union of its boxes is decoded once, and each group of
equal-size crops is made by one fused crop (uint8), one colour pass, one blur of the drawn crops and the last colour
pass normalizing. In a DataLoader worker every view is written into one slot of the worker's ring and the list is
sent as that one slot (`fastload.memory.slot_views`): no copy into new shared memory."""

from __future__ import annotations

import math
import random

import torch

from fastload import _validation as V
from fastload.data.collate import batch_sizes
from fastload.data.color import ColorDraw, check_settings, draw_crops_color
from fastload.data.crop_batch import CropBatch
from fastload.data.crop_collate import CropCollate
from fastload.data.crop_groups import CropGroup, dino_groups
from fastload.functional import _geometry as G
from fastload.io.batch_decoder import encoded
from fastload.memory.slot_views import SlotViews, reserve_tensors
from fastload.normalization import Normalization
from fastload.reference_images import pad_batch_output

_PLAIN = ColorDraw(None, None, None, None, (0, 1, 2, 3), False, None, None)  # a crop with no colour step


class MultiCropCollate(CropCollate):
    """`collate_fn` for multi-crop self-supervised training: each image decoded once (the union of its crops'
    boxes), its crops drawn in DINO's order and fused per group of equal size.

    Takes what `CropCollate` takes (tuple or dict samples of arrays, PIL images or `fl.EncodedImage` files) and
    returns the crops as DINO's loaders do: a list of (N, C, h, w) batches, one per crop, in the groups' order.

    Args:
        norm: the `Normalization` of the crops (None: (N, h, w, C) uint8 batches in `input_order`).
        groups: the crops, `CropGroup`s in order (default: DINO's, `dino_groups()`: 2 x 224 + 8 x 96).
        ratio: RandomResizedCrop's (low, high) aspect ratio.
        flip_p: the probability of each crop's horizontal flip.
        interpolation: "bicubic" (DINO's), "bilinear" or "nearest", as in `resized_crop_batch`.
        color_jitter: ColorJitter's (brightness, contrast, saturation, hue), or None (DINO: (0.4, 0.4, 0.2, 0.1)).
        color_jitter_p: RandomApply's p for the jitter (DINO: 0.8).
        grayscale_p: RandomGrayscale's p (DINO: 0.2).
        blur_sigma: the blur's (min, max) sigma (DINO's radius: (0.1, 2.0)).
        blur_kernel_size: the odd kernel size of the blur (torchvision's Gaussian; it must fit the smallest crop);
            None (default): 2 ceil(3 max sigma) + 1 (13 for sigma up to 2), the taps within 3 sigma, as DINO's PIL
            blur takes a radius, not a kernel.
        solarize_threshold: the solarize threshold (DINO, PIL's default: 128).
        draws: "dino": the blur and solarize decided with Python's `random` as DINO's `utils.GaussianBlur` and
            `utils.Solarization` (`random.random() <= p`, `random.uniform(*blur_sigma)`, `random.random() < p`);
            "torchvision": with torch's RNG as `RandomApply([GaussianBlur])` and `RandomSolarize` (DINOv2-style).
        image_key: the images' key in dict samples, as in `CropCollate`.
        label_key: a key holding the label besides the usual ones.
        input_order: channel order of array images ("bgr" or "rgb").
        list_keys: dict keys collated as lists of per-image tensors.
        label_mode: None, "classification", "detection" or "mmdet", as in `PadCollate`.
        num_classes: K, for `label_mode`'s check.
        dtype: of the normalized crops: torch.float32, float16 or bfloat16.
        channels_last: give the normalized crops channels_last strides.
        on_error: "raise" or "skip", for bad files, as in `PadCollate`.
        strict: "complete", True or False, as in `decode_image`.

    Returns:
        A callable `collate(samples) -> batch`: `(crops, labels, ...)` for tuple samples, a dict for dict samples
            (the crops under the image key, and per crop `crop_box`, `flip` and `color`: lists of per-image values).

    Raises:
        TypeError, ValueError: an invalid argument (naming it); when collating, as in `CropCollate`.
    """

    def __init__(
        self,
        norm: Normalization | None = None,
        groups=None,
        *,
        ratio=(3 / 4, 4 / 3),
        flip_p: float = 0.5,
        interpolation: str = "bicubic",
        color_jitter=(0.4, 0.4, 0.2, 0.1),
        color_jitter_p: float = 0.8,
        grayscale_p: float = 0.2,
        blur_sigma=(0.1, 2.0),
        blur_kernel_size: int | None = None,
        solarize_threshold: float = 128.0,
        draws: str = "dino",
        image_key: str | None = None,
        label_key: str | None = None,
        input_order: str = "bgr",
        list_keys=(),
        label_mode: str | None = None,
        num_classes: int | None = None,
        dtype: torch.dtype = torch.float32,
        channels_last: bool = False,
        on_error: str = "raise",
        strict: bool | str = "complete",
    ):
        groups = dino_groups() if groups is None else list(groups)
        if not groups or not all(isinstance(g, CropGroup) for g in groups):
            raise TypeError(f"groups must be a non-empty sequence of fl.data.CropGroup, got {groups!r}")
        if draws not in ("dino", "torchvision"):
            raise ValueError(f"draws must be 'dino' or 'torchvision', got {draws!r}")
        checked = []
        for k, g in enumerate(groups):
            size = G.check_pair(f"groups[{k}].size", g.size)
            if isinstance(g.count, bool) or not isinstance(g.count, int) or g.count < 1:
                raise ValueError(f"groups[{k}].count must be an int >= 1, got {g.count!r}")
            blur_p = G.check_probability(f"groups[{k}].blur_p", g.blur_p)
            solarize_p = G.check_probability(f"groups[{k}].solarize_p", g.solarize_p)
            checked.append(CropGroup(size, G.check_range(f"groups[{k}].scale", g.scale), g.count, blur_p, solarize_p))
        super().__init__(
            checked[0].size,
            norm,
            ratio=ratio,
            flip_p=flip_p,
            interpolation=interpolation,
            image_key=image_key,
            label_key=label_key,
            input_order=input_order,
            list_keys=list_keys,
            label_mode=label_mode,
            num_classes=num_classes,
            dtype=dtype,
            channels_last=channels_last,
            on_error=on_error,
            strict=strict,
        )
        self.groups, self.draws = checked, draws
        self.blur_sigma, self.threshold = blur_sigma, solarize_threshold
        if blur_kernel_size is None:
            top = blur_sigma[1] if isinstance(blur_sigma, (tuple, list)) and len(blur_sigma) == 2 else None
            blur_kernel_size = 2 * math.ceil(3 * top) + 1 if isinstance(top, (int, float)) and top > 0 else 23
        # Each group's torch-side draws (with "dino" the blur and solarize are Python's `random`, drawn apart).
        self.settings = []
        for g in checked:
            s = check_settings(
                color_jitter,
                color_jitter_p,
                grayscale_p,
                g.blur_p,
                blur_sigma,
                blur_kernel_size,
                g.solarize_p,
                solarize_threshold,
                g.size,
            )
            if s is not None and draws == "dino":
                s = s._replace(blur_p=0.0, solarize_p=0.0)
                if s.ranges is None and s.grayscale_p == 0:
                    s = None
            self.settings.append(s)
        self.blur_kernel_size = int(blur_kernel_size)

    def _torch_draws(self, sizes: list) -> list:
        """Per image, per group, its crops' (boxes, flips, colour draws) from torch's RNG, image after image and
        crop after crop: one `draw_crops_color` over every crop of the batch (each entry its group's scale, blur_p
        and solarize_p), or without any colour transform `draw_crops` image by image."""
        base = next((s for s in self.settings if s is not None), None)
        name = "the image of sample {} of the batch"
        per_image = sum(g.count for g in self.groups)
        if base is None:
            boxes, flips = [], []
            for hw in sizes:
                for g in self.groups:
                    b, f = G.draw_crops([hw] * g.count, g.scale, self.ratio, self.flip_p, name=name)
                    boxes, flips = boxes + b, flips + f
            colors = [_PLAIN] * len(boxes)
        else:
            entries = [
                (*g.scale, 0.0 if s is None else s.blur_p, 0.0 if s is None else s.solarize_p)
                for g, s in zip(self.groups, self.settings)
                for _ in range(g.count)
            ]
            every = [hw for hw in sizes for _ in range(per_image)]
            boxes, flips, colors = draw_crops_color(
                every, self.groups[0].scale, self.ratio, self.flip_p, base, name, entries=entries * len(sizes)
            )
        out = []
        for i in range(len(sizes)):
            at, split = i * per_image, []
            for g in self.groups:
                split.append((boxes[at : at + g.count], flips[at : at + g.count], list(colors[at : at + g.count])))
                at += g.count
            out.append(split)
        return out

    def _dino_draws(self, draws: list) -> list:
        """DINO's blur and solarize decisions (Python's `random`, image after image, crop after crop) added to the
        colour draws `draws[i][k]` (image i, group k: a list of the group's crops)."""
        lo, hi = self.blur_sigma
        for per_image in draws:
            for g, crops in zip(self.groups, per_image):
                for j, d in enumerate(crops):
                    if g.blur_p > 0 and random.random() <= g.blur_p:
                        d = d._replace(blur=random.uniform(lo, hi))
                    if g.solarize_p > 0 and random.random() < g.solarize_p:
                        d = d._replace(solarize=float(self.threshold))
                    crops[j] = d
        return draws

    def _all_draws(self, sizes: list) -> tuple[list, list, list]:
        """Per image, per group: its crops' boxes, flips and colour draws, image after image as DINO's transform
        draws them (torch's RNG; then Python's for "dino" blur and solarize, a stream of its own)."""
        drawn = self._torch_draws(sizes)
        boxes = [[d[0] for d in per_image] for per_image in drawn]
        flips = [[d[1] for d in per_image] for per_image in drawn]
        colors = [[d[2] for d in per_image] for per_image in drawn]
        if self.draws == "dino":
            colors = self._dino_draws(colors)
        return boxes, flips, colors

    def _batch(self, images: list, where) -> tuple[list, dict, list | None]:
        kept, regions = None, None
        if encoded(images, where):
            files = self._headers(images, where)
            boxes, flips, colors = self._all_draws(files.sizes)
            unions = [_union(b) for b in boxes]
            done, packed = self.decoder.decode(
                files.images, files, unions, order=self.input_order, returned=False, use_ring=False, where=where
            )
            at = [files.kept.index(i) for i in done]
            boxes, flips, colors = [boxes[k] for k in at], [flips[k] for k in at], [colors[k] for k in at]
            regions = [(*unions[k][:2], *files.sizes[k]) for k in at]
            sources, kept = (packed.unpack() if len(done) else []), done
        else:
            sources = images
            boxes, flips, colors = self._all_draws(batch_sizes(images))
        slot = self._slot(sources)  # every group's batch in one slot of the worker's ring, sent as one
        crops = []
        for k in range(len(self.groups)):
            per_image = [b[k] for b in boxes], [f[k] for f in flips], [c[k] for c in colors]
            crops += self._group(sources, regions, k, *per_image, out=None if slot is None else slot[1][k])
        crops = crops if slot is None else SlotViews(slot[0], crops)
        meta = {
            "crop_box": [[tuple(b[k][j]) for b in boxes] for k, g in enumerate(self.groups) for j in range(g.count)],
            "flip": [[f[k][j] for f in flips] for k, g in enumerate(self.groups) for j in range(g.count)],
            "color": [
                [dict(c[k][j]._asdict()) for c in colors] for k, g in enumerate(self.groups) for j in range(g.count)
            ],
        }
        return crops, meta, kept

    def _slot(self, sources: list):
        """`reserve_tensors` of every group's batch (None: no ring here, no free slot, or no images)."""
        if not self.ring or not sources:
            return None
        c, normalized = V.image_channels(sources[0]), self.norm is not None
        likes = [
            pad_batch_output(g.count * len(sources), c, g.size, normalized, self.dtype, self.channels_last, "meta")
            for g in self.groups
        ]
        return reserve_tensors(likes)

    def _group(self, sources: list, regions, k: int, boxes: list, flips: list, colors: list, out=None) -> list:
        """Group k's crops of every image: one CropBatch over the images repeated crop-major (crop j of every
        image, then crop j + 1), finished in one pass each of crop, colour, blur and normalize (into `out` when
        given), then split."""
        g, n = self.groups[k], len(sources)
        h, w = g.size
        if n == 0:
            shape = (0, 3, h, w) if self.norm is not None else (0, h, w, 3)
            empty = torch.empty(shape, dtype=self.dtype if self.norm is not None else torch.uint8)
            return [empty] * g.count
        order = [(j, i) for j in range(g.count) for i in range(n)]
        colors_ = [colors[i][j] for j, i in order]
        batch = CropBatch(
            images=[sources[i] for _, i in order],
            boxes=[boxes[i][j] for j, i in order],
            flips=[flips[i][j] for j, i in order],
            size=g.size,
            interpolation=self.interpolation,
            antialias=self.antialias,
            regions=None if regions is None else [regions[i] for _, i in order],
            color=None if all(c == _PLAIN for c in colors_) else colors_,
            blur_kernel_size=self.blur_kernel_size,
        )
        kw = dict(input_order=self.input_order, dtype=self.dtype, channels_last=self.channels_last, out=out)
        return list(batch.finish(self.norm, **kw).split(n))


def _union(boxes: list) -> tuple[int, int, int, int]:
    """The (top, left, h, w) box covering every (top, left, h, w) box of an image's groups."""
    flat = [b for group in boxes for b in group]
    top, left = min(b[0] for b in flat), min(b[1] for b in flat)
    bottom, right = max(b[0] + b[2] for b in flat), max(b[1] + b[3] for b in flat)
    return top, left, bottom - top, right - left
