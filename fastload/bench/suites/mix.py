"""Suite `mix`: on a normalized float32 batch (64 x 3 x 224 x 224; on CUDA also 256), timm's RandomErasing (DeiT's
p=0.25, pixel mode) and batch Mixup and CutMix. fastload's `fl.Mixup` (one pass over each pair, in place) vs timm's
`Mixup` (a flipped copy of the batch, then three passes), both called with the same arguments after the same
`np.random.seed`, so they draw the same lam and box and must give the same batch bit for bit. Each implementation
mixes its own copy of the batch in place, as in training (the first call is the one compared; later calls mix the
mixed batch again). The floor is a copy of the batch (Mixup reads and writes it once); CutMix in place needs only
its box. RandomErasing: `fl.RandomErasing` vs timm's under the same `random` and torch seeds (equal bit for bit),
each erasing its own copy in place.
"""

from __future__ import annotations

import random

import numpy as np
import torch

import fastload as fl
from fastload.bench import peers
from fastload.bench.core import FASTLOAD, REFERENCE, Case, Impl, copy_floor, suite, with_backend
from fastload.bench.data import standard_inputs

RECIPES = {
    "Mixup (alpha 0.8)": dict(mixup_alpha=0.8, cutmix_alpha=0.0, num_classes=1000),
    "CutMix (alpha 1.0)": dict(mixup_alpha=0.0, cutmix_alpha=1.0, num_classes=1000),
}


def _erasing(erase, x: torch.Tensor):
    buf = x.clone()

    def run():
        random.seed(0)
        torch.manual_seed(0)
        return erase(buf)

    return run


def _seeded(mixer, x: torch.Tensor, target: torch.Tensor):
    buf = x.clone()

    def run():
        np.random.seed(0)  # the same draws on every side
        return mixer(buf, target)[0]

    return run


@suite("mix")
def cases(settings) -> list[Case]:
    device = settings.device
    timm, reason = peers.load("timm")
    timm_mixup = None
    if timm is not None:
        from timm.data import Mixup as timm_mixup
    out = []
    for label, host, count in standard_inputs(settings):
        if host.ndim != 4 or count % 2:
            continue  # batches only (pairs of images)
        x = fl.normalize(torch.from_numpy(host).to(device), fl.IMAGENET)
        target = torch.arange(count, device=device) % 1000
        erasing = [Impl(FASTLOAD, _erasing(fl.RandomErasing(0.25, mode="pixel"), x), note="fl.RandomErasing")]
        if timm is not None:
            from timm.data.random_erasing import RandomErasing as timm_erasing

            theirs = timm_erasing(0.25, mode="pixel", device=device)
            erasing.append(Impl("timm", _erasing(theirs, x), note="timm.data.RandomErasing(0.25, mode='pixel')"))
        out.append(
            Case(
                suite="mix",
                name=f"RandomErasing (p 0.25, pixel), {label}",
                device=device,
                bytes_moved=2 * x.numel() * x.element_size(),
                items=count,
                impls=erasing,
                unavailable={} if timm is not None else {"timm": reason},
                tolerance=0.0,
            )
        )
        for recipe, kw in RECIPES.items():
            ours = fl.Mixup(**kw)
            impls = [
                Impl(FASTLOAD, _seeded(ours, x, target), note="fl.Mixup: mix_pairs in place"),
                Impl(REFERENCE, with_backend("reference", _seeded(ours, x, target))),
            ]
            unavailable = {}
            if timm_mixup is None:
                unavailable["timm"] = reason
            else:
                theirs = timm_mixup(**kw)
                impls.append(Impl("timm", _seeded(theirs, x, target), note="timm.data.Mixup, mode='batch'"))
            impls.append(copy_floor(2 * x.numel() * x.element_size(), device))
            out.append(
                Case(
                    suite="mix",
                    name=f"{recipe}, {label}",
                    device=device,
                    bytes_moved=2 * x.numel() * x.element_size(),
                    items=count,
                    impls=impls,
                    unavailable=unavailable,
                    tolerance=0.0,
                )
            )
    return out
