"""The command line, the batch grader (progress, resume by content hash,
broken and empty submissions) and the Gradescope bundle (run end to end with
its own run_autograder)."""

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest
from grading_support import (CASES, EXERCISES, FAST, ROOT, leaks, make_submission,
                             solution_lines)

from coursepkg import cli
from coursepkg.grading import batch, contract, plugin
from coursepkg.grading.batch import grade_batch, results_dir
from coursepkg.grading.gradescope import build_bundle
from coursepkg.grading.sandbox import Submission


def test_cli_release_and_grade(tmp_path, capsys):
    assert cli.main(["release", "--out", str(tmp_path / "rel"), "--source", str(EXERCISES),
                     "--zip", str(tmp_path / "starter.zip")]) == 0
    assert (tmp_path / "rel" / "ex5_gradients.py").exists()
    assert (tmp_path / "rel" / "checks" / "ex5_gradients.py").exists()
    with zipfile.ZipFile(tmp_path / "starter.zip") as archive:
        assert "rel/ex1_softmax.py" in archive.namelist()
    code = cli.main(["grade", str(EXERCISES), "--json", str(tmp_path / "r.json"),
                     "--timeout", "2", "--book-url", "https://example.org/course/"])
    assert code == 0
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["score"] == 100
    assert results["output"].startswith("expected 5 file(s): ex1_softmax.py")
    for test in results["tests"]:
        assert set(test) == {"name", "score", "max_score", "output", "visibility"}
    out = capsys.readouterr().out
    assert "found 5: ex1_softmax.py, ex2_information.py" in out and "ex1_softmax.softmax" in out


def test_cli_grades_and_releases_chosen_modules(tmp_path, capsys):
    assert cli.main(["release", "--out", str(tmp_path / "rel"), "--source", str(EXERCISES),
                     "--modules", "ex2_information", "ex4_logsumexp"]) == 0
    assert sorted(p.name for p in (tmp_path / "rel").glob("ex*.py")) == [
        "ex2_information.py", "ex4_logsumexp.py"]
    assert "`ex2_information.py`, `ex4_logsumexp.py`" in (tmp_path / "rel" / "README.md").read_text()
    capsys.readouterr()
    assert cli.main(["grade", str(EXERCISES), "--modules", "ex1_softmax",
                     "--json", str(tmp_path / "r.json")]) == 0
    results = json.loads((tmp_path / "r.json").read_text())
    assert {t["name"].partition(".")[0] for t in results["tests"]} == {"ex1_softmax"}
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) > 0
    assert cli.main(["grade", str(EXERCISES), "--modules", "ex9_nothing"]) == 2
    assert "modules: unknown exercise module 'ex9_nothing'" in capsys.readouterr().err


def test_cli_errors_name_the_argument(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "missing")]) == 2
    assert "submission: " in capsys.readouterr().err
    assert cli.main(["gradescope", "--out", str(tmp_path / "bundle.tar")]) == 2
    assert "out: " in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["grade"])
    with pytest.raises(SystemExit):
        cli.main(["grade", ".", "--timeout", "soon"])
    capsys.readouterr()
    # limits are refused by the flag's name, not an internal parameter's
    for flag, value in [("--timeout", "-1"), ("--timeout", "nan"), ("--memory-mb", "0")]:
        with pytest.raises(SystemExit):
            cli.main(["grade", ".", flag, value])
        err = capsys.readouterr().err
        assert f"argument {flag}: must be positive, got {value}" in err, err


