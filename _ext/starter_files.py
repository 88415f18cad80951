"""Sphinx extension: release the students' starter files with the book.

When the builder starts, ``coursepkg release`` turns the instructor sources
(``exercises/``) into the student side, written to ``_build/starter/``:
``exercises/`` (one stub per module, ``checks/`` with the visible tests, a
README) and ``exercises.zip``.  A chapter offers the zip as a download with
the ``download`` role, which copies it into the site::

    {download}`the starter files <../_build/starter/exercises.zip>`

so the site hands out the stubs and never the instructor sources (the
book's tests search the built site for solutions and hidden tests).
"""

from __future__ import annotations

import shutil
from pathlib import Path

STARTER = Path("_build", "starter")


def write_starter(root) -> Path | None:
    """Release ``root/exercises`` into ``root/_build/starter``; return the zip
    (None in a tree without the instructor sources, such as the student side
    that ``make student`` writes)."""
    from coursepkg.grading.release import release

    root = Path(root)
    if not (root / "exercises").is_dir():
        return None
    out = root / STARTER
    shutil.rmtree(out, ignore_errors=True)
    zip_path = out / "exercises.zip"
    release(root / "exercises", out / "exercises", checks_dir=root / "exercises" / "checks",
            zip_path=zip_path)
    return zip_path


def _on_builder_inited(app):
    write_starter(app.srcdir)


def setup(app):
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
