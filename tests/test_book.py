"""The book builds with Sphinx's nitpicky mode and zero warnings."""

import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for entry in toc.get("chapters", []):
        files.append(entry["file"])
    return files


def test_every_toc_entry_exists():
    for name in _toc_files():
        matches = list(ROOT.glob(name + ".*"))
        assert matches, f"_toc.yml lists {name}, but no such file exists"


def test_every_notebook_is_in_the_toc():
    listed = set(_toc_files())
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        key = str(nb.relative_to(ROOT).with_suffix(""))
        assert key in listed, f"{nb.name} is not listed in _toc.yml"


@pytest.mark.slow
def test_book_builds_without_warnings(book_build):
    """The session's build (conftest.py: ``-W -n --keep-going --all``) is clean."""
    log = book_build.log
    assert book_build.returncode is not None, log
    # -n: a reference to a page, label, citation or Python object that does not exist
    missing = [
        line
        for line in log.splitlines()
        if "reference target not found" in line or "undefined label" in line
        or "unknown document" in line or "could not find bibtex key" in line
    ]
    assert not missing, "missing references:\n" + "\n".join(missing)
    assert book_build.returncode == 0, log[-5000:]
    assert "WARNING" not in log, log[-5000:]
    html = book_build.html
    assert (html / "index.html").exists()
    for name in _toc_files():
        assert (html / (name + ".html")).exists(), f"{name}.html was not built"
