"""Fixtures shared by every test directory: the book, built once a session.

``tests/test_book.py`` checks the build's log (``-W -n``: no warning, no
missing reference) and ``tests/browser/`` opens the pages it wrote, so both
use this one build instead of building twice.  It is a fresh build
(``--all``) into ``_build/html``: an incremental Sphinx build would not
repeat the warnings of pages it did not re-read, and the browser tests must
never look at a stale site.

``COURSE_REUSE_BUILD=1`` (for quick local runs of tests/browser) opens the
``_build/html`` that is there instead; the build test then fails, as it has
no log to check.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent
HTML = ROOT / "_build" / "html"
# installed by `make` from _vendor/package.json; html_extra_path copies it
MATHJAX = ROOT / "_vendor" / "node_modules" / "mathjax" / "es5" / "tex-chtml.js"


@dataclasses.dataclass(frozen=True)
class BookBuild:
    html: pathlib.Path
    returncode: int | None  # None: COURSE_REUSE_BUILD=1, nothing was built
    log: str


@pytest.fixture(scope="session")
def book_build() -> BookBuild:
    """``jupyter-book build . -W -n --keep-going --all`` into ``_build/html``."""
    if os.environ.get("COURSE_REUSE_BUILD") == "1":
        return BookBuild(HTML, None, "COURSE_REUSE_BUILD=1: the book was not built")
    if not MATHJAX.exists():
        pytest.fail(
            f"{MATHJAX.relative_to(ROOT)} is missing: the book serves its own MathJax. "
            "Run `make test` (or `npm ci --prefix _vendor`) to install it."
        )
    jb = shutil.which("jupyter-book", path=str(pathlib.Path(sys.executable).parent))
    assert jb, "jupyter-book is not installed next to this Python"
    result = subprocess.run(
        [jb, "build", str(ROOT), "-W", "-n", "--keep-going", "--all"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    return BookBuild(HTML, result.returncode, result.stdout + result.stderr)
