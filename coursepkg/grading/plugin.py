"""The pytest side of grading: student-function fixtures and result collection.

The grading tests in :mod:`coursepkg.grading.checks` are ordinary pytest
tests.  A test asks for a student function by its name as a fixture
(``def test_rows_sum_to_one(softmax): ...``), carries
``@pytest.mark.points(n)`` and ``@pytest.mark.visibility("visible" |
"hidden")``, and its docstring's first line is its description.  Its name in
the results is ``module.function: description``.

:func:`run_checks` runs them in this (trusted) process with
``pytest.main``; the fixtures hand out
:class:`~coursepkg.grading.sandbox.StudentFunction` proxies, so no student
code is ever imported here.
"""

from __future__ import annotations

import builtins
import io
import sys
import types
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from .expect import Mismatch, Mistake, describe_mistake
from .sandbox import StudentError, Submission

# not named pytest.ini: pytest would take it as the configuration of any run
# given files of this folder (coursepkg/grading/*.py doctests)
PYTEST_INI = Path(__file__).with_name("grading.ini")
SESSION = pytest.StashKey["GradingSession"]()
VISIBILITIES = ("visible", "hidden")
#: Gradescope visibilities a hidden test may be given in results.json
GRADESCOPE_HIDDEN = ("after_published", "after_due_date", "hidden")

STUDENT_ERRORS = {
    "missing-module": "{message}",
    "import": "{message}",
    "missing": "{message}",
    "notimpl": "not implemented: {message}",
    "raised": "your code raised {message}",
    "badvalue": "unusable return value: {message}",
    "timeout": "timed out: {message}",
    "crashed": "your code stopped the process: {message}",
}
#: hidden tests show none of the child's own text: every status, message,
#: exit code or stray line a child sends could carry the hidden inputs
HIDDEN_ERRORS = {
    "missing-module": "the module is missing from the submission",
    "import": "the module could not be imported (see the visible tests)",
    "missing": "the function is missing (see the visible tests)",
    "notimpl": "not implemented (see the visible tests)",
    "raised": "your code raised {exception} (details hidden)",
    "badvalue": "unusable return value (details hidden)",
    "timeout": "timed out (details hidden)",
    "crashed": "your code stopped the process (details hidden)",
}


def _exception_name(message: str) -> str:
    """The exception's name if it is one of Python's own, else a neutral word
    (a class the student named could spell out a hidden input).

    >>> _exception_name("ValueError: z=[1, 2]"), _exception_name("H0.001,0.5: x")
    ('ValueError', 'an exception')
    """
    name = message.partition(":")[0].strip()
    builtin = getattr(builtins, name, None)
    if isinstance(builtin, type) and issubclass(builtin, BaseException):
        return name
    return "an exception"


@dataclass
class TestResult:
    """One graded test, in the shape Gradescope wants."""

    name: str
    function: str
    score: float
    max_score: float
    output: str
    visibility: str
    #: the test itself failed (not the student's code): its 0 says nothing
    grader_error: bool = False

    def as_gradescope(self, hidden_as: str = "after_published") -> dict:
        """The test as Gradescope wants it.  A hidden test's output never
        shows inputs or expected values, so it may reach the student once the
        instructor publishes the grades (``after_published``, the default) or
        after the due date (``after_due_date``); Gradescope's own ``hidden``
        would keep its named mistake from the student for good."""
        if hidden_as not in GRADESCOPE_HIDDEN:
            raise ValueError(f"hidden_as: expected one of {', '.join(GRADESCOPE_HIDDEN)}, "
                             f"got {hidden_as!r}")
        return {"name": self.name, "score": self.score, "max_score": self.max_score,
                "output": self.output,
                "visibility": hidden_as if self.visibility == "hidden" else self.visibility}


def feedback(error: BaseException, hidden: bool, book_url: str = "") -> str:
    """The text a student sees for a failed test.

    >>> feedback(StudentError("raised", "ValueError: z=[1, 2]"), hidden=True)
    'your code raised ValueError (details hidden)'
    >>> feedback(Mismatch("expected 1, got 2"), hidden=True)
    'wrong result on a hidden input'
    """
    if isinstance(error, Mistake):
        return describe_mistake(error.key, book_url)
    if isinstance(error, StudentError):
        if hidden:
            return HIDDEN_ERRORS[error.kind].format(exception=_exception_name(error.message))
        return STUDENT_ERRORS[error.kind].format(message=error.message)
    if isinstance(error, Mismatch):
        return error.for_hidden() if hidden else str(error)
    return f"grader error ({type(error).__name__}); please tell the instructor"


def _student_fixture(function: str):
    @pytest.fixture(name=function)
    def fixture(request):
        return request.config.stash[SESSION].submission.function(function)

    fixture.__doc__ = f"The submission's {function}, run in a child process."
    return fixture


def _fixtures(functions) -> types.ModuleType:
    """A plugin holding one fixture per student function of the contract."""
    holder = types.ModuleType("coursepkg_student_functions")
    for function in functions:
        setattr(holder, f"_fixture_{function}", _student_fixture(function))
    return holder


