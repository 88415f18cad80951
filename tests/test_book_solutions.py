"""The book's prose hands out no graded answer (issue 13, item 2).

The instructor's answers are the solution blocks of ``exercises/ex*.py`` (the
lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION``).  The released
starter files replace them by stubs; this test makes sure the book does not put
them back, in a dropdown or anywhere else in its markdown (the markdown cells
of ``book/*.ipynb`` and the pages ``book/*.md``).

What counts as a piece of an answer (a "needle"):

- every line of a solution block, and its right-hand side (what follows
  ``return`` or ``name =``), and
- every call, arithmetic expression, subscript and negation inside a block
  (``np.bincount(y, minlength=num_classes)``, ``np.diag(p) - np.outer(p, p)``),
  taken from the source as written,

when it has at least ``MIN_CHARS`` (12) characters once whitespace is
removed, and is not generic.  Generic means boilerplate that reveals nothing
about the answer: turning an argument into an array (``x = np.asarray(x,
dtype=np.float64)``), ``return name``, reading a shape (``n = X.shape[0]``),
a bare loop header over a step count, ``np.errstate`` blocks, and a function
applied to one variable (``logsumexp(z)``, ``f(x)``: the chapters' notation).

Literal needles miss an answer spelled with other names, so ``KEY_FRAGMENTS``
adds the core of some answers as patterns (``np.diag(P) - np.outer(P, P)``,
``z[np.arange(len(y)), y]``, ``logsumexp(z)[..., None]``); each must match the
instructor's own solution.

The comparison ignores whitespace entirely (both sides are squashed), so a
fragment re-wrapped over two lines of markdown, or written with other spacing,
is still found.  Code cells are not searched: they are the chapters' worked
material, which demonstrates some of the same techniques on the package's
functions (chapter 5 checks ``cnp.softmax_jacobian`` against the formula,
chapter 3 trains by gradient descent); this test is about the prose and its
dropdowns.
"""

from __future__ import annotations

import ast
import json
import pathlib
import re
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXERCISES = sorted((ROOT / "exercises").glob("ex*.py"))
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
MIN_CHARS = 12

# Whole lines (stripped) that reveal nothing; see the module docstring.
GENERIC_LINES = [
    re.compile(r"\w+ = np\.(as)?array\(\w+(, dtype=np\.float64)?\)"),  # argument -> array
    re.compile(r"return \w+"),  # return a name
    re.compile(r"\w+(, \w+)* = \w+\.shape(\[\d+\])?"),  # read a shape
    re.compile(r"for _ in range\(\w+\):"),  # repeat a number of steps
    re.compile(r"with np\.errstate\(.*\):"),  # silence a floating-point warning
]
# Sub-expressions that reveal nothing: the conversion and errstate calls of
# GENERIC_LINES, and a function named by the exercise applied to one variable
# (``logsumexp(z)``, ``f(x)``: the notation of the chapters).
GENERIC_FRAGMENTS = [
    re.compile(r"np\.(as)?array\(\w+(, dtype=np\.float64)?\)"),
    re.compile(r"np\.errstate\(.*\)"),
    re.compile(r"\w+\(\w+\)"),
]


# Key fragments, as patterns over squashed text: the core of an answer in any
# spelling (other variable names, ``None`` for ``np.newaxis``, ``len(y)`` for
# ``y.shape[0]``), which the literal needles would miss.  Each must match the
# instructor's own solution (test_every_key_fragment_is_in_a_solution).
KEY_FRAGMENTS = {
    "one log-probability or logit per row, picked by the labels":
        re.compile(r"\[np\.arange\([^\[\]]*\),\w+\]"),
    "log-softmax as logits minus their log-sum-exp with the axis restored":
        re.compile(r"logsumexp\(\w+\)\[\.\.\.,(None|np\.newaxis)\]"),
    "the softmax Jacobian as a diagonal minus an outer product":
        re.compile(r"np\.diag\((\w+)\)-np\.outer\(\1,\1\)"),
    "class counts padded to the number of classes":
        re.compile(r"bincount\(\w+,minlength="),
    "the mean gradient: softmax minus one-hot, over the batch size":
        re.compile(r"softmax\w*\([^()]*\)-np\.eye\([^()]*\)\[\w+\]\)/\w+"),
}


def squash(text: str) -> str:
    """``text`` without any whitespace: the form both sides are compared in."""
    return re.sub(r"\s+", "", text)


def solution_blocks(source: str) -> list[tuple[int, str]]:
    """(first line number, dedented text) of every solution block of ``source``."""
    blocks, start, lines = [], None, []
    for number, line in enumerate(source.splitlines(), start=1):
        if line.strip() == BEGIN:
            start, lines = number + 1, []
        elif line.strip() == END:
            blocks.append((start, textwrap.dedent("\n".join(lines))))
            start = None
        elif start is not None:
            lines.append(line)
    return blocks


def _generic(text: str, patterns) -> bool:
    return any(p.fullmatch(text.strip()) for p in patterns)


