"""Suite `normalize`: BGR HWC uint8 -> normalized RGB CHW float32 (ImageNet statistics).

Cases: one 800x1333 image, a batch of 64 x 224x224, and on CUDA a batch of 256 x 224x224. Peers start from
the same BGR HWC uint8 data and must produce the same values; where a peer's usual input differs (timm's workers hand
over CHW RGB arrays), the preparation is done once outside the timed call and said in the note.
"""

from __future__ import annotations

import numpy as np
import torch

import fastload as fl
from fastload.bench import peers
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
from fastload.bench.data import standard_inputs

NORM = fl.IMAGENET
MEAN_UNIT, STD_UNIT = NORM.unit()


def _torchvision(host: np.ndarray, device: str):
    """torchvision v2 as its docs suggest: ToImage (HWC -> contiguous CHW), BGR flip, ToDtype(scale=True),
    Normalize. On CUDA the decoded uint8 data is already on the device (what ToImage does, on a tensor)."""
    from torchvision.transforms import v2

    to_float = v2.ToDtype(torch.float32, scale=True)
    normalize = v2.Normalize(MEAN_UNIT, STD_UNIT)
    to_image = v2.ToImage()
    if device == "cpu":
        chw = (lambda: to_image(host)) if host.ndim == 3 else (lambda: torch.from_numpy(host).permute(0, 3, 1, 2))
    else:
        data = torch.from_numpy(host).to(device)
        chw = lambda: data.movedim(-1, -3).contiguous()  # noqa: E731

    def run():
        x = chw().flip(-3)  # BGR -> RGB
        return normalize(to_float(x)).as_subclass(torch.Tensor)

    return run


def _albumentations(images: list[np.ndarray], batched: bool):
    A, reason = peers.load("albumentations")
    if A is None:
        return None, reason
    import cv2
    from albumentations.pytorch import ToTensorV2

    pipeline = A.Compose([A.Normalize(mean=MEAN_UNIT, std=STD_UNIT, max_pixel_value=255.0), ToTensorV2()])

    def one(img):
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        return pipeline(image=rgb)["image"].contiguous()  # ToTensorV2 gives a transposed view

    if batched:
        return (lambda: torch.stack([one(img) for img in images])), None
    return (lambda: one(images[0])), None


def _mmengine(images: list[np.ndarray], device: str):
    mmengine, reason = peers.load("mmengine")
    if mmengine is None:
        return None, reason
    from mmengine.model import ImgDataPreprocessor

    pre = ImgDataPreprocessor(mean=NORM.mean, std=NORM.std, bgr_to_rgb=True).to(device)
    # mmengine's datasets hand the preprocessor CHW uint8 tensors (PackInputs permutes the decoded HWC array).
    inputs = [torch.from_numpy(img).permute(2, 0, 1).to(device) for img in images]
    return (lambda: pre({"inputs": inputs}, training=False)["inputs"]), None


def _timm(images: list[np.ndarray], device: str):
    timm, reason = peers.load("timm")
    if timm is None:
        return None, reason
    from timm.data.loader import fast_collate

    # timm's ToNumpy transform (in the workers) yields CHW RGB uint8 arrays; prepared here, outside the timed call.
    samples = [(np.ascontiguousarray(img[..., ::-1].transpose(2, 0, 1)), 0) for img in images]
    mean = torch.tensor([m for m in NORM.mean], device=device).view(1, 3, 1, 1)
    std = torch.tensor([s for s in NORM.std], device=device).view(1, 3, 1, 1)

    def run():
        batch, _ = fast_collate(samples)
        # timm's PrefetchLoader: copy, then .float().sub_(mean * 255).div_(std * 255) (mean/std already in pixels).
        return batch.to(device, non_blocking=True).float().sub_(mean).div_(std)

    return run, None


