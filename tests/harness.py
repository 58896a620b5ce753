"""The one test harness every op goes through.

An op's test file declares an `OpTest`: the public function, a sample generator (for a layout and a dtype, from a
seeded rng) and a float64 oracle. The harness then runs every sample on every backend present (compiled CPU, the
compiled CPU with its intrinsics loops capped at AVX2 and off, the reference, compiled CUDA and the reference on
CUDA when a GPU is visible; a backend added later is one more entry in BACKENDS), checks that all backends agree bit
for bit (values, dtype, strides) and match the oracle, and that the caller's inputs are untouched. The same samples
feed `torch.library.opcheck` (the raw op calls are recorded from the public function, so every op and its packed
twin are checked with real arguments), `torch.compile`, and a hypothesis property test. Bad-input tables are lists
of `Bad` rows.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from unittest import mock

import numpy as np
import pytest
import torch

import fastload as fl
from fastload import _backend

CUDA = torch.cuda.is_available()
DTYPES = (torch.float32, torch.float16, torch.bfloat16)
# Input/output layouts every op is run over. Ops map each onto their own arguments (see each OpTest's samples).
LAYOUTS = ("contiguous", "channels_last", "sliced", "flipped", "transposed", "unaligned", "odd", "1x1", "empty")


@dataclass(frozen=True)
class Backend:
    """A way to run the ops: `mode` is fastload's backend switch ('auto' = compiled kernels), on `device`."""

    name: str
    device: str
    mode: str
    simd: str = "avx512"  # the widest hand-written SIMD loops of the CPU kernels ("avx2", "none": portable)


# The first is the baseline every other backend must equal bit for bit. "cuda-emulation" runs the CUDA kernel sources
# on the CPU with every access bounds- and alignment-checked (built by `make test`).
BACKENDS = [
    Backend("cpu", "cpu", "auto"),
    Backend("cpu-avx2", "cpu", "auto", simd="avx2"),
    Backend("cpu-portable", "cpu", "auto", simd="none"),
    Backend("reference", "cpu", "reference"),
    Backend("cuda-emulation", "cpu", "cuda-emulation"),
    Backend("cuda", "cuda", "auto"),
    Backend("cuda-reference", "cuda", "reference"),
]
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


@dataclass
class Sample:
    """One call of the public function: positional and keyword arguments (CPU data; the harness moves them)."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    label: str = ""


@dataclass
class OpTest:
    """An op as the harness sees it.

    `samples(rng, layout, dtype)` returns the Samples of one table cell (built from `rng` only, so calling it twice
    with equal seeds gives equal, independent inputs); `oracle(sample, result)` asserts the result against a float64
    computation; `dtypes` are the output (or input) float dtypes the op takes, (None,) for none; `layouts` the
    layouts it is run over; `raw_ops` the torch.ops names its samples must reach (for opcheck).
    """

    name: str
    fn: Callable
    samples: Callable
    oracle: Callable
    raw_ops: tuple[str, ...]
    dtypes: tuple = DTYPES
    layouts: tuple[str, ...] = LAYOUTS


@dataclass(frozen=True)
class Bad:
    """One row of a bad-input table: calling `call()` raises `exc` whose message contains every word of `words`."""

    call: Callable
    exc: type
    words: tuple[str, ...]
    label: str = ""


def seed_of(*parts) -> int:
    """A stable seed per table cell (Python's str hash is salted per process)."""
    return zlib.crc32(repr(parts).encode())


def device_view(t, device: str) -> torch.Tensor:
    """An array or tensor on `device` in the same layout: the same strides and the same offset from a 16-byte
    boundary, so sliced, transposed and unaligned views reach the device kernels as views (not made contiguous
    first). Negative strides (numpy flips; torch has none) become contiguous."""
    if isinstance(t, np.ndarray):
        if any(s < 0 for s in t.strides) or any(s % t.itemsize for s in t.strides):
            return torch.from_numpy(np.ascontiguousarray(t)).to(device)
        t = torch.from_numpy(t)
    if t.numel() == 0:
        return t.to(device)
    span = sum((n - 1) * s for n, s in zip(t.shape, t.stride())) + 1
    flat = t.as_strided((span,), (1,))  # t's storage from its first element on
    lead = (t.data_ptr() % 16) // t.element_size()
    buf = torch.empty(lead + span, dtype=t.dtype, device=device)
    buf[lead:].copy_(flat)
    return buf.as_strided(t.shape, t.stride(), lead)


def _to_device(value, device: str):
    """Sample data on `device`. CPU data is passed as it is (numpy views included); CUDA data keeps its layout
    (`device_view`)."""
    if device == "cpu":
        return value
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return device_view(value, device)
    if isinstance(value, fl.PackedImages):
        return value.to(device)
    if isinstance(value, (list, tuple)) and not isinstance(value, str):
        return type(value)(_to_device(v, device) for v in value)
    return value


def _inputs(value) -> list:
    """The arrays and tensors of a sample (to check they are left untouched)."""
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return [value]
    if isinstance(value, fl.PackedImages):
        return [value.data]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _inputs(v)]
    return []


