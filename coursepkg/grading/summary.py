"""What ``coursepkg grade`` prints: a summary that reads at 80 columns.

The summary is the score, a table of points per function and, for each
function that lost points, its first failed test with the test's name and
feedback; ``verbose=True`` lists every test instead.  Feedback is wrapped
without breaking a word, lines that are already short (the arrays of a
mismatch) keep their layout, and every chapter link stands on a line of its
own, whole, so that a terminal can open it.

>>> from coursepkg.grading.plugin import TestResult
>>> from coursepkg.grading.grade import Report
>>> failed = TestResult("ex2_information.kl_divergence: KL(p || q) takes the expectation "
...                     "under p, not q", "kl_divergence", 0.0, 2.0,
...                     "classic mistake: swapped KL arguments. See "
...                     "https://example.org/book/02_information.html#info-kl-asymmetry",
...                     "visible")
>>> print(render(Report([failed], 0.1, {"kl_divergence": "ex2_information"})))
score 0 / 2
<BLANKLINE>
  points    function
   0 / 2    ex2_information.kl_divergence
<BLANKLINE>
The first failed test of each function (every test: --verbose):
<BLANKLINE>
FAIL 0/2 ex2_information.kl_divergence: KL(p || q) takes the expectation under
         p, not q
    classic mistake: swapped KL arguments. See
    https://example.org/book/02_information.html#info-kl-asymmetry
"""

from __future__ import annotations

import re
import textwrap

WIDTH = 80
INDENT = "    "
#: a chapter link in feedback: absolute, or relative to the book's root
LINK = re.compile(r"(?:[a-z][a-z0-9+.-]*://\S+|book/\S+\.html\S*)")

#: exit statuses of ``coursepkg grade``: they say whether grading worked, not the score
GRADED, GRADER_FAILED, BAD_ARGUMENTS, GRADER_ERRORS = 0, 1, 2, 3


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    r"""``text`` safe for a terminal: control characters (an escape sequence
    in a student's exception message or file name could clear the screen and
    print a fake score) are shown escaped; line breaks are kept.

    >>> printable("score\x1b[2J 100\r")
    'score\\x1b[2J 100\\r'
    >>> printable("two\nlines")
    'two\nlines'
    """
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def wrap(text: str, indent: str = INDENT, width: int = WIDTH) -> list[str]:
    """``text`` as lines of at most ``width`` characters (a link or a single
    word longer than that stands alone on its line, unbroken).

    >>> wrap("See https://example.org/a-very-long/link.html#anchor now", "", 20)
    ['See', 'https://example.org/a-very-long/link.html#anchor', 'now']
    """
    lines = []
    for line in printable(text).split("\n") or [""]:
        for number, piece in enumerate(LINK.split(line.rstrip())):
            if number:  # the links between the pieces, each on its own line
                link = LINK.findall(line)[number - 1]
                lines.append(link if len(indent) + len(link) > width else indent + link)
            if not piece.strip():
                continue
            if len(indent) + len(piece) <= width:
                lines.append(indent + (piece if piece[:1].isspace() and not number
                                       else piece.strip()))
            else:
                lines += textwrap.wrap(piece, width, initial_indent=indent,
                                       subsequent_indent=indent, break_long_words=False,
                                       break_on_hyphens=False)
    return lines


def _test_lines(test, with_output: bool) -> list[str]:
    mark = "PASS" if test.score >= test.max_score else "FAIL"
    hidden = " (hidden)" if test.visibility == "hidden" else ""
    head = f"{mark} {test.score:g}/{test.max_score:g} "
    lines = textwrap.wrap(test.name + hidden, WIDTH, initial_indent=head,
                          subsequent_indent=" " * len(head), break_long_words=False,
                          break_on_hyphens=False)
    if with_output and mark == "FAIL":
        lines += wrap(test.output)
    return lines


def render(report, verbose: bool = False) -> str:
    """The summary of a :class:`~coursepkg.grading.grade.Report` as text."""
    lines = [f"score {report.score:g} / {report.max_score:g}", "", "  points    function"]
    for function, (points, maximum) in report.by_function().items():
        module = report.functions.get(function, "")
        name = f"{module}.{function}" if module else function
        lines.append(f"{points:>4g} / {maximum:<4g} {name}")
    failed = [t for t in report.tests if t.score < t.max_score]
    if verbose:
        lines += ["", "Every test, visible ones first:", ""]
        for test in report.tests:  # a failed test, with its feedback, stands apart
            if test.score < test.max_score:
                lines += ([""] if lines[-1] else []) + _test_lines(test, True) + [""]
            else:
                lines += _test_lines(test, False)
        while lines[-1] == "":
            lines.pop()
    elif failed:
        lines += ["", "The first failed test of each function (every test: --verbose):"]
        first: dict[str, object] = {}
        for test in failed:  # a named classic mistake says most: show it first
            best = first.get(test.function)
            if best is None or (test.output.startswith("classic mistake")
                                and not best.output.startswith("classic mistake")):
                first[test.function] = test
        for test in first.values():
            lines += [""] + _test_lines(test, with_output=True)
        more = len(failed) - len(first)
        if more:
            lines += ["", f"{more} more failed test{'s' if more > 1 else ''}: "
                          "run with --verbose to see them"]
    errors = [t.name for t in report.tests if getattr(t, "grader_error", False)]
    if errors:
        lines += [""] + textwrap.wrap(
            f"grader error in {len(errors)} test{'s' if len(errors) > 1 else ''} (the "
            f"lost points are not the student's fault; tell the instructor): "
            + "; ".join(errors), WIDTH,
            break_long_words=False, break_on_hyphens=False)
    return printable("\n".join(lines))


def exit_status(report) -> int:
    """:data:`GRADED`, or :data:`GRADER_ERRORS` when some test itself failed."""
    return GRADER_ERRORS if any(getattr(t, "grader_error", False) for t in report.tests) \
        else GRADED
