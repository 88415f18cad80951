"""Fair verdicts on real-world-style submissions (``cases/realworld/``).

Each case replaces one function of the instructor solutions with code in a
style met in the wild: buggy code that once got full marks (classes taken
from the labels, ``f`` called one row at a time, ``eps`` ignored, one global
maximum, no max shift where logits pass ~709), correct code that once lost
points (a list ``[W, b]``, a number as an array of one entry, asserted
inputs) and unusual correct styles.  The table pins the verdict a fair
grader gives each: ``FULL`` marks, or the loss of points with the named
classic mistake or the sentence the student must see.
"""

import re
from dataclasses import dataclass

import numpy as np
import pytest
from grading_support import CASES, FAST, case_submission

from coursepkg.grading._runner import encode_value, student_line
from coursepkg.grading.contract import module_of
from coursepkg.grading.expect import MISTAKES
from coursepkg.grading.grade import grade


@dataclass(frozen=True)
class Loses:
    """The function loses points; some failed test names ``mistake`` and
    every failed test's feedback contains ``text``."""

    mistake: str | None = None
    text: str | None = None
    no_mistake_named: bool = False
    #: descriptions of tests that must fail (the new check that catches it)
    fails: tuple[str, ...] = ()


FULL = "full marks"
FLOAT32 = Loses(text="your result is float32", no_mistake_named=True)

VERDICTS = [
    # buggy code that got full marks before
    ("fit_classes_from_unique", "fit_softmax_regression",
     Loses("classes-from-data", fails=("the labels hold only classes 0, 1 and 3",))),
    ("fit_classes_from_max_label", "fit_softmax_regression",
     Loses("classes-from-data", fails=("the labels hold only classes 0, 1 and 3",))),
    ("ce_grad_classes_from_labels", "cross_entropy_grad",
     Loses("classes-from-data", fails=("labels [0, 1, 1]: the shape comes from the logits",))),
    ("regression_classes_from_unique", "softmax_regression_loss_and_grad",
     Loses(text="your code raised ValueError",
           fails=("labels [0, 1, 1]: the shapes come from W and b",))),
    ("numgrad_row_at_a_time", "numerical_gradient",
     Loses("row-at-a-time", fails=("f = logsumexp of all entries",))),
    ("numgrad_fixed_step", "numerical_gradient",
     Loses("eps-ignored", fails=("eps = 0.1",))),
    ("lse_global_max", "logsumexp",
     Loses("global-max", fails=("a 1-D [-inf, -inf] gives -inf", "one maximum per row"))),
    ("lse_global_max_guarded", "logsumexp", Loses("global-max", fails=("one maximum per row",))),
    ("softmax_global_max", "softmax", Loses("global-max")),
    ("log_softmax_global_max", "log_softmax", Loses("global-max", fails=("one maximum per row",))),
    ("ce_logits_global_max", "cross_entropy_from_logits",
     Loses("global-max", fails=("one maximum per row",))),
    ("regression_no_max_shift", "softmax_regression_loss_and_grad",
     Loses("max-shift", fails=("logits near 1000 and -1000",))),
    ("ce_grad_no_max_shift", "cross_entropy_grad",
     Loses("max-shift", fails=("logits near 1000 and -1000",))),
    # their neighbours: the same bug in the other functions that can make it
    ("ce_grad_global_max", "cross_entropy_grad",
     Loses("global-max", fails=("logits near 1000 and -1000",))),
    ("ce_logits_onehot_from_labels", "cross_entropy_from_logits",
     Loses(text="the labels of this test leave out some classes",
           fails=("labels [0, 1, 1]: the classes come from the logits",))),
    ("nll_onehot_from_unique", "nll_loss",
     Loses(text="the labels of this test leave out some classes",
           fails=("labels [3, 3, 0]: the classes come from the columns",))),
    # classic mistakes that were not named
    ("entropy_in_bits", "entropy", Loses("log2")),
    ("kl_in_bits", "kl_divergence", Loses("log2")),
    ("kl_eps_inside_log", "kl_divergence", Loses("eps-in-log")),
    # correct code that lost points before
    ("fit_returns_list", "fit_softmax_regression", FULL),
    ("regression_returns_list", "softmax_regression_loss_and_grad", FULL),
    ("nll_one_entry_array", "nll_loss", FULL),
    ("ce_logits_keepdims", "cross_entropy_from_logits", FULL),
    ("nll_asserts_inputs", "nll_loss", FULL),
    # correct code in unusual styles
    ("softmax_row_loop", "softmax", FULL),
    ("lse_log1p", "logsumexp", FULL),
    ("numgrad_nditer", "numerical_gradient", FULL),
    ("kl_from_cross_entropy", "kl_divergence", FULL),
    ("fit_einsum", "fit_softmax_regression", FULL),
    ("ce_logits_logaddexp", "cross_entropy_from_logits", FULL),
    ("mle_counter_list", "categorical_mle", FULL),
    ("ce_grad_scatter", "cross_entropy_grad", FULL),
    # float32: points lost (the exercises ask for float64), with the cause named
    ("softmax_float32", "softmax", FLOAT32),
    ("jacobian_float32", "softmax_jacobian", FLOAT32),
    ("log_softmax_float32", "log_softmax", FLOAT32),
]

# functions of the solutions that call another exercise function
USES = {"logsumexp": ("log_softmax", "cross_entropy_from_logits")}


def test_every_case_file_has_a_verdict():
    files = {p.stem for p in (CASES / "realworld").glob("*.py")}
    assert files == {case for case, _, _ in VERDICTS}


def _grade_case(tmp_path, case, function):
    folder = case_submission(tmp_path, "realworld", case, function)
    return folder, grade(folder, [module_of(function)], FAST)


