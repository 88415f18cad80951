"""Turn instructor sources into student files.

Each block between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (markers
included) becomes, at the block's indentation::

    # YOUR CODE HERE
    raise NotImplementedError()

Everything else (docstrings, signatures, provided helpers) is kept.

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
from pathlib import Path

from .contract import BEGIN, END, default_contract


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


def release(source_dir, out_dir) -> list[Path]:
    """Write the student version of each of the five exercise modules.

    Parameters
    ----------
    source_dir : path
        Folder holding the instructor sources ``ex1_softmax.py`` …
    out_dir : path
        Folder to write the student files into (created if missing).

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
    missing = [m for m in default_contract().exercises if not (source_dir / f"{m}.py").is_file()]
    if missing:
        raise ValueError(f"source: {source_dir} lacks " + ", ".join(f"{m}.py" for m in missing))
    students = {
        module: strip_solutions((source_dir / f"{module}.py").read_text(), f"{module}.py")
        for module in default_contract().exercises
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for module, text in students.items():
        path = out_dir / f"{module}.py"
        path.write_text(text)
        written.append(path)
    return written
