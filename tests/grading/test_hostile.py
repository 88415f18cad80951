"""Hostile submissions: each scores 0 on the function (or module) it attacks,
the rest of the submission keeps its points, and the grader survives with
a valid results.json."""

import json
import os
import re
import time

import pytest
from grading_support import CASES as CASE_DIR
from grading_support import FAST, case_submission, make_submission

from coursepkg.grading.contract import EXERCISES as CONTRACT
from coursepkg.grading.contract import module_of
from coursepkg.grading.grade import grade, write_json

# case file in cases/hostile, the function it replaces, a word its feedback must contain
CASES = [
    ("exit_sys", "kl_divergence", "SystemExit"),
    ("exit_os", "softmax", "exited with code 0"),
    ("exit_signal", "nll_loss", "os.kill"),
    ("kill_parent", "cross_entropy_from_logits", "expected"),
    ("pytest_exit_skip", "log_softmax", "pytest"),
    ("patch_numpy", "entropy", "expected"),
    ("frames", "softmax", "expected"),
    ("always_equal", "categorical_mle", "not a number or a numeric array"),
    ("ndarray_subclass", "cross_entropy_grad", "expected"),
    ("import_torch", "cross_entropy_from_logits", "'torch' is not allowed"),
    ("importlib_scipy", "cross_entropy", "'scipy' is not allowed"),
    ("dunder_import_coursepkg", "softmax_jacobian", "'coursepkg.numpy' is not allowed"),
    ("read_sources", "fit_softmax_regression", "W"),
    ("spec_from_file", "log_softmax", "is not allowed|expected"),
    ("infinite_loop", "numerical_gradient", "timed out"),
    ("infinite_loop_no_signals", "kl_divergence", "timed out"),
    ("memory_bomb", "softmax_jacobian", "MemoryError|timed out"),
    ("fake_results", "softmax", "expected"),
    ("subprocess_shell", "categorical_mle", "is not allowed"),
    ("write_outside", "nll_loss", "is not allowed"),
    ("leak_hidden_inputs", "softmax", "ValueError: inputs so far"),
]


@pytest.mark.parametrize("case, function, word", CASES, ids=[c[0] for c in CASES])
def test_hostile_function(tmp_path, case, function, word):
    module = module_of(function)
    submission = case_submission(tmp_path / "submission", "hostile", case, function)
    report = grade(submission, [module], FAST)
    points = report.by_function()
    assert points[function][0] == 0, [t.output for t in report.tests if t.score]
    for other, (score, maximum) in points.items():
        if other != function:
            assert score == maximum, (other, [t.output for t in report.tests if t.function == other])
    outputs = [t.output for t in report.tests if t.function == function and t.visibility == "visible"]
    assert any(re.search(word, output) for output in outputs), outputs
    hidden = [i for i, t in enumerate(report.tests) if t.visibility == "hidden"]
    assert hidden == list(range(len(report.tests) - len(hidden), len(report.tests))), \
        "hidden tests must run after every visible one"
    for test in report.tests:
        if test.visibility == "hidden":
            assert "[" not in test.output and "inputs so far" not in test.output, test.output
    results = json.loads(write_json(report, tmp_path / "results.json").read_text())
    assert results["score"] == report.score and len(results["tests"]) == len(report.tests)


def test_no_side_effects_outside_the_sandbox():
    assert not os.path.exists("/tmp/coursepkg-pwned")
    assert not any(name.startswith("coursepkg-pwned") for name in os.listdir("/tmp"))


IMPORT_TIME = {
    "ex1_softmax": "def softmax(z):\n    return z +\n",                      # syntax error
    "ex2_information": "raise RuntimeError('boom at import')\n",             # exception
    "ex3_mle": "import os\nos._exit(3)\n",                                   # exit at import
}


def test_import_time_attacks_zero_their_module_only(tmp_path):
    submission = make_submission(tmp_path / "s", IMPORT_TIME)
    (submission / "conftest.py").write_text(
        "import pytest\n\n@pytest.hookimpl(wrapper=True)\n"
        "def pytest_runtest_makereport(item, call):\n"
        "    report = yield\n    report.outcome = 'passed'\n    return report\n")
    (submission / "pytest.ini").write_text("[pytest]\naddopts = -p no:python\n")
    report = grade(submission, limits=FAST)
    points = report.by_function()
    outputs = {m: {t.output for t in report.tests if module_of(t.function) == m} for m in CONTRACT}
    for module, functions in CONTRACT.items():
        for function in functions:
            if module in IMPORT_TIME:
                assert points[function][0] == 0
            else:
                assert points[function][0] == points[function][1], outputs[module]
    assert any("SyntaxError" in o for o in outputs["ex1_softmax"])
    assert any("RuntimeError: boom at import" in o for o in outputs["ex2_information"])
    assert any("exited with code 3" in o for o in outputs["ex3_mle"])


def test_missing_modules_and_functions_score_zero(tmp_path):
    (tmp_path / "ex1_softmax.py").write_text("import numpy as np\n")
    report = grade(tmp_path, ["ex1_softmax", "ex2_information"], FAST)
    outputs = {t.output for t in report.tests}
    assert report.score == 0
    assert "the module defines no function softmax" in outputs
    assert "ex2_information.py is missing from the submission" in outputs


def test_a_full_hostile_submission_is_graded_quickly(tmp_path):
    """Several attacks at once, still well within the time of a few timeouts."""
    snippets = {module_of(f): (CASE_DIR / "hostile" / f"{c}.py").read_text()
                for c, f in [("exit_os", "softmax"), ("always_equal", "categorical_mle"),
                             ("import_torch", "cross_entropy_from_logits")]}
    start = time.perf_counter()
    report = grade(make_submission(tmp_path, snippets), limits=FAST)
    assert time.perf_counter() - start < 10
    points = report.by_function()
    attacked = ("softmax", "categorical_mle", "cross_entropy_from_logits")
    assert all(points[f][0] == 0 for f in attacked)
    assert report.score == 100 - sum(points[f][1] for f in attacked)
