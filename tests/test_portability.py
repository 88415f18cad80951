"""The chapters' stored outputs hold on other machines (strict nbval, emulated).

Each configuration of :mod:`portability` (narrower SIMD, baseline SIMD, one
thread) re-runs every chapter under strict nbval, in its own pytest process
with the configuration in its environment (the Jupyter kernels inherit it).
The one-thread run also plays a reader who has only the package: it runs
from a wheel of ``coursepkg`` installed in a fresh virtual environment
(:mod:`wheel_venv`), on copies of the notebooks in a temporary folder, so
neither the repository nor its working directory is on ``sys.path``.  The three processes start together, on the
first test that needs one, so they share the machine's cores; each test then
waits for its own.

``.venv/bin/pytest tests/test_portability.py`` runs this pass alone;
``python tests/portability.py`` prints what each configuration sets.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import time

import pytest
from portability import configurations, environment
from wheel_venv import build_wheel, install

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
TIMEOUT = 600
INSTALLED = "one-thread"  # the configuration that runs from the wheel


def _nbval(python, notebooks, sanitize):
    return [str(python), "-m", "pytest", "--nbval", *map(str, notebooks),
            "--nbval-sanitize-with", str(sanitize),
            "-p", "no:cacheprovider", "-q", "--no-header", "-rf", "--tb=short",
            "--override-ini=addopts=", "--nbval-cell-timeout=300"]


class _Runs:
    """One strict-nbval pytest process per configuration, started together."""

    def __init__(self, tmp: pathlib.Path):
        self.procs = {}
        self.started = time.monotonic()
        python, outside = install(build_wheel(tmp), tmp)
        self.outside_env = {**outside, **configurations()[INSTALLED]}
        chapters = tmp / "chapters"
        chapters.mkdir()
        for nb in NOTEBOOKS:
            shutil.copy(nb, chapters / nb.name)
        shutil.copy(ROOT / "book" / "sanitize.cfg", chapters / "sanitize.cfg")
        self.installed_python = python
        for name in configurations():
            if name == INSTALLED:
                cmd = _nbval(python, sorted(chapters.glob("*.ipynb")),
                             chapters / "sanitize.cfg")
                cwd = chapters
            else:
                cmd = _nbval(sys.executable, [nb.relative_to(ROOT) for nb in NOTEBOOKS],
                             "book/sanitize.cfg")
                cwd = ROOT
            env = self.outside_env if name == INSTALLED else environment(name)
            self.procs[name] = subprocess.Popen(
                cmd, cwd=cwd, env=env, text=True,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def result(self, name):
        proc = self.procs[name]
        left = max(1.0, TIMEOUT - (time.monotonic() - self.started))
        try:
            out, _ = proc.communicate(timeout=left)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            return None, out
        return proc.returncode, out

    def close(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    started = _Runs(tmp_path_factory.mktemp("portability"))
    yield started
    started.close()


def test_every_chapter_is_covered():
    """The pass re-runs each notebook of the book, in each configuration."""
    assert len(NOTEBOOKS) >= 7, NOTEBOOKS
    assert set(configurations()) == {"narrower-simd", "baseline-simd", "one-thread"}


@pytest.mark.slow
def test_the_installed_run_uses_the_wheel_not_the_repository(runs):
    """The wheel's coursepkg is the one the installed run imports."""
    where = subprocess.run(
        [str(runs.installed_python), "-c", "import coursepkg; print(coursepkg.__file__)"],
        capture_output=True, text=True, check=True, cwd=runs.installed_python.parents[2],
        env=runs.outside_env,
    ).stdout.strip()
    assert pathlib.Path(where).is_relative_to(runs.installed_python.parents[1]), where
    assert not pathlib.Path(where).is_relative_to(ROOT), where


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(configurations()))
def test_stored_outputs_hold(runs, name):
    returncode, out = runs.result(name)
    settings = " ".join(f"{k}={v}" for k, v in configurations()[name].items())
    if name == INSTALLED:
        settings += " (coursepkg from a wheel in a fresh venv, notebooks outside the repository)"
    assert returncode is not None, f"{name} ({settings}) ran past {TIMEOUT} s:\n{out[-4000:]}"
    assert returncode == 0, (
        f"strict nbval fails with {settings}: a stored output depends on the "
        f"machine.\n{out[-8000:]}")
    assert " passed" in out and "no tests ran" not in out, out[-2000:]


@pytest.mark.parametrize("name", sorted(configurations()))
def test_the_compiled_kernel_follows_the_configuration(name):
    """The compiled log_softmax runs the variant the emulated machine would."""
    out = subprocess.run(
        [sys.executable, "-c", "from coursepkg import compiled; print(compiled.status())"],
        capture_output=True, text=True, check=True, cwd=ROOT, env=environment(name),
    ).stdout
    want = {"v3": "(plain, x86-64-v3)", "baseline": "(plain, baseline)"}.get(
        configurations()[name].get("COURSEPKG_ISA"), "compiled (plain, ")
    assert out.startswith("compiled") and want in out, out
