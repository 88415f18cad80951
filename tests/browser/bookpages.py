"""The pages of the book, read from _toc.yml (shared by conftest and the tests)."""

from __future__ import annotations

import functools
import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
# the external links the link check listed, for the terminal summary
EXTERNAL_KEY = pytest.StashKey[list]()


def _toc_entries(node):
    """Every ``file`` of a _toc.yml node, in reading order (parts, chapters, sections)."""
    if isinstance(node, list):
        for item in node:
            yield from _toc_entries(item)
    elif isinstance(node, dict):
        for key in ("root", "file"):
            if key in node:
                yield node[key]
        for key in ("parts", "chapters", "sections"):
            if key in node:
                yield from _toc_entries(node[key])


@functools.cache
def toc_pages() -> tuple[str, ...]:
    """Docnames listed in _toc.yml (``book/intro``, ``book/01_softmax``, ...)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return tuple(f.removesuffix(".md").removesuffix(".ipynb") for f in _toc_entries(toc))


def is_notebook(page: str) -> bool:
    """A chapter page with launch buttons: a .ipynb, or a MyST text notebook."""
    if (ROOT / f"{page}.ipynb").exists():
        return True
    md = ROOT / f"{page}.md"
    return md.exists() and "kernelspec:" in md.read_text().split("\n---", 2)[0]
