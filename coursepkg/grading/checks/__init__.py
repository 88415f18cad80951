"""The grading tests: one file per exercise module, ordinary pytest tests.

Each test asks for one student function as a fixture, carries
``@pytest.mark.points(n)`` and ``@pytest.mark.visibility(...)``, and computes
its expected values independently (closed forms and SciPy), never from the
instructor's solutions.  Run them with ``coursepkg grade``, not with pytest
directly: the fixtures come from :mod:`coursepkg.grading.plugin`.
"""
