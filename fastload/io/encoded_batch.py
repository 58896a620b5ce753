"""EncodedBatch: a batch's encoded image files back to back in one buffer, so a DataLoader worker ships the files'
bytes (a tenth or less of the decoded pixels) and the device decodes them. On CUDA, JPEG files are decoded by
nvJPEG through torchvision's batched `decode_jpeg(device=...)` (docs/DESIGN.md says why that binding), with their
EXIF orientation applied here (torchvision's CUDA path ignores it); files nvJPEG cannot decode (CMYK/YCCK, lossless,
not 8-bit) and every other format, and every file on the CPU, go to fastload's exact decoder."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from fastload.io.decode import check_strict, decode_image, is_jpeg, jpeg_header
from fastload.io.encoded_image import EncodedImage
from fastload.io.formats import MAX_PIXELS
from fastload.io.orientation import EXIF_TRANSFORMS, jpeg_orientation
from fastload.memory import ring, ring_pickle
from fastload.memory.packed import PackedImages


class EncodedBatch:
    """N encoded image files in one 1-D uint8 buffer.

    Attributes:
        data: 1-D uint8 CPU tensor, the files back to back (a ring slot when a worker made it).
        offsets, lengths: int64 (N,) CPU tensors: where file i's bytes lie in `data`.
        sizes: int64 (N, 2) CPU tensor: (h, w) of image i from its header, EXIF orientation applied.
        paths: N file paths (or None), which errors name.
        strict: how the files are decoded (`decode_image`'s strict), as the collate that made the batch says.

    Picklable through the worker's ring like `PackedImages`. `decode(device)` gives the images on `device`.
    """

    __slots__ = ("data", "offsets", "lengths", "sizes", "paths", "strict")

    def __init__(self, data: torch.Tensor, offsets, lengths, sizes, paths, strict: bool | str = "complete"):
        if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8 or data.dim() != 1:
            raise TypeError("EncodedBatch data must be a 1-D uint8 tensor")
        self.data = data
        self.offsets = torch.as_tensor(offsets, dtype=torch.int64).reshape(-1)
        self.lengths = torch.as_tensor(lengths, dtype=torch.int64).reshape(-1)
        self.sizes = torch.as_tensor(sizes, dtype=torch.int64).reshape(-1, 2)
        self.paths = list(paths)
        self.strict = check_strict(strict)
        n = len(self.paths)
        if not (self.offsets.shape == self.lengths.shape == (n,) and self.sizes.shape == (n, 2)):
            raise ValueError(
                f"EncodedBatch offsets {tuple(self.offsets.shape)}, lengths {tuple(self.lengths.shape)}, "
                f"sizes {tuple(self.sizes.shape)} and {n} paths disagree"
            )
        if n and (
            int(self.offsets.min()) < 0
            or int(self.lengths.min()) < 1
            or int((self.offsets + self.lengths).max()) > data.numel()
        ):
            raise ValueError("EncodedBatch offsets/lengths point outside data")
        if n and (int(self.sizes.min()) < 1 or int((self.sizes[:, 0] * self.sizes[:, 1]).max()) > MAX_PIXELS):
            raise ValueError(f"EncodedBatch sizes must be 1 to {MAX_PIXELS} pixels each (what the headers allow)")

    @classmethod
    def pack(
        cls,
        images: list[EncodedImage],
        use_ring: bool = True,
        strict: bool | str = "complete",
        sizes: list | None = None,
    ) -> EncodedBatch:
        """The files' bytes copied into one buffer: a slot of this worker's ring when one is free. `sizes`: each
        image's (h, w) when its header was read already, else read here (`EncodedImage.size`)."""
        lengths = [img.data.numel() for img in images]
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if lengths else np.zeros(0, np.int64)
        data = ring.batch_buffer(int(sum(lengths)), use_ring)
        for img, o, n in zip(images, offsets.tolist(), lengths):
            data[o : o + n].copy_(img.data)
        sizes = [img.size for img in images] if sizes is None else sizes
        return cls(data, offsets, lengths, sizes, [img.path for img in images], strict)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> EncodedImage:
        """File i as an EncodedImage viewing `data`."""
        o, n = int(self.offsets[i]), int(self.lengths[i])
        return EncodedImage(self.data[o : o + n], self.paths[i])

    def to(self, device=None, non_blocking: bool = False) -> EncodedBatch:
        """Itself: the bytes stay on the host, where the decoders (nvJPEG's too) read them."""
        return self

    @property
    def nbytes(self) -> int:
        return self.data.numel()

    def _name(self, i: int) -> str:
        return self.paths[i] or f"file {i} of the batch"

    def decode(
        self, device=None, order: str = "rgb", *, torchvision: bool | None = None
    ) -> list[torch.Tensor] | PackedImages:
        """The N images as (h, w, 3) uint8 tensors on `device` (default the CPU), channels in `order` ("rgb" or
        "bgr"); no file (a batch whose files were all skipped): an empty PackedImages, which the batch ops take.

        JPEG files go to torchvision's batched `decode_jpeg(device=device)` when `torchvision` (default: on CUDA,
        where it is nvJPEG; its pixels are nvJPEG's, not libjpeg's), as channels-first RGB tensors seen as HWC
        views, EXIF orientation applied here as OpenCV applies it (a transpose is a view; flips, and "bgr"'s channel
        reversal, one device copy); every other file to fastload's decoder (the pixels of `cv2.imdecode`, decoded in
        `order`, with the batch's `strict`): other formats, and JPEGs nvJPEG does not decode (CMYK/YCCK, lossless,
        not 8-bit). A JPEG torchvision refuses is decoded by fastload's decoder instead, with the batch's strict, so
        that the verdict on it is the worker's; a file that does not decode there, or whose size differs from its
        header's, is a ValueError naming it."""
        if order not in ("rgb", "bgr"):
            raise ValueError(f"order must be 'rgb' or 'bgr', got {order!r}")
        device = torch.device("cpu" if device is None else device)
        if len(self) == 0:
            return PackedImages.empty(3, device)
        torchvision = device.type == "cuda" if torchvision is None else torchvision
        images: list = [None] * len(self)
        orientations = [_nvjpeg_orientation(self[i]) if torchvision else None for i in range(len(self))]
        jpeg = [i for i, orientation in enumerate(orientations) if orientation is not None]
        if jpeg:
            decoded = _torchvision_decode([self[i].data for i in jpeg], device)
            for i, img in zip(jpeg, decoded):
                if isinstance(img, Exception):
                    continue  # decoded below by fastload's decoder: the worker's verdict on the file
                images[i] = _oriented(img.permute(1, 2, 0), orientations[i], reverse_channels=order == "bgr")
        for i in range(len(self)):
            if images[i] is None:
                h, w = self.sizes[i].tolist()
                out = torch.empty(h, w, 3, dtype=torch.uint8)
                images[i] = decode_image(self[i], output_order=order, strict=self.strict, out=out).to(
                    device, non_blocking=True
                )
            if tuple(images[i].shape[:2]) != tuple(self.sizes[i].tolist()):
                raise ValueError(
                    f"{self._name(i)}: decoded to {tuple(images[i].shape[:2])}, its header says "
                    f"{tuple(self.sizes[i].tolist())}"
                )
        return images

    def __reduce__(self):
        return (
            EncodedBatch,
            (ring_pickle.RingTensor(self.data), self.offsets, self.lengths, self.sizes, self.paths, self.strict),
        )

    def __repr__(self) -> str:
        return f"EncodedBatch(n={len(self)}, bytes={self.nbytes})"


def _nvjpeg_orientation(image: EncodedImage) -> int | None:
    """The EXIF orientation (1..8) of a file nvJPEG is given: a JPEG of 1 or 3 components of 8-bit samples, not
    lossless; None for every other file, which fastload's decoder serves without failing a batched call first
    (nvJPEG refuses CMYK/YCCK and the rest; so does a header that does not read, which that decoder then names)."""
    try:
        header = jpeg_header(image)
    except ValueError:
        return None
    if header is None:  # not a JPEG, or a build without fastload's JPEG reader (then the EXIF segments say)
        return jpeg_orientation(memoryview(image.data.numpy())) if is_jpeg(image) else None
    if header["components"] not in (1, 3) or header["precision"] != 8 or header["lossless"]:
        return None
    return header["orientation"]


def _oriented(img: torch.Tensor, orientation: int, reverse_channels: bool) -> torch.Tensor:
    """An (h, w, c) image with OpenCV's ExifTransform for `orientation` (1..8) applied, channels reversed when asked:
    the transpose a view, the flips one copy."""
    transpose, flips = EXIF_TRANSFORMS.get(orientation, EXIF_TRANSFORMS[1])
    img = img.transpose(0, 1) if transpose else img
    dims = flips + ((2,) if reverse_channels else ())
    return img.flip(dims) if dims else img


_decode_streams: dict = {}


def _torchvision_decode(files: list[torch.Tensor], device: torch.device) -> list:
    """torchvision's batched decode of JPEG files (CPU byte tensors) to (3, h, w) RGB uint8 tensors on `device`
    (nvJPEG on CUDA), as stored (no EXIF orientation: torchvision's CUDA path has none); when the batch fails, the
    files are decoded one by one and each that fails gives its exception in place of an image.

    On CUDA torchvision decodes on a stream of its own into memory allocated on the current stream, without waiting
    for that stream: a block the caching allocator hands back while the current stream's kernels still read it (the
    previous batch's images) is overwritten under them (pytorch/vision#9606). So the decode runs with a stream of
    fastload's current, whose memory only decodes use; the caller's stream waits for it, and each image is marked
    with record_stream, so its block is reused only once the caller's kernels that read it are done."""
    from torchvision.io import ImageReadMode, decode_jpeg

    def run(batch):
        with warnings.catch_warnings():  # torchvision 0.29 deprecates its decoders in favour of TorchCodec
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            return decode_jpeg(batch, mode=ImageReadMode.RGB, device=device)

    def each():
        try:
            return run(files)
        except RuntimeError:
            pass
        results = []
        for f in files:
            try:
                results.append(run([f])[0])
            except RuntimeError as exc:
                results.append(exc)
        return results

    if device.type != "cuda":
        return each()
    consumer = torch.cuda.current_stream(device)
    stream = _decode_streams.get(device)
    if stream is None:  # one per device, made once
        stream = _decode_streams[device] = torch.cuda.Stream(device=device)
    with torch.cuda.stream(stream):
        results = each()
    consumer.wait_stream(stream)
    for img in results:
        if isinstance(img, torch.Tensor):
            img.record_stream(consumer)
    return results
