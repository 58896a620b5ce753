"""fl.warp_affine (each image through its own inverse affine matrix, torchvision's affine / rotate sampling of
uint8 tensors) on every backend x layout, bit for bit between backends and against torchvision's own grid and
`_apply_grid_transform` image by image; bad input."""

from __future__ import annotations

import contextlib
import ctypes
import math
import mmap
import sys

import harness
import numpy as np
import pytest
import torch
from conftest import backend, require_compiled
from harness import Bad, OpTest, Sample

import fastload as fl
from fastload import _backend
from fastload.functional._augment_ops import affine_matrix, inverse_affine

G = pytest.importorskip("torchvision.transforms.v2.functional._geometry")


def random_matrices(rng: np.random.Generator, n: int, h: int, w: int) -> list[list[float]]:
    """RandAugment's geometric operations at random magnitudes, and general rotations + shears + translations."""
    out = []
    for _ in range(n):
        kind = int(rng.integers(6))
        if kind < 5:
            op = ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate")[kind]
            scale = {"ShearX": 0.99, "ShearY": 0.99, "TranslateX": w, "TranslateY": h, "Rotate": 180.0}[op]
            out.append(affine_matrix(op, float(rng.uniform(-1, 1) * scale), h, w))
        else:
            angle, shear = float(rng.uniform(-180, 180)), [float(v) for v in rng.uniform(-40, 40, 2)]
            out.append(inverse_affine([0.0, 0.0], angle, [float(v) for v in rng.uniform(-w, w, 2)], shear))
    return out


def samples(rng: np.random.Generator, layout: str, dtype) -> list[Sample]:
    x = harness.nchw_batch(rng, layout)
    n, c, h, w = x.shape
    kind = int(rng.integers(3))
    fill = None if kind == 0 else (float(rng.integers(256)) if kind == 1 else rng.uniform(0, 255, c).round(1).tolist())
    kw = dict(interpolation=str(rng.choice(["nearest", "bilinear"])), fill=fill)
    out = [Sample((x, random_matrices(rng, n, h, w)), kw, f"{layout} {tuple(x.shape)} {kw}")]
    return out + [harness.with_out(s, fl.warp_affine) for s in out]


def torchvision_image(img: torch.Tensor, matrix: list[float], interpolation: str, fill) -> torch.Tensor:
    """torchvision v2's affine_image on one (C, H, W) uint8 image, from its inverse matrix on: the fp32 theta, its
    `_affine_grid` and `_apply_grid_transform`."""
    h, w = img.shape[-2:]
    theta = torch.tensor(matrix, dtype=torch.float32).reshape(1, 2, 3)
    grid = G._affine_grid(theta, w=w, h=h, ow=w, oh=h)
    values = None if fill is None else (list(fill) if isinstance(fill, list) else [fill] * img.shape[0])
    return G._apply_grid_transform(img, grid, interpolation, fill=values)


def oracle(sample: Sample, result) -> None:
    """torchvision image by image: equal on the CPU (where ATen's AVX2 / AVX-512 grid_sample runs, whose fused
    multiply-adds the kernels copy); elsewhere within 1 level, a tie at most one position away."""
    x, matrices = sample.args
    kw = sample.kwargs
    assert result.shape == x.shape and result.dtype == torch.uint8
    for i in range(x.shape[0]):
        want = torchvision_image(x[i], matrices[i], kw["interpolation"], kw["fill"])
        got = result[i].cpu()
        if result.device.type == "cpu":
            assert torch.equal(got, want), (sample.label, i)
        else:
            diff = (got.int() - want.int()).abs()
            assert (diff > 1).float().mean() < 1e-3, (sample.label, i)


WARP_AFFINE = OpTest(
    "warp_affine",
    lambda x, m, **kw: fl.warp_affine(x, m, **kw),
    samples,
    oracle,
    raw_ops=("warp_affine", "warp_affine_into"),
    dtypes=(None,),
    layouts=tuple(v for v in harness.LAYOUTS if v != "empty"),
)

test_backends = harness.backend_test(WARP_AFFINE)
test_property = harness.property_test(WARP_AFFINE, max_examples=30)
test_opcheck = harness.opcheck_test(WARP_AFFINE)
test_compile = harness.compile_test(WARP_AFFINE)


def test_a_photo_rotated_and_sheared_as_torchvision():
    data = pytest.importorskip("skimage.data")
    img = torch.from_numpy(np.ascontiguousarray(data.astronaut()[::2, ::2])).permute(2, 0, 1)[None]
    for interpolation in ("nearest", "bilinear"):
        for m in (affine_matrix("Rotate", 23.5, 256, 256), affine_matrix("ShearX", 0.3, 256, 256)):
            got = fl.warp_affine(img, [m], interpolation=interpolation, fill=[124, 116, 104])
            assert torch.equal(got[0], torchvision_image(img[0], m, interpolation, [124, 116, 104]))