def _snapshot(arrays: list) -> list:
    return [a.copy() if isinstance(a, np.ndarray) else _bits(a).clone() for a in arrays]


def _unchanged(before: list, after: list) -> bool:
    return all(np.array_equal(x, y) if isinstance(x, np.ndarray) else torch.equal(x, y) for x, y in zip(before, after))


def tensors_of(result) -> list[torch.Tensor]:
    """The tensors of a result (a tensor, a list of tensors, a PaddedBatch), in order."""
    if isinstance(result, torch.Tensor):
        return [result]
    if isinstance(result, (list, tuple)):
        return [t for r in result if r is not None for t in tensors_of(r)]
    raise TypeError(f"unexpected result type {type(result).__name__}")


def _bits(t: torch.Tensor) -> torch.Tensor:
    """The raw bits of `t` on the CPU (NaN payloads included), as integers of the same width."""
    t = t.detach().cpu()
    if t.dtype.is_floating_point:
        t = t.contiguous().view({8: torch.int64, 4: torch.int32, 2: torch.int16}[t.element_size()])
    return t


def assert_same_bits(got, want, where: str = "") -> None:
    """Equal results: same number of tensors, and each with equal shape, dtype, strides and bits."""
    a, b = tensors_of(got), tensors_of(want)
    assert len(a) == len(b), where
    for i, (x, y) in enumerate(zip(a, b)):
        assert x.shape == y.shape and x.dtype == y.dtype, (where, i, x.shape, y.shape, x.dtype, y.dtype)
        # Strides must agree where they matter: a dim of size 1 (or an empty tensor) may carry any stride.
        strides = [(a, b) for a, b, n in zip(x.stride(), y.stride(), x.shape) if n > 1 and x.numel()]
        assert all(a == b for a, b in strides), (where, i, x.stride(), y.stride())
        if not torch.equal(_bits(x), _bits(y)):
            diff = (x.detach().cpu().double() - y.detach().cpu().double()).abs().nan_to_num(0.0)
            raise AssertionError(f"{where} tensor {i}: results differ (max |diff| {diff.max().item()})")


def run(op: OpTest, sample: Sample, backend: Backend):
    """The public function on `backend`'s device and switch."""
    args = _to_device(sample.args, backend.device)
    kwargs = {k: _to_device(v, backend.device) for k, v in sample.kwargs.items()}
    with _backend.backend(backend.mode), _backend.cpu_simd(backend.simd):
        result = op.fn(*args, **kwargs)
    if "out" in kwargs:  # the result is the caller's buffer (on the backend's device), written in place
        written = result.images if isinstance(result, fl.PaddedBatch) else result
        assert written.data_ptr() == kwargs["out"].data_ptr() or written.numel() == 0, f"{op.name}: out= ignored"
    return result


def with_out(sample: Sample, fn, pick=lambda result: result) -> Sample:
    """`sample` again with out= a buffer exactly like the tensor the reference backend returns for it (`pick`
    selects it from the result), prefilled with NaN (float) or 171 (uint8) so an element left unwritten shows."""
    with _backend.backend("reference"):
        like = pick(fn(*sample.args, **sample.kwargs))
    buf = torch.empty_strided(like.shape, like.stride(), dtype=like.dtype)
    buf.fill_(171 if like.dtype == torch.uint8 else float("nan"))
    return Sample(sample.args, {**sample.kwargs, "out": buf}, f"{sample.label} out=")


