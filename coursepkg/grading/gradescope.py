"""Build the Gradescope autograder bundle.

The zip holds ``setup.sh`` (installs Python packages pinned to the versions
installed here), ``run_autograder`` (grades ``/autograder/submission`` into
``/autograder/results/results.json`` with the same grader as
``coursepkg grade``), ``coursepkg/``, the package source as installed here
(a wheel install will do), and ``checks/``, the instructor's grading tests,
hidden ones included, from the instructor's tree.  The instructor solutions
are *not* in it: the grading tests compute their expected values
independently.  The bundle goes to Gradescope only, never to students.
"""

from __future__ import annotations

import shlex
import zipfile
from importlib import metadata
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
PINNED = ("numpy", "scipy", "pytest", "rich", "tqdm")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image.
set -euo pipefail
PY=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    apt-get update
    apt-get install -y python3.11 python3.11-venv
    PY=python3.11
fi
"$PY" -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet {pins}
# the grader's wall around student code (README, "Threat model and its limits")
apt-get update
apt-get install -y bubblewrap util-linux
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission, as root.  The student's code runs
# only in child processes of the grader, each in a bubblewrap sandbox as a
# dedicated unprivileged uid (README, "Threat model and its limits"); should
# the container allow no namespaces, as a dedicated uid only (--sandbox
# container), so the bundle (grading tests) and the results folder are made
# unreadable to other users first.
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PY="${{AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
chmod 700 "$ROOT/source" "$ROOT/results"
cd "$ROOT/source"
PYTHONPATH="$ROOT/source" "$PY" -m coursepkg grade "$ROOT/submission" \\
    --json "$RESULTS" --sandbox container {options}
status=$?
# 0 graded, 3 graded though some grading test broke (results.json says which)
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
    # the grader itself failed: still leave a valid results.json
    printf '%s\\n' '{{"score": 0, "output": "The autograder failed; please contact the instructor.", "tests": []}}' > "$RESULTS"
fi
"""


def pins() -> list[str]:
    """``name==version`` for the packages the grader needs, as installed here.

    >>> pins()[0].startswith("numpy==")
    True
    """
    try:
        return [f"{name}=={metadata.version(name)}" for name in PINNED]
    except metadata.PackageNotFoundError as error:
        raise ValueError(f"the bundle pins the grader's packages as installed here, and {error.name} "
                         "is not installed: pip install 'coursepkg[grader]'") from None


def package_files() -> list[Path]:
    """The package's files to ship: Python sources and the grading run's ``grading.ini``."""
    files = [p for p in PACKAGE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts
             and (p.suffix == ".py" or p.name == "grading.ini")]
    return sorted(files)


def build_bundle(out, *, call_timeout: float | None = None, book_url: str = "",
                 checks_dir=None) -> Path:
    """Write the autograder zip to ``out`` and return its path.

    ``checks_dir`` is the folder of grading tests (default: the course's own,
    ``./exercises/checks``); it is read as a contract first, so a broken
    checks folder fails here rather than on Gradescope.
    """
    from .contract import load

    out = Path(out)
    if out.suffix != ".zip":
        raise ValueError(f"out: {out} should end in .zip")
    contract = load(checks_dir)
    options = ["--checks", "checks"]  # run_autograder runs in the bundle's folder
    if call_timeout is not None:
        options += ["--timeout", str(call_timeout)]
    if book_url:
        options += ["--book-url", book_url]
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in (
            ("setup.sh", SETUP_SH.format(pins=" ".join(shlex.quote(p) for p in pins()))),
            ("run_autograder", RUN_AUTOGRADER.format(options=shlex.join(options))),
        ):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o100755 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, text)
        for path in package_files():
            bundle.write(path, Path("coursepkg") / path.relative_to(PACKAGE_DIR))
        for path in sorted(contract.checks_dir.glob("*.py")):
            bundle.write(path, Path("checks") / path.name)
    return out
