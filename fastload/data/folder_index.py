"""The file list of an ImageFolder tree, and the index file that keeps it between runs and ranks.

Scanning a tree lists every folder (a million files: minutes on a network filesystem, on every rank of every run).
The index file holds the list together with the modification time of every folder scanned: adding, removing or
renaming a file or a folder changes its parent folder's mtime, so one stat per folder (1,001 for ImageNet's train
tree) tells whether the list still holds, instead of reading 1.28 million directory entries. The file is text, one
path a line relative to the root, so a user can also write one (`find . -type f | sort`); such a file, without
fastload's header, is taken as given and never rewritten.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from dataclasses import dataclass, field

HEADER = "# fastload ImageFolder index 1"
# A folder modified within this long before the scan may have changed again within the same timestamp tick after
# it was listed (coarse clocks: 4 ms on Linux, 1-2 s on some network and FAT filesystems): it is rescanned next time.
RACY_NS = 2_000_000_000


@dataclass
class FileList:
    """What a scan or an index gives: class folder names (sorted), every file's path relative to the root in
    torchvision's order, and each scanned folder's mtime (relative path -> st_mtime_ns; empty for a given list)."""

    classes: list[str]
    files: list[str]
    folders: dict[str, int] = field(default_factory=dict)
    scanned_ns: int = 0


def scan(root: str) -> FileList:
    """Every file under root's class folders, following symlinks and skipping unreadable folders as torchvision's
    `os.walk(followlinks=True)` does, sorted by folder then name as torchvision's `make_dataset` sorts them."""
    scanned_ns = time.time_ns()
    folders = {".": os.stat(root).st_mtime_ns}  # stat before listing: a change after the stat shows next time
    classes = sorted(e.name for e in os.scandir(root) if _is_dir(e))
    files = []
    for name in classes:  # class by class, each class's folders sorted by path, as torchvision sorts os.walk's
        listed = sorted(_walk(root, name, folders))
        files += [os.path.join(folder, file) for folder, names in listed for file in sorted(names)]
    return FileList(classes, files, folders, scanned_ns)


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _walk(root: str, top: str, folders: dict[str, int]) -> list[tuple[str, list[str]]]:
    """(folder, its file names) for top and every folder below it; records each folder's mtime in `folders`."""
    listed, stack = [], [top]
    while stack:
        rel = stack.pop()
        try:
            mtime_ns = os.stat(os.path.join(root, rel)).st_mtime_ns
            entries = list(os.scandir(os.path.join(root, rel)))
        except OSError:
            continue
        folders[rel] = mtime_ns
        listed.append((rel, [e.name for e in entries if not _is_dir(e)]))
        stack += [os.path.join(rel, e.name) for e in entries if _is_dir(e)]
    return listed


def labels(files: FileList, class_to_idx: dict[str, int]) -> list[int]:
    """The label of each file (its class folder's index): the files of a class are one run (the list is in class
    order), found by a binary search per class instead of a look-up per file."""
    out, start, paths = [], 0, files.files
    for name in sorted(class_to_idx, key=lambda n: class_to_idx[n]):
        head = name + os.sep
        low, high = start, len(paths)  # the run's end: the first file past start not under this class
        while low < high:
            middle = (low + high) // 2
            if paths[middle].startswith(head):
                low = middle + 1
            else:
                high = middle
        out += [class_to_idx[name]] * (low - start)
        start = low
    if start != len(paths):  # a list out of class order (never made here): one look-up per file
        return [class_to_idx[rel[: rel.index(os.sep)]] for rel in paths]
    return out


def load(root: str, index: str) -> tuple[FileList, str]:
    """The file list of root from the index file `index`, scanning and (re)writing it when it is missing or the
    tree changed. Several processes (ranks, runs) may call this at once: one scans and writes, under a lock file
    beside the index, while the others wait and then read what it wrote.

    Returns:
        (the list, how it was got: "reused", "written" (scanned, index written), "scanned" (the index could not
        be written: a warning says why) or "given" (an index without fastload's header, used as it is)).
    """
    got = _read_if_fresh(root, index)
    if got is not None:
        return got
    with _locked(index + ".lock"):
        got = _read_if_fresh(root, index)  # another rank may have written it while this one waited
        if got is not None:
            return got
        files = scan(root)
        try:
            _write(index, files)
        except OSError as error:
            warnings.warn(
                f"ImageFolder: could not write the index {index!r} ({error}); the tree was scanned", stacklevel=3
            )
            return files, "scanned"
        return files, "written"


