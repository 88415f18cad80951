"""What a submission consists of, read from the assignment itself.

An assignment is a folder of grading tests, ``checks/``, one pytest file per
exercise module (``checks/ex1_softmax.py`` grades the student's
``ex1_softmax.py``), usually next to the instructor sources that hold the
solutions between ``### BEGIN SOLUTION`` and ``### END SOLUTION``.  There is
no hand-kept table of modules and functions:

- the **checks** say which functions a module must define: a grading test
  asks for the student functions it calls by name, as its parameters
  (``def test_rows_sum_to_one(softmax): ...``);
- the **instructor sources**, when present, must agree: every function whose
  body holds a solution block must have checks, and every function the
  checks ask for must be defined in the module's source.

Adding a graded function is writing it between the markers and writing its
checks.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "checks").mkdir()
>>> _ = (root / "checks" / "ex9_demo.py").write_text(
...     "def test_a(twice):\\n    pass\\n\\ndef test_b(twice, half):\\n    pass\\n")
>>> contract = from_checks(root / "checks")
>>> contract.exercises
{'ex9_demo': ('twice', 'half')}
>>> contract.module_of("half")
'ex9_demo'
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path


BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"

#: where the grading tests of the default assignment live: the instructor's
#: tree (relative to the current folder, like ``release --source exercises``);
#: they are not part of the package, so no student installs the hidden tests
DEFAULT_CHECKS = Path("exercises", "checks")

#: pytest's own fixtures, which a grading test may ask for besides student functions
PYTEST_FIXTURES = frozenset({
    "request", "tmp_path", "tmp_path_factory", "monkeypatch", "capsys", "capfd",
    "caplog", "recwarn", "pytestconfig", "record_property",
})


@dataclass(frozen=True)
class Contract:
    """The exercise modules of an assignment and the functions each defines.

    ``exercises`` maps module name to function names, in the modules' order;
    ``checks_dir`` is the folder of grading tests it was read from.
    """

    exercises: dict[str, tuple[str, ...]]
    checks_dir: Path | None = None
    functions: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        functions: dict[str, str] = {}
        for module, names in self.exercises.items():
            for name in names:
                if name in functions:
                    raise ValueError(f"checks: {name!r} is asked for by both "
                                     f"{functions[name]} and {module}")
                functions[name] = module
        object.__setattr__(self, "functions", functions)

    def module_of(self, function: str) -> str:
        """The exercise module that defines ``function``."""
        try:
            return self.functions[function]
        except KeyError:
            raise ValueError(f"function: no exercise defines {function!r}") from None

    def select(self, modules=None) -> tuple[str, ...]:
        """Validate a selection of module names (``None`` means all).

        >>> Contract({"ex1_a": ("f",)}).select(["ex9"])
        Traceback (most recent call last):
        ...
        ValueError: modules: unknown exercise module 'ex9'; expected some of ex1_a
        """
        if modules is None:
            return tuple(self.exercises)
        modules = tuple(modules)
        for name in modules:
            if name not in self.exercises:
                raise ValueError(f"modules: unknown exercise module {name!r}; expected some of "
                                 + ", ".join(self.exercises))
        return modules


def is_test(node) -> bool:
    return isinstance(node, ast.FunctionDef) and node.name.startswith("test_")


def asked_for(path) -> tuple[str, ...]:
    """The student functions the grading tests of one checks file ask for,
    in order of first use."""
    path = Path(path)
    tree = ast.parse(path.read_text(), filename=str(path))
    names: dict[str, None] = {}
    for node in tree.body:
        if is_test(node):
            for arg in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
                if arg.arg not in PYTEST_FIXTURES:
                    names[arg.arg] = None
    return tuple(names)


def check_files(checks_dir) -> list[Path]:
    """The checks files of ``checks_dir`` (``ex*.py``), sorted by name."""
    checks_dir = Path(checks_dir)
    if not checks_dir.is_dir():
        raise ValueError(f"checks: {checks_dir} is not a directory (the instructor's grading "
                         "tests: pass --checks DIR, or run where exercises/checks is)")
    files = sorted(checks_dir.glob("ex*.py"))
    if not files:
        raise ValueError(f"checks: {checks_dir} holds no grading tests (ex*.py)")
    return files


def from_checks(checks_dir) -> Contract:
    """The contract the grading tests in ``checks_dir`` define."""
    exercises = {}
    for path in check_files(checks_dir):
        functions = asked_for(path)
        if not functions:
            raise ValueError(f"checks: {path} has no grading test asking for a function")
        exercises[path.stem] = functions
    return Contract(exercises, Path(checks_dir).resolve())


def solution_functions(source: str, filename: str = "<source>") -> tuple[str, ...]:
    """The top-level functions of an instructor source holding a solution block.

    >>> solution_functions("def f():\\n    ### BEGIN SOLUTION\\n    return 1\\n"
    ...                    "    ### END SOLUTION\\n\\ndef helper():\\n    return 2\\n")
    ('f',)
    """
    lines = source.splitlines()
    tree = ast.parse(source, filename=filename)
    return tuple(
        node.name for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any(line.strip() == BEGIN for line in lines[node.lineno - 1: node.end_lineno])
    )


def defined_functions(source: str, filename: str = "<source>") -> set[str]:
    """The names of the top-level functions a module defines."""
    return {node.name for node in ast.parse(source, filename=filename).body
            if isinstance(node, ast.FunctionDef)}


def load(checks_dir=None, source_dir=None) -> Contract:
    """The contract of the checks in ``checks_dir`` (default: the course's
    own), checked against the instructor sources in ``source_dir`` if given.

    Raises
    ------
    ValueError
        When a source lacks a function its checks ask for, or a function
        holding a solution block has no checks (a graded function nobody
        grades), naming both files.
    """
    contract = from_checks(DEFAULT_CHECKS if checks_dir is None else checks_dir)
    if source_dir is None:
        return contract
    source_dir = Path(source_dir)
    for path in sorted(source_dir.glob("ex*.py")):
        if path.stem not in contract.exercises and solution_functions(path.read_text(), str(path)):
            raise ValueError(f"checks: {path} holds solutions but {contract.checks_dir} has no "
                             f"{path.name} grading them")
    for module, functions in contract.exercises.items():
        path = source_dir / f"{module}.py"
        if not path.is_file():
            continue  # the caller decides whether a missing module matters
        text = path.read_text()
        missing = [f for f in functions if f not in defined_functions(text, str(path))]
        if missing:
            raise ValueError(f"source: {path} does not define {', '.join(missing)}, which "
                             f"{contract.checks_dir / (module + '.py')} grades")
        unchecked = [f for f in solution_functions(text, str(path)) if f not in functions]
        if unchecked:
            raise ValueError(f"checks: {', '.join(unchecked)} in {path} holds a solution but "
                             f"{contract.checks_dir / (module + '.py')} has no test asking for it")
    return contract


_DEFAULT: list[Contract] = []


def default_contract() -> Contract:
    """The contract of the course's own checks (read once)."""
    if not _DEFAULT:
        _DEFAULT.append(load())
    return _DEFAULT[0]


def module_of(function: str) -> str:
    """The module of ``function`` in the default contract.

    >>> module_of("log_softmax")
    'ex4_logsumexp'
    """
    return default_contract().module_of(function)


def __getattr__(name):
    # EXERCISES: the default contract's modules and functions, read on first use
    if name == "EXERCISES":
        return default_contract().exercises
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
