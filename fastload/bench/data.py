"""Benchmark inputs: real photos (the user's `--images` folder, else scikit-image's bundled ones) resized to the
sizes a case needs, as BGR uint8 HWC arrays the way OpenCV decodes them; random pixels when neither is available."""

from __future__ import annotations

import numpy as np

from fastload.photos import bundled_photos


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
        from fastload.io.formats import opencv

        photo = self.photos[index % len(self.photos)]
        cv2 = opencv("fastload bench (resizing its photos)")
        return cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA)

    def images(
        self, sizes: list[tuple[int, int]], count: int, scale: float = 1.0, minimum: int = 1
    ) -> list[np.ndarray]:
        """`count` images cycling through `sizes` (h, w), each side times `scale`, at least `minimum`."""
        scaled = [(max(minimum, round(h * scale)), max(minimum, round(w * scale))) for h, w in sizes]
        return [self.image(*scaled[i % len(scaled)], i) for i in range(count)]

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
