"""Feedback a student can use: links that work, a summary that reads.

Every chapter link in the grader's feedback points at a real target (a
label ``(name)=`` in a chapter becomes the HTML anchor ``#name``; a link to a
missing label would send students to the top of the wrong page).  The
printed summary fits 80 columns without cutting a word or a link, names the
failed tests, and ``coursepkg grade``'s exit status says whether grading
worked.
"""

import json
import pathlib
import re

import numpy as np
import pytest
from grading_support import CASES, EXERCISES, FAST, make_submission

from coursepkg.grading.contract import load
from coursepkg.grading.expect import MISTAKES
from coursepkg.grading.grade import grade
from coursepkg.grading.summary import GRADED, GRADER_ERRORS, LINK, exit_status, render

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _labels(page: pathlib.Path) -> set[str]:
    text = page.read_text()
    if page.suffix == ".ipynb":
        cells = json.loads(text)["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return {line[1:-2] for line in text.splitlines() if line.startswith("(") and line.endswith(")=")}


@pytest.mark.parametrize("key", sorted(MISTAKES))
def test_mistake_link_resolves_to_a_chapter_label(key):
    _, link = MISTAKES[key]
    page, _, anchor = link.partition("#")
    source = ROOT / pathlib.Path(page).with_suffix(".ipynb")
    assert source.exists(), f"{key}: {page} has no source notebook"
    assert anchor in _labels(source), f"{key}: no ({anchor})= label in {source.name}"


# ------------------------------------------------- the printed summary


BOOK = "https://courses.example.org/numerics/softmax-cross-entropy-and-gradients/"


@pytest.fixture(scope="module")
def wrong_report(tmp_path_factory):
    """A submission with a float32 softmax, swapped KL and a one-hot from the labels."""
    folder = make_submission(tmp_path_factory.mktemp("sub"), {
        "ex1_softmax": (CASES / "realworld/softmax_float32.py").read_text(),
        "ex2_information": (CASES / "wrong/kl_swapped.py").read_text(),
        "ex5_gradients": (CASES / "realworld/ce_grad_classes_from_labels.py").read_text()})
    return grade(folder, ["ex1_softmax", "ex2_information", "ex5_gradients"], FAST,
                 book_url=BOOK)


@pytest.mark.parametrize("verbose", [False, True])
def test_summary_fits_80_columns_without_breaking_words_or_links(wrong_report, verbose):
    text = render(wrong_report, verbose=verbose)
    lines = [line.strip() for line in text.splitlines()]
    assert all(len(line) <= 80 or LINK.fullmatch(line.strip()) for line in text.splitlines())
    flat = " ".join(text.split())
    shown = [t for t in wrong_report.tests
             if t.score < t.max_score and " ".join(t.output.split()) in flat]
    failed = sum(t.score < t.max_score for t in wrong_report.tests)
    assert len(shown) == failed if verbose else 3 <= len(shown) < failed
    for test in shown:
        assert set(test.output.split()) <= set(text.split())  # no word cut in two
        for link in LINK.findall(test.output):
            assert link.startswith(BOOK) and link in lines  # whole, on a line of its own


def test_summary_names_the_first_failure_of_each_function_preferring_a_named_mistake(
        wrong_report):
    text = render(wrong_report)
    assert "score " in text and text.count("FAIL ") == 3
    assert "ex2_information.kl_divergence: KL(p || q) takes the expectation" in " ".join(
        text.split())  # the test that names the swapped arguments, not the first one
    assert "classic mistake: swapped KL arguments" in text
    more = sum(t.score < t.max_score for t in wrong_report.tests) - 3
    assert f"{more} more failed tests: run with --verbose" in text


def test_verbose_lists_every_test_by_name(wrong_report):
    text = " ".join(render(wrong_report, verbose=True).split())
    assert len(re.findall(r"\b(?:PASS|FAIL) \d+/\d+ ", text)) == len(wrong_report.tests)
    for test in wrong_report.tests:
        assert " ".join(test.name.split()) in text
        assert (test.visibility == "hidden") == (f"{' '.join(test.name.split())} (hidden)" in text)


def _checks(tmp_path, **bodies):
    """A checks folder for ex1_softmax: one visible 1-point test per body."""
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "ex1_softmax.py").write_text("import pytest\n" + "".join(
        f"\n@pytest.mark.points(1)\n@pytest.mark.visibility('visible')\n"
        f"def test_{name}(softmax):\n    {body}\n"
        for name, body in bodies.items()))
    return checks


