"""Training-script helpers, each tested against PyTorch's own behaviour: tensors and labels from anything, conv/pool
output sizes, loading pretrained weights into a changed model."""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch


def to_tensor(data) -> torch.Tensor:
    """A tensor from common Python and numpy values.

    Args:
        data: a tensor (returned as is); a numpy array (shared where possible: negative-stride and non-contiguous
            arrays are made contiguous, no error); a sequence other than str (`torch.tensor`); an int (int64 [x]) or a
            float (float32 [x]).

    Returns:
        A torch.Tensor.

    Raises:
        TypeError: anything else, naming the type.
    """
    if isinstance(data, torch.Tensor):
        return data
    if isinstance(data, np.ndarray):
        if any(s < 0 for s in data.strides) or not (data.flags["C_CONTIGUOUS"] or data.flags["F_CONTIGUOUS"]):
            # copy(order="C") gives fresh strides; ascontiguousarray would keep a negative stride on a length-1 dim.
            data = data.copy(order="C")
        return torch.from_numpy(data)
    if isinstance(data, bool):
        raise TypeError("to_tensor: bool is ambiguous (a label? a mask?); wrap it in a list or array")
    if isinstance(data, numbers.Integral):
        return torch.tensor([int(data)], dtype=torch.int64)
    if isinstance(data, numbers.Real):
        return torch.tensor([float(data)], dtype=torch.float32)
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        return torch.tensor(data)
    raise TypeError(f"to_tensor: cannot convert {type(data).__name__} to a tensor")


def image_to_tensor(data) -> torch.Tensor:
    """`to_tensor(data)` as float32 (what conv weights expect).

    Args:
        data: what `to_tensor` takes.

    Returns:
        A float32 tensor.
    """
    return to_tensor(data).to(torch.float32)


def labels_to_tensor(data) -> torch.Tensor:
    """Class indices as an int64 tensor (what nn.CrossEntropyLoss expects), checked before the cast.

    Args:
        data: what `to_tensor` takes, holding integral values.

    Returns:
        An int64 tensor.

    Raises:
        ValueError: NaN, infinite or fractional values (never truncated).
        TypeError: bools.
    """
    t = to_tensor(data)
    if t.dtype.is_floating_point:
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"labels must be finite whole numbers, got {t.tolist()}")
        if not torch.equal(t, t.round()):
            raise ValueError(f"labels must be whole numbers, got {t.tolist()}")
    elif t.dtype == torch.bool:
        raise TypeError("labels must be integers, got bool")
    elif t.is_complex():
        raise TypeError(f"labels must be integers, got {t.dtype}")
    return t.to(torch.int64)


def _pair(name: str, value) -> tuple[int, int]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (numbers.Integral, tuple, list)):
        raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")
    values = (value, value) if isinstance(value, numbers.Integral) else tuple(value)
    if len(values) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
        raise ValueError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")
    return int(values[0]), int(values[1])


def _output_size_1d(size, kernel, stride, padding, dilation, ceil_mode, dim) -> int:
    if stride < 1 or kernel < 1 or dilation < 1 or padding < 0:
        raise ValueError(
            f"conv_output_size: need kernel_size >= 1, stride >= 1, dilation >= 1, padding >= 0 "
            f"(dim {dim}: kernel {kernel}, stride {stride}, dilation {dilation}, padding {padding})"
        )
    span = dilation * (kernel - 1) + 1
    if size + 2 * padding < span:
        raise ValueError(
            f"conv_output_size: the window ({span} = dilation {dilation} * (kernel {kernel} - 1) + 1) "
            f"is larger than the padded input ({size} + 2 * {padding}) in dim {dim}"
        )
    numerator = size + 2 * padding - span
    out = (-(-numerator // stride) if ceil_mode else numerator // stride) + 1
    # PyTorch's pooling rule: with ceil_mode the last window must start inside the input or its left padding.
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1, ceil_mode: bool = False):
    """Output size of a convolution or pooling layer, identical to PyTorch's Conv/MaxPool/AvgPool arithmetic.

    floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1, or ceil with `ceil_mode`, where
    the last window must start inside the input or the left padding.

    Args:
        size: the input's side, an int, or an (h, w) pair.
        kernel_size: an int or an (h, w) pair.
        stride: an int or an (h, w) pair.
        padding: an int or an (h, w) pair.
        dilation: an int or an (h, w) pair.
        ceil_mode: PyTorch's `ceil_mode`.

    Returns:
        An int, or an (h, w) tuple when any argument is a pair.

    Raises:
        ValueError: a window larger than the padded input, a zero stride, negative values (with the numbers).
    """
    args = (size, kernel_size, stride, padding, dilation)
    if all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args):
        return _output_size_1d(
            size=size, kernel=kernel_size, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode, dim=0
        )
    pairs = [_pair(n, a) for n, a in zip(("size", "kernel_size", "stride", "padding", "dilation"), args)]
    return tuple(_output_size_1d(*(p[d] for p in pairs), ceil_mode, d) for d in range(2))


