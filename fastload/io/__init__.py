"""Reading image files: `decode_image` and `image_size` of one encoded image (JPEG through the compiled
libjpeg-turbo decoder, other formats through OpenCV or Pillow), `EncodedImage` (a file's bytes as a collate input).
Inside: `decode` (those three), `formats` (header sizes and the non-JPEG decoders), `batch_decoder` (a collate
batch's files, decoded by a thread pool into one packed batch), `encoded_batch` (files shipped undecoded to a
device) and `pil` (PIL images as arrays)."""

from fastload.io.decode import decode_image, image_size
from fastload.io.encoded_image import EncodedImage

__all__ = ["EncodedImage", "decode_image", "image_size"]
