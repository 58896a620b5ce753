"""What the `detection` suite builds and times: a COCO-format dataset written from the benchmark's photos, and the
per-sample pipelines of torchvision (v2 transforms over its `CocoDetection`) and of an mmcv-style loader (cv2 decode,
`mmcv.imrescale`, `imflip`, `imnormalize`, mmengine's `stack_batch`). Every pipeline draws its flips with one
`torch.rand(1)` per image in the batch's order, after the batch seeds the RNG (`SeededBatches`), so all of them flip
the same images. Picklable at module level: the DataLoader workers start from a forkserver and import them from
here.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile

import numpy as np
import torch
from torch.utils.data import Dataset

import fastload as fl
from fastload.bench.file_loaders import MEAN_UNIT, NORM, STD_UNIT

SCALE, DIVISOR, FLIP_P = (1333, 800), 32, 0.5
# COCO's common (h, w): most images are 640 on the long side.
COCO_SIZES = [(480, 640), (640, 480), (427, 640), (640, 427), (425, 640), (612, 612), (480, 640), (375, 500)]
CATEGORIES = 80


def write_coco(source, sizes, count: int, scale: float = 1.0, seed: int = 0) -> tuple[str, str]:
    """A COCO-format dataset of `count` JPEGs (sizes cycling through `sizes` x `scale`, quality 75-95) written from
    the benchmark's photos into a temporary folder removed at exit, with 1-10 random boxes an image over
    CATEGORIES categories whose ids have COCO's gaps. Returns (root, annotation file)."""
    import cv2

    root = tempfile.mkdtemp(prefix="fastload-coco-")
    atexit.register(shutil.rmtree, root, True)
    rng = np.random.default_rng(seed)
    cat_ids = [i + 1 + i // 10 for i in range(CATEGORIES)]  # 1..10, 12..21, ...: gaps as COCO's 1..90
    images, annotations = [], []
    for i, img in enumerate(source.images(sizes, count, scale, minimum=8)):
        name = f"{i:012d}.jpg"
        cv2.imwrite(os.path.join(root, name), img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(75, 96))])
        h, w = img.shape[:2]
        images.append({"id": i + 1, "file_name": name, "height": h, "width": w})
        for _ in range(int(rng.integers(1, 11))):
            bw, bh = rng.uniform(1, w / 2), rng.uniform(1, h / 2)
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": int(rng.choice(cat_ids)),
                    "bbox": [round(v, 2) for v in (x, y, bw, bh)],
                    "area": round(bw * bh, 2),
                    "iscrowd": 0,
                }
            )
    categories = [{"id": c, "name": f"class{c}"} for c in cat_ids]
    ann_file = os.path.join(root, "instances.json")
    with open(ann_file, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)
    return root, ann_file


class TorchvisionCocoDetection(Dataset):
    """torchvision's way: `CocoDetection` wrapped for the v2 transforms (boxes as `BoundingBoxes`), then per sample
    ToImage, Resize to mmcv's keep-ratio size of the image (`fl.rescale_size`: the sizes the other rows make),
    RandomHorizontalFlip, ToDtype, Normalize."""

    def __init__(self, root: str, ann_file: str, scale=SCALE):
        import contextlib
        import io

        from torchvision import datasets
        from torchvision.transforms import v2

        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
            base = datasets.CocoDetection(root, ann_file)
        self.base = datasets.wrap_dataset_for_transforms_v2(base, target_keys=("boxes", "labels"))
        self.scale = scale
        self.after = v2.Compose(
            [v2.RandomHorizontalFlip(FLIP_P), v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN_UNIT, STD_UNIT)]
        )

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        from torchvision.transforms import v2

        img, target = self.base[i]
        img = v2.ToImage()(img)
        h, w = img.shape[-2:]
        (new_w, new_h), _ = fl.rescale_size((w, h), self.scale)
        img, target = v2.Resize((new_h, new_w))(img, target)
        img, target = self.after(img, target)
        return img.as_subclass(torch.Tensor), target


def torchvision_collate(samples: list) -> tuple[torch.Tensor, list]:
    """A padding collate as detection users write one: zeros (the mean colour after normalizing) to the batch's
    largest size rounded up to DIVISOR, the targets as a list."""
    sizes = [img.shape[-2:] for img, _ in samples]
    hp = -(-max(h for h, _ in sizes) // DIVISOR) * DIVISOR
    wp = -(-max(w for _, w in sizes) // DIVISOR) * DIVISOR
    batch = torch.zeros(len(samples), 3, hp, wp)
    for k, (img, _) in enumerate(samples):
        batch[k, :, : img.shape[1], : img.shape[2]] = img
    return batch, [t for _, t in samples]


class MmcvDetection(Dataset):
    """An mmcv-style pipeline over `fl.CocoDetection`'s targets: cv2.imread, `mmcv.imrescale` (keep ratio,
    bilinear), `mmcv.imflip`, `mmcv.imnormalize` (to RGB), boxes rescaled, clipped and flipped as mmcv's `Resize`
    and `RandomFlip` do."""

    def __init__(self, root: str, ann_file: str, scale=SCALE):
        self.coco, self.scale = fl.CocoDetection(root, ann_file, label_mode="mmdet"), scale
        self.mean, self.std = np.array(NORM.mean, np.float64), np.array(NORM.std, np.float64)

    def __len__(self):
        return len(self.coco)

    def __getitem__(self, i):
        import cv2
        import mmcv

        target = self.coco.targets(i)
        img = cv2.imread(target["img_path"], cv2.IMREAD_COLOR)
        h, w = img.shape[:2]
        img = mmcv.imrescale(img, self.scale, interpolation="bilinear")
        new_h, new_w = img.shape[:2]
        # mmcv's Resize and RandomFlip on the boxes, written out as an mmcv user would (not fastload's helpers).
        boxes = target["bboxes"].double().numpy() * np.array([new_w / w, new_h / h] * 2)
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, new_w)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, new_h)
        if torch.rand(1).item() < FLIP_P:
            img, boxes = (
                mmcv.imflip(img, "horizontal"),
                np.stack([new_w - boxes[:, 2], boxes[:, 1], new_w - boxes[:, 0], boxes[:, 3]], 1),
            )
        img = mmcv.imnormalize(img, self.mean, self.std, to_rgb=True)
        return {
            "img": torch.from_numpy(img).permute(2, 0, 1),
            "bboxes": torch.from_numpy(boxes).float(),
            "labels": target["labels"],
        }


def mmengine_collate(samples: list) -> dict:
    """mmengine's `stack_batch` (pad to the largest size rounded up to DIVISOR, zeros), the targets as lists."""
    from mmengine.model.utils import stack_batch

    return {
        "img": stack_batch([s["img"] for s in samples], pad_size_divisor=DIVISOR),
        "bboxes": [s["bboxes"] for s in samples],
        "labels": [s["labels"] for s in samples],
    }


def epoch_with_boxes(loader, device: str) -> torch.Tensor:
    """One epoch of a detection loader (fastload's or mmcv-style dict batches, torchvision's (images, targets)
    tuples); returns the last batch's images and boxes as one flat float tensor, so that the suite's check compares
    both (within its tolerance, in normalized units and pixels alike)."""
    last = None
    for batch in loader:
        last = batch
    if isinstance(last, dict):
        images, boxes = last["img"], last["bboxes"]
    else:
        images, boxes = last[0], [t["boxes"].as_subclass(torch.Tensor) for t in last[1]]
    images = images.to(device)
    if device == "cuda":
        torch.cuda.synchronize()
    return torch.cat([images.flatten().float().cpu(), *(b.flatten().float() for b in boxes)])
