"""Grade one submission: run the grading tests, total the points, write results.

>>> report = Report([TestResult("ex1_softmax.softmax: rows sum to 1", "softmax",
...                             2.0, 2.0, "passed", "visible")], 0.5)
>>> report.score, report.max_score
(2.0, 2.0)
>>> sorted(report.as_gradescope())
['execution_time', 'output', 'score', 'tests']
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .contract import Contract, load
from .intake import Intake, collect
from .plugin import TestResult, run_checks
from .sandbox import Limits, Submission


@dataclass
class Report:
    """The graded tests of one submission."""

    tests: list[TestResult]
    seconds: float
    #: function -> module, in the contract's order (default: the tests' order)
    functions: dict[str, str] = field(default_factory=dict)
    #: what was found in the submission (None when graded from a bare folder)
    intake: Intake | None = None
    #: the wall around the student's code (:data:`~coursepkg.grading.wall.LEVELS`)
    isolation: str = ""

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 6)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 6)

    def by_function(self) -> dict[str, list[float]]:
        """``{function: [points, max points, ...]}`` in the contract's order."""
        table: dict[str, list[float]] = {}
        for test in self.tests:
            row = table.setdefault(test.function, [0.0, 0.0])
            row[0] += test.score
            row[1] += test.max_score
        order = list(self.functions) + [t.function for t in self.tests]
        return dict(sorted(table.items(), key=lambda kv: order.index(kv[0])))

    def as_gradescope(self, hidden_as: str = "after_published") -> dict:
        """Gradescope's ``results.json`` content; hidden tests get the
        visibility ``hidden_as`` (see :meth:`TestResult.as_gradescope`)."""
        return {
            "score": self.score,
            "execution_time": round(self.seconds, 3),
            "output": (self.intake.report() + "\n\n" if self.intake else "")
                      + f"{self.score:g} / {self.max_score:g} points",
            "tests": [t.as_gradescope(hidden_as) for t in self.tests],
            **({"isolation": self.isolation} if self.isolation else {}),
        }


def grade(directory, modules=None, limits: Limits | None = None, book_url: str = "",
          contract: Contract | None = None) -> Report:
    """Grade the submission folder ``directory``.

    Parameters
    ----------
    directory : path
        The submission: a folder (sub-folders and browser-renamed copies
        are searched, see :mod:`~coursepkg.grading.intake`) or one file.
    modules : sequence of str, optional
        Grade only these exercise modules (default: all of the contract's).
    limits : Limits, optional
        Timeouts and resource limits of the child processes.
    book_url : str, optional
        Prefix of the chapter links in the feedback (e.g. the book's URL
        ending in ``/``); empty for links relative to the book's root.
    contract : Contract, optional
        The assignment (default: the course's own checks,
        :func:`~coursepkg.grading.contract.load`).
    """
    contract = contract or load()
    modules = contract.select(modules)
    start = time.perf_counter()
    intake = collect(directory, modules, contract.exercises)
    with tempfile.TemporaryDirectory(prefix="coursepkg-submission-") as staged:
        with Submission(intake.stage(staged), modules, limits, contract) as submission:
            tests = run_checks(submission, modules, book_url)
    # every child is dead here (Submission.close waits for their namespaces to empty)
    return Report(tests, time.perf_counter() - start, dict(contract.functions), intake,
                  isolation=submission.isolation)


def write_json(report: Report, path, hidden_as: str = "after_published") -> Path:
    """Write ``results.json`` atomically (a temporary file, then a rename)."""
    path = Path(path)
    results = report.as_gradescope(hidden_as)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def print_table(report: Report, verbose: bool = False, file=None) -> None:
    """Print the summary of :func:`coursepkg.grading.summary.render`: the
    score, points per function and the first failed test of each function
    (``verbose``: every test), at 80 columns."""
    from .summary import render

    print(render(report, verbose), file=file)
