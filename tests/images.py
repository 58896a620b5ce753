"""Test images in every memory layout the ops must accept, and the float64 oracle of normalize."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fastload as fl

# Layouts of an (..., H, W, C) uint8 input. numpy views keep negative strides; torch views cover the rest.
VIEWS = (
    "contiguous",  # numpy, C-contiguous
    "torch",  # torch, contiguous
    "sliced",  # every other column of a wider image
    "transposed",  # H and W swapped in a (W, H, C) buffer
    "flip_w",  # img[:, ::-1] (horizontal flip, negative stride)
    "flip_h",  # img[::-1]
    "flip_c",  # img[..., ::-1] (BGR <-> RGB view)
    "flip_all",  # every dim reversed
    "bgra",  # first 3 channels of a 4-channel image (pixel stride 4)
    "torch_transposed",  # torch view with swapped H, W strides
)


def make_image(rng: np.random.Generator, shape: tuple[int, ...], view: str):
    """A uint8 array/tensor of exactly `shape` ((H, W, C) or (N, H, W, C)) laid out as `view`."""
    *lead, h, w, c = shape
    lead = tuple(lead)

    def rand(s):
        return rng.integers(0, 256, size=s, dtype=np.uint8)

    if view == "contiguous":
        return rand(shape)
    if view == "torch":
        return torch.from_numpy(rand(shape))
    if view == "sliced":
        return rand(lead + (h, 2 * w + 1, c))[..., 1::2, :][..., :w, :]
    if view in ("transposed", "torch_transposed"):
        base = rand(lead + (w, h, c))
        out = np.swapaxes(base, -3, -2)
        return torch.from_numpy(base).transpose(-3, -2) if view == "torch_transposed" else out
    if view == "flip_w":
        return rand(shape)[..., ::-1, :]
    if view == "flip_h":
        return rand(shape)[..., ::-1, :, :]
    if view == "flip_c":
        return rand(shape)[..., ::-1]
    if view == "flip_all":
        return rand(shape)[tuple(slice(None, None, -1) for _ in shape)]
    if view == "bgra":
        return rand(lead + (h, w, 4))[..., :c] if c == 3 else rand(lead + (h, w, 2))[..., :1]
    raise ValueError(view)


def to_numpy(img) -> np.ndarray:
    return img.cpu().numpy() if isinstance(img, torch.Tensor) else np.asarray(img)


def normalize_oracle(img, mean, std, model_order: str, input_order: str) -> np.ndarray:
    """float64 (C, H, W) / (N, C, H, W): (x - mean) / std with channels reordered to the model's order."""
    x = np.ascontiguousarray(to_numpy(img)).astype(np.float64)
    if x.shape[-1] == 3 and input_order != model_order:
        x = x[..., ::-1]
    y = (x - np.asarray(mean, dtype=np.float64)) / np.asarray(std, dtype=np.float64)
    return np.moveaxis(y, -1, -3)


def random_norm(rng: np.random.Generator, channels: int) -> fl.Normalization:
    """A random spec (means anywhere in 0-255, stds from 0.5 to 100) in a random model order."""
    return fl.Normalization(
        rng.uniform(0, 255, channels).tolist(),
        rng.uniform(0.5, 100, channels).tolist(),
        str(rng.choice(["rgb", "bgr"])),
        check_units=False,
    )


def fp32_error(expected: np.ndarray, norm: fl.Normalization) -> np.ndarray:
    """How far fp32 (x - mean) * (1 / std) may lie from the exact `expected` ((..., C, H, W), channels in
    norm.order): mean and 1 / std are each rounded to fp32, then the difference and the product, each within 2^-24
    relative, which bounds the error by 2^-22 (|y| + |mean| / std). The |mean| / std term is the one that matters for
    a large mean and a small std (mean 214, std 0.57: 2.3e-5 near y = 0)."""
    ratio = (np.abs(np.asarray(norm.mean)) / np.asarray(norm.std)).reshape(-1, 1, 1)
    return 2.0**-22 * (np.abs(expected) + ratio)


def pad_batch_oracle(images, norm, input_order, size_divisor, pad_value):
    """float64 (N, C, Hp, Wp) normalized batch, or uint8 (N, Hp, Wp, C) when norm is None."""
    arrays = [np.ascontiguousarray(img.cpu().numpy() if isinstance(img, torch.Tensor) else img) for img in images]
    d = size_divisor
    hp = -(-max(a.shape[0] for a in arrays) // d) * d
    wp = -(-max(a.shape[1] for a in arrays) // d) * d
    c = arrays[0].shape[2]
    pad = np.broadcast_to(np.asarray(pad_value, dtype=np.float64), (c,))
    if norm is None:
        out = np.empty((len(arrays), hp, wp, c), np.uint8)
        out[:] = pad.round().astype(np.uint8)
        for i, a in enumerate(arrays):
            out[i, : a.shape[0], : a.shape[1]] = a
        return out
    out = np.empty((len(arrays), c, hp, wp))
    out[:] = pad.reshape(1, c, 1, 1)
    for i, a in enumerate(arrays):
        out[i, :, : a.shape[0], : a.shape[1]] = normalize_oracle(a, norm.mean, norm.std, norm.order, input_order)
    return out


def smooth_images(n: int, seed: int) -> list[np.ndarray]:
    """Smooth random RGB images of varied sizes (a noise image would turn a 1-level resampling difference into large
    ones)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        h, w = (int(v) for v in rng.integers(40, 90, 2))
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        base = rng.uniform(0, 255, (3, 1, 1)) * (0.5 + 0.5 * np.sin(rng.uniform(1, 6, (3, 1, 1)) * (yy + xx)))
        out.append(np.ascontiguousarray(base.transpose(1, 2, 0).clip(0, 255).astype(np.uint8)))
    return out


def files_with_a_bad_one(folder, imgs: list[np.ndarray]) -> list:
    """`imgs` (RGB) written as PNG files into `folder` and opened as `fl.EncodedImage`s, with a file that is not an
    image ("bad.png") third: what a collate with on_error="skip" leaves out."""
    cv2 = pytest.importorskip("cv2")
    paths = []
    for i, img in enumerate(imgs):
        paths.append(folder / f"{i}.png")
        cv2.imwrite(str(paths[-1]), img[:, :, ::-1])
    (folder / "bad.png").write_bytes(b"not an image")
    return [fl.EncodedImage.from_file(p) for p in paths[:2] + [folder / "bad.png"] + paths[2:]]
