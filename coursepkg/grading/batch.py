"""Grade a folder of submissions: one sub-folder per student, resumable.

Each student's ``results.json`` is written to ``<gradebook>.results/<name>.json``
as soon as it is graded, and the gradebook CSV is rewritten after each
student.  A second run grades again only the students whose submission
changed: each results file keeps the SHA-256 of the files graded (and of
the grading tests), and a student whose files, or whose grading tests,
differ from the recorded ones is graded again; an interrupted run resumes
where it stopped.

The CSV's ``status`` column says what happened to each student: ``graded``,
``no files`` (no exercise file found: an empty folder, a notebook, an
archive; the intake's advice is in ``error``) or ``grader error`` (the
grader itself failed; such a student is retried on the next run, and the
command exits non-zero).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .contract import Contract, load
from .grade import grade
from .intake import collect
from .sandbox import Limits
from .wall import find_wall

GRADER_ERROR = "grader_error"
HASH = "submission_sha256"
GRADED, NO_FILES, FAILED = "graded", "no files", "grader error"


def results_dir(gradebook) -> Path:
    """Where the per-student results of ``gradebook`` go.

    >>> results_dir("out/gradebook.csv").as_posix()
    'out/gradebook.results'
    """
    gradebook = Path(gradebook)
    return gradebook.with_name(gradebook.stem + ".results")


def students(directory) -> list[Path]:
    """The student folders of ``directory``: its sub-folders, sorted by name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"directory: {directory} is not a directory")
    return sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))


@dataclass
class BatchResult:
    """The gradebook rows, and what this run did (student names per outcome)."""

    rows: list[dict]
    graded: list[str] = field(default_factory=list)      # graded in this run
    unchanged: list[str] = field(default_factory=list)   # kept from an earlier run
    no_files: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)      # grader errors (retried next run)

    def summary(self) -> str:
        """One line that counts what the run did.

        >>> BatchResult([{}] * 3, graded=["a"], unchanged=["b", "c"]).summary()
        '3 students: 1 graded, 2 unchanged since the last run (kept), 0 with no files, 0 grader errors'
        """
        return (f"{len(self.rows)} students: {len(self.graded)} graded, {len(self.unchanged)} "
                f"unchanged since the last run (kept), {len(self.no_files)} with no files, "
                f"{len(self.errors)} grader errors")


def _row(name: str, results: dict, contract: Contract) -> dict:
    row = {"student": name, "status": results.get("status", GRADED),
           "score": results.get("score", 0), "max_score": 0.0}
    row.update({function: 0.0 for function in contract.functions})
    for test in results.get("tests", []):
        function = test["name"].split(":")[0].rpartition(".")[2]
        row["max_score"] += test["max_score"]
        if function in row:
            row[function] += test["score"]
    row["files"] = results.get("files", "")
    row["error"] = results.get(GRADER_ERROR, "") or results.get("advice", "")
    return row


def _load(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_gradebook(rows: list[dict], path, contract: Contract) -> None:
    """Write the CSV atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    columns = ["student", "status", "score", "max_score", *contract.functions, "files", "error"]
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def _write(path: Path, results: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(tmp, path)


def checks_digest(contract: Contract, modules) -> str:
    """SHA-256 of the grading tests of ``modules`` (a change regrades everyone)."""
    h = hashlib.sha256()
    for module in modules:
        h.update(module.encode() + b"\0" + (contract.checks_dir / f"{module}.py").read_bytes())
    return h.hexdigest()


def grade_batch(directory, gradebook, limits: Limits | None = None, book_url: str = "",
                progress: bool = True, contract: Contract | None = None,
                modules=None) -> BatchResult:
    """Grade every sub-folder of ``directory`` into the CSV ``gradebook``."""
    from tqdm import tqdm

    contract = contract or load()
    modules = contract.select(modules)
    folders = students(directory)
    find_wall((limits or Limits()).sandbox)  # no wall here: say so once, not once per student
    gradebook = Path(gradebook)
    gradebook.parent.mkdir(parents=True, exist_ok=True)
    out = results_dir(gradebook)
    out.mkdir(parents=True, exist_ok=True)
    tests_hash = checks_digest(contract, modules)
    result = BatchResult([])
    rows: dict[str, dict] = {}
    todo = []
    for folder in folders:
        intake = collect(folder, modules, contract.exercises)
        key = hashlib.sha256(f"{tests_hash}:{intake.digest()}".encode()).hexdigest()
        done = _load(out / f"{folder.name}.json")
        if done is not None and GRADER_ERROR not in done and done.get(HASH) == key:
            rows[folder.name] = _row(folder.name, done, contract)
            result.unchanged.append(folder.name)
        else:
            todo.append((folder, intake, key))
    bar = tqdm(todo, desc="grading", unit="student", disable=not progress,
               initial=len(rows), total=len(folders))
    for folder, intake, key in bar:
        bar.set_postfix_str(folder.name)
        files = f"{len(intake.found)}/{len(modules)}"
        try:
            report = grade(folder, modules=modules, limits=limits, book_url=book_url,
                           contract=contract)
            status = GRADED if intake.found else NO_FILES
            results = {**report.as_gradescope(), "status": status, "files": files,
                       "advice": intake.advice, HASH: key}
            (result.no_files if status == NO_FILES else result.graded).append(folder.name)
        except Exception as error:  # one broken submission never stops the batch
            results = {"score": 0, "tests": [], "status": FAILED, "files": files,
                       GRADER_ERROR: f"{type(error).__name__}: {error}"}
            result.errors.append(folder.name)
        _write(out / f"{folder.name}.json", results)
        rows[folder.name] = _row(folder.name, results, contract)
        write_gradebook([rows[f.name] for f in folders if f.name in rows], gradebook, contract)
    result.rows = [rows[f.name] for f in folders]
    write_gradebook(result.rows, gradebook, contract)
    return result
