"""Shared helpers of the grader's self-tests (see ``conftest.py``)."""

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
