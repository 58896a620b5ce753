"""`SampleCollate`: what every fastload collate does with a batch's samples around its images: dict samples (the
image under its key, per-image lists, labels checked by convention, the rest through torch's `default_collate`) and
tuple samples (image first). Subclasses make the images' batch (`_batch`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from fastload.data.samples import (
    checked_labels,
    describe_sample,
    empty_like_others,
    image_key_of,
    kept_samples,
    label_value,
    no_rows,
    per_image_values,
)
from fastload.utils import to_tensor


class SampleCollate:
    """The sample side of a collate. A subclass sets `image_key`, `list_keys`, `label_keys`, `label_mode` and
    `num_classes`, and gives `_arrays(images)` (the images as it takes them) and `_batch(images, where)` (the
    images' batch, the metadata entries dict batches get, and the indices of the samples it holds, None for all)."""

    def _moved(self, key: str, values: list, samples, metadata: dict) -> list:
        """The values of `key` as the batch's geometry leaves them (by default: as given)."""
        return values

    def _check_tuples(self) -> None:
        """Raises when this collate cannot take tuple samples (by default it can)."""

    def __call__(self, samples: Sequence):
        if len(samples) == 0:
            raise ValueError(f"{type(self).__name__} got an empty list of samples")
        if isinstance(samples[0], Mapping):
            return self._collate_dicts(samples)
        if isinstance(samples[0], (tuple, list)):
            return self._collate_tuples(samples)
        raise TypeError(f"{type(self).__name__} takes dict or tuple samples, got {type(samples[0]).__name__}")

    def _collate_dicts(self, samples):
        image_key = None
        for i, s in enumerate(samples):
            if not isinstance(s, Mapping):
                raise TypeError(f"{describe_sample(samples, i)} is a {type(s).__name__}, sample 0 a dict")
            image_key = image_key_of(s, self.image_key or image_key, describe_sample(samples, i))
        batch, metadata, kept = self._batch(
            self._arrays([s[image_key] for s in samples]), lambda i: describe_sample(samples, i)
        )
        originals, samples = samples, kept_samples(samples, kept)
        out = {image_key: batch, **metadata}
        # The collate's own shapes describe the batch it made: they win over sample keys of the same name. The keys
        # are the given samples', so that a batch of skipped files still has them.
        keys = list(dict.fromkeys(k for s in originals for k in s if k != image_key and k not in metadata))
        for key in keys:
            values = [s.get(key) for s in samples]
            values = self._moved(key, values, samples, metadata)
            if key in self.list_keys:
                out[key] = [
                    self._list_entry(key=key, value=v, values=values, samples=samples, i=i)
                    for i, v in enumerate(values)
                ]
                continue
            missing = [i for i, s in enumerate(samples) if key not in s]
            if missing:
                raise ValueError(
                    f"{describe_sample(samples, missing[0])} has no key {key!r}, which other samples "
                    f"have; give every sample the key, or name it in list_keys to allow empty entries"
                )
            out[key] = self._entry(key in self.label_keys, values, samples, [s.get(key) for s in originals])
        return out

    def _entry(self, label: bool, values: list, samples, given: list):
        """The batch entry of one key or tuple position: labels (`label`) checked by label_mode and int64, a
        scalar label a scalar so that the batch is (N,); with every sample skipped, the `given` samples' entry with
        no row."""
        if label:
            values = [label_value(v, describe_sample(samples, i)) for i, v in enumerate(values)]
            given = [label_value(v, f"sample {i} of the batch") for i, v in enumerate(given)]
        if label and self.label_mode is not None:
            checked = [
                checked_labels(v, describe_sample(samples, i), self.label_mode, self.num_classes)
                for i, v in enumerate(values)
            ]
            values = [t.reshape(()) if np.ndim(v) == 0 else t for t, v in zip(checked, values)]
        if not values:
            return no_rows(per_image_values(given))
        return per_image_values(values)

    def _list_entry(self, key: str, value, values: list, samples, i: int) -> torch.Tensor:
        dtype = torch.int64 if key == "labels" else torch.float32
        if value is None:
            return empty_like_others(values, dtype)
        if key == "labels":
            return checked_labels(value, describe_sample(samples, i), self.label_mode, self.num_classes)
        return to_tensor(value).to(dtype)

    def _collate_tuples(self, samples):
        self._check_tuples()
        batch, _, kept = self._batch(self._arrays([s[0] for s in samples]), lambda i: describe_sample(samples, i))
        originals, samples = samples, kept_samples(samples, kept)
        rest = [
            self._entry(position == 1, [s[position] for s in samples], samples, [s[position] for s in originals])
            for position in range(1, len(originals[0]))
        ]
        return (batch, *rest)
