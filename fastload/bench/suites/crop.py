"""Suite `crop`: the ImageNet classification input pipeline. 64 decoded BGR images of about 500x375 (both
orientations) -> a 224x224 fp32 RGB normalized batch:

- train: RandomResizedCrop boxes (drawn once, as torchvision draws them) and horizontal flips -> fastload
  `resized_crop_batch` (one pass, antialiased) vs torchvision v2 per image (resized_crop with antialias=True,
  horizontal_flip, to_dtype, normalize) + stack;
- train bicubic (timm's ViT / ConvNeXt recipe): the same boxes and flips, interpolation="bicubic" both sides;
- eval: Resize(256) + CenterCrop(224) -> fastload `resize_center_crop_batch` vs torchvision v2 per image + stack.

Peers, where installed, on the same images, boxes and flips (each with its own filter, and checked against fastload
computing that filter):
- timm's PIL path on RGB PIL images prepared up front: eval is `create_transform(224, is_training=False,
  crop_pct=0.875, interpolation="bilinear")`; train is what its RandomResizedCropAndInterpolation does once it has
  drawn a box (`resized_crop` on the PIL image, bilinear), then flip, MaybeToTensor, Normalize;
- albumentations (CPU) on cv2.cvtColor'd RGB arrays: train is RandomResizedCrop's and HorizontalFlip's `apply` with
  the drawn boxes, then Normalize and ToTensorV2; eval is Compose([SmallestMaxSize(256), CenterCrop(224),
  Normalize, ToTensorV2]). Both resize with OpenCV INTER_LINEAR (no antialiasing): checked against fastload with
  antialias=False, and SmallestMaxSize's rounding of the long side;
- DALI's operators (CPU, or GPU on CUDA), one pipeline run per batch: color_space_conversion, slice (the box),
  resize (antialiased linear), crop_mirror_normalize (flip, normalize; eval: the centre crop, at torchvision's
  anchor, after a resize to torchvision's size). DALI's resize extends an image past its edges by repeating the
  edge pixels where torchvision drops the taps outside and renormalizes, so the train batch is compared inside a
  1-pixel border (its outermost pixels differ by up to ~7 grey levels).
torchvision's uint8 antialiased resize, PIL, OpenCV and DALI round to uint8; fastload keeps fp32, so values may
differ by 1 grey level (1 / 57 in normalized units).
"""

from __future__ import annotations

import torch

import fastload as fl
from fastload.bench import crop_peers, peers
from fastload.bench.core import (
    FASTLOAD,
    REFERENCE,
    TORCHVISION,
    Case,
    Impl,
    copy_floor,
    fresh_output_fill,
    suite,
    with_backend,
)

NORM = crop_peers.NORM
RAW_SIZES = [(375, 500), (500, 375), (333, 500), (500, 333), (375, 499), (400, 500), (500, 400), (360, 480)]
COUNT, SIZE = 64, 224
GREY_LEVEL = 1.0 / 57.0 + 1e-4  # one uint8 step in normalized units (1 / (255 * min std)): the peers' tolerance


def _inside(x: torch.Tensor) -> torch.Tensor:
    """x without its outermost pixel rows and columns (N, C, H, W)."""
    return x[..., 1:-1, 1:-1]


