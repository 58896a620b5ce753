"""How the collates read samples: the key that names a sample in an error, the label conventions (checked before
any cast), and how per-image values other than the images are gathered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch.utils.data import default_collate

from fastload.utils import labels_to_tensor, to_tensor

# The label conventions and who uses them: "classification" 0..K-1 (nn.CrossEntropyLoss); "detection" 1..K with 0 the
# background (torchvision's detection models); "mmdet" 0..K-1 with the background at K (mmdetection >= 2, detectron2).
LABEL_MODES = (None, "classification", "detection", "mmdet")
# The first and last valid label of each mode, for K classes.
_LABEL_RANGE = {"classification": (0, "K-1"), "detection": (1, "K"), "mmdet": (0, "K-1")}
_BACKGROUND = {"detection": " (0 is the background class)", "mmdet": " (K is the background class)"}


def check_label_mode(label_mode) -> str | None:
    """`label_mode` itself checked: one of LABEL_MODES, else a ValueError listing them."""
    if label_mode not in LABEL_MODES:
        raise ValueError(f"label_mode must be None, 'classification', 'detection' or 'mmdet', got {label_mode!r}")
    return label_mode


# The keys under which dict samples carry their image, tried in this order when the collate is not told
# (`image_key=`): `img` (mmdet, fastload), `image` (Hugging Face), and WebDataset's file extensions.
IMAGE_KEYS = ("img", "image", "jpg", "jpeg", "png", "webp")
# The keys under which dict samples carry their labels (Hugging Face's `label`, WebDataset's `cls`, torchvision's
# `target`, mmdet's `gt_label(s)`): checked by label_mode and collated as int64 like a tuple sample's position 1.
LABEL_KEYS = ("label", "labels", "cls", "target", "gt_label", "gt_labels")
# Keys that identify a sample to a person reading an error (in this order of preference).
IDENTIFYING_KEYS = ("img_path", "filename", "img_id", "image_id", "id", "idx", "__key__")


def first_image_key(mapping: Mapping) -> str | None:
    """The first of IMAGE_KEYS a sample or batch dict has, or None."""
    return next((k for k in IMAGE_KEYS if k in mapping), None)


def image_key_of(sample: Mapping, given: str | None, where: str) -> str:
    """The key of a dict sample's image: `given`, or the first of IMAGE_KEYS the sample has; a ValueError naming the
    sample (`where`) and its keys when there is none."""
    if given is not None:
        if given not in sample:
            raise ValueError(f"{where} has no image key {given!r} (keys: {sorted(sample)})")
        return given
    key = first_image_key(sample)
    if key is None:
        raise ValueError(
            f"{where} has none of the image keys {list(IMAGE_KEYS)} (keys: {sorted(sample)}): name it with image_key="
        )
    return key


def label_value(value, where: str):
    """A label as a sample holds it; WebDataset's `cls` arrives as ASCII bytes (b"3"), read as the int it spells."""
    if not isinstance(value, (bytes, bytearray)):
        return value
    try:
        return int(bytes(value).decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise ValueError(f"{where}: label {bytes(value)[:20]!r} is bytes that do not spell an integer") from None


def describe_sample(samples: Sequence, i: int) -> str:
    """'sample 5 of the batch' plus an identifying key of a dict sample when it has one."""
    text = f"sample {i} of the batch"
    if isinstance(samples[i], Mapping):
        key = next((k for k in IDENTIFYING_KEYS if k in samples[i]), None)
        if key is not None:
            text += f" ({key}={samples[i][key]!r})"
    return text


def checked_labels(value, where: str, label_mode: str | None, num_classes: int | None) -> torch.Tensor:
    """Labels as int64, checked before any cast (never truncated): ValueError naming `where`, the value and the rule
    when one is not a whole number or breaks the convention (LABEL_MODES)."""
    try:
        labels = labels_to_tensor(value)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{where}: {exc}") from None
    if label_mode is None or labels.numel() == 0:
        return labels
    low, last = _LABEL_RANGE[label_mode]
    high = None if num_classes is None else (num_classes if last == "K" else num_classes - 1)
    rule = f"{label_mode} labels are in [{low}, {last}]"
    rule += (f" with K = {num_classes}" if num_classes is not None else "") + _BACKGROUND.get(label_mode, "")
    bad = labels < low if high is None else (labels < low) | (labels > high)
    if bool(bad.any()):
        value = labels[bad].flatten()[0].item()
        raise ValueError(f"{where}: label {value} breaks the rule: {rule}")
    return labels


def per_image_values(values: list):
    """The batch entry of one key (or tuple position) from every sample's value: tuples and lists (per-image
    metadata such as `scale_factor` or `ori_shape`, a list of annotations) stay a list of the per-image values, as
    mmdet keeps them; anything else goes through torch's `default_collate`, which would transpose them (all heights,
    then all widths)."""
    if any(isinstance(v, (tuple, list)) for v in values):
        return list(values)
    return default_collate(values)


def kept_samples(samples, kept: list | None) -> list:
    """The samples whose images made the batch (`kept`: their indices, None for all)."""
    return samples if kept is None else [samples[i] for i in kept]


def empty_like_others(values: list, dtype: torch.dtype) -> torch.Tensor:
    """An empty entry for a sample without annotations: (0, *trailing) with the trailing shape the other samples
    have (boxes (0, 4), masks (0, H, W)), or (0,)."""
    present = next((v for v in values if v is not None), None)
    trailing = tuple(to_tensor(present).shape[1:]) if present is not None else ()
    return torch.zeros((0, *trailing), dtype=dtype)


def no_rows(entry):
    """A collated entry (`per_image_values`' result) cut to no sample: tensors keep their dtype and trailing shape,
    lists become empty, mappings keep their keys."""
    if isinstance(entry, torch.Tensor):
        return entry[:0]
    if isinstance(entry, Mapping):
        return {k: no_rows(v) for k, v in entry.items()}
    return []