def needles(path: pathlib.Path) -> dict[str, str]:
    """Squashed needle -> where it comes from (``file:line: text``)."""
    found: dict[str, str] = {}

    def add(text: str, where: str) -> None:
        key = squash(text)
        if len(key) >= MIN_CHARS:
            found.setdefault(key, f"{where}: {text.strip()}")

    for start, block in solution_blocks(path.read_text()):
        for offset, line in enumerate(block.splitlines()):
            where = f"{path.name}:{start + offset}"
            if not line.strip() or _generic(line, GENERIC_LINES):
                continue
            add(line, where)
            rhs = re.fullmatch(r"\s*(?:return\s+|[\w\[\], ]+?\s*[-+*/]?=\s*)(.+)", line)
            if rhs:
                add(rhs.group(1), where)
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, (ast.Call, ast.BinOp, ast.Subscript, ast.UnaryOp)):
                text = ast.get_source_segment(block, node)
                if text and not _generic(text, GENERIC_FRAGMENTS):
                    add(text, f"{path.name}:{start + node.lineno - 1}")
    return found


def prose() -> list[tuple[str, str]]:
    """(where, text) of every markdown cell of the book and every .md page."""
    out = []
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        for index, cell in enumerate(cells):
            if cell["cell_type"] == "markdown":
                out.append((f"{nb.name} cell {index}", "".join(cell["source"])))
    for page in sorted((ROOT / "book").glob("*.md")):
        out.append((page.name, page.read_text()))
    return out


def leaks(text: str, table: dict[str, str]) -> list[str]:
    """The needles of ``table`` that occur in ``text``, whitespace ignored."""
    flat = squash(text)
    found = [origin for key, origin in table.items() if key in flat]
    found += [f"key fragment: {name}" for name, pattern in KEY_FRAGMENTS.items()
              if pattern.search(flat)]
    return found


ALL_NEEDLES = {k: v for path in EXERCISES for k, v in needles(path).items()}


def test_every_exercise_module_has_needles():
    assert len(EXERCISES) == 5, EXERCISES
    for path in EXERCISES:
        assert needles(path), f"{path.name}: no solution line long enough to search for"


@pytest.mark.parametrize(
    "fragment",
    # Quoted in issue 13 as graded answers that the book's dropdowns printed.
    ["np.bincount(y, minlength=num_classes)", "np.diag(p) - np.outer(p, p)"],
)
def test_the_fragments_named_in_the_issue_are_needles(fragment):
    assert squash(fragment) in ALL_NEEDLES


PROSE = prose()


@pytest.mark.parametrize("where,text", PROSE, ids=[where for where, _ in PROSE])
def test_no_markdown_contains_a_solution(where, text):
    found = leaks(text, ALL_NEEDLES)
    assert not found, f"{where} contains solution code:\n" + "\n".join(found)


def _longest_needle_per_block():
    cases = []
    for path in EXERCISES:
        for start, block in solution_blocks(path.read_text()):
            lines = [ln.strip() for ln in block.splitlines()
                     if ln.strip() and not _generic(ln, GENERIC_LINES)]
            cases.append(pytest.param(max(lines, key=len), id=f"{path.stem}:{start}"))
    return cases


DROPDOWN = "{solution} ex-mle-categorical\n:class: dropdown\n"


def _solution_cell():
    """A real cell of the book: the one with ex-mle-categorical's dropdown."""
    for _, text in PROSE:
        if DROPDOWN in text:
            return text
    raise AssertionError("no markdown cell holds the ex-mle-categorical dropdown")


@pytest.mark.parametrize("line", _longest_needle_per_block())
def test_a_planted_solution_line_is_flagged(line):
    """The check can fail: a solution line written into a copy of a dropdown,
    re-wrapped and re-spaced as a markdown author might, is found."""
    cell = _solution_cell()
    assert not leaks(cell, ALL_NEEDLES)
    words = line.split(" ")
    half = len(words) // 2
    rewrapped = " ".join(words[:half]) + "\n  " + "  ".join(words[half:])
    planted = cell.replace(DROPDOWN, f"{DROPDOWN}\nFor instance `{rewrapped}`.\n", 1)
    assert planted != cell
    assert leaks(planted, ALL_NEEDLES)


@pytest.mark.parametrize("name", KEY_FRAGMENTS)
def test_every_key_fragment_is_in_a_solution(name):
    blocks = [squash(block) for path in EXERCISES
              for _, block in solution_blocks(path.read_text())]
    assert any(KEY_FRAGMENTS[name].search(block) for block in blocks), name


@pytest.mark.parametrize("prose_text", [
    # How the book's dropdowns once gave these answers away, in other spellings
    # than the instructor's: the literal needles alone would miss them.
    "Return `z - logsumexp(z)[..., None]`, so each row is shifted.",
    "`np.mean(logsumexp(z, axis=1) - z[np.arange(len(y)), y])`",
    "Pick one entry per row, `log_probs[np.arange(N), y]`.",
    "Compute `P = softmax(Z)`, then `np.diag(P) - np.outer(P, P)`.",
    "`(softmax(z) - np.eye(k)[y]) / N`",
    "the counts: `np.bincount(labels, minlength=k) / len(labels)`",
])
def test_a_planted_key_fragment_is_flagged(prose_text):
    assert leaks(prose_text, {})


def test_generic_lines_are_not_flagged():
    """The rule's exceptions: boilerplate that every stub states passes."""
    assert not leaks("Start with `z = np.asarray(z, dtype=np.float64)`; "
                     "then `n, k = logits.shape` and `return grad`.", ALL_NEEDLES)
