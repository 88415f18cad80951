"""The package as a user installs it: a wheel of ``coursepkg`` alone in a new venv.

The wheel is built from a copy of the package's sources (no repository next
to it, nothing written into the repository), installed without its
dependencies into a new virtual environment.  The dependencies (NumPy,
SciPy, pytest, torch, ...) come from this test run's environment through a
``.pth`` line: it adds that site-packages folder to ``sys.path`` but runs
none of its ``.pth`` files, so the repository's editable ``coursepkg`` is
not importable there.  No network is used.  ``tests/test_packaging.py``
runs every command from it; ``tests/test_portability.py`` runs the chapters.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(args, cwd, env=None, check=True, timeout=300):
    """Run ``args``; with ``check``, fail with its output if it failed."""
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def build_wheel(work: Path) -> Path:
    """The wheel, built in ``work`` from a copy of the sources it is made of."""
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "coursepkg", source / "coursepkg",
                    ignore=shutil.ignore_patterns("__pycache__"))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", work / "dist", source], cwd=work)
    (path,) = (work / "dist").glob("coursepkg-*.whl")
    return path


def install(wheel: Path, home: Path) -> tuple[Path, dict[str, str]]:
    """A new venv in ``home`` with only ``wheel`` installed: its Python, and
    an environment without this run's Python, venv and coverage settings."""
    run([sys.executable, "-m", "venv", "--without-pip", home / "venv"], cwd=home)
    python = home / "venv" / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
         "--no-index", "-q", wheel], cwd=home)
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
               cwd=home).stdout.strip()
    (Path(site) / "deps_of_the_test_run.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTHON", "VIRTUAL_ENV", "COV_", "COVERAGE"))}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    return python, env
