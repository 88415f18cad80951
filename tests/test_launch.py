"""The launch buttons: what Colab and Binder need to run a chapter.

Neither service can be reached from a test, so these check what decides
whether a launch works: every chapter starts with a cell that installs the
package where it is missing (and does nothing where it is installed, as
strict nbval checks), and ``binder/`` pins a Python, the CPU build of torch
and the repository's versions, then installs the package.  That the
chapters run from an installed package alone, outside the repository, is
checked by ``tests/test_portability.py``.
"""

from __future__ import annotations

import json
import pathlib
import re
import sys
import types

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def _setup_cell(nb_path):
    return json.loads(nb_path.read_text())["cells"][0]


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_starts_with_the_setup_cell(nb_path):
    cell = _setup_cell(nb_path)
    assert cell["cell_type"] == "code", f"{nb_path.name}: the first cell is not code"
    assert cell["id"] == "setup-outside-repo", nb_path.name
    assert "remove-cell" in cell["metadata"].get("tags", []), (
        f"{nb_path.name}: the setup cell would show on the rendered page")
    assert cell["outputs"] == [], f"{nb_path.name}: the setup cell printed something"
    first = json.loads(nb_path.read_text())["cells"][0]["source"]
    assert first == _setup_cell(CHAPTERS[0])["source"], (
        f"{nb_path.name}'s setup cell differs from {CHAPTERS[0].name}'s")


def _run_setup_cell(installed: set[str]):
    """Run the setup cell with pip replaced by a recorder; the commands it ran."""
    calls = []
    fake_subprocess = types.SimpleNamespace(
        run=lambda cmd, check: calls.append(cmd))
    fake_util = types.SimpleNamespace(
        find_spec=lambda name: object() if name in installed else None)
    source = "".join(_setup_cell(CHAPTERS[0])["source"])
    # the cell's own imports would bring back the real modules: swap them
    source = source.replace("import importlib.util\n", "").replace("import subprocess\n", "")
    source = source.replace("import sys\n", "")
    namespace = {"importlib": types.SimpleNamespace(util=fake_util),
                 "subprocess": fake_subprocess, "sys": sys}
    exec(compile(source, "setup-cell", "exec"), namespace)
    return calls


def test_setup_cell_does_nothing_where_everything_is_installed():
    assert _run_setup_cell({"coursepkg", "torch"}) == []


def test_setup_cell_installs_the_package_from_the_books_repository():
    calls = _run_setup_cell({"torch"})  # Colab: torch is there, coursepkg is not
    assert len(calls) == 1, calls
    cmd = calls[0]
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"], cmd
    spec = cmd[-1]
    assert spec == f"coursepkg[book] @ git+{CONFIG['repository']['url']}", spec


def test_setup_cell_takes_torch_from_the_cpu_index():
    calls = _run_setup_cell(set())  # a bare Jupyter: neither is there
    assert len(calls) == 2, calls
    torch_cmd = calls[0]
    assert "torch" in torch_cmd
    index = torch_cmd[torch_cmd.index("--index-url") + 1]
    assert index == "https://download.pytorch.org/whl/cpu", torch_cmd


def _pin(lines, name):
    for line in lines:
        m = re.fullmatch(rf"{name}==([\w.+]+)", line.strip())
        if m:
            return m.group(1)
    return None


def test_binder_pins_python_and_the_cpu_build_of_torch():
    binder = ROOT / "binder"
    runtime = (binder / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), runtime
    minor = int(runtime.split(".")[1])
    requires = re.search(r'requires-python\s*=\s*">=3\.(\d+)"',
                         (ROOT / "pyproject.toml").read_text())
    assert requires and minor >= int(requires.group(1)), (runtime, requires)
    lines = (binder / "requirements.txt").read_text().splitlines()
    repo_torch = _pin((ROOT / "requirements.txt").read_text().splitlines(), "torch")
    assert _pin(lines, "torch") == f"{repo_torch}+cpu", (
        "binder/requirements.txt must pin the CPU build of the repository's torch")
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert "-r ../requirements.txt" in lines  # the same versions as `make`


def test_binder_installs_the_package():
    post = ROOT / "binder" / "postBuild"
    assert post.stat().st_mode & 0o111, "binder/postBuild must be executable"
    text = post.read_text()
    assert text.startswith("#!/bin/bash")
    assert re.search(r"pip install --no-deps \.\s*$", text, re.M), text


def test_launch_buttons_point_at_the_repository():
    launch = CONFIG["launch_buttons"]
    assert launch["binderhub_url"] == "https://mybinder.org"
    assert launch["colab_url"] == "https://colab.research.google.com"
    assert CONFIG["repository"]["url"].startswith("https://github.com/")