def _dali(images: list[np.ndarray], device: str, threads: int):
    dali, reason = peers.load("dali")
    if dali is None:
        return None, reason
    from nvidia.dali import fn, pipeline_def, types

    batch = len(images)

    @pipeline_def(
        batch_size=batch, num_threads=max(1, threads), device_id=0 if device == "cuda" else None, prefetch_queue_depth=1
    )
    def pipe():
        x = fn.external_source(name="images", device="cpu" if device == "cpu" else "gpu", layout="HWC")
        x = fn.color_space_conversion(x, image_type=types.BGR, output_type=types.RGB)
        return fn.crop_mirror_normalize(
            x, dtype=types.FLOAT, output_layout="CHW", mean=list(NORM.mean), std=list(NORM.std)
        )

    p = pipe()
    p.build()
    feed = images if device == "cpu" else [torch.from_numpy(img).cuda() for img in images]

    def run():  # the timed call ends with DALI's output batch (on the device); conversion is not timed
        p.feed_input("images", feed)
        (out,) = p.run()
        return out

    return run, None


def _peer_impls(case_images, device, batched, threads):
    """(impls, unavailable) for the peers of one case; a peer that cannot be set up is listed with the reason."""
    impls, unavailable = [], {}

    def squeeze(out):
        return out if batched else out.reshape(out.shape[-3:])

    makers = [
        (
            "timm",
            "fast_collate + PrefetchLoader normalize; CHW RGB input prepared untimed",
            lambda: (
                _timm(case_images, device)
                if batched and device == "cpu"
                else (None, "n/a (batches collated on the CPU)")
            ),
        ),
        ("mmengine", "ImgDataPreprocessor(bgr_to_rgb=True)", lambda: _mmengine(case_images, device)),
        (
            "albumentations",
            "cvtColor + Normalize + ToTensorV2 + contiguous" + (" per image + stack" if batched else ""),
            lambda: _albumentations(case_images, batched) if device == "cpu" else (None, "CPU only"),
        ),
        (
            "dali",
            "color_space_conversion + crop_mirror_normalize pipeline run",
            lambda: _dali(case_images, device, threads),
        ),
    ]
    for name, note, make in makers:
        try:
            fn, reason = make()
        except Exception as exc:  # installed but unusable here (no GPU for DALI, version clash, ...)
            fn, reason = None, f"set-up failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
        if fn is None:
            unavailable[name] = reason
        else:
            to_torch = peers.dali_to_torch if name == "dali" else (lambda out: out)
            impls.append(Impl(name, fn, compare=lambda out, to_torch=to_torch: squeeze(to_torch(out)), note=note))
    return impls, unavailable


@suite("normalize")
def cases(settings) -> list[Case]:
    device = settings.device
    out = []
    for label, host, count in standard_inputs(settings):
        batched = host.ndim == 4
        data = torch.from_numpy(host).to(device)
        bytes_moved = data.numel() * (1 + 4)
        buffer = fl.normalize(data, NORM)
        impls = [
            Impl(FASTLOAD, lambda data=data: fl.normalize(data, NORM)),
            Impl(
                f"{FASTLOAD} (out=)",
                lambda data=data, buffer=buffer: fl.normalize(data, NORM, out=buffer),
                note="writes into a reused buffer: no allocation",
            ),
            Impl(REFERENCE, with_backend("reference", lambda data=data: fl.normalize(data, NORM))),
            Impl(TORCHVISION, _torchvision(host, device), note="v2: ToImage + BGR flip + ToDtype(scale) + Normalize"),
        ]
        peer_impls, unavailable = _peer_impls(list(host) if batched else [host], device, batched, settings.threads)
        impls += peer_impls
        impls.append(copy_floor(bytes_moved, device))
        impls.append(fresh_output_fill(data.numel() * 4, device))
        out.append(
            Case(
                suite="normalize",
                name=label,
                device=device,
                bytes_moved=bytes_moved,
                items=count,
                impls=impls,
                unavailable=unavailable,
                tolerance=1e-4,
            )
        )
    return out
