"""Release the student side (stubs and visible tests, nothing else); the
contract read from the checks and sources; solutions score full marks,
stubs score zero, fast."""

import ast
import time

import pytest

from coursepkg.grading import contract
from coursepkg.grading.contract import EXERCISES as CONTRACT
from coursepkg.grading.grade import grade
from coursepkg.grading.release import release, strip_solutions, visible_checks

from grading_support import EXERCISES, FAST, hidden_test_names, leaks

CHECKS = EXERCISES / "checks"


def test_release_keeps_signatures_and_docstrings(stubs):
    for module, functions in CONTRACT.items():
        original = ast.parse((EXERCISES / f"{module}.py").read_text())
        student_text = (stubs / f"{module}.py").read_text()
        student = ast.parse(student_text)
        assert "BEGIN SOLUTION" not in student_text and "END SOLUTION" not in student_text
        defs = {n.name: n for n in student.body if isinstance(n, ast.FunctionDef)}
        for node in original.body:
            if isinstance(node, ast.FunctionDef) and node.name in functions:
                stub = defs[node.name]
                assert ast.dump(stub.args) == ast.dump(node.args)
                assert ast.get_docstring(stub) == ast.get_docstring(node)
                assert isinstance(stub.body[-1], ast.Raise)


def test_exercise_sources_import_only_numpy_math_stdlib():
    import sys

    for path in EXERCISES.glob("ex*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.partition(".")[0]
                assert top in ("numpy", "math") or top in sys.stdlib_module_names, (path, name)


@pytest.mark.parametrize("source, message", [
    ("x = 1\n", "no ### BEGIN SOLUTION block"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "f.py:2: ### BEGIN SOLUTION is never closed"),
    ("def f():\n    ### END SOLUTION\n", "f.py:2: ### END SOLUTION without"),
    ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n", "f.py:3: ### BEGIN SOLUTION inside"),
    ("def f(:\n    ### BEGIN SOLUTION\n    ### END SOLUTION\n", "does not parse"),
])
def test_strip_solutions_errors_name_the_line(source, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        strip_solutions(source, "f.py")


def test_the_contract_is_read_from_the_checks_and_agrees_with_the_sources():
    # the table that contract.py used to keep by hand
    assert CONTRACT == {
        "ex1_softmax": ("softmax",),
        "ex2_information": ("entropy", "cross_entropy", "kl_divergence"),
        "ex3_mle": ("nll_loss", "categorical_mle", "fit_softmax_regression"),
        "ex4_logsumexp": ("logsumexp", "log_softmax", "cross_entropy_from_logits"),
        "ex5_gradients": ("softmax_jacobian", "cross_entropy_grad",
                          "softmax_regression_loss_and_grad", "numerical_gradient"),
    }
    assert contract.load(None, EXERCISES).exercises == CONTRACT
    assert contract.module_of("kl_divergence") == "ex2_information"


def test_the_student_side_holds_no_solution_and_no_hidden_test(stubs):
    texts = {str(p.relative_to(stubs)): p.read_text() for p in stubs.rglob("*") if p.is_file()}
    assert sorted(texts) == ["README.md", *(f"checks/{m}.py" for m in CONTRACT),
                             *(f"{m}.py" for m in CONTRACT)]
    assert leaks(texts) == []
    # the search finds them in what the instructor keeps
    assert leaks({m: (CHECKS / f"{m}.py").read_text() for m in CONTRACT})
    assert leaks({m: (EXERCISES / f"{m}.py").read_text() for m in CONTRACT})


@pytest.mark.parametrize("module", ["ex3_mle", "ex5_gradients"])
def test_later_exercises_do_not_hand_out_exercise_1s_answer(stubs, module):
    """The stable-softmax helper of exercises 3 and 5 is a solution block: the
    student pastes their own exercise 1, and the released file holds a stub."""
    stub = {n.name: n for n in ast.parse((stubs / f"{module}.py").read_text()).body
            if isinstance(n, ast.FunctionDef)}["_softmax_rows"]
    assert isinstance(stub.body[-1], ast.Raise)
    assert "np.max(logits" not in (stubs / f"{module}.py").read_text()
    # a private helper may hold a solution without checks of its own
    assert "_softmax_rows" in contract.solution_functions(
        (EXERCISES / f"{module}.py").read_text())
    assert "_softmax_rows" not in CONTRACT[module]


def test_visible_checks_keep_every_visible_test():
    for module in CONTRACT:
        full = ast.parse((CHECKS / f"{module}.py").read_text())
        shown = ast.parse(visible_checks((CHECKS / f"{module}.py").read_text()))
        tests = {n.name for n in full.body if contract.is_test(n)}
        assert {n.name for n in shown.body if contract.is_test(n)} == tests - hidden_test_names()


def _assignment(root, source, checks):
    (root / "src" / "checks").mkdir(parents=True, exist_ok=True)
    (root / "src" / "ex9_demo.py").write_text(source)
    (root / "src" / "checks" / "ex9_demo.py").write_text(checks)
    return root / "src"


DEMO_SOURCE = '''"""A new assignment."""


def twice(x):
    """Double x."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION


def half(x):
    """Halve x."""
    ### BEGIN SOLUTION
    return x / 2
    ### END SOLUTION
'''

DEMO_CHECKS = '''import numpy as np
import pytest

from coursepkg.grading.expect import expect_close


@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_twice(twice):
    """doubles"""
    expect_close(twice(np.array([1.0, 2.5])), [2.0, 5.0])


@pytest.mark.points(3)
@pytest.mark.visibility("hidden")
def test_half(half):
    """halves"""
    expect_close(half(np.array([-4.0])), [-2.0])
'''


def test_a_new_graded_function_is_its_source_and_its_checks(tmp_path):
    source = _assignment(tmp_path, DEMO_SOURCE, DEMO_CHECKS)
    demo = contract.load(source / "checks", source)
    assert demo.exercises == {"ex9_demo": ("twice", "half")}
    release(source, tmp_path / "out")
    assert "def test_half" not in (tmp_path / "out" / "checks" / "ex9_demo.py").read_text()
    solved = grade(source, limits=FAST, contract=demo)
    assert (solved.score, solved.max_score) == (5, 5)
    assert grade(tmp_path / "out", limits=FAST, contract=demo).score == 0

    # a solution nobody grades, or a check of a function nobody wrote, is refused
    _assignment(tmp_path, DEMO_SOURCE + "\n\ndef third(x):\n    ### BEGIN SOLUTION\n"
                "    return x / 3\n    ### END SOLUTION\n", DEMO_CHECKS)
    with pytest.raises(ValueError, match="checks: third in .*ex9_demo.py holds a solution but"):
        release(source, tmp_path / "out")
    _assignment(tmp_path, DEMO_SOURCE, DEMO_CHECKS.replace("(half)", "(quarter)"))
    with pytest.raises(ValueError, match="does not define quarter, which .*grades"):
        contract.load(source / "checks", source)
    # a new module with solutions but no checks file is refused, not skipped
    _assignment(tmp_path, DEMO_SOURCE, DEMO_CHECKS)
    (source / "ex8_new.py").write_text(DEMO_SOURCE)
    with pytest.raises(ValueError, match="ex8_new.py holds solutions but .* has no ex8_new.py"):
        release(source, tmp_path / "out")


def test_contract_errors_name_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="checks: .* is not a directory"):
        contract.load(tmp_path / "none")
    (tmp_path / "c").mkdir()
    with pytest.raises(ValueError, match="holds no grading tests"):
        contract.load(tmp_path / "c")
    (tmp_path / "c" / "ex1_a.py").write_text("def test_x(f):\n    pass\n")
    (tmp_path / "c" / "ex2_b.py").write_text("def test_y(f, tmp_path):\n    pass\n")
    with pytest.raises(ValueError, match="'f' is asked for by both ex1_a and ex2_b"):
        contract.load(tmp_path / "c")
    (tmp_path / "c" / "ex2_b.py").write_text("def helper(g):\n    pass\n")
    with pytest.raises(ValueError, match="ex2_b.py has no grading test asking for a function"):
        contract.load(tmp_path / "c")
    with pytest.raises(ValueError, match="function: no exercise defines 'nope'"):
        contract.module_of("nope")
    with pytest.raises(AttributeError):
        contract.NOTHING  # noqa: B018


def test_release_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="source: .* is not a directory"):
        release(tmp_path / "nope", tmp_path / "out")
    with pytest.raises(ValueError, match="out: must differ"):
        release(EXERCISES, EXERCISES)
    (tmp_path / "src").mkdir()
    with pytest.raises(ValueError, match="lacks ex1_softmax.py"):
        release(tmp_path / "src", tmp_path / "out")
    with pytest.raises(ValueError, match="modules: unknown exercise module 'ex7'"):
        release(EXERCISES, tmp_path / "out", ["ex7"])


