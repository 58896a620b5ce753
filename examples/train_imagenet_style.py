"""ImageNet-style training with fastload's fused classification pipeline, on a folder of JPEG files:

    python examples/train_imagenet_style.py --device cpu

A few of the bundled photos are written as JPEG into a temporary folder (one class per photo, as an ImageFolder
lays them out), read with `fl.ImageFolder` (each sample the file's bytes and its label). In the workers
`CropCollate` reads each file's header, draws the batch's RandomResizedCrop boxes and flips exactly as torchvision's
transforms would from the same RNG state, and decodes only each box (libjpeg-turbo, the pixels cv2.imdecode gives).
The decoded boxes travel through the workers' shared-memory rings, and `DevicePrefetcher` crops, resizes
(antialiased), flips and normalizes each batch in one pass on the device. Evaluation uses Resize + CenterCrop, also
fused, decoding only the centre the crop reads.

Before, with torchvision, per image in the workers:
    train: RandomResizedCrop(S) -> RandomHorizontalFlip() -> ToTensor() -> Normalize(mean, std)
    eval:  Resize(S * 8 // 7) -> CenterCrop(S) -> ToTensor() -> Normalize(mean, std)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import cv2
import torch
from torch import nn
from torch.utils.data import DataLoader
from train_classifier import evaluate, make_model, train_epoch

import fastload as fl
from fastload.photos import bundled_photos


def write_jpeg_folder(root: str, copies: int) -> None:
    """The bundled photos as `root/<class>/<i>.jpg`, `copies` JPEG files per photo (qualities differ, so the
    files do)."""
    photos = bundled_photos()
    if not photos:
        raise SystemExit("this example writes scikit-image's sample photos as JPEG files: pip install scikit-image")
    for label, photo in enumerate(photos):
        folder = os.path.join(root, f"class_{label}")
        os.makedirs(folder, exist_ok=True)
        for i in range(copies):
            cv2.imwrite(os.path.join(folder, f"{i}.jpg"), photo, [cv2.IMWRITE_JPEG_QUALITY, 70 + i % 25])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cpu", "cuda"))
    parser.add_argument("--size", type=int, default=96, help="crop size (224 for ImageNet models)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--copies", type=int, default=16, help="JPEG files per class")
    parser.add_argument("--max-steps", type=int, default=None, help="stop early (for smoke tests)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    start = time.perf_counter()
    norm = fl.IMAGENET  # pretrained-style statistics; fl.compute_mean_std(...) gives a dataset's own

    with tempfile.TemporaryDirectory() as root:
        write_jpeg_folder(root, args.copies)
        files = fl.ImageFolder(root)  # torchvision's ImageFolder layout; samples are (fl.EncodedImage, label)
        classes = len(files.classes)
        print(f"{len(files)} JPEG files in {classes} class folders")
        # No pin_memory: DevicePrefetcher copies the workers' ring batches from their page-locked mapping itself.
        loader_args = dict(num_workers=args.workers, persistent_workers=args.workers > 0)
        train_collate = fl.CropCollate(args.size, label_mode="classification", num_classes=classes)
        eval_collate = fl.CropCollate(
            args.size, train=False, resize=args.size * 8 // 7, label_mode="classification", num_classes=classes
        )
        train_batches = fl.DevicePrefetcher(
            DataLoader(files, batch_size=16, shuffle=True, collate_fn=train_collate, **loader_args), args.device, norm
        )
        eval_batches = fl.DevicePrefetcher(
            DataLoader(files, batch_size=32, collate_fn=eval_collate, **loader_args), args.device, norm
        )

        model = make_model(classes, channels=3).to(args.device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
        loss_fn = nn.CrossEntropyLoss()
        step, accuracy = 0, 0.0
        for epoch in range(args.epochs):
            # Batches: (16, 3, S, S) float32 RGB, cropped, flipped and normalized on the device.
            step, loss = train_epoch(model, train_batches, optimizer, loss_fn, step, args.max_steps)
            accuracy = evaluate(model, eval_batches)
            print(f"epoch {epoch + 1}: loss {loss:.4f}, centre-crop accuracy {accuracy:.2%}")
            if args.max_steps is not None and step >= args.max_steps:
                break
    print(f"done in {time.perf_counter() - start:.1f} s, final centre-crop accuracy {accuracy:.2%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
