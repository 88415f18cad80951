"""Every chapter link in the grader's feedback points at a real target.

A label ``(name)=`` in a chapter becomes the HTML anchor ``#name``; a link
to a missing label would send students to the top of the wrong page.
"""

import json
import pathlib

import pytest

from coursepkg.grading.expect import MISTAKES

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _labels(page: pathlib.Path) -> set[str]:
    text = page.read_text()
    if page.suffix == ".ipynb":
        cells = json.loads(text)["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return {line[1:-2] for line in text.splitlines() if line.startswith("(") and line.endswith(")=")}


@pytest.mark.parametrize("key", sorted(MISTAKES))
def test_mistake_link_resolves_to_a_chapter_label(key):
    _, link = MISTAKES[key]
    page, _, anchor = link.partition("#")
    source = ROOT / pathlib.Path(page).with_suffix(".ipynb")
    assert source.exists(), f"{key}: {page} has no source notebook"
    assert anchor in _labels(source), f"{key}: no ({anchor})= label in {source.name}"