def _marker_value(item, name):
    marker = item.get_closest_marker(name)
    if marker is None or len(marker.args) != 1:
        raise pytest.UsageError(f"{item.nodeid}: needs @pytest.mark.{name}(<one value>)")
    return marker.args[0]


class GradingSession:
    """A pytest plugin object: validates the tests and collects their outcomes."""

    def __init__(self, submission: Submission, book_url: str = ""):
        self.submission = submission
        self.book_url = book_url
        self.results: dict[str, TestResult] = {}
        self.order: list[str] = []
        self.interrupted = False

    def pytest_keyboard_interrupt(self, excinfo):
        # pytest ends a run with collection errors by raising its own
        # Interrupted (a KeyboardInterrupt), with the exit code of Ctrl-C
        self.interrupted = not isinstance(excinfo.value, pytest.Session.Interrupted)

    def pytest_configure(self, config):
        config.stash[SESSION] = self
        config.addinivalue_line("markers", "points(n): points a grading test is worth")
        config.addinivalue_line("markers", "visibility(kind): 'visible' or 'hidden'")

    def pytest_collection_modifyitems(self, items):
        """Validate the tests, name them, and run every visible test before
        any hidden one: a child keeps its state between calls, so a hidden
        input it saw could otherwise come back in a later visible message."""
        functions = self.submission.contract.functions
        for item in items:
            targets = [name for name in item.fixturenames if name in functions]
            module = Path(str(item.path)).stem
            if len(targets) != 1 or functions[targets[0]] != module:
                raise pytest.UsageError(
                    f"{item.nodeid}: a grading test uses exactly one function of {module}")
            points = _marker_value(item, "points")
            visibility = _marker_value(item, "visibility")
            if visibility not in VISIBILITIES or not (isinstance(points, (int, float)) and points > 0):
                raise pytest.UsageError(f"{item.nodeid}: bad points {points!r} or visibility {visibility!r}")
            doc = (item.function.__doc__ or item.name).strip().splitlines()[0]
            self.results[item.nodeid] = TestResult(
                f"{module}.{targets[0]}: {doc}", targets[0], 0.0, float(points),
                "not run", visibility)
            self.order.append(item.nodeid)
        items.sort(key=lambda item: self.results[item.nodeid].visibility == "hidden")
        self.order.sort(key=lambda nodeid: self.results[nodeid].visibility == "hidden")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item, call):
        """Record the outcome, and build a short report (pytest's own
        traceback formatting would cost ~0.1 s per failed test)."""
        result = self.results[item.nodeid]
        if call.excinfo is not None and call.when != "teardown":
            result.score = 0.0
            error = call.excinfo.value
            result.output = feedback(error, result.visibility == "hidden", self.book_url)
            result.grader_error = not isinstance(error, (Mismatch, Mistake, StudentError))
        elif call.when == "call":
            result.score = result.max_score
            result.output = "passed"
        failed = call.excinfo is not None
        return pytest.TestReport(
            item.nodeid, item.location, {}, "failed" if failed else "passed",
            result.output if failed else None, call.when,
            duration=call.duration, start=call.start, stop=call.stop)


def run_checks(submission: Submission, modules, book_url: str = "") -> list[TestResult]:
    """Run the grading tests of ``modules`` against ``submission``.

    Returns the results in the tests' order.  Raises ``RuntimeError`` if
    pytest itself could not run them (a broken test definition).
    """
    session = GradingSession(submission, book_url)
    checks_dir = submission.contract.checks_dir
    files = [str(checks_dir / f"{module}.py") for module in modules]
    args = [*files, "-q", "-c", str(PYTEST_INI), "--rootdir", str(checks_dir),
            "--import-mode=importlib",
            "--disable-plugin-autoload", "--capture=sys", "-p", "no:cacheprovider",
            "-p", "no:stepwise",
            "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    out = io.StringIO()
    loaded = set(sys.modules)
    try:
        with redirect_stdout(out), redirect_stderr(out):
            code = pytest.main(args, plugins=[session, sys.modules[__name__],
                                              _fixtures(submission.contract.functions)])
    finally:
        # forget the checks modules: the next run may read another checks folder
        for name in set(sys.modules) - loaded:
            if Path(getattr(sys.modules[name], "__file__", None) or "/").parent == checks_dir:
                del sys.modules[name]
    if code == pytest.ExitCode.INTERRUPTED and session.interrupted:  # Ctrl-C: pass it on
        raise KeyboardInterrupt
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        # INTERRUPTED without a Ctrl-C: a checks file that failed to import
        log = out.getvalue()
        hint = ("\n(a library the grading tests import is missing: "
                "pip install 'coursepkg[grader]')" if "No module named" in log else "")
        raise RuntimeError(f"the grading tests could not run (pytest exit code {int(code)}):\n"
                           + log[-3000:] + hint)
    return [session.results[nodeid] for nodeid in session.order]
