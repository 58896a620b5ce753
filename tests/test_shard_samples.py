"""The collates take samples as shard readers hand them over (issue 34, part 1): encoded images as bytes,
bytearray, memoryview, 1-D uint8 arrays and tensors and Hugging Face `Image(decode=False)` dicts, without wrapping;
dict samples' image and label found under the keys Hugging Face and WebDataset use; WebDataset's `cls` bytes read as
int labels. Each form gives the batch `fl.EncodedImage` gives, bit for bit."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from files import photo

import fastload as fl


def _jpeg(seed: int, h: int = 30, w: int = 40) -> bytes:
    return cv2.imencode(".jpg", photo(np.random.default_rng(seed), h, w))[1].tobytes()


FILES = [_jpeg(seed) for seed in range(4)]
FORMS = {
    "bytes": lambda b, path: b,
    "bytearray": lambda b, path: bytearray(b),
    "memoryview": lambda b, path: memoryview(b),
    "numpy": lambda b, path: np.frombuffer(b, np.uint8),
    "tensor": lambda b, path: torch.frombuffer(bytearray(b), dtype=torch.uint8),
    "hf dict": lambda b, path: {"bytes": b, "path": path},
    "hf dict, path only": lambda b, path: {"bytes": None, "path": path},
}


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shard_files")
    out = []
    for i, data in enumerate(FILES):
        (folder / f"{i}.jpg").write_bytes(data)
        out.append(str(folder / f"{i}.jpg"))
    return out


def _equal(a, b):
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, fl.data.CropBatch):
        return torch.equal(a.images.data, b.images.data) and a.boxes == b.boxes and a.flips == b.flips
    if isinstance(a, fl.PackedImages):
        return torch.equal(a.data, b.data) and torch.equal(a.sizes, b.sizes)
    return a == b


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize(
    "collate",
    [
        lambda: fl.CropCollate(16, fl.IMAGENET),
        lambda: fl.CropCollate(16),
        lambda: fl.CropCollate(16, fl.IMAGENET, train=False, resize=20),
        lambda: fl.PadCollate(fl.IMAGENET, size_divisor=8),
        lambda: fl.PadCollate(pack=True),
    ],
    ids=["crop", "crop raw", "crop eval", "pad", "pad packed"],
)
def test_every_form_of_encoded_bytes_gives_the_encoded_image_batch(paths, form, collate):
    given = [(FORMS[form](b, p), i) for i, (b, p) in enumerate(zip(FILES, paths))]
    wrapped = [(fl.EncodedImage(b, p), i) for i, (b, p) in enumerate(zip(FILES, paths))]
    torch.manual_seed(0)
    ours = collate()(given)
    torch.manual_seed(0)
    reference = collate()(wrapped)
    assert _equal(ours[0], reference[0]), form
    assert torch.equal(ours[1], reference[1])


def test_dict_samples_find_their_image_and_label_without_arguments():
    # WebDataset: the file's extension is the key, `cls` the label as ASCII bytes, `__key__` names the sample
    wds = [{"__key__": f"s{i}", "jpg": data, "cls": str(i).encode()} for i, data in enumerate(FILES)]
    batch = fl.CropCollate(16, fl.IMAGENET, label_mode="classification", num_classes=4)(wds)
    assert batch["jpg"].shape == (4, 3, 16, 16)
    assert batch["cls"].dtype == torch.int64 and batch["cls"].tolist() == [0, 1, 2, 3]
    assert batch["__key__"] == ["s0", "s1", "s2", "s3"]
    # Hugging Face: `image` holds a {"bytes", "path"} dict, `label` an int
    hf = [{"image": {"bytes": data, "path": None}, "label": i} for i, data in enumerate(FILES)]
    batch = fl.PadCollate(fl.IMAGENET)(hf)
    assert batch["image"].shape[:2] == (4, 3) and batch["label"].tolist() == [0, 1, 2, 3]
    # and the prefetcher finishes the batch under the key the collate kept
    raw = fl.CropCollate(16)(hf)
    (finished,) = list(fl.DevicePrefetcher([raw], "cpu", fl.IMAGENET))
    assert finished["image"].shape == (4, 3, 16, 16) and finished["image"].dtype == torch.float32
    # an explicit key wins; a label under another key is checked when named
    named = [{"picture": data, "y": b"5"} for data in FILES[:2]]
    batch = fl.CropCollate(16, fl.IMAGENET, image_key="picture", label_key="y")(named)
    assert batch["y"].tolist() == [5, 5]
    with pytest.raises(ValueError, match=r"label 5 breaks the rule"):
        fl.CropCollate(16, image_key="picture", label_key="y", label_mode="classification", num_classes=3)(named)


def test_shard_samples_that_cannot_be_read_are_named():
    with pytest.raises(ValueError, match=r"sample 0 of the batch \(__key__='a'\) has none of the image keys"):
        fl.CropCollate(16)([{"__key__": "a", "txt": b"hello"}])
    with pytest.raises(ValueError, match=r"sample 1 of the batch has no image key 'img'"):
        fl.PadCollate(image_key="img")([{"img": FILES[0]}, {"jpg": FILES[1]}])
    with pytest.raises(ValueError, match=r"label b'x' is bytes that do not spell an integer"):
        fl.CropCollate(16)([{"jpg": FILES[0], "cls": b"x"}])
    with pytest.raises(ValueError, match=r"neither bytes nor a path"):
        fl.CropCollate(16)([({"bytes": None, "path": None}, 0)])
    with pytest.raises(FileNotFoundError):
        fl.CropCollate(16)([({"bytes": None, "path": "/no/such/file.jpg"}, 0)])
    decoded = photo(np.random.default_rng(0), 30, 40)
    with pytest.raises(ValueError, match=r"sample 1 of the batch and sample 0 of the batch differ"):
        fl.CropCollate(16)([(FILES[0], 0), (decoded, 1)])
    with pytest.raises(TypeError, match="label_key must be a str or None"):
        fl.PadCollate(label_key=3)


def test_a_bad_file_among_raw_bytes_is_named_or_skipped():
    batch = [(FILES[0], 0), (b"not a jpeg", 1), (FILES[1], 2)]
    with pytest.raises(ValueError, match="sample 1 of the batch"):
        fl.CropCollate(16, fl.IMAGENET)(batch)
    collate = fl.CropCollate(16, fl.IMAGENET, on_error="skip")
    with pytest.warns(RuntimeWarning, match="skipped sample 1"):
        images, labels = collate(batch)
    assert images.shape[0] == 2 and labels.tolist() == [0, 2]


def test_a_missing_file_named_by_path_is_a_bad_file_for_on_error():
    batch = [({"bytes": None, "path": "/no/such/file.jpg"}, 0), (FILES[0], 1)]
    with pytest.raises(ValueError, match=r"sample 0 of the batch: /no/such/file.jpg: cannot read the file"):
        fl.CropCollate(16, fl.IMAGENET)(batch)
    with pytest.warns(RuntimeWarning, match=r"skipped sample 0 of the batch: /no/such/file.jpg"):
        images, labels = fl.CropCollate(16, fl.IMAGENET, on_error="skip")(batch)
    assert images.shape[0] == 1 and labels.tolist() == [1]
    with pytest.warns(RuntimeWarning, match="neither bytes nor a path"):
        packed = fl.PadCollate(pack=True, on_error="skip")([({"bytes": None, "path": None}, 0), (FILES[1], 1)])
    assert len(packed[0]) == 1
