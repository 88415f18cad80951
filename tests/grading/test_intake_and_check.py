"""Intake (sub-folders, browser-renamed copies, notebooks, single files,
links) and the student's self-check (``coursepkg check`` / ``check()``)."""

import shutil

import pytest
from grading_support import EXERCISES, FAST, hidden_test_names, make_submission

from coursepkg import cli
from coursepkg.grading import check as lazy_check
from coursepkg.grading.grade import grade
from coursepkg.grading.intake import collect, exercise_name
from coursepkg.grading.release import release
from coursepkg.grading.selfcheck import check

MODULES = ("ex1_softmax", "ex2_information", "ex3_mle", "ex4_logsumexp", "ex5_gradients")


@pytest.mark.parametrize("name, module", [
    ("ex2_information.py", "ex2_information"),
    ("ex2_information (1).py", "ex2_information"),
    ("ex2_information(12).py", "ex2_information"),
    ("ex2_information - Copy.py", "ex2_information"),
    ("ex2_information - Copy (3).py", "ex2_information"),
    ("ex2_information copy 2.py", "ex2_information"),
    ("ex2_information-1.py", "ex2_information"),
    ("EX2_Information.py", "ex2_information"),
    ("ex2_information.ipynb", None),
    ("ex2_informations.py", None),
    ("my_ex2_information.py", None),
    ("ex2_information.py.txt", None),
])
def test_exercise_names(name, module):
    assert exercise_name(name, MODULES) == module


def test_files_in_a_sub_folder_under_browser_names_score_full_marks(tmp_path):
    inner = tmp_path / "sub" / "homework"
    inner.mkdir(parents=True)
    for path in EXERCISES.glob("ex*.py"):
        shutil.copy(path, inner / f"{path.stem} (1).py")
    report = grade(tmp_path / "sub", limits=FAST)
    assert report.score == report.max_score == 100
    text = report.intake.report()
    assert "found 5: ex1_softmax.py (from homework/ex1_softmax (1).py)" in text
    assert "missing" not in text and report.as_gradescope()["output"].startswith(text)


def test_the_canonical_copy_wins_and_the_others_are_listed(tmp_path):
    make_submission(tmp_path / "s", {})
    (tmp_path / "s" / "old").mkdir()
    (tmp_path / "s" / "old" / "ex1_softmax.py").write_text("def softmax(z):\n    return z\n")
    intake = collect(tmp_path / "s", MODULES)
    assert intake.found["ex1_softmax"] == tmp_path / "s" / "ex1_softmax.py"
    assert "not graded: old/ex1_softmax.py (another copy of ex1_softmax.py)" in intake.report()


def test_a_notebook_gets_told_how_to_submit(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "homework.ipynb").write_text("{}")
    report = grade(tmp_path / "s", ["ex1_softmax"], limits=FAST)
    assert report.score == 0
    text = report.intake.report()
    assert "found 0: none" in text and "homework.ipynb (a notebook)" in text
    assert "A notebook is not graded" in text and "ex1_softmax.py" in text
    # an archive and a misnamed file are named too
    (tmp_path / "s" / "all.zip").write_bytes(b"PK")
    (tmp_path / "s" / "answers.py").write_text("x = 1\n")
    text = collect(tmp_path / "s", MODULES).report()
    assert "all.zip (an archive)" in text and "answers.py (not an exercise file name)" in text


def test_an_empty_submission_says_so(tmp_path):
    (tmp_path / "s").mkdir()
    intake = collect(tmp_path / "s", MODULES)
    assert intake.advice.startswith("The submission is empty.")
    assert "missing 5" in intake.report()


def test_a_single_file_submission_is_graded_alone(tmp_path):
    single = shutil.copy(EXERCISES / "ex1_softmax.py", tmp_path / "ex1_softmax (2).py")
    report = grade(single, limits=FAST)
    by_function = report.by_function()
    assert by_function["softmax"][0] == by_function["softmax"][1] > 0
    assert by_function["entropy"][0] == 0
    assert "missing 4: ex2_information.py" in report.intake.report()
    with pytest.raises(ValueError, match="submission: .*nowhere does not exist"):
        grade(tmp_path / "nowhere")


def test_a_link_to_the_solutions_is_not_followed(tmp_path):
    # attack: a submission that links to the instructor's file would score it
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "ex1_softmax.py").symlink_to(EXERCISES / "ex1_softmax.py")
    (tmp_path / "s" / "linked").symlink_to(EXERCISES, target_is_directory=True)
    intake = collect(tmp_path / "s", MODULES)
    assert intake.found == {}
    assert grade(tmp_path / "s", ["ex1_softmax"], limits=FAST).score == 0


def test_deep_folders_and_hidden_folders_are_not_searched(tmp_path):
    deep = tmp_path / "s" / "a" / "b" / "c" / "d" / "e"
    deep.mkdir(parents=True)
    shutil.copy(EXERCISES / "ex1_softmax.py", deep)
    (tmp_path / "s" / ".git").mkdir()
    shutil.copy(EXERCISES / "ex3_mle.py", tmp_path / "s" / ".git")
    shutil.copy(EXERCISES / "ex4_logsumexp.py", tmp_path / "s" / "a")
    assert sorted(collect(tmp_path / "s", MODULES).found) == ["ex4_logsumexp"]


# ------------------------------------------------------------------ self-check

