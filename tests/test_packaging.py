"""The package as a student or an instructor gets it: a wheel in a clean venv.

The wheel is installed alone in a new virtual environment
(:mod:`wheel_venv`: no repository on ``sys.path``, the test checks which
``coursepkg`` is imported, no network), and every command runs there from a
folder outside the repository, with the instructor's tree (``exercises/``
and its ``checks/``) copied next to it as an instructor would have it.

Then: release -> check (student) -> grade -> grade-batch -> Gradescope bundle
-> its run_autograder, end to end; and what a student receives (the wheel,
the released files and zip) is searched for solution lines and hidden tests.
"""

import csv
import json
import math
import os
import shutil
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "grading"))
from grading_support import hidden_test_names, leaks, solution_lines  # noqa: E402
from wheel_venv import build_wheel, install  # noqa: E402
from wheel_venv import run as _run  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel, built from a copy of the sources the wheel is made of."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory):
    """A new venv with only the wheel installed; returns (python, env, cwd)."""
    home = tmp_path_factory.mktemp("venv")
    python, env = install(wheel, home)
    work = home / "course"
    # the instructor's tree, as an instructor keeps it (not the repository)
    shutil.copytree(ROOT / "exercises", work / "exercises",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return python, env, work


def test_the_wheel_has_its_data_and_extras_and_no_hidden_test(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        texts = {n: archive.read(n).decode() for n in names}
    assert "coursepkg/grading/grading.ini" in names
    assert "coursepkg/csrc/log_softmax.c" in names  # the compiled log_softmax's source
    assert "coursepkg/grading/_runner.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not [n for n in names if "/checks/" in n or n.startswith("exercises")]
    assert leaks({n: t for n, t in texts.items() if not n.endswith("METADATA")}) == []
    metadata = next(t for n, t in texts.items() if n.endswith(".dist-info/METADATA"))
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert {e for e in ("torch", "grader", "book")
            if f"Provides-Extra: {e}" in metadata} == {"torch", "grader", "book"}
    assert any(line.startswith("Requires-Dist: pytest") and 'extra == "grader"' in line
               for line in requires)
    torch = [line for line in requires if line.startswith("Requires-Dist: torch")]
    assert torch and not any("==" in line.partition(";")[0] for line in torch)  # pinned in requirements.txt only
    assert "License-Expression: MIT" in metadata
    assert f"Version: {_version()}" in metadata


def _version():
    import coursepkg

    return coursepkg.__version__


def test_the_compiled_log_softmax_builds_from_the_wheel(venv, tmp_path):
    python, env, work = venv
    work.mkdir(exist_ok=True)
    script = ("import numpy as np\nfrom coursepkg import compiled, numpy as cnp\n"
              "print(compiled.status())\nprint(cnp.log_softmax(np.array([0.0, -40.0]))[0])\n")
    out = _run([python, "-c", script], cwd=work,
               env={**env, "COURSEPKG_CACHE_DIR": str(tmp_path / "cache")}).stdout.splitlines()
    assert out[0].startswith("compiled (plain, ") and str(tmp_path / "cache") in out[0]
    want = -math.log1p(math.exp(-40.0))  # the kernel's -log1p(rest) at the maximum
    assert abs(float(out[1]) - want) <= 1e-15 * abs(want)


def test_the_torch_face_names_its_extra(venv):
    python, env, work = venv
    work.mkdir(exist_ok=True)
    script = ("import sys; sys.modules['torch'] = None\n"
              "try:\n    import coursepkg.torch\n"
              "except ModuleNotFoundError as error:\n    print(error)\n")
    out = _run([python, "-c", script], cwd=work, env=env).stdout
    assert "coursepkg.torch needs PyTorch" in out and "pip install 'coursepkg[torch]'" in out
    script = "import sys; sys.modules['pytest'] = None\nfrom coursepkg.cli import main\nmain(['grade', '.'])"
    result = _run([python, "-c", script], cwd=work, env=env, check=False)
    assert "coursepkg grade needs pytest" in result.stderr and "coursepkg[grader]" in result.stderr
    # the notebook route to the self-check names it too
    script = ("import sys; sys.modules['pytest'] = None\n"
              "try:\n    from coursepkg.grading import check\n"
              "except ModuleNotFoundError as error:\n    print(error)\n")
    out = _run([python, "-c", script], cwd=work, env=env).stdout
    assert "coursepkg.grading.check needs pytest" in out and "pip install 'coursepkg[grader]'" in out


def test_release_check_grade_batch_and_gradescope_from_the_wheel(venv, tmp_path):
    python, env, work = venv
    where = json.loads(_run([python, "-c", "import coursepkg, json, sys; "
                             "print(json.dumps([coursepkg.__file__, sys.path]))"],
                            cwd=work, env=env).stdout)
    assert where[0].startswith(str(python.parents[1]))
    # nothing of the repository on the path but the dependencies' folder
    assert [p for p in where[1] if p.startswith(str(ROOT))] in ([], [sysconfig.get_path("purelib")])
    coursepkg = [python, "-m", "coursepkg"]

    # instructor: release the student side
    _run([*coursepkg, "release", "--out", "starter", "--zip", "site/starter.zip"], cwd=work, env=env)
    starter = work / "starter"
    student_side = {str(p.relative_to(work)): p.read_text() for p in starter.rglob("*") if p.is_file()}
    with zipfile.ZipFile(work / "site" / "starter.zip") as archive:
        student_side.update({f"zip:{n}": archive.read(n).decode() for n in archive.namelist()})
    assert len(student_side) == 2 * 11 and leaks(student_side) == []

    # student: solves ex1, checks it and an unsolved one
    mine = tmp_path / "mine"
    shutil.copytree(starter, mine)
    shutil.copy(work / "exercises" / "ex1_softmax.py", mine)
    ok = _run([*coursepkg, "check", "softmax"], cwd=mine, env=env)
    assert "PASS  ex1_softmax.softmax" in ok.stdout and "FAIL" not in ok.stdout
    bad = _run([*coursepkg, "check", "entropy"], cwd=mine, env=env, check=False)
    assert bad.returncode == 1 and "not implemented" in bad.stdout
    assert not any(name in ok.stdout + bad.stdout for name in hidden_test_names(work / "exercises" / "checks"))

    # instructor: grade it, then a class
    _run([*coursepkg, "grade", mine, "--json", tmp_path / "r.json"], cwd=work, env=env)
    results = json.loads((tmp_path / "r.json").read_text())
    softmax = [t for t in results["tests"] if t["name"].startswith("ex1_softmax.")]
    assert results["score"] == sum(t["max_score"] for t in softmax) > 0
    # the hidden tests ran too: more tests than the student's checks/ holds
    assert len(softmax) > (starter / "checks" / "ex1_softmax.py").read_text().count("def test_")
    classroom = tmp_path / "class"
    (classroom / "ann" / "download").mkdir(parents=True)
    for path in (work / "exercises").glob("ex*.py"):
        shutil.copy(path, classroom / "ann" / "download" / f"{path.stem} (1).py")
    (classroom / "bob").mkdir()
    _run([*coursepkg, "grade-batch", classroom, "--out", tmp_path / "gb.csv", "--no-progress"],
         cwd=work, env=env)
    with open(tmp_path / "gb.csv") as handle:
        rows = {r["student"]: r for r in csv.DictReader(handle)}
    assert (float(rows["ann"]["score"]), rows["ann"]["status"]) == (100, "graded")
    assert rows["bob"]["status"] == "no files"

    # instructor: the Gradescope bundle, run as Gradescope would
    _run([*coursepkg, "gradescope", "--out", tmp_path / "autograder.zip"], cwd=work, env=env)
    root = tmp_path / "autograder"
    with zipfile.ZipFile(tmp_path / "autograder.zip") as archive:
        bundle = {n: archive.read(n).decode() for n in archive.namelist()}
        archive.extractall(root / "source")
    lines = solution_lines()
    assert [n for n, text in bundle.items() if any(line in text for line in lines)] == []
    assert "checks/ex1_softmax.py" in bundle
    os.chmod(root / "source" / "run_autograder", 0o755)
    shutil.copytree(classroom / "ann", root / "submission")
    _run([root / "source" / "run_autograder"], cwd=root,
         env={**env, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": str(python)})
    graded = json.loads((root / "results" / "results.json").read_text())
    assert graded["score"] == 100, graded["output"]
    assert "from download/ex1_softmax (1).py" in graded["output"]


# ------------------------------------------------------ optional dependencies

def test_optional_imports_name_their_extra(monkeypatch, capsys, tmp_path):
    import importlib

    from coursepkg import cli, data

    for module, user in (("coursepkg.torch", "coursepkg.torch"),
                         ("coursepkg.models_torch", "coursepkg.models_torch")):
        monkeypatch.setitem(sys.modules, "torch", None)
        monkeypatch.delitem(sys.modules, module, raising=False)
        with pytest.raises(ModuleNotFoundError, match=rf"{user} needs PyTorch.*coursepkg\[torch\]"):
            importlib.import_module(module)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ModuleNotFoundError, match=r"load_digits needs scikit-learn.*\[book\]"):
        data.load_digits()
    monkeypatch.setitem(sys.modules, "tqdm", None)
    (tmp_path / "class").mkdir()
    assert cli.main(["grade-batch", str(tmp_path / "class"), "--out", str(tmp_path / "gb.csv")]) == 2
    assert "coursepkg grade-batch needs tqdm, which is not installed: pip install 'coursepkg[grader]'" \
        in capsys.readouterr().err
    # a module that is no optional dependency keeps its own message
    monkeypatch.setitem(sys.modules, "coursepkg.grading.selfcheck", None)
    assert cli.main(["check"]) == 2
    assert "coursepkg.grading.selfcheck" in capsys.readouterr().err


# ------------------------------------------- what students download or launch

def _texts(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` as text, and every member of its zips."""
    texts = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        name = str(path.relative_to(folder))
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                texts.update({f"{name}:{n}": archive.read(n).decode("utf-8", "replace")
                              for n in archive.namelist()})
        else:
            texts[name] = path.read_bytes().decode("utf-8", "replace")
    return texts


def test_the_student_side_of_the_repository_holds_no_solution(tmp_path):
    """``make student``: what the public repository (Binder, Colab) holds."""
    student = tmp_path / "student"
    _run(["make", "-s", "student", f"STUDENT={student}", f"BIN={Path(sys.executable).parent}"],
         cwd=ROOT)
    assert not (student / "exercises").exists() and not (student / "tests" / "grading").exists()
    assert sorted(p.name for p in (student / "starter").glob("ex*.py")) == [
        "ex1_softmax.py", "ex2_information.py", "ex3_mle.py", "ex4_logsumexp.py",
        "ex5_gradients.py"]
    assert (student / "book" / "01_softmax.ipynb").is_file()
    texts = _texts(student)
    assert leaks(texts) == []
    assert [n for n in texts if n.startswith("starter/checks/")]  # visible tests are there


def test_the_book_build_releases_the_starter_files(tmp_path):
    sys.path.insert(0, str(ROOT / "_ext"))
    try:
        import starter_files
    finally:
        sys.path.remove(str(ROOT / "_ext"))
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises",
                    ignore=shutil.ignore_patterns("__pycache__"))
    zip_path = starter_files.write_starter(tmp_path)
    with zipfile.ZipFile(zip_path) as archive:
        assert "exercises/ex1_softmax.py" in archive.namelist()
    assert leaks(_texts(zip_path.parent)) == []
    # the student side (make student): no instructor sources, their release in starter/
    released = sorted(zipfile.ZipFile(zip_path).namelist())
    shutil.copytree(tmp_path / "_build" / "starter" / "exercises", tmp_path / "starter")
    shutil.rmtree(tmp_path / "exercises")
    student_zip = starter_files.write_starter(tmp_path)
    assert sorted(zipfile.ZipFile(student_zip).namelist()) == released
    assert leaks(_texts(student_zip.parent)) == []
    shutil.rmtree(tmp_path / "starter")
    assert starter_files.write_starter(tmp_path) is None


def test_the_built_site_holds_no_solution_and_no_hidden_test(book_build):
    assert book_build.html.is_dir()
    texts = _texts(book_build.html)
    assert len(texts) > 50 and leaks(texts) == []
    # the starter files the build released (a chapter's download) are clean too
    assert leaks(_texts(ROOT / "_build" / "starter")) == []


def test_the_version_is_the_same_everywhere():
    import yaml

    import coursepkg

    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["version"] == coursepkg.__version__
    assert citation["license"] == "MIT" and "MIT License" in (ROOT / "LICENSE").read_text()
    assert f"\n## {coursepkg.__version__} " in (ROOT / "CHANGELOG.md").read_text()
