"""The code the chapters show with ``literalinclude`` fits the page.

STYLE.md asks for code lines of at most 79 characters; a chapter that
includes a function with ``:pyobject:`` shows its lines as they are in the
package, so the limit applies to every included object.
"""

import ast
import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
MAX_WIDTH = 79
INCLUDE = re.compile(r"```\{literalinclude\} (\S+)\n((?::[\w-]+:.*\n)*)")


def _markdown(path):
    """The MyST text of a book page: a notebook's markdown cells, or a .md."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        return "\n".join("".join(c["source"]) for c in cells
                         if c["cell_type"] == "markdown")
    return path.read_text()


def includes(text, base):
    """``(file, pyobject)`` of every literalinclude in ``text``."""
    found = []
    for match in INCLUDE.finditer(text):
        options = dict(re.findall(r":([\w-]+): *(.*)", match.group(2)))
        found.append(((base / match.group(1)).resolve(),
                      options.get("pyobject")))
    return found


def object_lines(source, pyobject):
    """The lines ``:pyobject:`` shows (decorators included), or all lines."""
    lines = source.splitlines()
    if pyobject is None:
        return lines
    node = ast.parse(source)
    for name in pyobject.split("."):
        node = next(n for n in ast.iter_child_nodes(node)
                    if getattr(n, "name", None) == name)
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return lines[start - 1:node.end_lineno]


def too_long(lines):
    return [(len(line), line) for line in lines if len(line) > MAX_WIDTH]


PAGES = sorted(BOOK.glob("*.ipynb")) + sorted(BOOK.glob("*.md"))
SHOWN = [(page, path, obj) for page in PAGES
         for path, obj in includes(_markdown(page), page.parent)]


def test_the_chapters_include_code():
    """The parametrized test below has something to check."""
    assert len(SHOWN) >= 10, SHOWN


@pytest.mark.parametrize(
    "page, path, pyobject", SHOWN,
    ids=[f"{p.stem}:{o}" for p, _, o in SHOWN])
def test_included_lines_fit_79_columns(page, path, pyobject):
    lines = object_lines(path.read_text(), pyobject)
    assert lines, f"{page.name} includes {pyobject} from {path}: not found"
    long = too_long(lines)
    assert not long, (f"{page.name} shows {pyobject} with lines over "
                      f"{MAX_WIDTH} characters: {long}")


def test_the_check_finds_a_long_line():
    """A method with an 80-character line, found through its class."""
    source = ("class A:\n    def f(self):\n        return "
              + "x" * (80 - len("        return ")) + "\n")
    lines = object_lines(source, "A.f")
    assert [n for n, _ in too_long(lines)] == [80]
    text = "```{literalinclude} ../pkg/a.py\n:pyobject: A.f\n```\n"
    assert includes(text, BOOK) == [((ROOT / "pkg/a.py").resolve(), "A.f")]
