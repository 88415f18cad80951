"""Optional dependencies: an import error that says which extra installs them.

The package needs only NumPy and ``array-api-compat``; each use adds an
extra (``pyproject.toml``): ``coursepkg[torch]`` for the torch face,
``coursepkg[grader]`` for grading and ``coursepkg check``, ``coursepkg[book]``
for the chapters (scikit-learn's digits, Jupyter Book).

>>> error = missing_extra(ModuleNotFoundError("No module named 'torch'", name="torch"),
...                       "coursepkg.torch")
>>> print(error)
coursepkg.torch needs PyTorch, which is not installed: pip install 'coursepkg[torch]'
>>> other = ModuleNotFoundError("No module named 'foo'", name="foo")
>>> missing_extra(other, "coursepkg.torch") is other
True
"""

from __future__ import annotations

#: top-level module -> (what it is, the extra that installs it)
EXTRAS = {
    "torch": ("PyTorch", "torch"),
    "sklearn": ("scikit-learn", "book"),
    "pytest": ("pytest", "grader"),
    "scipy": ("SciPy", "grader"),
    "rich": ("rich", "grader"),
    "tqdm": ("tqdm", "grader"),
}


def missing_extra(error: ModuleNotFoundError, user: str) -> ModuleNotFoundError:
    """The error to raise when ``user`` (a module or a command) could not
    import something: one naming the extra if an optional dependency is
    missing, else ``error`` itself."""
    top = (error.name or "").partition(".")[0]
    if top not in EXTRAS:
        return error
    what, extra = EXTRAS[top]
    return ModuleNotFoundError(
        f"{user} needs {what}, which is not installed: pip install 'coursepkg[{extra}]'",
        name=error.name)
