"""Suite `denormalize`: normalized RGB CHW float32 -> BGR HWC uint8 with rounding and clipping (ImageNet statistics).

Cases: the standard inputs (one 800x1333 image, 64 x 224x224, on CUDA also 256 x 224x224), normalized by fastload
beforehand. The torchvision-style chain is what people write by hand with torch ops (torchvision has no
denormalize): x * std + mean -> clamp -> round -> to(uint8) -> permute -> flip -> contiguous.
"""

from __future__ import annotations

import numpy as np
import torch

import fastload as fl
from fastload.bench import peers
from fastload.bench.core import FASTLOAD, REFERENCE, TORCHVISION, Case, Impl, copy_floor, suite, with_backend
from fastload.bench.data import standard_inputs

NORM = fl.IMAGENET


def _torch_chain(x: torch.Tensor):
    std = torch.tensor(NORM.std, device=x.device).view(3, 1, 1)
    mean = torch.tensor(NORM.mean, device=x.device).view(3, 1, 1)

    def run():
        y = (x * std + mean).clamp(0, 255).round().to(torch.uint8)
        return y.movedim(-3, -1).flip(-1).contiguous()  # CHW RGB -> HWC BGR

    return run


def _mmcv(x: torch.Tensor):
    mmcv, reason = peers.load("mmcv")
    if mmcv is None:
        return None, reason
    host = [img.permute(1, 2, 0).numpy() for img in (x if x.dim() == 4 else x[None])]
    mean, std = np.array(NORM.mean), np.array(NORM.std)

    def run():  # mmcv.imdenormalize has no round or clip; added so the values are comparable
        out = [
            np.clip(np.rint(mmcv.imdenormalize(img, mean, std, to_bgr=True)), 0, 255).astype(np.uint8) for img in host
        ]
        return np.stack(out) if x.dim() == 4 else out[0]

    return run, None


@suite("denormalize")
def cases(settings) -> list[Case]:
    device = settings.device
    out = []
    for label, host, count in standard_inputs(settings):
        x = fl.normalize(torch.from_numpy(host).to(device), NORM)
        bytes_moved = x.numel() * (4 + 1)
        impls = [
            Impl(FASTLOAD, lambda x=x: fl.denormalize(x, NORM)),
            Impl(REFERENCE, with_backend("reference", lambda x=x: fl.denormalize(x, NORM))),
            Impl(TORCHVISION, _torch_chain(x), note="torch ops: *std +mean, clamp, round, uint8, permute, flip"),
        ]
        unavailable = {}
        if device == "cpu":
            run, reason = _mmcv(x)
            if run is None:
                unavailable["mmcv"] = reason
            else:
                impls.append(Impl("mmcv", run, compare=torch.from_numpy, note="imdenormalize + rint + clip"))
        impls.append(copy_floor(bytes_moved, device))
        # Every result is a uint8 image: all implementations must agree exactly.
        out.append(
            Case(
                suite="denormalize",
                name=label,
                device=device,
                bytes_moved=bytes_moved,
                items=count,
                impls=impls,
                unavailable=unavailable,
                tolerance=0.0,
            )
        )
    return out
