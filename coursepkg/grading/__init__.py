"""The autograder: release student files, grade submissions, build a Gradescope bundle.

The package is split along its trust boundary:

- trusted side (this process): :mod:`~coursepkg.grading.release`,
  :mod:`~coursepkg.grading.sandbox` (starts and talks to the child),
  :mod:`~coursepkg.grading.expect` (comparisons and classic-mistake feedback),
  :mod:`~coursepkg.grading.plugin` (runs the grading tests that decide
  points; they live in the instructor's tree, ``exercises/checks/``, not in
  this package), :mod:`~coursepkg.grading.contract`,
  :mod:`~coursepkg.grading.intake`, :mod:`~coursepkg.grading.grade`,
  :mod:`~coursepkg.grading.batch`, :mod:`~coursepkg.grading.gradescope`,
  :mod:`~coursepkg.grading.selfcheck` (a student's ``check``);
- the wall: :mod:`~coursepkg.grading.wall` starts each child in a
  bubblewrap sandbox (namespaces, an allow-list view of the file system, a
  dedicated uid, seccomp) and tears it down; its docstring is the threat
  model;
- untrusted side: :mod:`~coursepkg.grading._runner`, whose *source text* is
  run by a fresh ``python -I -S`` child inside the wall, next to the
  student's file.  It imports only the standard library and NumPy, never
  this package.

Importing any of these modules runs nothing.
"""

__all__ = ["check"]


def __getattr__(name):
    # ``from coursepkg.grading import check`` (a notebook's self-check), loaded on use
    if name == "check":
        try:
            from .selfcheck import check
        except ModuleNotFoundError as error:  # pytest, SciPy: the [grader] extra
            from .._extras import missing_extra

            raise missing_extra(error, "coursepkg.grading.check") from None
        return check
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
