"""The ``coursepkg`` command line (also ``python -m coursepkg``).

Subcommands live in :data:`SUBCOMMANDS`, a dict from name to ``(help,
configure)``: ``configure(parser)`` adds the arguments and returns the
function that runs the command and returns the exit status.  Adding a
command is adding an entry.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _positive(kind):
    """An argparse type: a positive ``kind`` (argparse names the flag)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:  # NaN too
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse's "invalid float value" wording
    return parse


def _limits(parser):
    parser.add_argument("--timeout", type=_positive(float), default=3.0, metavar="SECONDS",
                        help="wall-clock limit of one call to a student function (default 3)")
    parser.add_argument("--memory-mb", type=_positive(int), default=1024, metavar="MB",
                        help="address-space limit of a student process (default 1024)")
    parser.add_argument("--book-url", default="", metavar="URL",
                        help="prefix of the chapter links in feedback, e.g. https://host/course/")
    parser.add_argument("--sandbox", choices=("auto", "container", "uid", "none"), default="auto",
                        help="the wall around student code (default auto: a bubblewrap sandbox, "
                             "refusing if there is none); container: inside a throw-away "
                             "container, fall back to a dedicated uid (root); none: no wall, "
                             "only where that is acceptable (results say isolation: none)")


def _make_limits(args):
    from .grading.sandbox import Limits

    return Limits(call_timeout=args.timeout, memory_mb=args.memory_mb, sandbox=args.sandbox)


def _assignment(parser, checks_help="the grading tests (default: ./exercises/checks)"):
    parser.add_argument("--checks", type=Path, default=None, metavar="DIR", help=checks_help)
    parser.add_argument("--modules", nargs="+", default=None, metavar="MODULE",
                        help="only these exercise modules (default: every module the checks grade)")


def _contract(args):
    from .grading.contract import load

    return load(args.checks)


def _release(parser):
    parser.add_argument("--out", required=True, type=Path, help="folder for the student files")
    parser.add_argument("--source", type=Path, default=Path("exercises"),
                        help="folder of the instructor sources (default: ./exercises)")
    parser.add_argument("--zip", type=Path, default=None, metavar="ZIP",
                        help="also write the released folder as this zip (a download)")
    _assignment(parser, "the grading tests (default: SOURCE/checks)")

    def run(args):
        from .grading.release import release

        for path in release(args.source, args.out, args.modules, args.checks, args.zip):
            print(path)
        return 0

    return run


def _check(parser):
    parser.add_argument("target", nargs="?", default=None, metavar="FUNCTION_OR_MODULE",
                        help="e.g. softmax or ex1_softmax (default: every exercise found)")
    parser.add_argument("--dir", type=Path, default=Path("."),
                        help="folder of your files (default: the current folder)")
    parser.add_argument("--checks", type=Path, default=None, metavar="DIR",
                        help="the visible tests (default: DIR/checks, from the starter files)")
    parser.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS",
                        help="wall-clock limit of one call to your function (default 3)")

    def run(args):
        from .grading.sandbox import Limits
        from .grading.selfcheck import check

        report = check(args.target, args.dir, checks=args.checks,
                       limits=Limits(call_timeout=args.timeout, sandbox="none"))
        return 0 if report.ok else 1

    return run


def _grade(parser):
    parser.add_argument("submission", type=Path, metavar="SUBMISSION_DIR")
    parser.add_argument("--json", type=Path, metavar="RESULTS_JSON",
                        help="also write Gradescope's results.json here")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="list every test with its feedback, not only the first "
                             "failure of each function")
    parser.add_argument("--hidden-visibility", default="after_published",
                        choices=("after_published", "after_due_date", "hidden"),
                        help="Gradescope visibility of the hidden tests in results.json "
                             "(default after_published: shown once grades are published)")
    _limits(parser)
    _assignment(parser)
    parser.epilog = ("exit status: 0 graded (whatever the score), 1 the grader failed, "
                     "2 bad arguments, 3 graded but some grading tests broke")

    def run(args):
        from .grading.grade import grade, print_table, write_json
        from .grading.summary import GRADER_FAILED, exit_status, wrap
        from .grading.wall import Wall

        try:
            report = grade(args.submission, args.modules, limits=_make_limits(args),
                           book_url=args.book_url, contract=_contract(args))
        except (RuntimeError, OSError) as error:
            print(f"coursepkg grade: the grader failed: {error}", file=sys.stderr)
            return GRADER_FAILED
        print("\n".join(wrap(report.intake.report(), "")))
        print_table(report, args.verbose)
        print("\n".join(wrap(f"isolation: {Wall(report.isolation).description}", "")))
        if args.json:
            write_json(report, args.json, args.hidden_visibility)
        return exit_status(report)

    return run


def _grade_batch(parser):
    parser.add_argument("directory", type=Path, metavar="DIR",
                        help="one sub-folder per student")
    parser.add_argument("--out", required=True, type=Path, metavar="GRADEBOOK_CSV")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _limits(parser)
    _assignment(parser)

    def run(args):
        from .grading.batch import grade_batch, results_dir

        result = grade_batch(args.directory, args.out, limits=_make_limits(args),
                             book_url=args.book_url, progress=not args.no_progress,
                             contract=_contract(args), modules=args.modules)
        print(f"{result.summary()}; gradebook {args.out}, results in {results_dir(args.out)}")
        if result.errors:
            print("grader errors (see the error column; they are retried on the next run): "
                  + ", ".join(result.errors), file=sys.stderr)
            return 1
        return 0

    return run


def _gradescope(parser):
    parser.add_argument("--out", required=True, type=Path, metavar="ZIP")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="call timeout passed to the grader")
    parser.add_argument("--book-url", default="", metavar="URL")
    parser.add_argument("--checks", type=Path, default=None, metavar="DIR",
                        help="the grading tests, hidden ones included (default: ./exercises/checks)")

    def run(args):
        from .grading.gradescope import build_bundle

        print(build_bundle(args.out, call_timeout=args.timeout, book_url=args.book_url,
                           checks_dir=args.checks))
        return 0

    return run


SUBCOMMANDS = {
    "release": ("write the student versions of the exercises", _release),
    "grade": ("grade one submission folder", _grade),
    "grade-batch": ("grade a folder of submission folders into a gradebook", _grade_batch),
    "check": ("check your own exercise files: visible tests and docstring examples", _check),
    "gradescope": ("build the Gradescope autograder bundle", _gradescope),
}


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    """The parser and the run function of each subcommand."""
    parser = argparse.ArgumentParser(prog="coursepkg", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    runners = {}
    for name, (help_text, configure) in SUBCOMMANDS.items():
        runners[name] = configure(commands.add_parser(name, help=help_text, description=help_text))
    return parser, runners


def main(argv=None) -> int:
    """Run the command line; return the exit status (2 for bad arguments)."""
    parser, runners = build_parser()
    args = parser.parse_args(argv)
    try:
        return runners[args.command](args)
    except ValueError as error:
        print(f"coursepkg {args.command}: error: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:  # an optional dependency: name its extra
        from ._extras import missing_extra

        print(f"coursepkg {args.command}: error: "
              f"{missing_extra(error, 'coursepkg ' + args.command)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"coursepkg {args.command}: interrupted (grade-batch resumes when run again)",
              file=sys.stderr)
        return 130
