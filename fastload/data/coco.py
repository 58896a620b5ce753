"""`CocoDetection`: a COCO-format annotation file as detection samples that hand over the encoded file (decoded in
the collate) and the targets, with mmdet's parsing rules and a choice of label convention."""

from __future__ import annotations

import json
import os
from collections import Counter

import torch
from torch.utils.data import Dataset

from fastload.io.encoded_image import EncodedImage

# How category ids become labels: "detection" 1..K in the file's category order (0 is the background: torchvision's
# detection models), "mmdet" 0..K-1 (background K: mmdetection, detectron2), "category_id" the file's own ids
# (torchvision's detection references and its COCO-pretrained weights: num_classes=91 for COCO).
COCO_LABEL_MODES = ("detection", "mmdet", "category_id")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _boxes(rows: list) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)


def _checked_file(path: str, data) -> tuple[list, list, list]:
    """The images, annotations and categories lists of a parsed annotation file; a ValueError naming the file and
    what is missing or repeated."""
    if not isinstance(data, dict):
        raise ValueError(f"CocoDetection: {path} holds a {type(data).__name__}, not a COCO annotation object")
    parts = []
    for key in ("images", "annotations", "categories"):
        value = data.get(key, [] if key == "annotations" else None)  # a test split may have no annotations
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ValueError(f"CocoDetection: {path} has no list of objects under {key!r}")
        parts.append(value)
    images, annotations, categories = parts
    for what, items, fields in (
        ("image", images, ("id", "file_name", "height", "width")),
        ("category", categories, ("id", "name")),
        ("annotation", annotations, ("image_id", "category_id", "bbox")),
    ):
        for i, item in enumerate(items):
            missing = [f for f in fields if f not in item]
            if missing:
                raise ValueError(f"CocoDetection: {path}: {what} {i} has no {missing[0]!r}")
        ids = [item["id"] for item in items if "id" in item]
        if len(set(ids)) != len(ids):
            repeated = next(v for v, n in Counter(ids).items() if n > 1)  # ids.count per id: quadratic
            raise ValueError(f"CocoDetection: {path}: {what} id {repeated!r} appears more than once")
    return images, annotations, categories


