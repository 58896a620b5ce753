"""Suite `detection`: COCO-format detection from JPEG files, the way mmdetection trains: keep-ratio resize to
(1333, 800) (mmcv's sizes, bilinear), horizontal flip with probability 0.5, ImageNet normalize to RGB, pad to a
multiple of 32; batches of 8 from a DataLoader with 2 workers, one epoch a timed call.

- fastload: `fl.CocoDetection` (the encoded files and the targets) + `fl.PadCollate(norm, size_divisor=32,
  scale=(1333, 800), flip_p=0.5, label_mode="mmdet")`: each file decoded into scratch, then resize + flip + normalize
  + pad straight into the batch in the worker's ring, boxes moved with it.
- torchvision: `CocoDetection` wrapped for v2, per sample ToImage, Resize (to the same sizes), RandomHorizontalFlip,
  ToDtype, Normalize, and a padding collate.
- mmcv-style (where mmcv and mmengine are installed): cv2.imread, `mmcv.imrescale`, `imflip`, `imnormalize`, and
  mmengine's `stack_batch`.

Each batch seeds the torch RNG with its first index and every pipeline draws one `torch.rand(1)` an image, so all of
them flip the same images. The check compares the last batch's images and boxes: within one grey level (OpenCV's and
torch's uint8 bilinear round, fastload keeps fp32) and within that many pixels (the same float64/float32
arithmetic). The tests check the boxes and metadata against mmcv's transforms exactly.
"""

from __future__ import annotations

import os

from torch.utils.data import DataLoader

import fastload as fl
from fastload.bench import peers
from fastload.bench.core import FASTLOAD, REFERENCE, TORCHVISION, Case, Impl, copy_floor, suite, with_backend
from fastload.bench.det_loaders import (
    COCO_SIZES,
    DIVISOR,
    FLIP_P,
    SCALE,
    MmcvDetection,
    TorchvisionCocoDetection,
    epoch_with_boxes,
    mmengine_collate,
    torchvision_collate,
    write_coco,
)
from fastload.bench.file_loaders import NORM, SeededBatches, loader_options
from fastload.bench.suites.crop import GREY_LEVEL

BATCH = 8


@suite("detection")
def cases(settings) -> list[Case]:
    quick = settings.scale < 1 or settings.min_time < 0.1
    count, s = (32 if quick else 96), min(1.0, settings.scale)
    root, ann_file = write_coco(settings.source, COCO_SIZES, count, s)
    dataset = fl.CocoDetection(root, ann_file, label_mode="mmdet")
    scale = SCALE if s == 1 else tuple(max(8, round(v * s)) for v in SCALE)
    collate = fl.PadCollate(
        NORM, size_divisor=DIVISOR, scale=scale, flip_p=FLIP_P, label_mode="mmdet", num_classes=dataset.num_classes
    )
    options, device = loader_options(BATCH), settings.device
    ours = DataLoader(SeededBatches(dataset), collate_fn=collate, **options)
    reference = DataLoader(SeededBatches(dataset), collate_fn=with_backend("reference", collate), **options)
    tv = SeededBatches(TorchvisionCocoDetection(root, ann_file, scale))
    theirs = DataLoader(tv, collate_fn=torchvision_collate, **options)
    targets = [dataset.targets(i) for i in range(count)]
    sizes = [fl.rescale_size((w, h), scale)[0] for h, w in (t["ori_shape"] for t in targets)]
    moved = sum(os.path.getsize(t["img_path"]) for t in targets)
    moved += sum(3 * w * h * 4 for w, h in sizes)  # files read, resized images written
    impls = [
        Impl(
            FASTLOAD,
            lambda: epoch_with_boxes(ours, device),
            note=f"fl.CocoDetection + fl.PadCollate(norm, size_divisor={DIVISOR}, scale={scale}, flip_p={FLIP_P}, "
            'label_mode="mmdet"): decode, then resize + flip + normalize + pad in one pass into the ring',
        ),
        Impl(
            REFERENCE,
            lambda: epoch_with_boxes(reference, device),
            note="the same pipeline with the pure-PyTorch resize",
        ),
        Impl(
            TORCHVISION,
            lambda: epoch_with_boxes(theirs, device),
            note="CocoDetection (v2 wrapper) + per sample ToImage, Resize (mmcv's sizes), RandomHorizontalFlip, "
            "ToDtype, Normalize + a padding collate",
        ),
    ]
    unavailable = {}
    mmcv, why = peers.load("mmcv")
    mmengine, why_engine = peers.load("mmengine")
    if mmcv is None or mmengine is None:
        unavailable["mmcv-style"] = why if mmcv is None else f"mmengine {why_engine}"
    else:
        mm = DataLoader(SeededBatches(MmcvDetection(root, ann_file, scale)), collate_fn=mmengine_collate, **options)
        impls.append(
            Impl(
                "mmcv-style",
                lambda: epoch_with_boxes(mm, device),
                note="cv2.imread + mmcv.imrescale + imflip + imnormalize per sample + mmengine's stack_batch",
            )
        )
    impls.append(copy_floor(moved, device))
    job = f"keep-ratio {scale}, flip, normalize, pad/{DIVISOR}, batches of {BATCH}" + ("" if s == 1 else f" (x{s:g})")
    return [
        Case(
            suite="detection",
            name=f"{count} COCO-style JPEGs -> {job}",
            device=device,
            bytes_moved=moved,
            items=count,
            impls=impls,
            unavailable=unavailable,
            tolerance=GREY_LEVEL,
            reps=3,
        )
    ]