@pytest.mark.parametrize("case, function, verdict", VERDICTS, ids=[v[0] for v in VERDICTS])
def test_fair_verdict(tmp_path, case, function, verdict):
    _, report = _grade_case(tmp_path, case, function)
    points = report.by_function()
    for other, (score, maximum) in points.items():
        if other != function and other not in USES.get(function, ()):
            assert score == maximum, f"{case} cost {other} points"
    failed_tests = [t for t in report.tests if t.function == function and t.score == 0]
    failed = [t.output for t in failed_tests]
    if verdict == FULL:
        assert failed == [] and points[function][0] == points[function][1]
        return
    assert failed, f"{case} kept all its points"
    for description in verdict.fails:
        assert any(description in t.name for t in failed_tests), (description, failed)
    if verdict.mistake:
        text, link = MISTAKES[verdict.mistake]
        assert any(text in output and output.endswith(link) for output in failed), failed
    for output in failed:
        if verdict.text:
            assert verdict.text in output, output
        if verdict.no_mistake_named:
            assert "classic mistake" not in output, output
        for expected, got in re.findall(r"expected (\S+), got (\S+)", output):
            assert expected != got, output  # never "expected X, got X"


def test_mismatch_feedback_says_how_far_where_and_in_which_dtype(tmp_path):
    _, report = _grade_case(tmp_path, "softmax_float32", "softmax")
    visible = next(t.output for t in report.tests
                   if t.visibility == "visible" and t.score == 0 and "batch" in t.name)
    assert "the worst, at index (2, 1)" in visible
    assert re.search(r"max abs error \S+, max rel error \S+ \(allowed: rtol 1e-07", visible)
    assert re.search(r"passing would need rtol 1\.\de-07, this test asks for 1e-07", visible)
    hidden = [t.output for t in report.tests if t.visibility == "hidden" and t.score == 0]
    assert hidden and all(o.startswith("wrong result on a hidden input; max rel error")
                          and "float32" in o and "expected" not in o for o in hidden)


def test_mismatch_feedback_names_a_float64_dtype_too(tmp_path):
    snippet = "def nll_loss(log_probs, y):\n    return 0.5\n"
    from grading_support import make_submission

    report = grade(make_submission(tmp_path / "sub", {"ex3_mle": snippet}), ["ex3_mle"], FAST)
    visible = [t.output for t in report.tests if t.function == "nll_loss" and
               t.visibility == "visible" and t.score == 0]
    assert visible and all(o.startswith("nll_loss: expected ") and "got 0.5\n" in o
                           and o.endswith("; your result is float64") for o in visible)


def test_exception_feedback_names_the_line_of_the_student_file(tmp_path):
    folder, report = _grade_case(tmp_path, "ce_grad_classes_from_labels", "cross_entropy_grad")
    lines = (folder / "ex5_gradients.py").read_text().splitlines()
    number = 1 + max(i for i, line in enumerate(lines) if "- onehot) / logits.shape[0]" in line)
    raised = [t for t in report.tests if t.output.startswith("your code raised")]
    visible = [t.output for t in raised if t.visibility == "visible"]
    assert visible and all(f"at line {number} of ex5_gradients.py: return (" in o
                           and "take the number of classes from num_classes or from the shape" in o
                           for o in visible), visible
    for test in raised:
        if test.visibility == "hidden":
            assert test.output == "your code raised ValueError (details hidden)"


def test_a_wrong_number_of_results_says_what_to_return(tmp_path):
    snippet = "def fit_softmax_regression(X, y, num_classes, lr=0.1, num_steps=100):\n" \
              "    return np.zeros((X.shape[1], num_classes)), np.zeros(num_classes), 0.0\n"
    folder = tmp_path / "sub"
    from grading_support import make_submission

    report = grade(make_submission(folder, {"ex3_mle": snippet}), ["ex3_mle"], FAST)
    outputs = {t.output for t in report.tests if t.function == "fit_softmax_regression"}
    assert outputs == {"fit_softmax_regression must return 2 values, (W, b), as a tuple; "
                       "it returned 3 values"}


def test_runner_sends_a_list_of_differently_shaped_results_as_a_tuple():
    kind, arrays = encode_value([np.zeros((2, 3)), np.zeros(3)])
    assert kind == "tuple" and [a.shape for a in arrays] == [(2, 3), (3,)]
    kind, arrays = encode_value([0.25, 0.75])  # a list of numbers is one array
    assert kind == "single" and arrays[0].shape == (2,)
    with pytest.raises(TypeError, match="returned NoneType"):
        encode_value([np.zeros(2), None])


def test_hidden_tests_reach_gradescope_as_after_published():
    from coursepkg.grading.plugin import TestResult

    hidden = TestResult("ex1_softmax.softmax: d", "softmax", 0.0, 3.0, "wrong", "hidden")
    visible = TestResult("ex1_softmax.softmax: d", "softmax", 3.0, 3.0, "passed", "visible")
    assert hidden.as_gradescope()["visibility"] == "after_published"
    assert hidden.as_gradescope("after_due_date")["visibility"] == "after_due_date"
    assert visible.as_gradescope("after_due_date")["visibility"] == "visible"
    with pytest.raises(ValueError, match="hidden_as: expected one of after_published"):
        hidden.as_gradescope("later")


def test_runner_finds_the_line_of_the_student_file_in_a_traceback(tmp_path):
    import importlib.util

    path = tmp_path / "ex9_demo.py"
    path.write_text("def f(x):\n    return 1 / x\n")
    spec = importlib.util.spec_from_file_location("ex9_demo", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(ZeroDivisionError) as raised:
        module.f(0)
    assert student_line(raised.value, module) == "\nat line 2 of ex9_demo.py: return 1 / x"
    assert student_line(ValueError("not from the student's file"), module) == ""
