"""Test files shared by the files tests: a photo-like image, an ImageFolder tree of JPEG (and one PNG) files, the
same files decoded with cv2 (today's way), and seeded loader runs."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

import fastload as fl

SIZES = [(375, 500), (500, 375), (333, 500), (180, 240), (241, 199), (64, 96)]


def photo(rng, h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 3 % 256], -1)
    return np.clip(base + rng.integers(-40, 40, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def tree(tmp_path_factory):
    """An ImageFolder tree: 3 classes x 6 JPEGs of ImageNet-like sizes and qualities (one progressive, one
    grayscale, one with an EXIF orientation), plus a PNG named .JPEG."""
    from PIL import Image

    rng = np.random.default_rng(3)
    root = tmp_path_factory.mktemp("tree")
    for c in ("cat", "dog", "fox"):
        os.makedirs(root / c)
        for k, (h, w) in enumerate(SIZES):
            img = photo(rng, h, w)
            path = root / c / f"{k}.JPEG"
            if k == 0:
                ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
            elif k == 1:
                ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
            elif k == 2:
                exif = Image.Exif()
                exif[0x0112] = 6
                Image.fromarray(img).save(path, "JPEG", exif=exif.tobytes(), quality=80)
                continue
            elif k == 5:
                ok, buf = cv2.imencode(".png", img)
            else:
                ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(75, 96))])
            path.write_bytes(buf.tobytes())
    (root / "notes.txt").write_text("not a class")
    return root


class Decoded(Dataset):
    """The same files decoded with cv2.imdecode: today's way."""

    def __init__(self, folder: fl.ImageFolder):
        self.folder = folder

    def __len__(self):
        return len(self.folder)

    def __getitem__(self, i):
        path, label = self.folder.samples[i]
        return cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR), label


def seeded_batches(loader, seed=11):
    torch.manual_seed(seed)
    return list(loader)


def libjpeg_major(version: str | None) -> int | None:
    import re

    found = re.search(r"(\d+)\.\d+", version or "")
    return int(found.group(1)) if found else None


def opencv_libjpeg() -> str:
    """The libjpeg-turbo version OpenCV was built with ('3.1.2-70'), from its build information."""
    import re

    found = re.search(r"JPEG:\s+\S*libjpeg-turbo\S*\s+\(ver ([^)]+)\)", cv2.getBuildInformation())
    return found.group(1) if found else "unknown"


def _same_libjpeg() -> tuple[bool, str]:
    ours = fl.backend_info()["jpeg_decoder"]
    theirs = opencv_libjpeg()
    same = libjpeg_major(ours) is not None and libjpeg_major(ours) == libjpeg_major(theirs)
    return same, (
        f"OpenCV's libjpeg-turbo {theirs} and fastload's {ours} differ in major version (their block "
        "smoothing of incomplete progressive files differs): cv2.imdecode is not the reference here"
    )


# cv2.imdecode is the reference of fastload's JPEG decodes only when both use the same major libjpeg-turbo version.
same_libjpeg = pytest.mark.skipif(not _same_libjpeg()[0], reason=_same_libjpeg()[1])
