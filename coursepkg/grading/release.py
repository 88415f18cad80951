"""Turn instructor sources into the student side: starter files and visible tests.

Each block between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (markers
included) becomes, at the block's indentation::

    # YOUR CODE HERE
    raise NotImplementedError()

Everything else (docstrings, signatures, provided helpers) is kept.  The
grading tests are released too, without their hidden tests
(:func:`visible_checks`), so that a student can run ``coursepkg check`` on
their own files.

>>> src = '''def f(x):
...     'Double x.'
...     ### BEGIN SOLUTION
...     return 2 * x
...     ### END SOLUTION
... '''
>>> print(strip_solutions(src), end="")
def f(x):
    'Double x.'
    # YOUR CODE HERE
    raise NotImplementedError()
"""

from __future__ import annotations

import ast
import zipfile
from pathlib import Path

from . import contract as _contract
from .contract import BEGIN, END


def strip_solutions(source: str, filename: str = "<source>") -> str:
    """Replace every solution block of ``source`` by a stub.

    Raises
    ------
    ValueError
        Naming ``filename`` and the line, for an unmatched or nested marker,
        a file without any solution block, or a result that does not parse.
    """
    out: list[str] = []
    begin_line = None
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if begin_line is not None:
                raise ValueError(
                    f"{filename}:{number}: {BEGIN} inside the block opened at "
                    f"line {begin_line}"
                )
            begin_line = number
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError()\n")
        elif marker == END:
            if begin_line is None:
                raise ValueError(f"{filename}:{number}: {END} without {BEGIN}")
            begin_line = None
        elif begin_line is None:
            out.append(line)
    if begin_line is not None:
        raise ValueError(f"{filename}:{begin_line}: {BEGIN} is never closed")
    if BEGIN not in source:
        raise ValueError(f"{filename}: no {BEGIN} block; nothing to release")
    student = "".join(out)
    try:
        ast.parse(student, filename=filename)
    except SyntaxError as error:
        raise ValueError(f"{filename}: the released file does not parse: {error}") from None
    return student


def _is_hidden(node) -> bool:
    for decorator in getattr(node, "decorator_list", ()):
        if (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
                and decorator.func.attr == "visibility" and decorator.args
                and isinstance(decorator.args[0], ast.Constant)
                and decorator.args[0].value != "visible"):
            return True
    return False


def _defined_name(node) -> str | None:
    """The name a top-level definition or simple assignment binds (tests excluded)."""
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        name = node.name
    elif isinstance(node, ast.Assign) and len(node.targets) == 1:
        name = node.targets[0].id if isinstance(node.targets[0], ast.Name) else None
    elif isinstance(node, ast.AnnAssign):
        name = node.target.id if isinstance(node.target, ast.Name) else None
    else:
        return None
    return None if name is None or name.startswith("test_") else name


def _references(node) -> set[str]:
    """The names ``node`` uses: its loads, and the fixtures its functions ask for."""
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            names.add(sub.id)
        elif isinstance(sub, ast.arg):
            names.add(sub.arg)
    return names


def visible_checks(source: str, filename: str = "<checks>") -> str:
    r"""A checks file without its hidden tests, nor the helpers, fixtures and
    constants only they used (their inputs stay with the instructor).

    >>> text = (
    ...     "import pytest\n"
    ...     "SECRET = [4, 5]\n"
    ...     "def _inputs():\n"
    ...     "    return SECRET\n"
    ...     "@pytest.fixture\n"
    ...     "def shown_input():\n"
    ...     "    return 1\n"
    ...     "@pytest.mark.visibility('visible')\n"
    ...     "def test_shown(f, shown_input):\n"
    ...     "    assert f(shown_input) == 1\n"
    ...     "@pytest.mark.visibility('hidden')\n"
    ...     "def test_kept_back(f):\n"
    ...     "    assert f(_inputs()) == 9\n")
    >>> print(visible_checks(text), end="")
    import pytest
    @pytest.fixture
    def shown_input():
        return 1
    @pytest.mark.visibility('visible')
    def test_shown(f, shown_input):
        assert f(shown_input) == 1
    """
    tree = ast.parse(source, filename=filename)
    kept = [node for node in tree.body if not _is_hidden(node)]
    while True:  # drop definitions nothing kept refers to, until none is left
        unused = []
        for node in kept:
            name = _defined_name(node)
            if name is None:
                continue
            used = set().union(*(_references(other) for other in kept if other is not node))
            if name not in used:
                unused.append(node)
        if not unused:
            break
        kept = [node for node in kept if node not in unused]
    lines = source.splitlines(keepends=True)
    dropped = set()
    for node in tree.body:
        if node not in kept:
            start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
            dropped.update(range(start, node.end_lineno + 1))
    text = "".join(line for number, line in enumerate(lines, start=1) if number not in dropped)
    while "\n\n\n\n" in text:
        text = text.replace("\n\n\n\n", "\n\n\n")
    ast.parse(text, filename=filename)  # still a module
    return text


STUDENT_README = """# Exercises

Write your code where it says `# YOUR CODE HERE` (remove the `raise
NotImplementedError()` line).  Use only NumPy, `math` and the standard library.

Check your work (runs the visible tests and the examples in the docstrings;
the hidden tests run only when you submit).  Install the checker once with
`pip install 'coursepkg[grader]'`, then, in this folder:

    coursepkg check                    # every exercise, in this folder
    coursepkg check softmax            # one function (or: coursepkg check ex1_softmax)

or, in a notebook opened in this folder:

    from coursepkg.grading import check
    check("softmax")

Submit these files, with these names, as plain `.py` files: {files}.
"""


def release(source_dir, out_dir, modules=None, checks_dir=None, zip_path=None) -> list[Path]:
    """Write the student side of the exercises.

    Parameters
    ----------
    source_dir : path
        Folder holding the instructor sources ``ex1_softmax.py`` …
    out_dir : path
        Folder to write the student files into (created if missing): one
        stub per module, ``checks/`` with the visible tests and a README.
    modules : sequence of str, optional
        Release only these modules (default: every module the checks grade).
    checks_dir : path, optional
        The grading tests (default: ``source_dir/checks``, else the course's own).
    zip_path : path, optional
        Also write the released folder as this zip archive (a download).

    Returns
    -------
    list of Path
        The files written.
    """
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    if not source_dir.is_dir():
        raise ValueError(f"source: {source_dir} is not a directory")
    if out_dir.resolve() == source_dir.resolve():
        raise ValueError("out: must differ from the source folder (it would overwrite the solutions)")
    if checks_dir is None and (source_dir / "checks").is_dir():
        checks_dir = source_dir / "checks"
    contract = _contract.load(checks_dir, source_dir)
    modules = contract.select(modules)
    missing = [m for m in modules if not (source_dir / f"{m}.py").is_file()]
    if missing:
        raise ValueError(f"source: {source_dir} lacks " + ", ".join(f"{m}.py" for m in missing))
    files = {
        f"{module}.py": strip_solutions((source_dir / f"{module}.py").read_text(), f"{module}.py")
        for module in modules
    }
    for module in modules:
        path = contract.checks_dir / f"{module}.py"
        text = visible_checks(path.read_text(), str(path))
        if any(_contract.is_test(node) for node in ast.parse(text).body):
            files[f"checks/{module}.py"] = text
    files["README.md"] = STUDENT_README.format(files=", ".join(f"`{m}.py`" for m in modules))
    written = []
    for name, text in files.items():
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    if zip_path is not None:
        zip_path = Path(zip_path)
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in written:
                archive.write(path, Path(out_dir.name) / path.relative_to(out_dir))
        written.append(zip_path)
    return written
