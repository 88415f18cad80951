"""Find a submission's exercise files, forgivingly, and say what was found.

Students hand in files in many shapes: the five files in a sub-folder (a
zipped folder unpacked), names a browser changed on a second download
(``ex2_information (1).py``, ``ex2_information - Copy.py``), a notebook, a
single file.  :func:`collect` looks through the submission (sub-folders
included, links never followed), picks one file per expected module and
writes a report of what it expected, found, used and left out; a submission
with no exercise file gets a message saying how to submit.  The grader then
reads only the staged copies (:meth:`Intake.stage`), under their canonical
names.

>>> exercise_name("ex2_information (1).py", ["ex2_information"])
'ex2_information'
>>> exercise_name("Ex1_Softmax - Copy.py", ["ex1_softmax"])
'ex1_softmax'
>>> exercise_name("ex1_softmax.ipynb", ["ex1_softmax"]) is None
True
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

#: a module's name, then what browsers and file managers add to a duplicate
_NAME = re.compile(
    r"^(?P<stem>[A-Za-z_][A-Za-z0-9_]*?)"
    r"(?P<dup>\s*\(\d+\)|\s*-\s*copy(?:\s*\(\d+\))?|\s+copy(?:\s+\d+)?|-\d+)?\.py$",
    re.IGNORECASE,
)
#: folders that are never part of a submission
SKIPPED_DIRS = {"__pycache__", "__MACOSX", "checks", ".ipynb_checkpoints"}
MAX_DEPTH = 4
MAX_FILES = 500
#: an exercise file larger than this is not graded (nor read, nor copied)
MAX_BYTES = 2**20

HOW_TO_SUBMIT = (
    "Submit your exercise files as plain Python files named like the starter "
    "files ({names}), not a notebook, an archive or a renamed copy."
)


def exercise_name(filename: str, modules) -> str | None:
    """The exercise module a file name stands for, or ``None``."""
    match = _NAME.match(filename)
    if match is None:
        return None
    stem = match["stem"].lower()
    return stem if stem in modules else None


@dataclass
class Intake:
    """What :func:`collect` found in a submission."""

    root: Path
    expected: tuple[str, ...]
    found: dict[str, Path] = field(default_factory=dict)
    unused: list[tuple[Path, str]] = field(default_factory=list)
    other_files: int = 0
    advice: str = ""

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(m for m in self.expected if m not in self.found)

    def _shown(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix() if path != self.root else path.name
        except ValueError:  # pragma: no cover - collect only records paths under root
            return str(path)

    def report(self) -> str:
        """One paragraph: files expected, found (and under which name), missing, left out."""
        lines = [f"expected {len(self.expected)} file(s): "
                 + ", ".join(f"{m}.py" for m in self.expected)]
        found = []
        for module in self.expected:
            if module in self.found:
                shown = self._shown(self.found[module])
                found.append(f"{module}.py" + ("" if shown == f"{module}.py" else f" (from {shown})"))
        lines.append(f"found {len(found)}: " + (", ".join(found) if found else "none"))
        if self.missing:
            lines.append(f"missing {len(self.missing)}: "
                         + ", ".join(f"{m}.py" for m in self.missing) + " (scored 0)")
        if self.unused:
            lines.append("not graded: " + "; ".join(f"{self._shown(p)} ({why})"
                                                    for p, why in self.unused))
        if self.other_files:
            lines.append(f"{self.other_files} other file(s) ignored")
        if self.advice:
            lines.append(self.advice)
        return "\n".join(lines)

    def digest(self) -> str:
        """SHA-256 of the files used, with their module names (changes when they do)."""
        h = hashlib.sha256()
        for module in sorted(self.found):
            h.update(module.encode() + b"\0" + self.found[module].read_bytes() + b"\0")
        return h.hexdigest()

    def stage(self, folder) -> Path:
        """Copy the files used into ``folder`` under their canonical names."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for module, path in self.found.items():
            shutil.copyfile(path, folder / f"{module}.py")
        return folder


def _walk(root: Path):
    """Regular files under ``root`` (depth first, sorted), links not followed."""
    count = 0
    for here, dirs, files in os.walk(root, followlinks=False):
        depth = len(Path(here).relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS
                         and depth < MAX_DEPTH)
        for name in sorted(files):
            path = Path(here) / name
            if name.startswith(".") or path.is_symlink() or not path.is_file():
                continue
            count += 1
            if count > MAX_FILES:
                return
            yield path


def _rank(path: Path, root: Path):
    # the copy with the fewest untouched stubs (a student who downloaded the
    # starter twice worked in one copy), then the canonical name, then the
    # shallowest, then the newest
    stubs = path.read_bytes().count(b"raise NotImplementedError")
    plain = _NAME.match(path.name)["dup"] is None
    return (stubs, not plain, len(path.relative_to(root).parts), -path.stat().st_mtime_ns,
            str(path))


def collect(submission, modules, known=()) -> Intake:
    """Look for the files of ``modules`` in ``submission`` (a folder or one file).

    ``known`` names the assignment's other modules: their files are left
    out quietly.  Raises ``ValueError`` naming the argument when
    ``submission`` does not exist.
    """
    root = Path(submission)
    modules = tuple(modules)
    others_known = tuple(m for m in known if m not in modules)
    if root.is_file():
        files, base = [root], root.parent
    elif root.is_dir():
        files, base = list(_walk(root)), root
    else:
        raise ValueError(f"submission: {root} does not exist")
    intake = Intake(base if root.is_file() else root, modules)
    candidates: dict[str, list[Path]] = {}
    others: list[Path] = []
    for path in files:
        module = exercise_name(path.name, modules)
        if module is None and exercise_name(path.name, others_known) is None:
            others.append(path)
        elif module is not None and path.stat().st_size > MAX_BYTES:
            intake.unused.append((path, f"larger than {MAX_BYTES // 2**20} MiB"))
        elif module is not None:
            candidates.setdefault(module, []).append(path)
    for module in modules:
        ranked = sorted(candidates.get(module, []), key=lambda p: _rank(p, intake.root))
        if ranked:
            intake.found[module] = ranked[0]
            intake.unused += [(p, f"another copy of {module}.py") for p in ranked[1:]]
    notebooks = [p for p in others if p.suffix == ".ipynb"]
    archives = [p for p in others if p.suffix in (".zip", ".tar", ".gz", ".tgz", ".7z", ".rar")]
    python = [p for p in others if p.suffix == ".py"]
    for path in notebooks + archives + python:
        why = ("a notebook" if path in notebooks else "an archive" if path in archives
               else "not an exercise file name")
        intake.unused.append((path, why))
    intake.other_files = len(others) - len(notebooks + archives + python)
    if intake.missing and (notebooks or archives or python or not intake.found):
        names = ", ".join(f"{m}.py" for m in modules)
        if not files:
            intro = "The submission is empty. "
        elif not intake.found:
            intro = "No exercise file was found. "
        else:
            intro = ""
        if notebooks:
            intro += ("A notebook is not graded: download each exercise as a .py file "
                      "(JupyterLab: File > Save and Export Notebook As > Executable Script; "
                      "classic Jupyter: File > Download as > Python) or copy your functions into "
                      "the starter files. ")
        intake.advice = intro + HOW_TO_SUBMIT.format(names=names)
    return intake