def _read_if_fresh(root: str, index: str) -> tuple[FileList, str] | None:
    try:
        with open(index, encoding="utf-8", errors="surrogateescape", newline="\n") as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ValueError(f"ImageFolder: index {index!r} cannot be read: {error}") from error
    if lines and lines[0] == HEADER:
        files = _parse_own(lines)
        return (files, "reused") if files is not None and _fresh(root, files) else None
    return _parse_given(lines, index), "given"


def _parse_own(lines: list[str]) -> FileList | None:
    """fastload's index: the header, `#scanned NS`, `#dir NS REL` lines, then one relative path a line (a path
    that starts with '#' written as './#...'). None when it is not well formed (then it is rewritten)."""
    folders, scanned_ns, first = {}, None, len(lines)
    try:
        for number, line in enumerate(lines[1:], 1):
            if line.startswith("#dir "):
                _, ns, rel = line.split(" ", 2)
                folders[rel] = int(ns)
            elif line.startswith("#scanned "):
                scanned_ns = int(line.split(" ", 1)[1])
            elif line:
                first = number  # the files follow the '#' lines
                break
    except ValueError:
        return None
    if scanned_ns is None or "." not in folders:
        return None
    files = [line[2:] if line[:2] == "./" else line for line in lines[first:] if line]
    classes = sorted(rel for rel in folders if rel != "." and os.sep not in rel)
    return FileList(classes, files, folders, scanned_ns)


def _fresh(root: str, files: FileList) -> bool:
    """True when no folder of the list changed since it was scanned (one stat per folder, no listing)."""
    for rel, ns in files.folders.items():
        if ns >= files.scanned_ns - RACY_NS:
            return False
        try:
            if os.stat(os.path.join(root, rel)).st_mtime_ns != ns:
                return False
        except OSError:
            return False
    return True


def _parse_given(lines: list[str], index: str) -> FileList:
    """A user's list: one path a line, relative to the root, `class/.../file` (a leading './' is dropped; empty
    lines and lines starting with '#' are skipped). Classes are the first parts, sorted; files keep
    torchvision's order (by class, folder, then name) whatever the list's order."""
    files = []
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r")
        if not line or line.startswith("#"):
            continue
        rel = os.path.normpath(line)
        parts = rel.split(os.sep)
        if os.path.isabs(line) or ".." in parts or len(parts) < 2:
            raise ValueError(
                f"ImageFolder: index {index!r} line {number}: {line!r} is not a path class/.../file relative to "
                "the root"
            )
        files.append(rel)
    if not files:
        raise ValueError(f"ImageFolder: index {index!r} lists no file")
    files = sorted(set(files), key=lambda rel: (rel.split(os.sep, 1)[0], os.path.dirname(rel), rel))
    return FileList(sorted({rel.split(os.sep, 1)[0] for rel in files}), files)


def _write(index: str, files: FileList) -> None:
    """Writes the index whole or not at all (a temporary file renamed over it): a reader never sees half of it."""
    if any("\n" in rel or "\r" in rel for rel in files.files + list(files.folders)):
        raise OSError("a file or folder name holds a line break")
    lines = [HEADER, f"#scanned {files.scanned_ns}"]
    lines += [f"#dir {ns} {rel}" for rel, ns in files.folders.items()]
    lines += ["./" + rel if rel.startswith("#") else rel for rel in files.files]
    temporary = f"{index}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8", errors="surrogateescape", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(temporary, index)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


@contextlib.contextmanager
def _locked(path: str):
    """An exclusive lock on `path` (created if missing) for the block; no lock where the folder is read-only or the
    filesystem has no locks (each process then scans, and the last rename wins: the same list)."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
