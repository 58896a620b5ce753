"""`warp_affine`: each image of a uint8 batch resampled through its own inverse affine matrix, as torchvision v2's
`affine` and `rotate` sample uint8 tensors, in one op (`fastload::warp_affine`; RandAugment's geometry)."""

from __future__ import annotations

import numbers

import torch

from fastload import _backend
from fastload import _validation as V


def check_fill(fill, channels: int) -> list[float] | None:
    """None, or one fill value per channel in [0, 255] (from one number or a sequence of C)."""
    if fill is None:
        return None
    values = list(fill) if isinstance(fill, (list, tuple)) else [fill]
    if len(values) == 1:
        values = values * channels
    if len(values) != channels or any(
        isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0 <= v <= 255 for v in values
    ):
        raise ValueError(f"fill must be None, a number in [0, 255] or {channels} of them, got {fill!r}")
    return [float(v) for v in values]


def check_images(images) -> None:
    """A uint8 (N, C, H, W) tensor with C = 1 or 3, else a TypeError / ValueError naming `images`."""
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        what = f"a {images.dtype} tensor" if isinstance(images, torch.Tensor) else type(images).__name__
        raise TypeError(f"images must be a uint8 tensor, got {what}")
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be an (N, C, H, W) batch with C = 1 or 3, got shape {tuple(images.shape)}")


def warp_affine(
    images: torch.Tensor, matrices, *, interpolation: str = "nearest", fill=None, out: torch.Tensor | None = None
) -> torch.Tensor:
    """Each image of a uint8 batch through its own inverse affine matrix, as torchvision v2's `affine` / `rotate`
    sample a uint8 tensor (its fp32 grid, grid_sample's coordinates, zeros padding or a fill, rounded).

    Args:
        images: an (N, C, H, W) uint8 tensor (C = 1 or 3; any non-negative strides), on any device.
        matrices: (N, 2, 3) or (N, 6) numbers: image i's inverse matrix [a, b, c, d, e, f], output pixel (x, y)
            (from the image centre) reading source (a x + b y + c, d x + e y + f), as torchvision's
            `_get_inverse_affine_matrix` gives it.
        interpolation: "nearest" (torchvision's default for affine and rotate) or "bilinear".
        fill: the value of pixels from outside the image: None (0, torchvision's fill=None), a number or one per
            channel, in [0, 255].
        out: an optional uint8 tensor of images' shape and device that shares no memory with images.

    Returns:
        The warped (N, C, H, W) uint8 batch (`out` when given; else in images' layout). Equal to torchvision's
            uint8 result bit for bit where ATen's grid_sample runs its AVX2 / AVX-512 kernel (whose fused
            multiply-adds the kernels copy); elsewhere (other CPUs, CUDA) a bilinear value may differ by 1 level and
            a nearest pixel at an exact tie by one position.

    Raises:
        TypeError: images not a uint8 tensor.
        ValueError: a bad shape, matrix, interpolation, fill or out (naming it).
    """
    check_images(images)
    n, c = images.shape[:2]
    table = torch.as_tensor(matrices, dtype=torch.float64).cpu().reshape(-1)
    if table.numel() != 6 * n:
        raise ValueError(f"matrices must be (N, 2, 3) or (N, 6) for {n} images, got {table.numel()} numbers")
    table = table.reshape(n, 6)
    if not torch.compiler.is_compiling() and not bool(torch.isfinite(table).all()):  # compiled: the op checks
        raise ValueError("matrices must hold finite numbers")
    interpolation = V.check_interpolation(interpolation)
    values = check_fill(fill, c) or []
    if out is None:
        return _backend.pick("warp_affine", images.device)(images, table, values, interpolation)
    V.check_image_out(out, images)
    if not torch.compiler.is_compiling() and out.numel() and V.overlaps(out, images):
        raise ValueError("out shares memory with images: every output pixel may read any input pixel")
    _backend.pick("warp_affine_into", images.device)(images, table, values, interpolation, out)
    return out
