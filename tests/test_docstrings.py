"""Every public callable documents its arguments: an Args section naming each parameter (Google style, what
`make docs` renders), and a Returns or Raises section where it has something to say. Parameters are matched by
name, so a renamed or added argument without its line fails here."""

from __future__ import annotations

import inspect
import re

import pytest

import fastload as fl
from fastload import data, transforms, utils


def _public():
    out = {}
    for name in fl.__all__:
        obj = getattr(fl, name)
        if not inspect.ismodule(obj) and callable(obj):
            out[f"fastload.{name}"] = obj
    for name in data.__all__:
        try:
            out.setdefault(f"fastload.data.{name}", getattr(data, name))
        except ImportError:  # a class over an optional package (webdataset) where it is not installed: the GPU
            continue  # machines; everywhere `make test` runs it is there and checked

    for module in (transforms, utils):
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", "") != module.__name__:
                continue
            if inspect.isclass(obj) or inspect.isfunction(obj):
                out.setdefault(f"{module.__name__}.{name}", obj)
    return out


PUBLIC = _public()


def _documented(obj) -> tuple[str, list[str]]:
    doc = inspect.getdoc(obj) or ""
    section = re.search(r"^(?:Args|Attributes):\n((?:    .*\n?|\n)+)", doc, re.M)
    names = re.findall(r"^    (\w+)(?: \([^)]*\))?:", section.group(1), re.M) if section else []
    return doc, names


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_parameter_is_documented(name):
    obj = PUBLIC[name]
    try:
        params = [p for p in inspect.signature(obj).parameters if p not in ("self", "args", "kwargs")]
    except (TypeError, ValueError):
        params = []
    doc, names = _documented(obj)
    assert doc, f"{name} has no docstring"
    missing = [p for p in params if p not in names]
    assert not missing, f"{name}'s docstring does not document {missing} (an Args section, one line each)"
    if not inspect.isclass(obj) and params:
        assert re.search(r"^(Returns|Raises):", doc, re.M), f"{name}'s docstring has no Returns or Raises section"


def test_the_public_names_are_all_here():
    assert len(PUBLIC) >= 40


def test_the_api_reference_renders_every_public_name():
    """Each name of fastload.__all__ and fastload.data.__all__ has its `::: fastload.<name>` block in
    docs/reference, or its module's page."""
    import pathlib

    pages = "\n".join(p.read_text() for p in (pathlib.Path(__file__).parents[1] / "docs" / "reference").glob("*.md"))
    rendered = set(re.findall(r"^::: fastload\.([\w.]+)", pages, re.M))

    def shown(name: str) -> bool:  # its own block, or a member of a module page (fastload.utils renders its members)
        module = getattr(getattr(fl, name), "__module__", "") or ""
        return name in rendered or module.removeprefix("fastload.") in rendered

    missing = [name for name in fl.__all__ if not shown(name)]
    # fastload.data's names: their own block, as fastload.data[.<module>].<name> or (re-exported) fastload.<name>
    missing += [
        f"data.{name}"
        for name in data.__all__
        if name not in rendered and not any(r.startswith("data.") and r.endswith(f".{name}") for r in rendered)
    ]
    assert not missing, f"docs/reference renders no `::: fastload.<name>` for {missing}"
