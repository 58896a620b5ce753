"""fl.ImageFolder's index file (issue 34, part 5): the same samples as torchvision's scan, written once, reused with
one stat per folder while the tree is unchanged, rescanned when a folder changed (or may have changed within the
scan's timestamp tick), a user's list taken as given, one writer among concurrent processes."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest
from torchvision.datasets import ImageFolder as TorchvisionFolder

import fastload as fl
from fastload.data import folder_index

NAMES = ["2.jpg", "1.JPG", "x/3.png", "x/y/4.jpeg", "z.txt", "with space.jpg"]


def age(root) -> None:
    """Every folder's mtime a minute back: a tree nobody changed during the scan."""
    past = time.time() - 60
    for dirpath, _, _ in os.walk(root):
        os.utime(dirpath, (past, past))


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    # "a" < "a-b" < "a/x" as strings: torchvision orders by class first, then by folder.
    for name in ["a", "a-b", "b", "#c", "e\udcff"]:
        for file in NAMES:
            path = root / name / file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
    (root / "a" / "x-1").mkdir()
    (root / "a" / "x-1" / "0.jpg").write_bytes(b"")
    (root / "empty").mkdir()
    age(root)
    return root


def theirs(root) -> TorchvisionFolder:
    return TorchvisionFolder(str(root), loader=lambda path: path, allow_empty=True)


def same_as_torchvision(ours: fl.ImageFolder, root) -> None:
    reference = theirs(root)
    assert ours.samples == reference.samples
    assert ours.classes == reference.classes and ours.class_to_idx == reference.class_to_idx


def test_scan_and_index_give_torchvisions_samples(tree, tmp_path):
    same_as_torchvision(fl.ImageFolder(tree, allow_empty=True), tree)
    index = tmp_path / "tree.index"
    written = fl.ImageFolder(tree, allow_empty=True, index=index)
    assert written.index_state == "written" and index.read_text(errors="surrogateescape").startswith("# fastload")
    same_as_torchvision(written, tree)
    reused = fl.ImageFolder(tree, allow_empty=True, index=str(index))
    assert reused.index_state == "reused"
    same_as_torchvision(reused, tree)


def test_a_reused_index_lists_no_folder(tree, tmp_path, monkeypatch):
    index = tmp_path / "tree.index"
    fl.ImageFolder(tree, allow_empty=True, index=index)
    folders = sum(1 for _ in os.walk(tree))
    stats = []
    real_stat = os.stat
    monkeypatch.setattr(os, "scandir", lambda *a, **k: pytest.fail("a reused index scanned the tree"))
    monkeypatch.setattr(os, "stat", lambda path, *a, **k: stats.append(path) or real_stat(path, *a, **k))
    reused = fl.ImageFolder(tree, allow_empty=True, index=index)
    assert reused.index_state == "reused" and len(reused) == 26
    assert len(stats) == folders + 1  # one stat per folder, and the check that root is a folder


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "b" / "x" / "y" / "new.jpg").write_bytes(b""),  # a file added deep down
        lambda root: (root / "a" / "2.jpg").unlink(),  # removed
        lambda root: (root / "a-b" / "x" / "3.png").rename(root / "a-b" / "x" / "9.png"),  # renamed
        lambda root: (root / "b").rename(root / "bb"),  # a class folder renamed
        lambda root: (root / "f" / "n").mkdir(parents=True) or (root / "f" / "n" / "1.jpg").write_bytes(b""),
        lambda root: (root / "e\udcff" / "x" / "new").mkdir(),  # a new, empty subfolder
    ],
)
def test_a_changed_tree_is_rescanned_and_the_index_rewritten(tree, tmp_path, change):
    index = tmp_path / "tree.index"
    fl.ImageFolder(tree, allow_empty=True, index=index)
    change(tree)
    rescanned = fl.ImageFolder(tree, allow_empty=True, index=index)
    assert rescanned.index_state == "written"
    same_as_torchvision(rescanned, tree)
    age(tree)
    assert fl.ImageFolder(tree, allow_empty=True, index=index).index_state == "written"  # ages the index too
    again = fl.ImageFolder(tree, allow_empty=True, index=index)
    assert again.index_state == "reused"
    same_as_torchvision(again, tree)


