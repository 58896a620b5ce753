"""Suite `augment`: RandAugment's operations on a uint8 batch (64 x 224 x 224, the decoders' interleaved HWC memory
viewed as (N, C, H, W); on CUDA also 256 x 224 x 224).

Cases:
- one affine warp per image (`fl.warp_affine`): a rotation of up to 30 degrees, shears of up to 17 degrees and a
  translation of up to a tenth of the image, drawn per image; nearest without a fill (torchvision's RandAugment
  default) and bilinear with timm's fill (124, 116, 104). torchvision v2: `affine` image by image with the same
  parameters; fastload gets the inverse matrices torchvision's `affine` builds from them (its
  `_get_inverse_affine_matrix`).
- RandAugment(2, 9) (torchvision's policy: its 14 operations, 2 per image at bin 9), the operations and magnitudes
  drawn once by `fl.RandAugment` and applied by `fl.functional.augment`; torchvision v2 applies the same ones image
  by image, as its RandAugment does (`_apply_image_or_video_transform`).

The floor is a copy of the batch (an operation reads and writes it once).
"""

from __future__ import annotations

import numpy as np
import torch

import fastload as fl
from fastload.bench.core import FASTLOAD, REFERENCE, TORCHVISION, Case, Impl, copy_floor, suite, with_backend
from fastload.bench.data import standard_inputs

TIMM_FILL = [124, 116, 104]
WARPS = {"nearest, no fill": ("nearest", None), "bilinear, timm's fill": ("bilinear", TIMM_FILL)}


def _affine_params(count: int, h: int, w: int) -> list[tuple[float, list[int], list[float]]]:
    """(angle, translate, shear) per image, from a fixed seed."""
    rng = np.random.default_rng(0)
    return [
        (
            float(rng.uniform(-30, 30)),
            [int(rng.integers(-w // 10, w // 10 + 1)), int(rng.integers(-h // 10, h // 10 + 1))],
            [float(v) for v in rng.uniform(-17, 17, 2)],
        )
        for _ in range(count)
    ]


def _torchvision_affine(x: torch.Tensor, params, interpolation: str, fill):
    from torchvision.transforms import v2

    mode = v2.InterpolationMode(interpolation)

    def run():
        return torch.stack(
            [
                v2.functional.affine(img, angle=a, translate=t, scale=1.0, shear=s, interpolation=mode, fill=fill)
                for img, (a, t, s) in zip(x, params)
            ]
        )

    return run


def _torchvision_ops(x: torch.Tensor, drawn):
    from torchvision.transforms import v2

    policy = v2.RandAugment(interpolation=v2.InterpolationMode(drawn.interpolation), fill=drawn.fill)
    apply = policy._apply_image_or_video_transform  # what its forward applies to each image

    def run():
        out = []
        for img, ops, mags in zip(x, drawn.ops, drawn.magnitudes):
            for op, m in zip(ops, mags):
                img = apply(img, op, m, interpolation=policy.interpolation, fill=policy._fill)
            out.append(img)
        return torch.stack(out)

    return run


def _case(name: str, x: torch.Tensor, count: int, ours, theirs, note: str, their_note: str) -> Case:
    bytes_moved = 2 * x.numel()
    return Case(
        suite="augment",
        name=name,
        device=str(x.device.type),
        bytes_moved=bytes_moved,
        items=count,
        impls=[
            Impl(FASTLOAD, ours, note=note),
            Impl(REFERENCE, with_backend("reference", ours)),
            Impl(TORCHVISION, theirs, note=their_note),
            copy_floor(bytes_moved, x.device.type),
        ],
        tolerance=1.0,  # CUDA's bilinear values may differ by a level (fp32 contractions); the CPU's are exact
    )


@suite("augment")
def cases(settings) -> list[Case]:
    from torchvision.transforms.v2.functional._geometry import _get_inverse_affine_matrix

    out = []
    for label, host, count in standard_inputs(settings):
        if host.ndim != 4:
            continue  # batches
        x = torch.from_numpy(host).to(settings.device).permute(0, 3, 1, 2)  # interleaved memory, NCHW view
        h, w = x.shape[-2:]
        params = _affine_params(count, h, w)
        matrices = [_get_inverse_affine_matrix([0.0, 0.0], a, [float(v) for v in t], 1.0, s) for a, t, s in params]
        for warp, (interpolation, fill) in WARPS.items():
            out.append(
                _case(
                    f"one affine warp per image ({warp}), {label}",
                    x,
                    count,
                    lambda x=x, m=matrices, interpolation=interpolation, fill=fill: fl.warp_affine(
                        x, m, interpolation=interpolation, fill=fill
                    ),
                    _torchvision_affine(x, params, interpolation, fill),
                    "fl.warp_affine: every image's inverse matrix, one call",
                    "v2.functional.affine per image",
                )
            )
        drawn = fl.RandAugment().draw(count, h, w, generator=torch.Generator().manual_seed(0))
        out.append(
            _case(
                f"RandAugment(2, 9) operations, {label}",
                x,
                count,
                lambda x=x, drawn=drawn: fl.functional.augment(
                    x, drawn.ops, drawn.magnitudes, interpolation=drawn.interpolation, fill=drawn.fill
                ),
                _torchvision_ops(x, drawn),
                "fl.functional.augment: each step one batched call per kind of operation",
                "v2.RandAugment's operations per image (the same draws)",
            )
        )
    return out
