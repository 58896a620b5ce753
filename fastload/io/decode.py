"""Decoding image files: JPEG through libjpeg-turbo in the extension, only the box a crop needs, pixel for pixel
what `cv2.imdecode(buf, cv2.IMREAD_COLOR)` gives; every other format (and JPEG in a build without libjpeg-turbo)
through OpenCV, or Pillow where OpenCV is not installed (`fastload.io.formats`). Sizes from the files' headers. The
input is a file's bytes in any form `as_bytes` takes, or an `EncodedImage` (fastload.io.encoded_image)."""

from __future__ import annotations

import numpy as np
import torch

from fastload import _backend
from fastload.io import formats
from fastload.io.encoded_image import EncodedImage, as_bytes

REDUCE = (1, 2, 4, 8)
# strict's values, by what they refuse (csrc/io/jpeg.h's Strict): False only what libjpeg cannot read; "complete"
# also truncated files (what cv2.imdecode refuses); True also any damage libjpeg warns about anywhere in the file.
STRICT = {False: 0, "complete": 1, True: 2}
# Largest box coordinate accepted: far beyond any image (2^30 pixels), far from int64 overflow in any sum.
MAX_BOX = 2**31 - 1


def jpeg_decoder() -> str:
    """Which decoder serves JPEG files: 'libjpeg-turbo' (the extension's, with box and strict decoding; its version
    in `backend_info()["jpeg_decoder"]`), else 'opencv' or 'pillow' (full decode, then the box)."""
    return "libjpeg-turbo" if _backend.defines("fastload::_jpeg_decode") else formats.decoder()


def _source(data) -> tuple[torch.Tensor, str]:
    """(bytes tensor, the name errors use: the file's path when known); empty data is a ValueError naming it."""
    path = data.path if isinstance(data, EncodedImage) else None
    return as_bytes(data, path or "data"), path or "data"


def _format(buf: torch.Tensor) -> str:
    return formats.kind(buf.numpy()[:16].tobytes())


def is_jpeg(data) -> bool:
    """Whether the encoded image is a JPEG file (by its bytes, not its name)."""
    buf = as_bytes(data, allow_empty=True)
    return buf.numel() > 0 and _format(buf) == "jpeg"


_HEADER_FIELDS = ("height", "width", "orientation", "components", "progressive", "lossless", "precision", "complete")


def jpeg_header(data) -> dict | None:
    """What a JPEG file's header says, read as fastload's decoder reads it: {"height", "width" (as decoded: EXIF
    orientation applied), "orientation" (1..8, as OpenCV applies it), "components", "progressive", "lossless",
    "precision" (bits a sample), "complete" (an end-of-image marker follows)}; None for a file that is not a JPEG or
    a build without fastload's JPEG reader. A header that does not read is a ValueError naming the file."""
    buf, name = _source(data)
    if jpeg_decoder() != "libjpeg-turbo" or _format(buf) != "jpeg":
        return None
    return dict(zip(_HEADER_FIELDS, _read_header(buf, name, 1)))


def _read_header(buf: torch.Tensor, name: str, reduce: int) -> list[int]:
    """The extension's header read of a JPEG file (`_HEADER_FIELDS` in order); one that does not read is a
    ValueError naming the file."""
    try:
        return torch.ops.fastload._jpeg_info(buf, reduce)
    except (ValueError, RuntimeError) as exc:
        raise ValueError(f"{name}: {exc}") from None


def _jpeg_info(buf: torch.Tensor, name: str, reduce: int) -> list[int] | None:
    """The extension's header read of a JPEG file ([h, w, orientation, components, progressive, lossless,
    precision, complete]), None when another decoder serves it (no libjpeg-turbo in the build, or not 8-bit samples
    and OpenCV installed)."""
    if jpeg_decoder() != "libjpeg-turbo" or _format(buf) != "jpeg":
        return None
    info = _read_header(buf, name, reduce)
    if info[6] != 8:
        if formats.decoder() != "opencv":
            raise ValueError(
                f"{name}: a {info[6]}-bit JPEG file: fastload's decoder reads 8-bit samples; OpenCV "
                f"can decode it: {formats.OPENCV_EXTRA}"
            )
        return None
    return info


