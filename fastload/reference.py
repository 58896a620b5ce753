"""Pure-PyTorch implementation of every fastload op: the fallback when the extension is missing, and the oracle the
compiled kernels are tested against. Each function has the signature of its `torch.ops.fastload` twin and computes the
same fp32 arithmetic, so on the same device they agree bit for bit."""

from __future__ import annotations

import inspect

import torch

from fastload.reference_color import adjust_color, adjust_color_layout, adjust_color_normalize  # noqa: F401 (the op table reads them here)
from fastload.reference_images import fill_channels, flip, normalize_output, pad_batch_output, unpack  # noqa: F401
from fastload.reference_resize import resize_pad_batch, resize_pad_batch_packed  # noqa: F401 (the op table's)
from fastload.reference_warp import augment, warp_affine  # noqa: F401 (the op table reads them here)


def normalize(
    img: torch.Tensor,
    mean: list[float],
    inv_std: list[float],
    channel_map: list[int],
    flip_mask: int,
    dtype: torch.dtype,
    channels_last: bool,
) -> torch.Tensor:
    """uint8 `img` (H, W, C) or (N, H, W, C), read with the dims in bit mask `flip_mask` reversed -> `dtype`
    (C, H, W) / (N, C, H, W), output channel k = (img[..., channel_map[k]] - mean[k]) * inv_std[k] computed in fp32,
    rounded once to `dtype`."""
    x = flip(img, flip_mask)
    if list(channel_map) != list(range(x.shape[-1])):
        x = x[..., list(channel_map)]
    mean_t = torch.tensor(mean, dtype=torch.float32, device=x.device)
    inv_std_t = torch.tensor(inv_std, dtype=torch.float32, device=x.device)
    y = ((x.to(torch.float32) - mean_t) * inv_std_t).to(dtype)
    out = normalize_output(img, dtype, channels_last)
    # copy_ into the op's own layout: HWC order for channels_last, CHW otherwise.
    out.copy_(y.movedim(-1, -3))
    return out


def normalize_into(
    img: torch.Tensor,
    mean: list[float],
    inv_std: list[float],
    channel_map: list[int],
    flip_mask: int,
    out: torch.Tensor,
) -> None:
    """`normalize` written into `out` (its dtype and layout decide the result's); returns None like the op."""
    out.copy_(normalize(img, mean, inv_std, channel_map, flip_mask, out.dtype, False))


def denormalize_output(x: torch.Tensor) -> torch.Tensor:
    """Empty result of `denormalize` for `x` (C, H, W) / (N, C, H, W): uint8 (H, W, C) / (N, H, W, C)."""
    *lead, c, h, w = x.shape
    return x.new_empty((*lead, h, w, c), dtype=torch.uint8)


def denormalize(x: torch.Tensor, mean: list[float], std: list[float], channel_map: list[int]) -> torch.Tensor:
    """float `x` (C, H, W) / (N, C, H, W) -> uint8 (H, W, C) / (N, H, W, C), output channel k =
    clamp(round_half_even(x[channel_map[k]] * std[k] + mean[k]), 0, 255) in fp32; NaN -> 0, +-inf clip."""
    x = x.detach()
    if list(channel_map) != list(range(x.shape[-3])):
        x = x[..., list(channel_map), :, :]
    shape = (len(mean), 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=x.device).view(shape)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=x.device).view(shape)
    v = x.to(torch.float32) * std_t + mean_t
    v = torch.nan_to_num(v, nan=0.0).clamp_(0.0, 255.0).round_()
    return v.to(torch.uint8).movedim(-3, -1).contiguous()


def pad_batch(
    images: list[torch.Tensor],
    flip_masks: list[int],
    batch_hw: list[int],
    mean: list[float] | None,
    inv_std: list[float] | None,
    channel_map: list[int],
    pad_value: list[float],
    dtype: torch.dtype | None,
    channels_last: bool,
) -> torch.Tensor:
    """HWC uint8 images (image i read with the dims in bit mask flip_masks[i] reversed) -> one padded batch, each
    image at the top-left. With mean/inv_std: (N, C, Hp, Wp) `dtype`, normalize() inside the images and pad_value
    (output space, per output channel) elsewhere; without: (N, Hp, Wp, C) uint8 with pad_value bytes."""
    c = images[0].shape[-1]
    normalized = mean is not None
    device = images[0].device
    out = pad_batch_output(
        n=len(images),
        c=c,
        batch_hw=batch_hw,
        normalized=normalized,
        dtype=dtype,
        channels_last=channels_last,
        device=device,
    )
    if normalized:
        fill_channels(out, pad_value)
        for i, img in enumerate(images):
            h, w = img.shape[:2]
            out[i, :, :h, :w] = normalize(img, mean, inv_std, channel_map, flip_masks[i], out.dtype, False)
    else:
        fill = torch.tensor([round(v) for v in pad_value], dtype=torch.uint8, device=device)
        out.copy_(fill.expand_as(out))
        for i, img in enumerate(images):
            h, w = img.shape[:2]
            out[i, :h, :w] = flip(img, flip_masks[i])[..., list(channel_map)]
    return out


