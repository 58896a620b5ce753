"""The contributor map is checkable: for every op in the op table, each file and registration that docs/DESIGN.md's
"To add an op" recipe names is where the recipe says, and every path DESIGN.md and README.md mention exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import fastload as fl
from fastload import reference
from fastload._op_table import OPS

ROOT = Path(__file__).resolve().parents[1]
CSRC = ROOT / "csrc"

# The op families: an op table entry that is neither a packed or normalized twin nor an `_into` twin.
TWINS = {t for op in OPS.values() for t in (op.packed, op.normalized) if t} | {n for n in OPS if n.endswith("_into")}
FAMILIES = sorted(n for n in OPS if n not in TWINS)


def _text(path: Path) -> str:
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing"
    return path.read_text()


def _names(family: str) -> list[str]:
    """The registered names of one family: the op, its packed and normalized twins and their `_into` twins."""
    base = [family] + [t for t in (OPS[family].packed, OPS[family].normalized) if t]
    return base + [f"{n}_into" for n in base if f"{n}_into" in OPS]


def test_the_op_table_has_the_families_the_recipe_covers():
    assert FAMILIES == sorted(
        [
            "adjust_color",
            "augment",
            "channel_stats",
            "denormalize",
            "mix_pairs",
            "normalize",
            "pad_batch",
            "resize_pad_batch",
            "resized_crop_batch",
            "resized_crop_color",
            "warp_affine",
        ]
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_each_op_is_where_the_recipe_says(family):
    names = _names(family)
    schemas = _text(CSRC / "ops/schemas.cpp")
    for name in names:
        # an `_into` twin is defined from its allocating twin (def_with_into) unless spelled out
        if not name.endswith("_into") or f'"{name}(' in schemas:
            assert f'"{name}(' in schemas, f"{name}: no schema in csrc/ops/schemas.cpp"
    assert f"describe_{family}" in _text(CSRC / f"ops/{family}.h"), f"csrc/ops/{family}.h declares no describe_{family}"
    _text(CSRC / f"ops/{family}.cpp")

    cpu = _text(CSRC / f"cpu/{family}.cpp")
    kernel = _text(CSRC / f"cuda/{family}.cu")
    launches = _text(CSRC / "cuda/launches.h")
    cuda_registry = _text(CSRC / "cuda/register.cpp")
    emulation = _text(CSRC / f"emulation/{family}_kernels.cpp")
    emulation_registry = _text(CSRC / "emulation/register.cpp")
    for name in names:
        assert f'm.impl("{name}"' in cpu, f"{name}: not registered for the CPU in csrc/cpu/{family}.cpp"
        assert f'm.impl("{name}"' in cuda_registry, f"{name}: not registered in csrc/cuda/register.cpp"
        assert f'm.impl("{name}"' in emulation_registry, f"{name}: not registered in csrc/emulation/register.cpp"
    assert f"launch_{family}(" in kernel, f"csrc/cuda/{family}.cu defines no launch_{family}"
    declared = re.search(rf"void launch_{family}\(const (\w+)& p, cudaStream_t stream\);", launches)
    assert declared, f"csrc/cuda/launches.h declares no launch_{family}"
    params = declared.group(1)
    math = [p for p in (CSRC / "math").glob("*.h") if re.search(rf"\bstruct {params}\b", p.read_text())]
    assert math, f"{params} (launch_{family}'s parameters) is defined in no csrc/math/ header"
    torch_includes = re.findall(r"#include <(?:torch|ATen|c10)/", math[0].read_text())
    assert not torch_includes, f"{math[0].relative_to(ROOT)} must stay torch-free"
    assert f'#include "cuda/{family}.cu"' in emulation

    for name in names:
        assert OPS[name].reference is getattr(reference, name), f"{name}: no reference.{name}"
    assert re.search(rf'OpTest\(\s*"{family}"', _text(ROOT / f"tests/test_{family}.py")), f"tests/test_{family}.py"
    assert any(f'"{family}' in p.read_text() for p in (ROOT / "fastload/functional").glob("_*.py")), family


def test_the_public_names_resolve():
    for name in fl.__all__:
        assert getattr(fl, name) is not None


# paths as DESIGN.md and README.md write them, in backticks; <op> stands for each op family
_PATH = re.compile(r"`((?:csrc|fastload|tests|scripts|benchmarks|docs|examples|\.ci)/[\w./<>{},*-]*)`")


def _expand(path: str) -> list[str]:
    path = path.replace("<family>", "*")  # any module of the package
    out = [path.replace("<op>", f) for f in FAMILIES] if "<op>" in path else [path]
    expanded = []
    for p in out:
        braces = re.search(r"\{([\w,]+)\}", p)
        expanded += [p[: braces.start()] + e + p[braces.end() :] for e in braces.group(1).split(",")] if braces else [p]
    return expanded


@pytest.mark.parametrize("doc", ["docs/DESIGN.md", "README.md"])
def test_every_path_the_docs_name_exists(doc):
    text = _text(ROOT / doc)
    paths = [p for m in _PATH.finditer(text) for p in _expand(m.group(1).rstrip("/."))]
    assert paths or doc == "README.md"
    missing = [p for p in paths if not any(ROOT.glob(p))]
    assert not missing, f"{doc} names paths that do not exist: {missing}"
