"""A short run of every compiled kernel over its layouts, for compute-sanitizer (scripts/gpu_check.sh runs it under
memcheck, racecheck, synccheck and initcheck): a few hundred launches in seconds, where the test suite under a
sanitizer would outlast the GPU machine's deadline. Odd sizes, strided, reversed (numpy) and channels-last views,
1 and 3 channels, uint8 and every float output dtype, list and packed inputs, `out=` buffers, Mixup/CutMix
out of place and in place, affine warps (nearest and bilinear, with a fill). Every result is
compared with the pure-PyTorch reference on the same inputs (a kernel the sanitizer lets through but computes
wrongly is still caught). Prints the number of calls per op and "driver: ok".

Usage: python scripts/gpu_kernel_driver.py [--device cuda|cpu] [--quick]   (cpu: to try it without a GPU)
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter

import numpy as np
import torch

import fastload as fl
from fastload import _backend
from fastload.functional._augment_ops import inverse_affine as _inverse_affine
from fastload.memory.packed import pack

DTYPES = (torch.float32, torch.float16, torch.bfloat16)
calls: Counter = Counter()


def same(op: str, got, want) -> None:
    """`got` (compiled) against `want` (reference): equal for integers, within float rounding for floats."""
    calls[op] += 1
    got, want = (getattr(x, "images", x) for x in (got, want))
    tol = 2e-2 if got.is_floating_point() else 0.0
    got, want = got.double().cpu(), want.double().cpu()
    assert got.shape == want.shape, (op, tuple(got.shape), tuple(want.shape))
    err = float((got - want).abs().max()) if got.numel() else 0.0
    assert err <= tol * max(1.0, float(want.abs().max()) if want.numel() else 1.0), (op, err)


def both(op: str, fn, *args, **kwargs) -> None:
    """fn(*args, **kwargs) with the compiled kernels, then with the reference, compared."""
    got = fn(*args, **kwargs)
    got = getattr(got, "images", got).clone()  # an `out=` call's reference run writes the same buffer
    with _backend.backend("reference"):
        want = fn(*args, **kwargs)
    same(op, got, want)


def images(rng, n: int, channels: int, device: str) -> list:
    """n uint8 HWC images of odd sizes: contiguous, a strided crop, a reversed numpy view (on the CPU only)."""
    out = []
    for i in range(n):
        h, w = int(rng.integers(1, 41)), int(rng.integers(1, 53))
        a = rng.integers(0, 256, (h + 2, w + 3, channels), dtype=np.uint8)
        kind = i % 3
        if kind == 0:
            out.append(torch.from_numpy(a[:h, :w].copy()).to(device))
        elif kind == 1:
            out.append(torch.from_numpy(a).to(device)[1 : h + 1, 2 : w + 2])  # strided view
        else:
            out.append(a[::-1, ::-1] if device == "cpu" else torch.from_numpy(a[:h, :w].copy()).to(device))
    return out


def run(device: str, quick: bool) -> None:
    rng = np.random.default_rng(0)
    grey = fl.Normalization([127.5], [64.0], order="rgb")
    for channels, dtype, channels_last, order in itertools.product(
        (3, 1), DTYPES[:1] if quick else DTYPES, (False, True), ("bgr", "rgb")
    ):
        norm = grey if channels == 1 else fl.IMAGENET
        imgs = images(rng, 5, channels, device)
        kw = dict(input_order=order, dtype=dtype, channels_last=channels_last)
        for img in imgs[:2]:
            both("normalize", fl.normalize, img, norm, **kw)
        x = fl.normalize(imgs[0], norm, input_order=order, dtype=dtype)
        both("denormalize", fl.denormalize, x, norm, output_order=order)
        both("pad_batch", fl.pad_batch, imgs, norm, size_divisor=8, device=device, **kw)
        both("pad_batch uint8", fl.pad_batch, imgs, size_divisor=8, device=device, input_order=order)
        arrays = [np.ascontiguousarray(i.cpu().numpy() if isinstance(i, torch.Tensor) else i) for i in imgs]
        both("pad_batch packed", fl.pad_batch, pack(arrays, channels, use_ring=False), norm, device=device, **kw)
        boxes = [(0, 0, max(1, img.shape[0] - 1), img.shape[1]) for img in imgs]
        flips = [i % 2 == 0 for i in range(len(imgs))]
        for interpolation in ("bilinear", "nearest"):
            resize = dict(scale=(64, 48), interpolation=interpolation, device=device)
            both("resize_pad_batch", fl.resize_pad_batch, imgs, norm, **resize, **kw)
        for interpolation, antialias in [(i, a) for i in ("bilinear", "nearest") for a in (True, False)] + [
            ("bicubic", True)
        ]:
            crop = dict(flips=flips, interpolation=interpolation, antialias=antialias, device=device)
            both("resized_crop_batch", fl.resized_crop_batch, imgs, boxes, (17, 23), norm, **crop, **kw)
        out = torch.empty(len(imgs), channels, 17, 23, dtype=dtype, device=device)
        out = out.to(memory_format=torch.channels_last) if channels_last else out
        both("resized_crop_batch out=", fl.resized_crop_batch, imgs, boxes, (17, 23), norm, **kw, out=out)
        if channels == 3:
            both("channel_stats", fl.channel_stats, imgs)
        batch = fl.pad_batch(imgs, norm, size_divisor=8, device=device, **kw).images  # odd N: a self-mixed middle
        h, w = batch.shape[2:]
        for box in (None, (1, h - 1, 2, w - 3)):
            both("mix_pairs", fl.mix_pairs, batch, 0.3, box)
            both("mix_pairs in place", lambda b, box=box: fl.mix_pairs(c := b.clone(), 0.3, box, out=c), batch)
        raw = fl.pad_batch(imgs, size_divisor=8, device=device, input_order=order)
        raw = (raw.images if hasattr(raw, "images") else raw).permute(0, 3, 1, 2)  # (N, C, H, W), HWC strides
        n = raw.shape[0]
        color = dict(
            brightness=1.3,
            contrast=[0.6 + 0.2 * i for i in range(n)],
            saturation=1.7,
            hue=[0.3 - 0.15 * i for i in range(n)],
            order=[[(i + k) % 4 for k in range(4)] for i in range(n)],
            grayscale=[i == 1 for i in range(n)],
            solarize=[None if i % 2 else 128.0 for i in range(n)],
            input_order=order,
        )
        values = dict(  # RandAugment's value steps: sharpness (out of place), one reducing step per image
            sharpness=[1.8 if i % 2 == 0 else None for i in range(n)],
            posterize=[3 if i % 3 == 1 else None for i in range(n)],
            solarize_add=[None if i % 2 else 90 for i in range(n)],
            autocontrast=[i % 3 == 0 for i in range(n)],
            equalize=[i % 3 == 1 for i in range(n)],
            invert=[i % 2 == 1 for i in range(n)],
            input_order=order,
        )
        normalized = dict(norm=norm, dtype=dtype, channels_last=channels_last)
        both("adjust_color normalized", fl.adjust_color, raw, **color, **normalized)
        both("adjust_color normalized, sharpness", fl.adjust_color, raw, **values, **normalized)
        if dtype == DTYPES[0]:  # uint8 in and out: once per layout and order
            both("adjust_color", fl.adjust_color, raw, **color)
            both("adjust_color in place", lambda b, kw=color: fl.adjust_color(c := b.clone(), **kw, out=c), raw)
            both("adjust_color RandAugment steps", fl.adjust_color, raw, **values)
            h, w = raw.shape[2:]
            angles = [(-1) ** i * (7.0 + 40 * i) for i in range(n)]
            matrices = [_inverse_affine([0.0, 0.0], a, [3.0 * i, -2.0], [5.0 * i, 0.0]) for i, a in enumerate(angles)]
            for interpolation, fill in (("nearest", None), ("bilinear", [7.0, 130.5, 250.0][:channels])):
                warp = dict(interpolation=interpolation, fill=fill)
                both("warp_affine", fl.warp_affine, raw, matrices, **warp)
                out = torch.empty_like(raw)
                both("warp_affine out=", lambda b, m=matrices, kw=warp, o=out: fl.warp_affine(b, m, **kw, out=o), raw)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--quick", action="store_true", help="float32 only")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("driver: no CUDA device", file=sys.stderr)
        return 2
    run(args.device, args.quick)
    if args.device == "cuda":
        torch.cuda.synchronize()
    print(", ".join(f"{op} {n}" for op, n in sorted(calls.items())))
    print(f"driver: ok ({sum(calls.values())} calls compared with the reference on {args.device})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
