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
import zipfile
from pathlib import Path

STARTER = Path("_build", "starter")


def write_starter(root) -> Path | None:
    """Release ``root/exercises`` into ``root/_build/starter``; return the zip.

    In the student side that ``make student`` writes there are no instructor
    sources, only their release in ``root/starter``: that folder is zipped
    instead, so the chapters' download works there too.  None when a tree
    has neither.
    """
    from coursepkg.grading.release import release

    root = Path(root)
    out = root / STARTER
    zip_path = out / "exercises.zip"
    if not (root / "exercises").is_dir():
        released = root / "starter"
        if not released.is_dir():
            return None
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in released.rglob("*") if p.is_file()):
                archive.write(path, Path("exercises") / path.relative_to(released))
        return zip_path
    shutil.rmtree(out, ignore_errors=True)
    release(root / "exercises", out / "exercises", checks_dir=root / "exercises" / "checks",
            zip_path=zip_path)
    return zip_path


def _on_builder_inited(app):
    write_starter(app.srcdir)


def setup(app):
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