def check_cell(op: OpTest, layout: str, dtype, seed: int, device: str = "cpu") -> None:
    """Every sample of one (layout, dtype) cell on the baseline and on every backend of `device`: bit-equal to the
    baseline, within the oracle's tolerance, caller's inputs unchanged. Each backend gets freshly generated (equal)
    inputs."""
    first = None
    for backend in [BACKENDS[0]] + [b for b in BACKENDS[1:] if b.device == device]:
        if backend.mode == "cuda-emulation" and not _backend.EMULATED:
            continue  # not built (test_backend.py fails for that)
        samples = op.samples(np.random.default_rng(seed), layout, dtype)
        assert samples, f"{op.name}: no samples for {layout} {dtype}"
        results = []
        for sample in samples:
            inputs = [
                a
                for a in _inputs(sample.args) + _inputs(list(sample.kwargs.values()))
                if a is not sample.kwargs.get("out")
            ]
            before = _snapshot(inputs)
            result = run(op, sample, backend)
            assert _unchanged(before, _snapshot(inputs)), f"{op.name} on {backend.name} changed its input"
            for t in tensors_of(result):
                if t.dtype != torch.int64 or t.device.type != "cpu":  # metadata (sizes) always lives on the CPU
                    assert t.device.type == backend.device, (op.name, backend.name, t.device)
            op.oracle(sample, result)
            results.append(result)
        if first is None:
            first = (backend, results)
            continue
        for sample, got, want in zip(samples, results, first[1]):
            assert_same_bits(
                got, want, f"{op.name} [{sample.label or layout}, {dtype}]: {backend.name} vs {first[0].name}"
            )


def backend_test(op: OpTest):
    """pytest test over every device x layout x dtype of `op`, all backends of the device."""

    @pytest.mark.parametrize("device", DEVICES)
    @pytest.mark.parametrize("layout", op.layouts)
    @pytest.mark.parametrize("dtype", op.dtypes, ids=str)
    def test(device, layout, dtype):
        check_cell(op, layout, dtype, seed_of(op.name, layout, dtype), device)

    return test


def property_test(op: OpTest, max_examples: int = 60):
    """Hypothesis: random layouts, dtypes and seeds (hence shapes, values, orders) through `check_cell`, per device."""
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies

    @pytest.mark.parametrize("device", DEVICES)
    # Derandomized in CI (CI=true), so a run's verdict does not depend on the examples it happened to draw.
    @hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=bool(os.environ.get("CI")),
        suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.function_scoped_fixture],
    )
    @hypothesis.given(
        layout=st.sampled_from(op.layouts), dtype=st.sampled_from(op.dtypes), seed=st.integers(0, 2**32 - 1)
    )
    def test(device, layout, dtype, seed):
        check_cell(op, layout, dtype, seed, device)

    return test


@contextlib.contextmanager
def recording_raw_calls():
    """Records (OpOverload, args) of every compiled op call that the public functions make."""
    calls = []
    pick = _backend.pick

    def recording_pick(*args, **kwargs):
        fn = pick(*args, **kwargs)
        if not isinstance(fn, torch._ops.OpOverload):
            return fn

        def record(*op_args):
            calls.append((fn, op_args))
            return fn(*op_args)

        return record

    with mock.patch.object(_backend, "pick", recording_pick):
        yield calls


def opcheck_test(op: OpTest, layouts=("contiguous", "flipped", "channels_last")):
    """torch.library.opcheck on the raw op calls of `op`'s samples, on every compiled backend (CPU, CUDA emulation,
    CUDA)."""

    @pytest.mark.parametrize("name", ["cpu", "cuda-emulation", pytest.param("cuda", marks=pytest.mark.cuda)])
    def test(name):
        backend = next(b for b in BACKENDS if b.name == name)
        device = backend.device
        if backend.mode == "cuda-emulation" and not _backend.EMULATED:
            pytest.skip("built without FASTLOAD_CUDA_EMULATION=1")
        if backend.mode == "cuda-emulation" and op.raw_ops[0] not in _backend.EMULATED:
            pytest.skip(f"{op.raw_ops[0]} has no CUDA kernel to emulate")
        seen = set()
        with recording_raw_calls() as calls:
            for layout in layouts:
                for sample in op.samples(np.random.default_rng(seed_of(op.name, layout)), layout, op.dtypes[-1]):
                    run(op, sample, backend)
        assert calls, f"{op.name}: no compiled op was called on {device}"
        for fn, args in calls:
            seen.add(fn.name().split("::")[1].split(".")[0])
            torch.library.opcheck(fn, args)
        assert set(op.raw_ops) <= seen, f"{op.name}: opcheck never reached {set(op.raw_ops) - seen}"

    return test