def test_a_folder_changed_just_before_the_scan_is_not_trusted(tree, tmp_path):
    """A change within the folder's timestamp tick after it was listed leaves its mtime as it was: a folder whose
    mtime is that close to the scan is rescanned next time instead of vouched for."""
    index = tmp_path / "tree.index"
    folder = tree / "b"
    os.utime(folder, (time.time(), time.time()))  # changed just now
    assert fl.ImageFolder(tree, allow_empty=True, index=index).index_state == "written"
    mtime = folder.stat().st_mtime_ns
    (folder / "late.jpg").write_bytes(b"")  # the same tick: put the mtime back
    os.utime(folder, ns=(mtime, mtime))
    again = fl.ImageFolder(tree, allow_empty=True, index=index)
    assert again.index_state == "written" and str(folder / "late.jpg") in dict(again.samples)


def test_a_users_list_is_used_as_given(tree, tmp_path):
    index = tmp_path / "list.txt"
    lines = ["# made by find", "./b/2.jpg", "a/x/3.png", "", "b/1.JPG\r", "a/2.jpg", "a/2.jpg", "b/notes.txt"]
    index.write_bytes(("\n".join(lines) + "\n").encode())
    given = fl.ImageFolder(tree, index=index)
    assert given.index_state == "given" and given.classes == ["a", "b"]
    root = str(tree)
    expected = [("a/2.jpg", 0), ("a/x/3.png", 0), ("b/1.JPG", 1), ("b/2.jpg", 1)]
    assert given.samples == [(os.path.join(root, rel), label) for rel, label in expected]
    (tree / "a" / "new.jpg").write_bytes(b"")
    assert fl.ImageFolder(tree, index=index).index_state == "given"  # never rescanned nor rewritten
    assert index.read_bytes() == ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("line", ["/abs/a/1.jpg", "a/../../1.jpg", "top.jpg"])
def test_a_users_list_with_a_bad_line_is_refused_naming_file_and_line(tree, tmp_path, line):
    index = tmp_path / "list.txt"
    index.write_text(f"a/2.jpg\n{line}\n")
    with pytest.raises(ValueError, match=r"list\.txt.* line 2"):
        fl.ImageFolder(tree, index=index)
    index.write_text("# nothing\n\n")
    with pytest.raises(ValueError, match="lists no file"):
        fl.ImageFolder(tree, index=index)


def test_a_broken_own_index_is_rewritten(tree, tmp_path):
    index = tmp_path / "tree.index"
    index.write_text(folder_index.HEADER + "\n#dir notanumber a\n")
    assert fl.ImageFolder(tree, allow_empty=True, index=index).index_state == "written"
    assert fl.ImageFolder(tree, allow_empty=True, index=index).index_state == "reused"


def test_an_index_that_cannot_be_written_warns_and_scans(tree, tmp_path):
    with pytest.warns(UserWarning, match="could not write the index"):
        folder = fl.ImageFolder(tree, allow_empty=True, index=tmp_path / "missing" / "tree.index")
    assert folder.index_state == "scanned"
    same_as_torchvision(folder, tree)
    with pytest.raises(ValueError, match="cannot be read"):
        fl.ImageFolder(tree, index=tmp_path)  # a folder
    for wrong in (3, b"tree.index"):
        with pytest.raises(TypeError, match="index must be a path"):
            fl.ImageFolder(tree, index=wrong)


def build(root: str, index: str, queue) -> None:
    queue.put(fl.ImageFolder(root, allow_empty=True, index=index).index_state)


def test_concurrent_processes_write_the_index_once(tree, tmp_path):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    procs = [context.Process(target=build, args=(str(tree), str(tmp_path / "tree.index"), queue)) for _ in range(4)]
    for proc in procs:
        proc.start()
    states = sorted(queue.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join(timeout=60)
    assert states == ["reused", "reused", "reused", "written"]
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