BROKEN = "softmax([1.0, 2.0]) + None"  # a grading test with a bug: TypeError


def test_a_grading_test_that_breaks_is_a_grader_error(tmp_path):
    checks = _checks(tmp_path, fine="softmax([1.0, 2.0])", broken=BROKEN)
    report = grade(EXERCISES, ["ex1_softmax"], FAST, contract=load(checks))
    assert [t.grader_error for t in report.tests] == [False, True]
    assert report.tests[1].output.startswith("grader error (TypeError)")
    assert exit_status(report) == GRADER_ERRORS
    assert "grader error in 1 test (the lost points" in render(report)
    report.tests.pop()
    assert exit_status(report) == GRADED


def test_a_checks_file_that_cannot_be_imported_is_a_grader_failure_not_an_interrupt(
        tmp_path, capsys):
    """pytest gives a collection error the exit code of Ctrl-C; the grader must
    not report it as an interruption (exit 130) but as its own failure."""
    from coursepkg import cli

    checks = _checks(tmp_path, fine="softmax([1.0, 2.0])")
    path = checks / "ex1_softmax.py"
    path.write_text("import scipy_that_is_not_installed\n" + path.read_text())
    with pytest.raises(RuntimeError, match="could not run(.|\n)*No module named "
                       "'scipy_that_is_not_installed'(.|\n)*coursepkg\\[grader\\]"):
        grade(EXERCISES, ["ex1_softmax"], FAST, contract=load(checks))
    assert cli.main(["grade", str(EXERCISES), "--modules", "ex1_softmax",
                     "--checks", str(checks)]) == 1
    err = capsys.readouterr().err
    assert "the grader failed" in err and "interrupted" not in err


def test_cli_grade_exit_status_says_whether_grading_worked(tmp_path, capsys, monkeypatch):
    from coursepkg import cli
    from coursepkg.grading import grade as grade_module

    results = tmp_path / "results.json"
    assert cli.main(["grade", str(EXERCISES), "-v", "--json", str(results),
                     "--hidden-visibility", "after_due_date"]) == GRADED
    out = capsys.readouterr().out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert re.search(r"PASS 3/3 ex1_softmax\.softmax: a 3-D batch [^:]*\(hidden\)",
                     " ".join(out.split()))
    visibilities = {t["visibility"] for t in json.loads(results.read_text())["tests"]}
    assert visibilities == {"visible", "after_due_date"}

    assert cli.main(["grade", str(EXERCISES), "--modules", "ex1_softmax",
                     "--checks", str(_checks(tmp_path, broken=BROKEN))]) == GRADER_ERRORS
    assert "grader error in 1 test (the lost points" in capsys.readouterr().out

    def fails(*args, **kwargs):
        raise RuntimeError("the grading tests could not run")

    monkeypatch.setattr(grade_module, "run_checks", fails)
    assert cli.main(["grade", str(EXERCISES), "--modules", "ex1_softmax"]) == 1
    assert "the grader failed: the grading tests could not run" in capsys.readouterr().err


def test_verbose_summary_ending_in_a_failure_has_no_trailing_blank_line():
    from coursepkg.grading.grade import Report
    from coursepkg.grading.plugin import TestResult

    failed = TestResult("ex1_softmax.softmax: d", "softmax", 0.0, 1.0, "wrong", "visible")
    assert render(Report([failed], 0.1, {}), verbose=True).endswith("FAIL 0/1 "
                                                                     "ex1_softmax.softmax: d\n    wrong")


def test_a_number_of_the_wrong_shape_is_described():
    from coursepkg.grading.expect import Mismatch, as_array

    with pytest.raises(Mismatch, match=r"loss has shape \(2,\), expected a single number"):
        as_array(np.zeros(2), (), "loss")
