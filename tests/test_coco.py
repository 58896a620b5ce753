"""fl.CocoDetection against pycocotools (torchvision's CocoDetection and its v2 wrapper) and mmdetection's parsing
rules, applied here to pycocotools' own view of a real annotation file the test writes."""

import json

import cv2
import numpy as np
import pytest
import torch

import fastload as fl
from fastload.photos import bundled_photos

pycocotools = pytest.importorskip("pycocotools.coco")
tv_datasets = pytest.importorskip("torchvision.datasets")

# Non-contiguous category ids in an order that is not sorted, as real files have them.
CATEGORIES = [{"id": 7, "name": "cat"}, {"id": 2, "name": "dog"}, {"id": 90, "name": "bird"}]


def _annotations(images: list, rng) -> list:
    """Ordinary boxes plus every case mmdet's rules decide: crowd, `ignore`, outside the image, narrower than 1 px,
    zero area, an unknown category, fractional coordinates, a box crossing the border."""
    anns = []

    def add(image, **kw):
        ann = {"id": 1000 + len(anns), "image_id": image["id"], "iscrowd": 0, "area": 100.0, **kw}
        anns.append(ann)

    for k, image in enumerate(images):
        w, h = image["width"], image["height"]
        for _ in range(3):
            x, y = rng.uniform(0, w - 40), rng.uniform(0, h - 40)
            add(image, bbox=[x, y, rng.uniform(1, 40), rng.uniform(1, 40)], category_id=[7, 2, 90][_])
        if k == 0:
            add(image, bbox=[5.0, 5.0, 30.0, 30.0], category_id=2, iscrowd=1)  # -> bboxes_ignore
            add(image, bbox=[5.0, 5.0, 30.0, 30.0], category_id=2, ignore=True)  # dropped
            add(image, bbox=[w + 1.0, 5.0, 10.0, 10.0], category_id=2)  # outside: dropped
            add(image, bbox=[5.0, 5.0, 0.5, 10.0], category_id=2)  # narrower than 1 px: dropped
            add(image, bbox=[5.0, 5.0, 10.0, 10.0], category_id=2, area=0)  # no area: dropped
            add(image, bbox=[5.0, 5.0, 10.0, 10.0], category_id=55)  # unknown category: dropped
            add(image, bbox=[-4.5, h - 8.25, 20.0, 30.0], category_id=7)  # crosses the border: kept as given
        if k == 1:
            add(image, bbox=[1.0, 1.0, 8.0, 8.0], category_id=90, iscrowd=1)  # its only non-crowd box follows
    return anns


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    rng = np.random.default_rng(5)
    images = []
    for i, photo in enumerate(bundled_photos()[:5]):
        name = f"{i:012d}.jpg"
        cv2.imwrite(str(root / name), photo)
        h, w = photo.shape[:2]
        images.append({"id": [42, 7, 3, 19, 8][i], "file_name": name, "height": h, "width": w})
    images.append({"id": 100, "file_name": "000000000000.jpg", "height": 20, "width": 30})  # no annotation
    anns = _annotations(images[:5], rng)
    ann_file = root / "instances.json"
    ann_file.write_text(json.dumps({"images": images, "annotations": anns, "categories": CATEGORIES}))
    return root, ann_file


def _mmdet_targets(api, img_id: int) -> dict:
    """mmdetection's `CocoDataset._parse_ann_info` (2.x; 3.x's `parse_data_info` keeps the same boxes), over
    pycocotools' COCO object."""
    cat_ids = api.getCatIds()
    cat2label = {c: i for i, c in enumerate(cat_ids)}
    info = api.loadImgs([img_id])[0]
    boxes, labels, ignore = [], [], []
    for ann in api.loadAnns(api.getAnnIds(imgIds=[img_id])):
        if ann.get("ignore", False):
            continue
        x1, y1, w, h = ann["bbox"]
        inter_w = max(0, min(x1 + w, info["width"]) - max(x1, 0))
        inter_h = max(0, min(y1 + h, info["height"]) - max(y1, 0))
        if inter_w * inter_h == 0 or ann["area"] <= 0 or w < 1 or h < 1 or ann["category_id"] not in cat_ids:
            continue
        (ignore if ann.get("iscrowd", False) else boxes).append([x1, y1, x1 + w, y1 + h])
        if not ann.get("iscrowd", False):
            labels.append(cat2label[ann["category_id"]])
    return {
        "bboxes": np.array(boxes, np.float32).reshape(-1, 4),
        "labels": np.array(labels, np.int64),
        "bboxes_ignore": np.array(ignore, np.float32).reshape(-1, 4),
    }


def test_boxes_labels_and_order_match_pycocotools_and_mmdet_rules(coco):
    root, ann_file = coco
    api = pycocotools.COCO(str(ann_file))
    tv = tv_datasets.CocoDetection(str(root), str(ann_file))
    ds = fl.CocoDetection(root, ann_file, label_mode="mmdet")
    assert ds.img_ids == tv.ids  # ascending image id, as torchvision
    assert ds.cat_ids == api.getCatIds() == [7, 2, 90] and ds.classes == ["cat", "dog", "bird"]
    assert ds.cat2label == {7: 0, 2: 1, 90: 2} and ds.label2cat == {0: 7, 1: 2, 2: 90} and ds.num_classes == 3
    for i, img_id in enumerate(tv.ids):
        sample, want = ds[i], _mmdet_targets(api, img_id)
        assert sample["img_id"] == img_id
        assert sample["bboxes"].dtype == torch.float32 and sample["labels"].dtype == torch.int64
        np.testing.assert_array_equal(sample["bboxes"].numpy(), want["bboxes"])
        np.testing.assert_array_equal(sample["labels"].numpy(), want["labels"])
        np.testing.assert_array_equal(sample["bboxes_ignore"].numpy(), want["bboxes_ignore"])
        info = api.loadImgs([img_id])[0]
        assert sample["ori_shape"] == (info["height"], info["width"])
        assert sample["img_path"] == str(root / info["file_name"])
        # The file handed over is the file: it decodes to cv2.imread's pixels.
        pixels = cv2.imread(sample["img_path"])
        assert torch.equal(fl.decode_image(sample["img"]), torch.from_numpy(pixels))
    first = ds[ds.img_ids.index(42)]
    assert len(first["bboxes"]) == 4 and len(first["bboxes_ignore"]) == 1  # three ordinary + the border box


