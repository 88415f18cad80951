"""Fixtures of the grader's self-tests.

``cases/`` holds known-wrong and hostile snippets: each is appended to one
instructor solution module (a later ``def`` replaces the solution's), so a
case changes exactly one function, or the whole module where it acts at
import.  They are never imported here (``collect_ignore``): some of them end
the process.
"""

import pytest
from grading_support import EXERCISES

from coursepkg.grading.release import release

collect_ignore = ["cases"]


@pytest.fixture(scope="session")
def stubs(tmp_path_factory):
    """The released student files."""
    out = tmp_path_factory.mktemp("stubs")
    release(EXERCISES, out)
    return out
