"""Grade a folder of submissions: one sub-folder per student, resumable.

Each student's ``results.json`` is written to ``<gradebook>.results/<name>.json``
as soon as it is graded, and the gradebook CSV is rewritten after each
student; a second run skips every student whose results already exist, so
an interrupted run resumes where it stopped.  A submission that the grader
cannot handle is recorded with its error and the batch goes on.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from .contract import default_contract
from .grade import grade, write_json
from .sandbox import Limits

GRADER_ERROR = "grader_error"


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


def _row(name: str, results: dict) -> dict:
    row = {"student": name, "score": results.get("score", 0), "max_score": 0.0}
    row.update({function: 0.0 for function in default_contract().functions})
    for test in results.get("tests", []):
        function = test["name"].split(":")[0].rpartition(".")[2]
        row["max_score"] += test["max_score"]
        if function in row:
            row[function] += test["score"]
    row["error"] = results.get(GRADER_ERROR, "")
    return row


def _load(path: Path):
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return None if GRADER_ERROR in results else results


def write_gradebook(rows: list[dict], path) -> None:
    """Write the CSV atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["student", "score", "max_score", *default_contract().functions, "error"])
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def grade_batch(directory, gradebook, limits: Limits | None = None, book_url: str = "",
                progress: bool = True) -> list[dict]:
    """Grade every sub-folder of ``directory``; return the gradebook rows."""
    from tqdm import tqdm

    folders = students(directory)
    gradebook = Path(gradebook)
    gradebook.parent.mkdir(parents=True, exist_ok=True)
    out = results_dir(gradebook)
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict] = {}
    for folder in folders:
        done = _load(out / f"{folder.name}.json")
        if done is not None:
            rows[folder.name] = _row(folder.name, done)
    todo = [f for f in folders if f.name not in rows]
    bar = tqdm(todo, desc="grading", unit="student", disable=not progress,
               initial=len(rows), total=len(folders))
    for folder in bar:
        bar.set_postfix_str(folder.name)
        try:
            report = grade(folder, limits=limits, book_url=book_url)
            write_json(report, out / f"{folder.name}.json")
            results = report.as_gradescope()
        except Exception as error:  # one broken submission never stops the batch
            results = {"score": 0, "tests": [], GRADER_ERROR: f"{type(error).__name__}: {error}"}
            (out / f"{folder.name}.json").write_text(json.dumps(results, indent=2) + "\n")
        rows[folder.name] = _row(folder.name, results)
        write_gradebook([rows[f.name] for f in folders if f.name in rows], gradebook)
    write_gradebook([rows[f.name] for f in folders], gradebook)
    return [rows[f.name] for f in folders]