def test_label_modes_map_the_same_boxes(coco):
    root, ann_file = coco
    mm = fl.CocoDetection(root, ann_file, label_mode="mmdet")
    det = fl.CocoDetection(root, ann_file)  # "detection" by default: 1..K, 0 is the background
    raw = fl.CocoDetection(root, ann_file, label_mode="category_id")
    for i in range(len(mm)):
        a, b, c = mm.targets(i), det.targets(i), raw.targets(i)
        assert torch.equal(a["bboxes"], b["bboxes"]) and torch.equal(a["bboxes"], c["bboxes"])
        assert torch.equal(b["labels"], a["labels"] + 1)
        assert c["labels"].tolist() == [mm.label2cat[v] for v in a["labels"].tolist()]
    assert det.cat2label == {7: 1, 2: 2, 90: 3} and raw.cat2label == {7: 7, 2: 2, 90: 90}


def test_category_id_mode_equals_torchvisions_v2_wrapper_on_ordinary_boxes(coco):
    """torchvision's `wrap_dataset_for_transforms_v2` keeps every annotation with its raw category id as the label
    (the detection references' convention); on images whose boxes mmdet's rules all keep, the two agree exactly."""
    root, ann_file = coco
    tv = tv_datasets.wrap_dataset_for_transforms_v2(tv_datasets.CocoDetection(str(root), str(ann_file)))
    ds = fl.CocoDetection(root, ann_file, label_mode="category_id")
    checked = 0
    for i, img_id in enumerate(ds.img_ids):
        if img_id in (42, 7, 100):  # the images with cases the two handle differently, and the one without boxes
            continue
        _, target = tv[i]
        sample = ds[i]
        # torchvision adds w to x in float32, mmdet (and fastload) in float64 before the float32 cast: one rounding
        # apart at most.
        tv_boxes = target["boxes"].as_subclass(torch.Tensor)
        torch.testing.assert_close(sample["bboxes"], tv_boxes, rtol=0, atol=float(tv_boxes.abs().max()) * 2**-23)
        assert torch.equal(sample["bboxes"][:, :2], tv_boxes[:, :2])
        assert torch.equal(sample["labels"], target["labels"])
        checked += 1
    assert checked == 3


def test_filter_empty_and_min_size_follow_mmdet(coco):
    root, ann_file = coco
    api = pycocotools.COCO(str(ann_file))
    everything = fl.CocoDetection(root, ann_file)
    assert 100 in everything.img_ids and len(everything[everything.img_ids.index(100)]["bboxes"]) == 0
    # mmdet's _filter_imgs: kept when some annotation of the dataset's categories names the image.
    with_ann = set()
    for cat in api.getCatIds():
        with_ann |= set(api.catToImgs[cat])
    filtered = fl.CocoDetection(root, ann_file, filter_empty=True)
    assert filtered.img_ids == sorted(i for i in api.getImgIds() if i in with_ann)
    small = fl.CocoDetection(root, ann_file, min_size=301)
    shorter = {i: min(api.imgs[i]["height"], api.imgs[i]["width"]) for i in api.getImgIds()}
    assert small.img_ids == sorted(i for i, side in shorter.items() if side >= 301)


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda d: d.pop("images"), "no list of objects under 'images'"),
        (lambda d: d["images"].append(dict(d["images"][0])), "image id 1 appears more than once"),
        (lambda d: d["annotations"][0].update(image_id=999), "annotation 0 is of image 999"),
        (lambda d: d["annotations"][0].update(bbox=[1, 2, 3]), "annotation 0 has bbox [1, 2, 3]"),
        (lambda d: d["annotations"][0].update(bbox=[1, 2, 3, "4"]), "annotation 0 has bbox"),
        (lambda d: d["categories"][0].pop("name"), "category 0 has no 'name'"),
        (lambda d: d["images"][0].pop("height"), "image 0 has no 'height'"),
    ],
)
def test_a_broken_annotation_file_is_a_value_error_naming_it(tmp_path, change, words):
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "height": 4, "width": 4}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "area": 4}],
        "categories": [{"id": 1, "name": "a"}],
    }
    change(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=rf"{path}.*{words}".replace("[", r"\[").replace("]", r"\]")):
        fl.CocoDetection(tmp_path, path)


def test_bad_arguments_and_files(tmp_path, coco):
    root, ann_file = coco
    not_json = tmp_path / "x.json"
    not_json.write_text("{oops")
    with pytest.raises(ValueError, match=rf"{not_json} is not JSON"):
        fl.CocoDetection(tmp_path, not_json)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        fl.CocoDetection(tmp_path, tmp_path / "missing.json")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        fl.CocoDetection(tmp_path / "nowhere", ann_file)
    with pytest.raises(ValueError, match="label_mode must be 'detection', 'mmdet' or 'category_id'"):
        fl.CocoDetection(root, ann_file, label_mode="classification")
    with pytest.raises(ValueError, match="min_size must be an int >= 0"):
        fl.CocoDetection(root, ann_file, min_size=-1)