def image_size(data, *, reduce: int = 1) -> tuple[int, int]:
    """(h, w) of the image `decode_image(data, reduce=reduce)` gives, from the file's header where the format has
    one fastload reads (JPEG: frame header and EXIF orientation as OpenCV applies it; PNG: IHDR and eXIf; WebP:
    VP8X/VP8L/VP8 and EXIF; BMP; GIF: its logical screen); TIFF is decoded to find out. A header claiming more than
    2^30 pixels is a ValueError (before anything is allocated), as is an unreadable one; both name the file.

    Args:
        data: as in `decode_image`.
        reduce: 1, 2, 4 or 8: the size at that JPEG DCT scale (a lossless JPEG has none: its full size).

    Returns:
        (h, w) ints.

    Raises:
        ValueError: an unreadable header, or one claiming more than 2^30 pixels (before anything is allocated); both
            name the file.
    """
    if isinstance(reduce, bool) or reduce not in REDUCE:
        raise ValueError(f"reduce must be 1, 2, 4 or 8, got {reduce!r}")
    if reduce == 1:
        return read_size(data)[0]
    buf, name = _source(data)
    info = _jpeg_info(buf, name, reduce)
    return (int(info[0]), int(info[1])) if info is not None else tuple(formats.decode(buf, name, reduce).shape[:2])


def read_size(data, *, need_end: bool = False) -> tuple[tuple[int, int], np.ndarray | None]:
    """`image_size(data)` for a caller about to decode the file: also the decoded (h, w, 3) BGR image when finding
    the size took a whole decode (formats without a header fastload reads), for the caller to take instead of
    decoding again (None otherwise). With `need_end`, a JPEG file without its end-of-image marker is a ValueError
    naming the file, as a decode with strict would refuse it (for decoders that do not check: nvJPEG)."""
    buf, name = _source(data)
    info = _jpeg_info(buf, name, 1)
    if info is not None:
        if need_end and not info[7]:
            raise ValueError(f"{name}: the file is truncated: no end-of-image marker after its scan data")
        return (int(info[0]), int(info[1])), None
    size = formats.header_size(buf, name)
    if size is not None:
        return size, None
    image = formats.decode(buf, name)
    return image.shape[:2], image


def check_strict(strict) -> bool | str:
    """`strict` checked: False, "complete" or True (numpy bools taken as bools)."""
    if isinstance(strict, np.bool_):
        strict = bool(strict)
    if isinstance(strict, bool) or (isinstance(strict, str) and strict in STRICT):
        return strict
    raise (ValueError if isinstance(strict, str) else TypeError)(
        f"strict must be True, 'complete' or False, got {strict!r}"
    )


def _check_box(box) -> tuple[int, int, int, int] | None:
    if box is None:
        return None
    values = box.tolist() if isinstance(box, (np.ndarray, torch.Tensor)) else box
    if (
        not isinstance(values, (tuple, list))
        or len(values) != 4
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values)
    ):
        raise TypeError(f"box must be (top, left, height, width) ints, got {box!r}")
    top, left, h, w = (int(v) for v in values)
    if top < 0 or left < 0 or h < 1 or w < 1 or max(top, left, h, w) > MAX_BOX:
        raise ValueError(
            f"box (top, left, height, width) = {tuple(values)} must have top, left >= 0 and height, "
            f"width >= 1, each at most {MAX_BOX}"
        )
    return top, left, h, w


def _check_out(out) -> None:
    """What decoding into `out` needs, whatever the decoder: a CPU uint8 (h, w, 3) tensor whose rows are whole
    pixels, none overlapping the next (stride(0) >= 3 * w); its shape is checked against the result's."""
    if out is None:
        return
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"out must be a torch.Tensor, got {type(out).__name__}")
    if (
        out.device.type != "cpu"
        or out.dtype != torch.uint8
        or out.dim() != 3
        or out.shape[2] != 3
        or out.stride(2) != 1
        or out.stride(1) != 3
        or out.stride(0) < 3 * out.shape[1]
    ):
        raise ValueError(
            f"out must be a CPU uint8 (h, w, 3) tensor with rows of whole pixels that do not overlap, "
            f"got {out.dtype} of shape {tuple(out.shape)} and strides {out.stride()} on {out.device}"
        )