def compile_test(op: OpTest, layout: str = "contiguous"):
    """torch.compile(fullgraph=True) of the public function on tensor inputs equals the eager result, bit for bit."""

    @pytest.mark.parametrize("device", DEVICES)
    def test(device):
        torch._dynamo.reset()
        for sample in op.samples(np.random.default_rng(seed_of(op.name, "compile")), layout, op.dtypes[0]):
            if any(isinstance(a, fl.PackedImages) for a in sample.args):
                continue  # a PackedImages is a plain Python object: compile takes its tensors, not it
            args = _to_device(_as_tensors(sample.args), device)

            def f(*a):
                return op.fn(*a, **sample.kwargs)  # noqa: B023 (compiled and called in this iteration)

            compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
            assert_same_bits(compiled(*args), f(*args), f"{op.name} compiled vs eager")

    return test


def _as_tensors(value):
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, (list, tuple)) and not isinstance(value, str):
        return type(value)(_as_tensors(v) for v in value)
    return value


def bad_input_test(rows: list[Bad]):
    """Each row's call raises its exception type with its words in the message."""

    @pytest.mark.parametrize("row", rows, ids=[r.label or str(i) for i, r in enumerate(rows)])
    def test(row):
        with pytest.raises(row.exc) as info:
            row.call()
        for word in row.words:
            assert word in str(info.value), (word, str(info.value))

    return test


def rand_image(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def image_in_layout(rng: np.random.Generator, shape, layout: str):
    """A uint8 (..., H, W, C) image of exactly `shape`, laid out as `layout` says: numpy contiguous, a slice of a
    wider image, a flipped (negative-stride) view, a transposed view, an unaligned start, or a torch tensor."""
    *lead, h, w, c = shape
    lead = tuple(lead)
    if layout == "sliced":
        return rand_image(rng, lead + (h, 2 * w + 1, c))[..., 1::2, :][..., :w, :]
    if layout == "flipped":
        return rand_image(rng, shape)[..., ::-1, ::-1, :] if rng.integers(2) else rand_image(rng, shape)[..., ::-1]
    if layout == "transposed":
        return np.swapaxes(rand_image(rng, lead + (w, h, c)), -3, -2)
    if layout == "torch":
        return torch.from_numpy(rand_image(rng, shape))
    if layout == "unaligned":  # contiguous, one byte past an aligned start
        return rand_image(rng, (int(np.prod(shape)) + 1,))[1:].reshape(shape)
    return rand_image(rng, shape)


def image_size(rng: np.random.Generator, layout: str) -> tuple[int, int]:
    """(h, w) for a layout: 1x1, empty (a zero dim), odd (both odd, > 1), else random small sizes."""
    if layout == "1x1":
        return 1, 1
    if layout == "empty":
        return (0, int(rng.integers(1, 6))) if rng.integers(2) else (int(rng.integers(1, 6)), 0)
    if layout == "odd":
        return int(rng.integers(1, 12)) * 2 + 1, int(rng.integers(1, 20)) * 2 + 1
    return int(rng.integers(1, 25)), int(rng.integers(1, 41))


def storage_layout(layout: str) -> str:
    """The memory layout of an input image for a table layout (channels_last and the size layouts are contiguous)."""
    return layout if layout in ("sliced", "flipped", "transposed") else "contiguous"


def nchw_batch(rng: np.random.Generator, layout: str, n: int | None = None, c: int | None = None) -> torch.Tensor:
    """A uint8 (N, C, H, W) batch in `layout`; some with flat regions (ties in max/min and grey values)."""
    h, w = image_size(rng, layout)
    n = int(rng.integers(1, 4)) if n is None else n
    c = int(rng.choice([1, 3, 3])) if c is None else c
    x = torch.from_numpy(rand_image(rng, (n, c, h, w)))
    if rng.integers(3) == 0:
        x = x // 64 * 64
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    elif layout in ("sliced", "unaligned"):
        big = torch.zeros(n, c, h + 3, w + 5, dtype=torch.uint8)
        big[:, :, 1 : h + 1, 2 : w + 2] = x
        x = big[:, :, 1 : h + 1, 2 : w + 2]
    elif layout in ("transposed", "flipped"):  # torch tensors have no negative strides: H and W swapped in memory
        x = x.transpose(2, 3).contiguous().transpose(2, 3)
    return x