def pad_batch_packed(
    data: torch.Tensor,
    offsets: torch.Tensor,
    sizes: torch.Tensor,
    channels: int,
    batch_hw: list[int],
    mean: list[float] | None,
    inv_std: list[float] | None,
    channel_map: list[int],
    pad_value: list[float],
    dtype: torch.dtype | None,
    channels_last: bool,
) -> torch.Tensor:
    """`pad_batch` over a packed buffer: image i is the contiguous (h, w, C) block at byte offsets[i] of `data`."""
    images = unpack(data, offsets, sizes, channels)
    return pad_batch(images, [0] * len(images), batch_hw, mean, inv_std, channel_map, pad_value, dtype, channels_last)


def resized_crop_color(
    images: list[torch.Tensor],
    flip_masks: list[int],
    y_starts: torch.Tensor,
    y_weights: torch.Tensor,
    x_starts: torch.Tensor,
    x_weights: torch.Tensor,
    steps: torch.Tensor,
    factors: torch.Tensor,
    rgb: list[int],
    mean: list[float],
    inv_std: list[float],
    channel_map: list[int],
    dtype: torch.dtype,
    channels_last: bool,
) -> torch.Tensor:
    """`resized_crop_batch`'s uint8 crop (channels in the input's order) through `adjust_color_normalize` with
    steps, factors, rgb, mean, inv_std, channel_map, dtype and channels_last: (N, C, h, w) `dtype`."""
    c = images[0].shape[-1]
    crops = resized_crop_batch(images, flip_masks, y_starts, y_weights, x_starts, x_weights, None, None, [*range(c)],
                               None, False)  # fmt: skip
    return adjust_color_normalize(
        crops.permute(0, 3, 1, 2), steps, factors, rgb, mean, inv_std, channel_map, dtype, channels_last
    )


def channel_stats(images: list[torch.Tensor], flip_masks: list[int]) -> torch.Tensor:
    """(2, C) int64: per-channel sum and sum of squares over every pixel of every uint8 image (exact); image i is
    read with the dims in bit mask flip_masks[i] reversed (a reversed channel dim swaps channels)."""
    c = images[0].shape[-1]
    out = torch.zeros((2, c), dtype=torch.int64, device=images[0].device)
    for img, mask in zip(images, flip_masks):
        v = flip(img, mask).reshape(-1, c).to(torch.int64)
        out[0] += v.sum(0)
        out[1] += (v * v).sum(0)
    return out


