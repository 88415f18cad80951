"""The chapters' stored outputs hold on other machines (strict nbval, emulated).

Each configuration of :mod:`portability` (narrower SIMD, baseline SIMD, one
thread) re-runs every chapter under strict nbval, in its own pytest process
with the configuration in its environment (the Jupyter kernels inherit it).
The three processes start together, on the first test that needs one, so
they share the machine's cores; each test then waits for its own.

``.venv/bin/pytest tests/test_portability.py`` runs this pass alone;
``python tests/portability.py`` prints what each configuration sets.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import time

import pytest
from portability import configurations, environment

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "book").glob("*.ipynb"))
TIMEOUT = 600


class _Runs:
    """One strict-nbval pytest process per configuration, started together."""

    def __init__(self):
        self.procs = {}
        self.started = time.monotonic()
        for name in configurations():
            cmd = [sys.executable, "-m", "pytest", "--nbval", *NOTEBOOKS,
                   "--nbval-sanitize-with", "book/sanitize.cfg",
                   "-p", "no:cacheprovider", "-p", "no:randomly",
                   "-q", "--no-header", "-rf", "--tb=short",
                   "--override-ini=addopts=",
                   "--nbval-cell-timeout=300"]
            self.procs[name] = subprocess.Popen(
                cmd, cwd=ROOT, env=environment(name), text=True,
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
def runs():
    started = _Runs()
    yield started
    started.close()


def test_every_chapter_is_covered():
    """The pass re-runs each notebook of the book, in each configuration."""
    assert len(NOTEBOOKS) >= 7, NOTEBOOKS
    assert set(configurations()) == {"narrower-simd", "baseline-simd", "one-thread"}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(configurations()))
def test_stored_outputs_hold(runs, name):
    returncode, out = runs.result(name)
    settings = " ".join(f"{k}={v}" for k, v in configurations()[name].items())
    assert returncode is not None, f"{name} ({settings}) ran past {TIMEOUT} s:\n{out[-4000:]}"
    assert returncode == 0, (
        f"strict nbval fails with {settings}: a stored output depends on the "
        f"machine.\n{out[-8000:]}")
    assert " passed" in out and "no tests ran" not in out, out[-2000:]
