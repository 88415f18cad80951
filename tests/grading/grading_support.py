"""Shared helpers of the grader's self-tests (see ``conftest.py``)."""

import re
from pathlib import Path

from coursepkg.grading.contract import module_of
from coursepkg.grading.sandbox import Limits

ROOT = Path(__file__).resolve().parents[2]
EXERCISES = ROOT / "exercises"
CASES = Path(__file__).with_name("cases")
FAST = Limits(call_timeout=1.5, import_timeout=5.0, memory_mb=768)


def make_submission(folder: Path, replacements: dict[str, str]) -> Path:
    """All five solution modules, with ``{module: source appended}`` changes."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in EXERCISES.glob("ex*.py"):
        text = path.read_text()
        if path.stem in replacements:
            text += "\n\n" + replacements[path.stem]
        (folder / path.name).write_text(text)
    return folder


def case_submission(folder: Path, kind: str, case: str, function: str) -> Path:
    """A submission whose ``function`` is replaced by ``cases/<kind>/<case>.py``."""
    snippet = (CASES / kind / f"{case}.py").read_text()
    return make_submission(folder, {module_of(function): snippet})


def solution_lines() -> set[str]:
    """The distinctive lines of the instructor solutions (stripped, 25+
    characters, not also in the code handed out with the exercises), to look
    for in what students receive."""
    from coursepkg.grading.contract import BEGIN, END

    lines, provided, inside = set(), set(), False
    for path in EXERCISES.glob("ex*.py"):
        for line in path.read_text().splitlines():
            if line.strip() in (BEGIN, END):
                inside = line.strip() == BEGIN
            elif len(line.strip()) >= 25 and not line.strip().startswith("#"):
                (lines if inside else provided).add(line.strip())
    lines -= provided
    # conversions of an argument and warning switches are no answer
    generic = r"\w+ = np\.asarray\(\w+(, dtype=[\w.]+)?\)|with np\.errstate\(.*\):"
    lines = {line for line in lines if not re.fullmatch(generic, line)}
    assert len(lines) > 20  # the search below must be able to fail
    return lines


def hidden_test_names(checks_dir=None) -> set[str]:
    """The names of the hidden grading tests in ``checks_dir`` (default: the course's)."""
    import ast

    from coursepkg.grading.release import _is_hidden

    checks_dir = EXERCISES / "checks" if checks_dir is None else checks_dir
    names = {node.name for path in Path(checks_dir).glob("ex*.py")
             for node in ast.parse(path.read_text()).body if _is_hidden(node)}
    assert names  # the search below must be able to fail
    return names


def leaks(texts: dict[str, str], checks_dir=None) -> list[str]:
    """``name: what`` for every text holding a solution line or a hidden test's name."""
    solutions, hidden = solution_lines(), hidden_test_names(checks_dir)
    found = []
    for name, text in texts.items():
        found += [f"{name}: solution line {line!r}" for line in solutions if line in text]
        found += [f"{name}: hidden test {test}" for test in hidden if test in text]
    return found