@suite("crop")
def cases(settings) -> list[Case]:
    device, s = settings.device, min(1.0, settings.scale)
    images = settings.source.images(RAW_SIZES, COUNT, s, minimum=8)
    on_device = [torch.from_numpy(img).to(device) for img in images]
    chw = [t.permute(2, 0, 1) for t in on_device]
    generator = torch.Generator().manual_seed(0)
    boxes = [fl.random_resized_crop_params(img.shape[0], img.shape[1], generator=generator) for img in images]
    flips = (torch.rand(COUNT, generator=generator) < 0.5).tolist()
    size = round(SIZE * s) if s < 1 else SIZE
    resize = round(256 * size / SIZE)
    out_bytes = COUNT * 3 * size * size * 4
    read = sum(img.size for img in images)

    def train():
        return fl.resized_crop_batch(on_device, boxes, size, NORM, flips=flips)

    def evaluate():
        return fl.resize_center_crop_batch(on_device, resize, size, NORM)

    def train_bicubic():
        return fl.resized_crop_batch(on_device, boxes, size, NORM, flips=flips, interpolation="bicubic")

    train_impls = [
        Impl(FASTLOAD, train),
        Impl(REFERENCE, with_backend("reference", train)),
        Impl(
            TORCHVISION,
            crop_peers.torchvision_train(chw, boxes, flips, size),
            note="v2 resized_crop(antialias=True) + horizontal_flip + to_dtype + normalize, per image; stack",
        ),
        copy_floor(read + out_bytes, device),
        fresh_output_fill(out_bytes, device),
    ]
    eval_impls = [
        Impl(FASTLOAD, evaluate),
        Impl(REFERENCE, with_backend("reference", evaluate)),
        Impl(
            TORCHVISION,
            crop_peers.torchvision_eval(chw, resize, size),
            note=f"v2 resize({resize}, antialias=True) + center_crop({size}) + to_dtype + normalize, per image; stack",
        ),
        copy_floor(read + out_bytes, device),
        fresh_output_fill(out_bytes, device),
    ]
    bicubic_impls = [
        Impl(FASTLOAD, train_bicubic),
        Impl(REFERENCE, with_backend("reference", train_bicubic)),
        Impl(
            TORCHVISION,
            crop_peers.torchvision_train(chw, boxes, flips, size, "bicubic"),
            note="v2 resized_crop(BICUBIC, antialias=True) + horizontal_flip + to_dtype + normalize, per image; stack",
        ),
        copy_floor(read + out_bytes, device),
        fresh_output_fill(out_bytes, device),
    ]
    unavailable = {}
    peer_train, peer_eval = [], []
    if device == "cpu":
        timm_train, timm_eval, reason = crop_peers.timm(images, boxes, flips, size, resize)
        if reason is not None:
            unavailable["timm"] = reason
        else:
            peer_train.append(
                Impl(
                    "timm",
                    timm_train,
                    note="PIL resized_crop (bilinear) + hflip + ToTensor + Normalize, per image; stack",
                )
            )
            peer_eval.append(Impl("timm", timm_eval, note="create_transform(is_training=False), per image; stack"))
        alb_train, alb_eval, alb_sizes, reason = crop_peers.albumentations(images, boxes, flips, size, resize)
        if reason is not None:
            unavailable["albumentations"] = reason
        else:
            peer_train.append(
                Impl(
                    "albumentations",
                    alb_train,
                    expected=lambda: fl.resized_crop_batch(images, boxes, size, NORM, flips=flips, antialias=False),
                    note="cvtColor + RandomResizedCrop.apply (INTER_LINEAR) + HorizontalFlip.apply + Normalize + "
                    "ToTensorV2, per image; stack (vs fastload antialias=False)",
                )
            )
            peer_eval.append(
                Impl(
                    "albumentations",
                    alb_eval,
                    expected=lambda: torch.cat(
                        [
                            fl.resize_center_crop_batch([img], hw, size, NORM, antialias=False)
                            for img, hw in zip(images, alb_sizes)
                        ]
                    ),
                    note="cvtColor + SmallestMaxSize + CenterCrop + Normalize + ToTensorV2, per image; stack "
                    "(vs fastload antialias=False at SmallestMaxSize's sizes)",
                )
            )
    else:
        unavailable["albumentations"] = unavailable["timm"] = "CPU only"
    dali_train, dali_eval, reason = crop_peers.dali(images, boxes, flips, size, resize, device, settings.threads)
    if reason is not None:
        unavailable["dali"] = reason
    else:
        peer_train.append(
            Impl(
                "dali",
                dali_train,
                compare=lambda out: _inside(peers.dali_to_torch(out)),
                expected=lambda: _inside(train()),
                note="color_space_conversion + slice + resize(antialias) + crop_mirror_normalize, "
                "one pipeline run; compared inside a 1-pixel border",
            )
        )
        peer_eval.append(
            Impl(
                "dali",
                dali_eval,
                compare=peers.dali_to_torch,
                note="color_space_conversion + resize(antialias) + crop_mirror_normalize(crop), one pipeline run",
            )
        )
    train_impls[3:3], eval_impls[3:3] = peer_train, peer_eval
    suffix = "" if s == 1 else f" (x{s:g})"
    return [
        Case(
            suite="crop",
            name=f"train {COUNT} ImageNet-like -> RandomResizedCrop {size}, flip{suffix}",
            device=device,
            bytes_moved=read + out_bytes,
            items=COUNT,
            impls=train_impls,
            unavailable=unavailable,
            tolerance=GREY_LEVEL,
        ),
        Case(
            suite="crop",
            name=f"train {COUNT} ImageNet-like -> RandomResizedCrop {size} bicubic, flip{suffix}",
            device=device,
            bytes_moved=read + out_bytes,
            items=COUNT,
            impls=bicubic_impls,
            unavailable={},
            # torchvision on uint8 CPU images: the same bits; on a GPU it resamples in float (no bytes between the
            # passes), up to tens of levels apart near hard edges (docs/guides/crops.md)
            tolerance=GREY_LEVEL if device == "cpu" else 32.0 / 57.0,
        ),
        Case(
            suite="crop",
            name=f"eval {COUNT} ImageNet-like -> Resize {resize}, CenterCrop {size}{suffix}",
            device=device,
            bytes_moved=read + out_bytes,
            items=COUNT,
            impls=eval_impls,
            unavailable=unavailable,
            tolerance=GREY_LEVEL,
        ),
    ]
