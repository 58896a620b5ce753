"""Datasets that hand over encoded files (`EncodedImage`: the bytes and the path), never decoded arrays: decoding
happens in the collate, where the crop boxes are known (`CropCollate`, `PadCollate`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from torch.utils.data import Dataset

from fastload.data import folder_index
from fastload.io.encoded_image import EncodedImage

# torchvision's IMG_EXTENSIONS, compared case-insensitively as torchvision does.
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class EmptyFolderError(FileNotFoundError, ValueError):
    """A dataset folder without what it must hold: torchvision raises FileNotFoundError there, fastload's checks
    ValueError; this is both."""


class ImageFolder(Dataset):
    """torchvision's `ImageFolder` layout (root/<class>/<image>), whose samples are `(EncodedImage, label)`.

    Attributes as torchvision's: `classes` (sorted class folder names), `class_to_idx`, `samples` ([(path, label)],
    sorted like torchvision's), `targets`, `imgs` (= samples), `root`; and `index_state` (see `index`).

    Args:
        root: the folder holding one folder per class.
        extensions: the file endings that count (case-insensitive); None with `is_valid_file`.
        is_valid_file: `f(path) -> bool` instead of `extensions`.
        target_transform: maps each label (an int) before it is returned.
        allow_empty: accept class folders without images (torchvision's flag).
        index: a file that keeps the list of files between runs and ranks (None: scan the tree every time, as
            torchvision does). Missing, or written by fastload for a tree that changed since: the tree is scanned
            and the file written, by one process while the others wait (a lock file beside it). Written by
            fastload for this tree unchanged: read, with one stat per folder instead of a scan. Without
            fastload's header (a user's list, one `class/.../file` path a line relative to `root`): used as it
            is, never rewritten. `index_state` says which: "scanned", "written", "reused" or "given".

    Returns:
        A dataset whose sample i is `(EncodedImage, label)`; the file is read when its sample is asked for.

    Raises:
        FileNotFoundError: a missing root.
        EmptyFolderError: (a FileNotFoundError and a ValueError) a root without class folders, or a class folder
            without images unless `allow_empty=True`, naming them.
        ValueError: an index that cannot be read, or a user's index with a line that is not a relative
            `class/.../file` path (naming the file and line).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        extensions: Sequence[str] | None = IMG_EXTENSIONS,
        is_valid_file: Callable[[str], bool] | None = None,
        target_transform: Callable | None = None,
        allow_empty: bool = False,
        index: str | os.PathLike | None = None,
    ):
        self.root = os.fspath(root)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"ImageFolder: root {self.root!r} is not a folder")
        if (extensions is None) == (is_valid_file is None):
            raise ValueError("ImageFolder: give exactly one of extensions and is_valid_file")
        if extensions is not None:
            if isinstance(extensions, str):
                extensions = (extensions,)
            endings = tuple(e.lower() for e in extensions)
        if index is not None and not isinstance(index, (str, os.PathLike)):
            raise TypeError(f"ImageFolder: index must be a path (str or os.PathLike), got {type(index).__name__}")
        if index is None:
            listing, self.index_state = folder_index.scan(self.root), "scanned"
        else:
            listing, self.index_state = folder_index.load(self.root, os.fspath(index))
        self.classes = listing.classes
        if not self.classes:
            raise EmptyFolderError(f"ImageFolder: no class folder in {self.root!r} (expected root/<class>/<image>)")
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        # Comprehensions over the list, and labels by runs: per-file joins, calls and lookups cost more than the
        # index's read (100,000 files from a reused index: 78 ms -> 47 ms).
        prefix, labels = os.path.join(self.root, ""), folder_index.labels(listing, self.class_to_idx)
        if extensions is not None:  # on the path below root: the endings hold no separator
            self.samples = [
                (prefix + rel, label) for rel, label in zip(listing.files, labels) if rel.lower().endswith(endings)
            ]
        else:
            self.samples = [
                (prefix + rel, label) for rel, label in zip(listing.files, labels) if is_valid_file(prefix + rel)
            ]
        empty = sorted(set(self.classes) - {self.classes[label] for _, label in self.samples})
        if empty and not allow_empty:
            raise EmptyFolderError(
                f"ImageFolder: found no valid file for the classes {', '.join(empty)} in "
                f"{self.root!r} (extensions {extensions}); allow_empty=True accepts empty class "
                "folders, as torchvision's ImageFolder does"
            )
        if not self.samples:
            raise EmptyFolderError(
                f"ImageFolder: no image files in the class folders of {self.root!r} (extensions {extensions})"
            )
        self.imgs = self.samples
        self.targets = [label for _, label in self.samples]
        self.target_transform = target_transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[EncodedImage, object]:
        path, label = self.samples[index]
        return EncodedImage.from_file(path), self.target_transform(label) if self.target_transform else label

    def __repr__(self) -> str:
        return f"fastload.ImageFolder({self.root!r}, {len(self)} files, {len(self.classes)} classes)"


class ImageFiles(Dataset):
    """A list of image files (a detection dataset's images) as a map-style dataset.

    Args:
        paths: the files (str or os.PathLike); each is read when its sample is asked for.
        labels: optional, one per file (any value: a class, a dict of annotations).

    Returns:
        A dataset whose sample i is `EncodedImage` of `paths[i]`, or `(EncodedImage, labels[i])` with `labels`.

    Raises:
        ValueError: `labels` of another length than `paths`.
    """

    def __init__(self, paths: Sequence[str | os.PathLike], labels: Sequence | None = None):
        if isinstance(paths, (str, bytes, os.PathLike)):
            raise TypeError("ImageFiles: paths must be a sequence of paths, not one path")
        self.paths = [os.fspath(p) for p in paths]
        if not self.paths:
            raise ValueError("ImageFiles: paths is empty")
        if labels is not None and len(labels) != len(self.paths):
            raise ValueError(f"ImageFiles: {len(labels)} labels for {len(self.paths)} paths")
        self.labels = labels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        image = EncodedImage.from_file(self.paths[index])
        return image if self.labels is None else (image, self.labels[index])

    def __repr__(self) -> str:
        return f"fastload.ImageFiles({len(self)} files)"