def decode_image(
    data,
    *,
    box=None,
    output_order: str = "bgr",
    strict: bool | str = "complete",
    reduce: int = 1,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Decode an image file to an (H, W, 3) uint8 tensor: `cv2.imdecode(buf, cv2.IMREAD_COLOR)`'s pixels (BGR;
    channels reversed with output_order="rgb"), EXIF orientation applied as OpenCV applies it.

    Args:
        data: the encoded file: bytes, bytearray, memoryview, a 1-D uint8 numpy array or CPU tensor, or an
            EncodedImage (whose path errors name).
        box: (top, left, height, width) in the decoded image's pixels: only that region is decoded (JPEG), equal
            bit for bit to decoding everything and slicing.
        strict: what is refused, a ValueError naming the file and libjpeg's message, whatever the box:
            "complete" (the default) a truncated file (no end-of-image marker after its scan data), which
            cv2.imdecode refuses too; damage inside a complete file decodes as libjpeg recovers it, as cv2.imdecode
            decodes it. True also any damage libjpeg warns about anywhere in the file ("premature end of data
            segment", "bad Huffman code"): a box decode then entropy-decodes the rest of the file too. False only
            what libjpeg cannot read at all (a truncated file decodes grey where its data is missing). Bytes between
            the last scan and the end-of-image marker ("extraneous bytes before marker 0xd9") change no pixel and
            are accepted at every level.
        output_order: "bgr" (OpenCV's order, the default) or "rgb".
        reduce: 1, 2, 4 or 8: libjpeg-turbo's DCT scaling (1/reduce of each side, rounded up; the box is then in the
            reduced image's pixels). Changes pixels: faster, not exact. A lossless JPEG has no reduced scale.
        out: an (h, w, 3) uint8 CPU tensor (rows of whole pixels) to decode into; by default the CPU output cache
            gives the result.

    Returns:
        The (H, W, 3) uint8 CPU tensor (or (h, w, 3) of the box), `out` when given. Grayscale and CMYK files give 3
            channels, as cv2.imdecode does.

    Raises:
        ValueError: a file `strict` refuses, empty data, non-image bytes, a header claiming more than 2^30 pixels
            (refused before anything is allocated), a box outside the image or overflowing (naming `box`), a bad
            `out`; file errors name the file (its path, for an EncodedImage).
        TypeError: data of another type, or arguments of the wrong type (naming them).

    Releases the GIL while libjpeg runs; thread-safe. Other formats (PNG, WebP, BMP, TIFF, GIF; a PNG named .JPEG)
    decode whole through OpenCV, or Pillow without it (`fastload.io.formats`), as do JPEGs in a build without
    libjpeg-turbo (`backend_info()["jpeg_decoder"]` says which serves).
    """
    buf, name = _source(data)
    box = _check_box(box)
    if output_order not in ("bgr", "rgb"):
        raise ValueError(f"output_order must be 'bgr' or 'rgb', got {output_order!r}")
    strict = check_strict(strict)
    if isinstance(reduce, bool) or reduce not in REDUCE:
        raise ValueError(f"reduce must be 1, 2, 4 or 8, got {reduce!r}")
    _check_out(out)
    if jpeg_decoder() == "libjpeg-turbo" and _format(buf) == "jpeg":
        try:
            return torch.ops.fastload._jpeg_decode(
                buf, None if box is None else list(box), reduce, output_order == "rgb", STRICT[strict], out
            )
        except (ValueError, RuntimeError) as exc:
            if _jpeg_info(buf, name, reduce) is not None:  # not a 12- or 16-bit file that OpenCV reads instead
                raise ValueError(f"{name}: {exc}") from None
    img = formats.decode(buf, name, reduce)
    if box is not None:
        top, left, h, w = box
        if top + h > img.shape[0] or left + w > img.shape[1]:
            raise ValueError(f"{name}: box {box} must lie inside the {img.shape[0]}x{img.shape[1]} image")
        img = img[top : top + h, left : left + w]
    img = img[..., ::-1] if output_order == "rgb" else img
    if out is None:
        return torch.from_numpy(np.ascontiguousarray(img))
    if tuple(out.shape) != img.shape:
        raise ValueError(f"out must be of shape {img.shape}, got {tuple(out.shape)}")
    np.copyto(out.numpy(), img)  # one pass, whatever the strides
    return out