@pytest.fixture
def starter(tmp_path):
    """Released starter files: a correct ex4, and in ex1 a softmax without the
    max shift written into the stub (its docstring examples kept)."""
    folder = tmp_path / "starter"
    release(EXERCISES, folder)
    shutil.copy(EXERCISES / "ex4_logsumexp.py", folder)
    stub = (folder / "ex1_softmax.py").read_text()
    naive = "    e = np.exp(z)\n    return e / e.sum(axis=-1, keepdims=True)\n"
    (folder / "ex1_softmax.py").write_text(
        stub.replace("    # YOUR CODE HERE\n    raise NotImplementedError()\n", naive))
    assert naive in (folder / "ex1_softmax.py").read_text()
    return folder


def test_check_passes_a_correct_function(starter, capsys):
    report = lazy_check("log_softmax", starter, limits=FAST)
    assert report.ok and report.tests and report.examples
    assert all(t.visibility == "visible" and t.function == "log_softmax" for t in report.tests)
    out = capsys.readouterr().out
    assert "PASS  ex4_logsumexp.log_softmax:" in out and "FAIL" not in out
    assert "Hidden tests run only when you submit" in out
    assert not any(name in out for name in hidden_test_names())


def test_check_gives_the_graders_feedback_and_runs_the_examples(starter, capsys):
    report = check("softmax", starter, limits=FAST)
    assert not report.ok
    graded = {t.name: t.output for t in grade(starter, ["ex1_softmax"], limits=FAST).tests}
    failed = [t for t in report.tests if t.score < t.max_score]
    assert failed and all(graded[t.name] == t.output for t in failed)
    assert any("overflow" in t.output for t in failed)
    bad = [e for e in report.examples if e.failure]
    assert bad and all(e.function == "softmax" for e in bad)
    out = capsys.readouterr().out
    assert "FAIL  softmax example:" in out and "got:" in out and "nan" in out
    assert repr(report).startswith("<CheckReport: ")


def test_check_on_a_stub_and_on_everything(starter):
    report = check("ex2_information", starter, limits=FAST, show=False)
    assert report.tests and all(t.output.startswith("not implemented") for t in report.tests)
    assert all("NotImplementedError" in e.failure for e in report.examples)
    everything = check(None, starter, limits=FAST, show=False)
    assert {t.function for t in everything.tests} >= {"softmax", "entropy", "numerical_gradient"}


def test_check_examples_survive_a_module_that_fails_to_import(starter):
    (starter / "ex3_mle.py").write_text("import numpy as np\nraise RuntimeError('oops')\n")
    report = check("ex3_mle", starter, limits=FAST, show=False)
    assert [e.source for e in report.examples] == ["(import)"]
    assert "RuntimeError: oops" in report.examples[0].failure


def test_check_command_line(starter, capsys, monkeypatch):
    assert cli.main(["check", "ex4_logsumexp", "--dir", str(starter), "--timeout", "1.5"]) == 0
    assert cli.main(["check", "ex2_information", "--dir", str(starter)]) == 1
    capsys.readouterr()
    assert cli.main(["check", "sofmax", "--dir", str(starter)]) == 2
    assert "target: 'sofmax' is neither" in capsys.readouterr().err
    monkeypatch.chdir(starter.parent)
    assert cli.main(["check", "log_softmax"]) == 2
    assert "checks: checks is not a directory" in capsys.readouterr().err


def test_lazy_attribute_of_the_grading_package():
    import coursepkg.grading

    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        coursepkg.grading.nothing  # noqa: B018


def test_a_notebook_next_to_some_files_is_named(tmp_path):
    (tmp_path / "s").mkdir()
    shutil.copy(EXERCISES / "ex1_softmax.py", tmp_path / "s")
    (tmp_path / "s" / "ex2.ipynb").write_text("{}")
    intake = collect(tmp_path / "s", MODULES)
    assert intake.advice.startswith("A notebook is not graded")
    assert list(intake.found) == ["ex1_softmax"]


def test_a_huge_submission_is_read_only_in_part(tmp_path, monkeypatch):
    from coursepkg.grading import intake as intake_module

    monkeypatch.setattr(intake_module, "MAX_FILES", 3)
    (tmp_path / "s").mkdir()
    for name in ("a.txt", "b.txt", "c.txt", "ex1_softmax.py"):
        (tmp_path / "s" / name).write_text("x = 1\n")
    found = collect(tmp_path / "s", MODULES)
    assert found.found == {} and found.other_files == 3


def test_check_examples_that_hang_or_end_the_process(starter):
    looping = ('def softmax(z):\n    """Loop.\n\n    >>> softmax(1)\n    1\n    """\n'
               '    while True:\n        pass\n')
    (starter / "ex1_softmax.py").write_text(looping)
    report = check("softmax", starter, limits=FAST, examples_timeout=2, show=False)
    assert [e.failure for e in report.examples] == ["timed out after 2 s"]
    exiting = ('import os\n\ndef softmax(z):\n    """Exit.\n\n    >>> softmax(1)\n    1\n    """\n'
               '    os._exit(3)\n')
    (starter / "ex1_softmax.py").write_text(exiting)
    report = check("softmax", starter, limits=FAST, show=False)
    assert report.examples[0].failure.startswith("the examples stopped the process")


def test_a_huge_exercise_file_is_not_read(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "ex1_softmax.py").write_text("x = 1\n" * 200_000)  # 1.2 MB
    found = collect(tmp_path / "s", MODULES)
    assert found.found == {}
    assert "ex1_softmax.py (larger than 1 MiB)" in found.report()