def test_python_dash_m_coursepkg_help():
    result = subprocess.run([sys.executable, "-m", "coursepkg", "--help"], capture_output=True,
                            text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0
    for command in ("release", "grade", "grade-batch", "check", "gradescope"):
        assert command in result.stdout


def test_grade_batch_resumes_and_survives(tmp_path, stubs, capsys):
    classroom = tmp_path / "class"
    shutil.copytree(EXERCISES, classroom / "alice")
    shutil.copytree(stubs, classroom / "bob")
    make_submission(classroom / "carol", {"ex1_softmax": (CASES / "hostile/exit_os.py").read_text()})
    (classroom / "dave").mkdir()  # empty submission
    (classroom / "notes.txt").write_text("not a student")
    gradebook = tmp_path / "out" / "gradebook.csv"
    result = grade_batch(classroom, gradebook, limits=FAST, progress=False)
    scores = {row["student"]: row["score"] for row in result.rows}
    assert scores == {"alice": 100, "bob": 0, "carol": 86, "dave": 0}
    assert (result.graded, result.no_files, result.unchanged) == (["alice", "bob", "carol"], ["dave"], [])
    with open(gradebook) as handle:
        table = {r["student"]: r for r in csv.DictReader(handle)}
    assert list(table) == ["alice", "bob", "carol", "dave"]
    assert float(table["carol"]["softmax"]) == 0 and float(table["carol"]["entropy"]) == 7
    # an empty folder is not all-wrong code: the gradebook says so
    assert [table[s]["status"] for s in table] == ["graded", "graded", "graded", "no files"]
    assert "The submission is empty" in table["dave"]["error"]
    assert table["alice"]["files"] == "5/5" and table["dave"]["files"] == "0/5"

    # resume: alice's results stay; a grader error is retried; a new student is
    # added; carol resubmits a fixed softmax and is graded again (content hash)
    (results_dir(gradebook) / "bob.json").write_text('{"grader_error": "disk full"}')
    shutil.copytree(EXERCISES, classroom / "erin")
    shutil.copy(EXERCISES / "ex1_softmax.py", classroom / "carol" / "ex1_softmax.py")
    before = (results_dir(gradebook) / "alice.json").stat().st_mtime_ns
    assert cli.main(["grade-batch", str(classroom), "--out", str(gradebook),
                     "--no-progress", "--timeout", "1.5"]) == 0
    assert (results_dir(gradebook) / "alice.json").stat().st_mtime_ns == before
    assert ("5 students: 3 graded, 2 unchanged since the last run (kept), 0 with no files, "
            "0 grader errors") in capsys.readouterr().out
    with open(gradebook) as handle:
        assert {r["student"]: float(r["score"]) for r in csv.DictReader(handle)} == {
            "alice": 100, "bob": 0, "carol": 100, "dave": 0, "erin": 100}

    # nothing changed: nothing is graded again
    again = grade_batch(classroom, gradebook, limits=FAST, progress=False)
    assert again.graded == [] and len(again.unchanged) == 5


def test_grade_batch_records_grader_errors_and_exits_non_zero(tmp_path, monkeypatch, capsys):
    shutil.copytree(EXERCISES, tmp_path / "class" / "zed")

    def broken(*args, **kwargs):
        raise RuntimeError("grader bug")

    monkeypatch.setattr(batch, "grade", broken)
    result = grade_batch(tmp_path / "class", tmp_path / "gb.csv", progress=False)
    assert result.rows[0]["error"] == "RuntimeError: grader bug"
    assert result.rows[0]["status"] == "grader error" and result.errors == ["zed"]
    assert cli.main(["grade-batch", str(tmp_path / "class"), "--out", str(tmp_path / "gb.csv"),
                     "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "1 grader errors" in captured.out and "zed" in captured.err
    with pytest.raises(ValueError, match="directory: .* is not a directory"):
        grade_batch(tmp_path / "nothing", tmp_path / "gb.csv")


def test_broken_grading_test_definitions_are_reported(tmp_path):
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "ex1_softmax.py").write_text("def test_no_markers(softmax):\n    pass\n")
    with Submission(EXERCISES, ["ex1_softmax"], contract=contract.load(checks)) as submission:
        with pytest.raises(RuntimeError, match="needs @pytest.mark.points"):
            plugin.run_checks(submission, ["ex1_softmax"])


def test_gradescope_bundle_runs_end_to_end(tmp_path, capsys):
    assert cli.main(["gradescope", "--out", str(tmp_path / "cli.zip"),
                     "--checks", str(EXERCISES / "checks")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "cli.zip")
    bundle = build_bundle(tmp_path / "autograder.zip", call_timeout=2.0,
                          book_url="https://example.org/")
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        assert "setup.sh" in names and "run_autograder" in names
        assert "coursepkg/grading/grading.ini" in names
        assert "checks/ex3_mle.py" in names
        assert not any(name.startswith("exercises") for name in names)
        texts = {n: archive.read(n).decode() for n in names}
        # no solution anywhere; the hidden tests only in checks/
        assert [n for n, t in texts.items() if any(s in t for s in solution_lines())] == []
        assert leaks({n: t for n, t in texts.items() if not n.startswith("checks/")}) == []
        assert leaks({"checks": texts["checks/ex3_mle.py"]}) != []
        assert "numpy==" in archive.read("setup.sh").decode()
        root = tmp_path / "autograder"
        archive.extractall(root / "source")
    os.chmod(root / "source" / "run_autograder", 0o755)
    make_submission(root / "submission", {"ex2_information": (CASES / "wrong/kl_swapped.py").read_text()})
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    subprocess.run([str(root / "source" / "run_autograder")], env=env, check=True,
                   capture_output=True, timeout=120)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 100 - 7
    outputs = [t["output"] for t in results["tests"]]
    assert any("https://example.org/book/02_information.html#info-kl-asymmetry" in o for o in outputs)

    env["AUTOGRADER_PYTHON"] = "/bin/false"  # the grader itself fails: still valid JSON
    subprocess.run([str(root / "source" / "run_autograder")], env=env, check=True, timeout=60)
    assert json.loads((root / "results" / "results.json").read_text())["score"] == 0


def test_ctrl_c_stops_the_batch_and_a_rerun_resumes(tmp_path, monkeypatch, capsys):
    classroom = tmp_path / "class"
    for name in ("ann", "ben", "cid"):
        shutil.copytree(EXERCISES, classroom / name)
    real_grade, calls = batch.grade, []

    def interrupted_on_second(folder, **kwargs):
        calls.append(folder.name)
        if len(calls) == 2:
            def ctrl_c(args, plugins):  # what pytest does on a Ctrl-C: the hook, then code 2
                try:
                    raise KeyboardInterrupt
                except KeyboardInterrupt as error:
                    plugins[0].pytest_keyboard_interrupt(pytest.ExceptionInfo.from_exception(error))
                return pytest.ExitCode.INTERRUPTED

            with Submission(folder, ["ex1_softmax"]) as submission:
                monkeypatch.setattr(plugin.pytest, "main", ctrl_c)
                plugin.run_checks(submission, ["ex1_softmax"])
        return real_grade(folder, **kwargs)

    monkeypatch.setattr(batch, "grade", interrupted_on_second)
    gradebook = tmp_path / "gb.csv"
    assert cli.main(["grade-batch", str(classroom), "--out", str(gradebook), "--no-progress"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert sorted(p.stem for p in results_dir(gradebook).glob("*.json")) == ["ann"]
    monkeypatch.undo()
    result = grade_batch(classroom, gradebook, limits=FAST, progress=False)
    assert [row["score"] for row in result.rows] == [100, 100, 100]
    assert (result.unchanged, result.graded) == (["ann"], ["ben", "cid"])


def test_gradescope_names_the_extra_it_needs(tmp_path, monkeypatch, capsys):
    from coursepkg.grading import gradescope

    monkeypatch.setattr(gradescope, "PINNED", ("numpy", "no-such-package-here"))
    assert cli.main(["gradescope", "--out", str(tmp_path / "a.zip")]) == 2
    assert "no-such-package-here is not installed: pip install 'coursepkg[grader]'" \
        in capsys.readouterr().err