def test_solutions_score_full_marks_within_ten_seconds():
    start = time.perf_counter()
    report = grade(EXERCISES)
    elapsed = time.perf_counter() - start
    failed = [(t.name, t.output) for t in report.tests if t.score != t.max_score]
    assert failed == []
    assert report.score == report.max_score == 100
    assert {t.visibility for t in report.tests} == {"visible", "hidden"}
    assert elapsed <= 10, f"grading one submission took {elapsed:.1f} s"


def test_stubs_score_zero_with_not_implemented(stubs):
    report = grade(stubs)
    assert report.score == 0 and report.max_score == 100
    for test in report.tests:
        assert test.output.startswith("not implemented"), (test.name, test.output)


def test_test_names_begin_with_module_function(stubs):
    report = grade(stubs, ["ex2_information"])
    for test in report.tests:
        module_function, _, description = test.name.partition(": ")
        module, function = module_function.split(".")
        assert module == "ex2_information" and function in CONTRACT[module] and description


def test_visible_checks_drop_what_only_hidden_tests_use():
    text = ("import pytest\n"
            "LIMIT: int = 3\n"
            "a, b = 1, 2\n"
            "class _Case:\n    pass\n"
            "@pytest.mark.visibility('visible')\ndef test_a(f):\n    assert f(a) == b\n"
            "@pytest.mark.visibility('hidden')\ndef test_b(f):\n    assert f(LIMIT, _Case())\n")
    shown = visible_checks(text)
    assert "LIMIT" not in shown and "_Case" not in shown and "test_b" not in shown
    assert "a, b = 1, 2" in shown and "def test_a(f):" in shown
