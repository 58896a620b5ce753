"""Benchmark inputs: real photos (the user's `--images` folder, else scikit-image's bundled ones) resized to the
sizes a case needs, as BGR uint8 HWC arrays the way OpenCV decodes them; random pixels when neither is available."""

from __future__ import annotations

import os

import numpy as np

SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def load_folder(path: str) -> list[np.ndarray]:
    """Decode every image in `path` with OpenCV (BGR uint8). Raises ValueError when none can be read."""
    import cv2

    if not os.path.isdir(path):
        raise ValueError(f"--images: {path!r} is not a readable folder")
    images = []
    for name in sorted(os.listdir(path)):
        if name.lower().endswith(IMAGE_EXTENSIONS):
            img = cv2.imread(os.path.join(path, name), cv2.IMREAD_COLOR)
            if img is not None:
                images.append(img)
    if not images:
        raise ValueError(f"--images: no readable JPEG/PNG images in {path!r}")
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


class ImageSource:
    """Hands out BGR uint8 images of any (h, w), cycling through the photos it has."""

    def __init__(self, photos: list[np.ndarray] | None = None, seed: int = 0):
        self.photos = photos if photos is not None else bundled_photos()
        self.rng = np.random.default_rng(seed)

    @property
    def kind(self) -> str:
        return f"{len(self.photos)} photos" if self.photos else "random pixels"

    def image(self, h: int, w: int, index: int = 0) -> np.ndarray:
        if not self.photos:
            return self.rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        import cv2

        photo = self.photos[index % len(self.photos)]
        return cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA)

    def batch(self, n: int, h: int, w: int) -> np.ndarray:
        return np.stack([self.image(h, w, i) for i in range(n)])


def standard_inputs(settings):
    """The image sets most suites measure, scaled by `settings.scale`: yields (label, host, count) where host is one
    BGR (H, W, 3) image or an (N, H, W, 3) batch. CUDA adds the 256-image batch of the GPU targets."""
    s = settings.scale
    shapes = [("single 800x1333", None, 800, 1333), ("batch 64x224x224", 64, 224, 224)]
    if settings.device == "cuda":
        shapes.append(("batch 256x224x224", 256, 224, 224))
    for name, n, h, w in shapes:
        h, w = max(1, round(h * s)), max(1, round(w * s))
        if n is None:
            host, count = settings.source.image(h, w), 1
        else:
            count = max(2, round(n * s)) if s < 1 else n
            host = settings.source.batch(count, h, w)
        yield (name if s == 1 else f"{name} (x{s:g}: {count}x{h}x{w})"), host, count
