"""Release the stubs; solutions score full marks, stubs score zero, fast."""

import ast
import time

import pytest

from coursepkg.grading.contract import EXERCISES as CONTRACT
from coursepkg.grading.grade import grade
from coursepkg.grading.release import release, strip_solutions

from grading_support import EXERCISES


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


def test_release_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="source: .* is not a directory"):
        release(tmp_path / "nope", tmp_path / "out")
    with pytest.raises(ValueError, match="out: must differ"):
        release(EXERCISES, EXERCISES)
    (tmp_path / "src").mkdir()
    with pytest.raises(ValueError, match="lacks ex1_softmax.py"):
        release(tmp_path / "src", tmp_path / "out")


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