class CocoDetection(Dataset):
    """A COCO-format detection dataset whose samples carry the encoded image file and its targets.

    Boxes are kept as mmdetection keeps them: an annotation with `ignore` set, a box that does not overlap its image,
    a box narrower or lower than 1 px, an area <= 0 or an unknown category is dropped; crowd annotations go to
    `bboxes_ignore`; the rest to `bboxes` and `labels`. The JSON is parsed with the standard library (no
    pycocotools needed); samples are in ascending image id, as torchvision's `CocoDetection`.

    Args:
        root: the folder the annotation file's `file_name`s are relative to.
        ann_file: the COCO-format annotation file (`instances_*.json`).
        label_mode: how category ids become labels, in the file's category order: "detection" 1..K (0 is the
            background: torchvision's detection models), "mmdet" 0..K-1 (background K: mmdetection, detectron2), or
            "category_id" the ids as in the file (torchvision's references and COCO-pretrained weights, 91 classes).
        filter_empty: leave out images without an annotation of the file's categories (mmdet's `filter_empty_gt`,
            for training; an image whose only boxes are crowd or degenerate ones counts as annotated, as there).
        min_size: leave out images whose shorter side (from the file) is below this (mmdet's `min_size`).

    Returns:
        A dataset whose sample i is a dict: `img` (`fl.EncodedImage`, read when the sample is asked for),
            `bboxes` float32 (n, 4) x1, y1, x2, y2 in pixels, `labels` int64 (n,), `bboxes_ignore` float32 (m, 4),
            `img_id`, `img_path`, `ori_shape` (h, w) from the file. Attributes: `classes` (names, in the file's
            category order), `cat_ids`, `cat2label`, `label2cat`, `img_ids`, `num_classes`.

    Raises:
        FileNotFoundError: a missing root or annotation file.
        ValueError: a file that is not JSON or not COCO's layout (a missing field, a repeated id, an annotation of an
            image the file does not list), naming the file; a bad `label_mode` or `min_size`.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        ann_file: str | os.PathLike,
        *,
        label_mode: str = "detection",
        filter_empty: bool = False,
        min_size: int = 0,
    ):
        if label_mode not in COCO_LABEL_MODES:
            raise ValueError(f"label_mode must be 'detection', 'mmdet' or 'category_id', got {label_mode!r}")
        if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 0:
            raise ValueError(f"min_size must be an int >= 0, got {min_size!r}")
        self.root, self.ann_file, self.label_mode = os.fspath(root), os.fspath(ann_file), label_mode
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"CocoDetection: root {self.root!r} is not a folder")
        with open(self.ann_file, "rb") as f:  # FileNotFoundError names the file
            try:
                data = json.load(f)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ValueError(f"CocoDetection: {self.ann_file} is not JSON: {exc}") from None
        images, annotations, categories = _checked_file(self.ann_file, data)
        self.cat_ids = [c["id"] for c in categories]
        self.classes = [c["name"] for c in categories]
        offset = {"detection": 1, "mmdet": 0}.get(label_mode)
        self.cat2label = {c: (c if offset is None else i + offset) for i, c in enumerate(self.cat_ids)}
        self.label2cat = {label: c for c, label in self.cat2label.items()}
        self.num_classes = len(self.cat_ids)
        by_id = {img["id"]: img for img in images}
        self._anns = {i: [] for i in by_id}
        for k, ann in enumerate(annotations):
            if ann["image_id"] not in by_id:
                raise ValueError(
                    f"CocoDetection: {self.ann_file}: annotation {k} is of image {ann['image_id']!r}, which the file "
                    "does not list"
                )
            box = ann["bbox"]
            if not isinstance(box, list) or len(box) != 4 or not all(_is_number(v) for v in box):
                raise ValueError(
                    f"CocoDetection: {self.ann_file}: annotation {k} has bbox {box!r}; COCO boxes are [x, y, w, h]"
                )
            self._anns[ann["image_id"]].append(ann)
        known = set(self.cat_ids)
        self._images = []
        for img_id in sorted(by_id):
            img = by_id[img_id]
            if filter_empty and not any(a["category_id"] in known for a in self._anns[img_id]):
                continue
            if min(img["width"], img["height"]) >= min_size:
                self._images.append(img)
        self.img_ids = [img["id"] for img in self._images]

    def targets(self, index: int) -> dict:
        """Sample `index`'s targets without reading its file: `bboxes`, `labels`, `bboxes_ignore`, `img_id`,
        `img_path`, `ori_shape`, as in the samples."""
        img = self._images[index]
        boxes, labels, ignore = [], [], []
        for ann in self._anns[img["id"]]:
            if ann.get("ignore", False):
                continue
            x1, y1, w, h = ann["bbox"]
            # mmdet's rules: the box must overlap the image, have an area and sides of at least 1 px.
            inter_w = max(0, min(x1 + w, img["width"]) - max(x1, 0))
            inter_h = max(0, min(y1 + h, img["height"]) - max(y1, 0))
            if inter_w * inter_h == 0 or ann.get("area", w * h) <= 0 or w < 1 or h < 1:
                continue
            if ann["category_id"] not in self.cat2label:
                continue
            if ann.get("iscrowd", False):
                ignore.append([x1, y1, x1 + w, y1 + h])
            else:
                boxes.append([x1, y1, x1 + w, y1 + h])
                labels.append(self.cat2label[ann["category_id"]])
        return {
            "bboxes": _boxes(boxes),
            "labels": torch.tensor(labels, dtype=torch.int64),
            "bboxes_ignore": _boxes(ignore),
            "img_id": img["id"],
            "img_path": os.path.join(self.root, img["file_name"]),
            "ori_shape": (int(img["height"]), int(img["width"])),
        }

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, index: int) -> dict:
        sample = self.targets(index)
        return {"img": EncodedImage.from_file(sample["img_path"]), **sample}

    def __repr__(self) -> str:
        return (
            f"fastload.CocoDetection({self.ann_file!r}, {len(self)} images, {self.num_classes} classes, "
            f"label_mode={self.label_mode!r})"
        )