def test_an_empty_batch_and_an_identity():
    x = torch.randint(0, 256, (2, 3, 5, 7), dtype=torch.uint8)
    assert torch.equal(fl.warp_affine(x, [[1.0, 0, 0, 0, 1.0, 0]] * 2), x)
    empty = torch.zeros(0, 3, 5, 7, dtype=torch.uint8)
    assert fl.warp_affine(empty, torch.zeros(0, 6)).shape == empty.shape


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_positions_off_every_image_give_the_fill_on_every_backend(interpolation):
    """A finite float64 matrix that overflows fp32 puts every source position at an infinity or NaN: each backend
    fills the image (the reference used to index with NaN, the kernels to convert a NaN to a byte)."""
    x = torch.randint(0, 256, (2, 3, 5, 7), dtype=torch.uint8)
    m = [[1e39, 0.0, 0.0, 0.0, 1e39, 0.0], [0.0, 0.0, 1e39, 0.0, 0.0, -1e39]]
    want = torch.tensor([9, 130, 250], dtype=torch.uint8).view(1, 3, 1, 1).expand(2, 3, 5, 7)
    for mode in ("auto", "reference") + (("cuda-emulation",) if _backend.EMULATED else ()):
        with backend(mode):
            assert torch.equal(fl.warp_affine(x, m, interpolation=interpolation, fill=[9, 130, 250]), want), mode
            assert not fl.warp_affine(x, m, interpolation=interpolation).any(), mode


@contextlib.contextmanager
def image_at_page_end(h: int, w: int, layout: str):
    """A (1, 3, h, w) uint8 image, "interleaved" (HWC memory) or "planar" (CHW), whose last byte is the last byte of
    a readable page, the next page unreadable: a kernel that reads one byte past the image crashes instead of
    passing."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    page = mmap.PAGESIZE
    nbytes = h * w * 3
    assert nbytes <= page
    mem = mmap.mmap(-1, 2 * page)
    guard = ctypes.addressof(ctypes.c_char.from_buffer(mem)) + page
    assert libc.mprotect(guard, page, 0) == 0, ctypes.get_errno()  # PROT_NONE
    flat = torch.frombuffer(mem, dtype=torch.uint8, count=nbytes, offset=page - nbytes)
    flat.copy_(torch.randint(0, 256, (nbytes,), dtype=torch.uint8, generator=torch.Generator().manual_seed(nbytes)))
    image = flat.view(1, h, w, 3).permute(0, 3, 1, 2) if layout == "interleaved" else flat.view(1, 3, h, w)
    try:
        yield image
    finally:
        del flat, image
        assert libc.mprotect(guard, page, 3) == 0  # readable again before the mapping goes
        mem.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mprotect")
@pytest.mark.parametrize("layout", ["interleaved", "planar"])
@pytest.mark.parametrize("simd", ["avx512", "avx2", "none"])
def test_word_reads_stop_at_the_image_end(simd, layout):
    """The kernels' 8-pixel loops read source bytes as 4-byte words (a pixel's 3 interleaved channels, or a plane's
    tap pair); where a word would pass the image's last byte (the last pixels' taps) they must read byte by byte.
    An image ending at a page before an unreadable one, warped so that its last pixels are read: equal to
    torchvision, and no crash."""
    for h, w in ((4, 16), (5, 24), (1, 8)):
        with image_at_page_end(h, w, layout) as x:
            for m in ([1.0, 0, 0, 0, 1.0, 0], [1.0, 0, 0.6, 0, 1.0, 0.3], affine_matrix("Rotate", 180.0, h, w)):
                for interpolation in ("nearest", "bilinear"):
                    with backend("auto"), _backend.cpu_simd(simd):
                        got = fl.warp_affine(x, [m], interpolation=interpolation)
                    assert torch.equal(got[0], torchvision_image(x[0], m, interpolation, None)), (h, w, m)


def test_cpp_op_rechecks_its_arguments():
    require_compiled("warp_affine", "cpu")
    x = torch.zeros(1, 3, 4, 4, dtype=torch.uint8)
    m = torch.tensor([[1.0, 0, 0, 0, 1, 0]], dtype=torch.float64)
    with pytest.raises(RuntimeError, match="matrices must be an"):
        torch.ops.fastload.warp_affine(x, m.float(), [], "nearest")
    with pytest.raises(RuntimeError, match="not finite"):
        torch.ops.fastload.warp_affine(x, m * math.inf, [], "nearest")
    with pytest.raises(RuntimeError, match="fill values"):
        torch.ops.fastload.warp_affine(x, m, [1.0, 2.0, 300.0], "nearest")
    with pytest.raises(RuntimeError, match="interpolation"):
        torch.ops.fastload.warp_affine(x, m, [], "bicubic")
    with pytest.raises(RuntimeError, match="overlap|share"):
        torch.ops.fastload.warp_affine_into(x, m, [], "nearest", x)


X = torch.zeros(2, 3, 4, 5, dtype=torch.uint8)
ID = [[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]] * 2
test_bad_input = harness.bad_input_test(
    [
        Bad(lambda: fl.warp_affine(X.float(), ID), TypeError, ("images", "uint8")),
        Bad(lambda: fl.warp_affine(X[:, :2], ID), ValueError, ("images", "C = 1 or 3")),
        Bad(lambda: fl.warp_affine(X, ID[:1]), ValueError, ("matrices",)),
        Bad(lambda: fl.warp_affine(X, [[math.nan] * 6] * 2), ValueError, ("matrices", "finite")),
        Bad(lambda: fl.warp_affine(X, ID, interpolation="bicubic"), ValueError, ("interpolation",)),
        Bad(lambda: fl.warp_affine(X, ID, fill=[1, 2]), ValueError, ("fill",)),
        Bad(lambda: fl.warp_affine(X, ID, fill=-1), ValueError, ("fill",)),
        Bad(lambda: fl.warp_affine(X, ID, out=X), ValueError, ("out", "shares memory")),
        Bad(lambda: fl.warp_affine(X, ID, out=X[:1].clone()), ValueError, ("out",)),
        Bad(lambda: fl.warp_affine(X, ID, out="x"), TypeError, ("out",)),
    ]
)
