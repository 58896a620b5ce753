"""Real photos for the demo and the benchmarks: a folder decoded with OpenCV, or scikit-image's bundled samples, as
BGR uint8 HWC arrays the way OpenCV decodes them."""

from __future__ import annotations

import os

import numpy as np

SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def load_folder(path: str) -> list[np.ndarray]:
    """Decode every image under `path`, subfolders included (a class-per-folder tree), with OpenCV (BGR uint8),
    in sorted path order. Raises ValueError when none can be read."""
    from fastload.io.formats import opencv

    cv2 = opencv("--images (decoding your photos)")
    if not os.path.isdir(path):
        raise ValueError(f"--images: {path!r} is not a readable folder")
    files = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(path)
        for name in names
        if name.lower().endswith(IMAGE_EXTENSIONS)
    )
    images = [img for img in (cv2.imread(f, cv2.IMREAD_COLOR) for f in files) if img is not None]
    if not images:
        raise ValueError(f"--images: no readable JPEG/PNG images in {path!r} or its subfolders")
    return images


def bundled_photos() -> list[np.ndarray]:
    """scikit-image's sample photos as BGR uint8, or [] when scikit-image is not installed."""
    try:
        from skimage import data
    except ImportError:
        return []
    photos = []
    for name in SKIMAGE_PHOTOS:
        try:
            rgb = getattr(data, name)()
        except Exception:  # a sample that needs a download (pooch) is skipped
            continue
        if rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8:
            photos.append(np.ascontiguousarray(rgb[..., ::-1]))
    return photos
