"""Gaussian blur of uint8 batches, torchvision v2's `gaussian_blur` per image with its own sigma: the kernel's
taps as a separable resampling with the image's own size (reflected taps folded onto the rows and columns they
read), run by the crop kernels (`fastload::resized_crop_batch`, every backend)."""

from __future__ import annotations

import math
import numbers

import torch

from fastload.functional._crop import resample_batch
from fastload.functional._pad import BatchSource


def _kernels(size: int, sigmas: torch.Tensor) -> torch.Tensor:
    """torchvision v2's `_get_gaussian_kernel1d` in float32 for each of the (M,) float32 `sigmas`, as (M, size): softmax
    of -((linspace(-lim, lim) / sigma)^2), lim = (size - 1) / (2 sqrt 2). Row for row the bits of torchvision's one
    kernel (the same float32 division, square and per-row softmax), in a few ops for the whole batch."""
    lim = (size - 1) / (2.0 * math.sqrt(2.0))
    x = torch.linspace(-lim, lim, steps=size, dtype=torch.float32)[None, :] / sigmas[:, None]
    return torch.softmax(x.pow_(2).neg_(), dim=1)


def _axis(length: int, size: int, sigmas: list) -> tuple[torch.Tensor, torch.Tensor]:
    """(starts, weights) of one axis for every image: output index y reads y - r .. y + r with torch's "reflect"
    padding (index -1 is 1, length is length - 2), each reflected tap's weight added to the one it lands on, so a
    row reads one contiguous run; an image with sigma None gets the identity (one tap of weight 1). Built for the
    whole batch at once (a Python loop over the images cost ~15 us an image, as much as blurring a 96 x 96 crop)."""
    r, n = size // 2, len(sigmas)
    y = torch.arange(length)
    taps = y[:, None] + torch.arange(-r, r + 1)[None, :]  # (length, size) source indices before reflection
    taps = torch.where(taps < 0, -taps, taps)
    taps = torch.where(taps >= length, 2 * (length - 1) - taps, taps)
    first = taps.min(dim=1).values
    starts = y.repeat(n, 1)
    weights = torch.zeros((n, length, size), dtype=torch.float32)
    weights[:, :, 0] = 1.0
    blurred = [i for i, sigma in enumerate(sigmas) if sigma is not None]
    if blurred:
        k = _kernels(size, torch.tensor([sigmas[i] for i in blurred], dtype=torch.float32))
        shape = (len(blurred), length, size)
        folded = torch.zeros(shape, dtype=torch.float32)  # folded taps summed in fp32, in tap order
        folded.scatter_add_(2, (taps - first[:, None]).expand(shape), k[:, None, :].expand(shape))
        index = torch.tensor(blurred)
        weights[index], starts[index] = folded, first
    return starts, weights


def _sigmas(sigma, n: int) -> list:
    values = (
        list(sigma.tolist() if isinstance(sigma, torch.Tensor) else sigma)
        if not isinstance(sigma, numbers.Real)
        else [sigma] * n
    )
    if len(values) != n:
        raise ValueError(f"sigma must be one value or one per image ({n}), got {len(values)}")
    for v in values:
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0 < v < math.inf):
            raise ValueError(f"sigma must hold numbers > 0 (or None: no blur), got {v!r}")
    return [None if v is None else float(v) for v in values]


def gaussian_blur(images: torch.Tensor, kernel_size, sigma, *, device=None) -> torch.Tensor:
    """torchvision v2's `gaussian_blur` of a uint8 batch, each image with its own sigma, in one separable pass.

    Args:
        images: an (N, C, H, W) uint8 tensor (C = 1 or 3; any strides, e.g. an (N, H, W, C) batch permuted), on any
            device.
        kernel_size: an odd int, or (kx, ky) odd ints (torchvision's order: width first); each at most the image
            side + 1 and below twice it (torch's reflect padding needs pad < side).
        sigma: a number > 0 (the same along x and y), or one per image, where None leaves that image as it is.
        device: where the batch is made (default: where the images are).

    Returns:
        The blurred (N, C, H, W) uint8 batch (channels_last strides), within 1 grey level of torchvision v2's
            `gaussian_blur` (its 2-D conv sums in another order; both round half to even).

    Raises:
        TypeError: images not a uint8 tensor.
        ValueError: images not (N, 1|3, H, W), a bad kernel_size or sigma, a kernel too large for the images.
    """
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        what = f"a {images.dtype} tensor" if isinstance(images, torch.Tensor) else type(images).__name__
        raise TypeError(f"images must be a uint8 tensor, got {what}")
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be an (N, C, H, W) batch with C = 1 or 3, got shape {tuple(images.shape)}")
    pair = [kernel_size, kernel_size] if isinstance(kernel_size, numbers.Integral) else list(kernel_size)
    if len(pair) != 2 or not all(
        isinstance(k, numbers.Integral) and not isinstance(k, bool) and k > 0 and k % 2 for k in pair
    ):
        raise ValueError(f"kernel_size must be an odd int > 0 or a (kx, ky) pair of them, got {kernel_size!r}")
    kx, ky = (int(k) for k in pair)
    n, _, h, w = images.shape
    if n and (ky // 2 >= h or kx // 2 >= w):
        raise ValueError(
            f"kernel_size {(kx, ky)} is too large for {h}x{w} images (reflect padding needs k // 2 < side)"
        )
    return blur_views(list(images.permute(0, 2, 3, 1).unbind(0)), (kx, ky), _sigmas(sigma, n), device)


def blur_views(views: list, kernel: tuple[int, int], sigmas: list, device=None) -> torch.Tensor:
    """`gaussian_blur` of (H, W, C) uint8 views of equal size (checked sizes and sigmas; e.g. some images of a batch,
    not gathered first): an (N, C, H, W) uint8 batch."""
    kx, ky = kernel
    h, w = views[0].shape[:2]
    src = BatchSource.of(views, None)
    ys, xs = _axis(h, ky, sigmas), _axis(w, kx, sigmas)
    out = resample_batch(
        src,
        ys,
        xs,
        (h, w),
        norm=None,
        input_order="rgb",
        dtype=torch.float32,
        channels_last=False,
        device=device,
        out=None,
    )
    return out.permute(0, 3, 1, 2)
