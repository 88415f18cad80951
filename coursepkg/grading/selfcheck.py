"""A student's self-check: the visible tests and the docstring examples.

Run in the folder of released starter files (``coursepkg release`` writes
them, with ``checks/``, the grading tests minus the hidden ones)::

    coursepkg check              # every exercise found here
    coursepkg check softmax      # one function, or one module: ex1_softmax

or from a notebook cell in that folder::

    from coursepkg.grading import check
    check("softmax")

It runs the same grading tests, through the same child processes, as
``coursepkg grade``, and prints the same feedback per test; then it runs the
examples of the functions' docstrings in a child process.  Only the visible
tests count here: the score a submission gets comes from the grader, hidden
tests included.  It needs the student package (``coursepkg[grader]``), not
the course repository.  The docstring examples run in a plain child process,
without the grader's wall: ``check`` is for one's own files, not for
grading others'.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import contract as _contract
from .intake import collect
from .summary import printable
from .plugin import TestResult, run_checks
from .sandbox import Limits, Submission

#: runs a module's docstring examples for some functions; prints JSON results
_EXAMPLES_SCRIPT = r"""
import doctest, importlib.util, json, sys
path, module, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
spec = importlib.util.spec_from_file_location(module, path)
mod = importlib.util.module_from_spec(spec)
sys.modules[module] = mod
try:
    spec.loader.exec_module(mod)
except BaseException as error:
    print(json.dumps({"import": f"{type(error).__name__}: {error}"}))
    sys.exit(0)
flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
out = {}
for name in names:
    function = getattr(mod, name, None)
    results = out.setdefault(name, [])
    if function is None:
        continue
    for test in doctest.DocTestFinder(recurse=False).find(function, name, globs=vars(mod).copy()):
        for example in test.examples:
            failures = []
            class Runner(doctest.DocTestRunner):
                def report_failure(self, out_, test_, example_, got):
                    failures.append("expected:\n" + example_.want + "got:\n" + got)
                def report_unexpected_exception(self, out_, test_, example_, exc_info):
                    failures.append("raised " + exc_info[0].__name__ + ": " + str(exc_info[1]))
            one = doctest.DocTest([example], test.globs, name, test.filename, test.lineno, "")
            Runner(optionflags=flags, verbose=False).run(one, out=lambda text: None)
            results.append({"source": example.source.strip(),
                            "failure": failures[0] if failures else ""})
print(json.dumps(out))
"""


@dataclass
class Example:
    """One docstring example: its source and why it failed ('' if it passed)."""

    function: str
    source: str
    failure: str


@dataclass
class CheckReport:
    """What :func:`check` found: visible tests, docstring examples, files."""

    tests: list[TestResult] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    intake: str = ""

    @property
    def ok(self) -> bool:
        return all(t.score == t.max_score for t in self.tests) and not any(
            e.failure for e in self.examples)

    def summary(self) -> str:
        passed = sum(t.score == t.max_score for t in self.tests)
        examples = sum(not e.failure for e in self.examples)
        return (f"{passed} of {len(self.tests)} visible tests passed, {examples} of "
                f"{len(self.examples)} docstring examples right")

    def text(self) -> str:
        """The full report, as printed."""
        lines = [self.intake, ""] if self.intake else []
        for test in self.tests:
            mark = "PASS" if test.score == test.max_score else "FAIL"
            lines.append(f"{mark}  {test.name}" + ("" if mark == "PASS" else f"\n      {test.output}"))
        for example in self.examples:
            mark = "PASS" if not example.failure else "FAIL"
            lines.append(f"{mark}  {example.function} example: {example.source}")
            if example.failure:
                lines += ["      " + line for line in example.failure.rstrip().splitlines()]
        lines += ["", self.summary() + ".  Hidden tests run only when you submit."]
        return printable("\n".join(lines))

    def __repr__(self):
        return f"<CheckReport: {self.summary()}>"


def _examples(path: Path, module: str, functions, timeout: float) -> list[Example]:
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _EXAMPLES_SCRIPT, str(path), module, ",".join(functions)],
            capture_output=True, text=True, timeout=timeout, cwd=path.parent)
        results = json.loads(done.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        return [Example(module, "(all examples)", f"timed out after {timeout:g} s")]
    except (ValueError, IndexError):
        return [Example(module, "(all examples)", "the examples stopped the process: "
                        + done.stderr.strip()[-300:])]
    if "import" in results:
        return [Example(module, "(import)", f"{module}.py could not be imported: {results['import']}")]
    return [Example(name, item["source"], item["failure"])
            for name in functions for item in results.get(name, [])]


def check(target: str | None = None, folder=".", *, checks=None, limits: Limits | None = None,
          examples_timeout: float = 60.0, show: bool = True) -> CheckReport:
    """Check the student files in ``folder`` against the visible tests.

    Parameters
    ----------
    target : str, optional
        A function (``"softmax"``) or a module (``"ex1_softmax"``); default:
        every module whose file is found.
    folder : path
        The folder of the student's files (default: the current folder).
    checks : path, optional
        The visible tests (default: ``folder/checks``, written by release).
    limits : Limits, optional
        Timeouts of the child processes (default: no sandbox, the
        student's own code on their own machine).
    examples_timeout : float
        Seconds for one module's docstring examples.
    show : bool
        Print the report (default) as well as returning it.
    """
    folder = Path(folder)
    checks = Path(checks) if checks is not None else folder / "checks"
    if not checks.is_dir():
        raise ValueError(f"checks: {checks} is not a directory; run this in the folder of the "
                         "starter files (it holds checks/), or pass the checks folder")
    contract = _contract.load(checks)
    if target is None:
        modules = contract.select(None)
        functions = None
    elif target in contract.exercises:
        modules, functions = (target,), set(contract.exercises[target])
    elif target in contract.functions:
        modules, functions = (contract.module_of(target),), {target}
    else:
        raise ValueError(f"target: {target!r} is neither a module nor a function with visible "
                         "tests; expected one of " + ", ".join([*contract.exercises, *contract.functions]))
    intake = collect(folder, modules, contract.exercises)
    if target is None:
        modules = tuple(m for m in modules if m in intake.found) or modules
        intake = collect(folder, modules, contract.exercises)
    report = CheckReport(intake=intake.report())
    with tempfile.TemporaryDirectory(prefix="coursepkg-check-") as staged:
        # the student's own code on the student's own machine: no wall against itself
        # (bubblewrap may not even exist there), unless the caller asks for one
        limits = limits or Limits(sandbox="none")
        with Submission(intake.stage(staged), modules, limits, contract) as submission:
            tests = run_checks(submission, modules)
    report.tests = [t for t in tests if t.visibility == "visible"
                    and (functions is None or t.function in functions)]
    for module in modules:
        if module in intake.found:
            names = [f for f in contract.exercises[module] if functions is None or f in functions]
            report.examples += _examples(intake.found[module], module, names, examples_timeout)
    if show:
        print(report.text())
    return report