@dataclass
class LoadReport:
    """What `load_pretrained` did; each key is in one list.

    Attributes:
        loaded: keys loaded into the model.
        missing: model keys the checkpoint lacks (they keep the model's initialization).
        unexpected: checkpoint keys the model does not have.
        mismatched: name -> (checkpoint shape, model shape): replaced layers such as a new head, which keep the
            model's own initialization.
    """

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def __str__(self) -> str:
        lines = [f"loaded {len(self.loaded)} tensors"]
        if self.missing:
            lines.append(f"missing from the checkpoint ({len(self.missing)}): {', '.join(self.missing)}")
        if self.unexpected:
            lines.append(f"not in the model ({len(self.unexpected)}): {', '.join(self.unexpected)}")
        for name, (ckpt, model) in self.mismatched.items():
            lines.append(
                f"replaced (shape differs) {name}: checkpoint {tuple(ckpt)}, model {tuple(model)}: the "
                "model's own values kept"
            )
        return "\n".join(lines)


def _state_dict_of(checkpoint) -> Mapping[str, torch.Tensor]:
    if isinstance(checkpoint, (str, os.PathLike)):
        path = os.fspath(os.path.expanduser(checkpoint))
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise FileNotFoundError(f"load_pretrained: no checkpoint file at {path!r}") from None
        except IsADirectoryError:
            raise FileNotFoundError(f"load_pretrained: {path!r} is a folder, not a checkpoint file") from None
    if not isinstance(checkpoint, Mapping):
        raise TypeError(f"load_pretrained: checkpoint must be a path or a dict, got {type(checkpoint).__name__}")
    for wrapper in ("state_dict", "model"):
        inner = checkpoint.get(wrapper)
        if isinstance(inner, Mapping):
            return inner
    return checkpoint


def load_pretrained(
    model: torch.nn.Module,
    checkpoint,
    *,
    strip_prefixes: Iterable[str] = ("module.",),
    strict: bool = False,
    verbose: bool = True,
) -> LoadReport:
    """Load what fits from a checkpoint into `model`, and report the rest.

    Keys the model lacks and tensors whose shapes differ (a new classifier head) are skipped and reported with both
    shapes.

    Args:
        model: the module to load into.
        checkpoint: a path (hidden folders such as ~/.cache/torch are fine) or a state dict, optionally wrapped in
            "state_dict" or "model".
        strip_prefixes: prefixes taken off the checkpoint's keys (DataParallel's "module."); a single string is one
            prefix.
        strict: raise instead of skipping.
        verbose: print the report.

    Returns:
        A `LoadReport` (loaded, missing, unexpected and shape-mismatched keys).

    Raises:
        FileNotFoundError: a path that does not exist.
        RuntimeError: with `strict=True`, any skipped or missing key (the message carries the report).
    """
    if isinstance(strip_prefixes, str):
        strip_prefixes = (strip_prefixes,)
    state = {}
    for key, value in _state_dict_of(checkpoint).items():
        for prefix in strip_prefixes:
            if key.startswith(prefix):
                key = key[len(prefix) :]
        state[key] = value
    own = model.state_dict()
    report = LoadReport()
    usable = {}
    for key, value in state.items():
        if key not in own:
            report.unexpected.append(key)
        elif tuple(value.shape) != tuple(own[key].shape):
            report.mismatched[key] = (tuple(value.shape), tuple(own[key].shape))
        else:
            usable[key] = value
    report.missing = [k for k in own if k not in usable and k not in report.mismatched]
    if strict and not report.ok:
        raise RuntimeError(f"load_pretrained(strict=True):\n{report}")
    model.load_state_dict(usable, strict=False)
    report.loaded = list(usable)
    if verbose:
        print(report)
    return report