def resized_crop_batch(
    images: list[torch.Tensor],
    flip_masks: list[int],
    y_starts: torch.Tensor,
    y_weights: torch.Tensor,
    x_starts: torch.Tensor,
    x_weights: torch.Tensor,
    mean,
    inv_std,
    channel_map: list[int],
    dtype,
    channels_last: bool,
) -> torch.Tensor:
    """Image i's output pixel (y, x) = sum_k y_weights[i, y, k] * (sum_j x_weights[i, x, j] * img[y_starts[i, y] + k,
    x_starts[i, x] + j]) (indices clamped to the image; fp32, summed in tap order; with a negative weight, both sums
    rounded half up and clamped to [0, 255], torch's uint8 passes), normalized like `pad_batch` (mean/inv_std
    given) or rounded half to even to uint8. (N, C, h, w) float or (N, h, w, C) uint8."""
    n, c = len(images), images[0].shape[-1]
    h, w = y_starts.shape[1], x_starts.shape[1]
    y_starts, y_weights, x_starts, x_weights = (
        t.to(images[0].device) for t in (y_starts, y_weights, x_starts, x_weights)
    )  # tables: host tensors
    normalized = mean is not None
    # a negative weight (bicubic): each pass's sums rounded to bytes, as the kernels do (crop_math.h)
    as_bytes = bool((x_weights < 0).any() or (y_weights < 0).any())
    out = pad_batch_output(
        n=n,
        c=c,
        batch_hw=(h, w),
        normalized=normalized,
        dtype=dtype,
        channels_last=channels_last,
        device=images[0].device,
    )
    for i, (img, mask) in enumerate(zip(images, flip_masks)):
        src = flip(img, mask)[..., list(channel_map)].to(torch.float32)  # (H, W, C), output channel order
        rows = torch.zeros((src.shape[0], w, c), dtype=torch.float32, device=src.device)
        for j in range(x_weights.shape[2]):
            cols = (x_starts[i] + j).clamp(max=src.shape[1] - 1)
            rows = rows + x_weights[i, :, j, None] * src[:, cols]
        rows = torch.floor(rows + 0.5).clamp(0, 255) if as_bytes else rows
        acc = torch.zeros((h, w, c), dtype=torch.float32, device=src.device)
        for k in range(y_weights.shape[2]):
            acc = acc + y_weights[i, :, k, None, None] * rows[(y_starts[i] + k).clamp(max=src.shape[0] - 1)]
        acc = torch.floor(acc + 0.5).clamp(0, 255) if as_bytes else acc
        if normalized:
            m = torch.tensor(mean, dtype=torch.float32, device=acc.device)
            s = torch.tensor(inv_std, dtype=torch.float32, device=acc.device)
            out[i].copy_(((acc - m) * s).to(out.dtype).movedim(-1, 0))
        else:
            out[i].copy_(torch.round(acc).clamp(0, 255).to(torch.uint8))
    return out


def mix_pairs_layout(x: torch.Tensor) -> torch.memory_format:
    """mix_pairs' output layout: channels_last when x has channels_last strides (and is not also contiguous)."""
    if x.is_contiguous() or not x.is_contiguous(memory_format=torch.channels_last):
        return torch.contiguous_format
    return torch.channels_last


def mix_pairs(x: torch.Tensor, lam: float, box: list[int]) -> torch.Tensor:
    """Image i of the (N, C, H, W) float batch `x` mixed with image N - 1 - i, as timm's batch-mode Mixup (box []:
    x * lam + x.flip(0) * (1 - lam), each product rounded to x's dtype, then their sum) or CutMix (box [y0, y1, x0,
    x1]: that region taken from image N - 1 - i). A new tensor, channels_last if x is, else contiguous."""
    layout = mix_pairs_layout(x)
    flipped = x.flip(0)
    if box:
        y0, y1, x0, x1 = box
        out = x.contiguous(memory_format=layout).clone(memory_format=layout)
        out[:, :, y0:y1, x0:x1] = flipped[:, :, y0:y1, x0:x1]
        return out
    return x.mul(lam).add_(flipped.mul(1.0 - lam)).contiguous(memory_format=layout)


def with_out(fn, body):
    """A function with `fn`'s parameters plus a last one, `out`, that runs `body(*args, out)` and returns None: the
    shape of every `<op>_into` schema (the reference twins below, and their fake kernels in the op table)."""
    params = [
        *inspect.signature(fn).parameters.values(),
        inspect.Parameter("out", inspect.Parameter.POSITIONAL_OR_KEYWORD),
    ]

    def run(*args):
        body(*args)

    run.__signature__ = inspect.Signature(params, return_annotation=None)
    run.__name__ = run.__qualname__ = f"{fn.__name__}_into"
    return run


def _into(fn):
    into = with_out(fn, lambda *args: args[-1].copy_(fn(*args[:-1])))
    into.__doc__ = f"`{fn.__name__}` written into `out` (exactly the tensor it would return: shape, dtype, layout)."
    return into


denormalize_into = _into(denormalize)
pad_batch_into = _into(pad_batch)
pad_batch_packed_into = _into(pad_batch_packed)
resize_pad_batch_into = _into(resize_pad_batch)
resize_pad_batch_packed_into = _into(resize_pad_batch_packed)
resized_crop_batch_into = _into(resized_crop_batch)
resized_crop_color_into = _into(resized_crop_color)
mix_pairs_into = _into(mix_pairs)
adjust_color_into = _into(adjust_color)
adjust_color_normalize_into = _into(adjust_color_normalize)
warp_affine_into = _into(warp_affine)
