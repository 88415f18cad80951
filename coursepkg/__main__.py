"""``python -m coursepkg``: the same command line as the ``coursepkg`` script."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
