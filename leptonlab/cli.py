"""The ``leptonlab`` command: doctor, run the course, fetch data, keep notebooks clean.

Each subcommand is a :class:`Command` in ``COMMANDS`` (its arguments and the function
that runs it). Bad input
prints one line and exits with code 2; a run with failed notebooks or notebooks
with problems exits with 1. ``python -m leptonlab`` is the same command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and returned, not ``sys.exit``-ed."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line help, how to add its arguments and how to run it."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]  # returns the exit code


def _existing_notebooks(paths: Sequence[str]) -> list[Path]:
    """The paths as Paths, or a UsageError naming the first that is not a notebook file."""
    notebooks = [Path(p) for p in paths]
    for p in notebooks:
        if p.suffix != ".ipynb":
            raise UsageError(f"{p} is not a notebook: expected a file ending in .ipynb")
        if not p.is_file():
            raise UsageError(f"no notebook at {p} (paths are read relative to {Path.cwd()})")
    return notebooks


def _default_notebooks(*, every: bool) -> list[Path]:
    """The course's notebooks ``NN_*.ipynb`` in ``notebooks/`` (``every``: all ``*.ipynb``)."""
    from leptonlab.course import course_notebooks, find_notebooks_dir

    folder = find_notebooks_dir()
    return sorted(folder.glob("*.ipynb")) if every else course_notebooks(folder)


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return seconds


# ---------------------------------------------------------------- doctor


def _add_doctor(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def _doctor(args: argparse.Namespace) -> int:
    from leptonlab.doctor import print_doctor

    print_doctor()
    return EXIT_OK


# ---------------------------------------------------------------- run


def _add_run(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        dest="quick",
        action="store_true",
        default=None,
        help="small, fast runs (LEPTONLAB_QUICK=1); default: as LEPTONLAB_QUICK says",
    )
    mode.add_argument("--full", dest="quick", action="store_false", help="the full course")
    parser.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        help="folder for executed notebooks and the report "
        "(default: runs/<quick|full>-<YYYYmmdd-HHMMSS>)",
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        type=_positive_seconds,
        help="limit per cell in seconds (default: none)",
    )
    parser.add_argument("--kernel", default="leptonlab", help="Jupyter kernel (default: leptonlab)")
    parser.add_argument(
        "notebooks",
        nargs="*",
        metavar="NOTEBOOK",
        help="notebooks to run, in order (default: notebooks/NN_*.ipynb)",
    )


def _run(args: argparse.Namespace) -> int:
    from leptonlab._env import quick_mode
    from leptonlab.course import run_course

    given = args.notebooks
    notebooks = _existing_notebooks(given) if given else _default_notebooks(every=False)
    quick = quick_mode() if args.quick is None else args.quick  # ValueError: bad LEPTONLAB_QUICK
    mode = "quick" if quick else "full"
    out = args.out or Path("runs") / f"{mode}-{datetime.now():%Y%m%d-%H%M%S}"
    print(f"running {len(notebooks)} notebook(s) in {mode} mode into {out}")
    report = run_course(
        notebooks, out_dir=out, quick=quick, kernel=args.kernel, timeout=args.timeout
    )
    ok = len(report.rows) - report.failed
    print(f"{ok} ok, {report.failed} failed; report: {report.markdown_path}")
    return EXIT_OK if report.ok else EXIT_FAILED


# ---------------------------------------------------------------- fetch


def _add_fetch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "datasets",
        nargs="*",
        metavar="DATASET",
        help="datasets to download and verify (default: all)",
    )


def _fetch(args: argparse.Namespace) -> int:
    try:
        from leptonlab.data import prefetch
    except ImportError:
        print(
            "leptonlab fetch: data layer unavailable (leptonlab.data.prefetch not found)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    rows = prefetch(args.datasets or None)  # prints one line per file; ValueError: unknown name
    failed = sum(row["state"] != "ok" for row in rows)
    print(f"{len(rows) - failed} file(s) ready, {failed} failed")
    return EXIT_FAILED if failed else EXIT_OK


# ---------------------------------------------------------------- notebook hygiene


def _add_strip(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "notebooks", nargs="+", metavar="NOTEBOOK", help="notebooks to clean in place"
    )


def _strip(args: argparse.Namespace) -> int:
    from leptonlab.course import strip_outputs

    for path in _existing_notebooks(args.notebooks):
        print(f"{'stripped' if strip_outputs(path) else 'already clean'}: {path}")
    return EXIT_OK


def _add_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "notebooks",
        nargs="*",
        metavar="NOTEBOOK",
        help="notebooks to check (default: notebooks/*.ipynb)",
    )


def _colab_problems(path: Path) -> list[str]:
    """A course notebook (notebooks/NN_*.ipynb) has the Open in Colab link and the install cell (issue 27)."""
    import nbformat

    from leptonlab.course._colab import colab_problems

    if path.resolve().parent.name != "notebooks" or not (
        path.name[:2].isdigit() and path.name[2:3] == "_"
    ):
        return []  # a scratch or student copy elsewhere: not one of the course's published notebooks
    try:
        return colab_problems(nbformat.read(path, as_version=4).cells, path.name)
    except Exception:  # an unreadable notebook: check_notebook already says so
        return []


def _check(args: argparse.Namespace) -> int:
    from leptonlab.course import check_notebook

    given = args.notebooks
    notebooks = _existing_notebooks(given) if given else _default_notebooks(every=True)
    bad = 0
    for path in notebooks:
        problems = check_notebook(path) + _colab_problems(path)
        bad += bool(problems)
        for problem in problems:
            print(f"{path}: {problem}")
    print(f"{len(notebooks)} notebook(s) checked, {bad} with problems")
    return EXIT_FAILED if bad else EXIT_OK


def _add_release(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "notebooks",
        nargs="*",
        metavar="NOTEBOOK",
        help="solution notebooks or a folder of them (default: the course's notebooks/)",
    )
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="folder for the student notebooks"
    )


def _release(args: argparse.Namespace) -> int:
    from leptonlab.course import release

    paths = [Path(p) for p in args.notebooks]
    if len(paths) == 1 and paths[0].is_dir():
        from leptonlab.course import course_notebooks

        notebooks = course_notebooks(paths[0])
    else:
        notebooks = (
            _existing_notebooks(args.notebooks) if paths else _default_notebooks(every=False)
        )
    for done in release(notebooks, args.out):
        print(
            f"{done.target}: {done.solutions} exercise(s) stubbed, {done.hidden_tests} hidden test block(s) removed"
        )
    return EXIT_OK


def _add_grade(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "submissions", metavar="SUBMISSIONS", help="folder of <student>/<notebook>.ipynb"
    )
    parser.add_argument(
        "--source",
        default=None,
        metavar="DIR",
        help="the solution notebooks (default: the course's notebooks/)",
    )
    parser.add_argument(
        "--out", default="grades.csv", metavar="CSV", help="where to write the table"
    )
    parser.add_argument(
        "--timeout", type=int, default=120, metavar="S", help="seconds per cell (default 120)"
    )
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=6144,
        metavar="MB",
        help="memory limit of each student's kernel (default 6144)",
    )
    parser.add_argument("--kernel", default="leptonlab", help="Jupyter kernel (default: leptonlab)")
    parser.add_argument(
        "--grace",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds between interrupting a cell past its time limit and killing its kernel (default 5)",
    )
    parser.add_argument(
        "--unsafe",
        action="store_true",
        help="grade without a sandbox when bubblewrap is missing (only for code you trust)",
    )


def _grade(args: argparse.Namespace) -> int:
    from leptonlab.course import IsolationError, find_notebooks_dir, grade, grades_csv

    source = Path(args.source) if args.source else find_notebooks_dir()
    try:
        rows = grade(
            args.submissions,
            source,
            timeout=args.timeout,
            memory_mb=args.memory_mb,
            kernel=args.kernel,
            grace=args.grace,
            unsafe=args.unsafe,
        )
    except IsolationError as err:
        raise UsageError(str(err)) from None
    Path(args.out).write_text(grades_csv(rows), encoding="utf-8")
    print(f"{len(rows)} graded exercise(s) written to {args.out}")
    return EXIT_OK


# ---------------------------------------------------------------- book


def _add_book(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run",
        metavar="RUN_DIR",
        type=Path,
        help="a folder of executed notebooks (leptonlab run --out RUN_DIR, or make test's)",
    )
    parser.add_argument(
        "--out",
        default=Path("build/book"),
        type=Path,
        metavar="DIR",
        help="where the site goes: DIR/html/index.html (default: build/book)",
    )


def _book(args: argparse.Namespace) -> int:
    from leptonlab.course._book import build_book, course_notebooks_in, site_problems

    html_dir = build_book(args.run, args.out)  # BookError (a ValueError): one line, exit 2
    problems = site_problems(html_dir, course_notebooks_in(args.run))
    for problem in problems:
        print(problem)
    print(f"book: {html_dir / 'index.html'} ({len(problems)} problem(s))")
    return EXIT_FAILED if problems else EXIT_OK


# ---------------------------------------------------------------- kernel


def _add_kernel(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action", choices=["install"], help="install: register the course's Jupyter kernel"
    )
    parser.add_argument("--name", default="leptonlab", help="kernel name (default: leptonlab)")
    parser.add_argument(
        "--display-name", default="Python (leptonlab)", help="name shown in JupyterLab"
    )
    parser.add_argument(
        "--user",
        action="store_true",
        help="install for this user (default: into this Python's environment, sys.prefix)",
    )
    parser.add_argument(
        "--jax-cache",
        default=None,
        metavar="DIR",
        help="JAX's compilation cache (default: <cache dir>/jax-compilation)",
    )
    parser.add_argument(
        "--glibc-tunables",
        default=None,
        metavar="VALUE",
        help="glibc malloc settings for the kernel (default: the course's; '' for none)",
    )


def _kernel(args: argparse.Namespace) -> int:
    from leptonlab.course import install_kernel

    where = install_kernel(
        name=args.name,
        display_name=args.display_name,
        user=args.user,
        jax_cache=args.jax_cache,
        tunables=args.glibc_tunables,
    )
    print(f"kernel {args.name!r} ({args.display_name}) installed in {where}")
    return EXIT_OK


# ---------------------------------------------------------------- predict


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _add_predict(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model_dir", metavar="MODEL_DIR", help="a folder written by leptonlab.deploy.export_model"
    )
    parser.add_argument(
        "images",
        nargs="+",
        metavar="IMAGE",
        help="8-bit grayscale images (PNG, ...) or .npy arrays of the model's input shape",
    )
    parser.add_argument(
        "--top",
        type=_positive_int,
        default=1,
        metavar="K",
        help="show the K most likely classes (default 1)",
    )


def _predict(args: argparse.Namespace) -> int:
    from leptonlab.deploy import predict_files

    for row in predict_files(
        args.model_dir, args.images, top=args.top
    ):  # InputError: one line, exit 2
        print(row)
    return EXIT_OK


COMMANDS: tuple[Command, ...] = (
    Command(
        "doctor",
        "versions, devices, memory settings, quick mode and datasets",
        _add_doctor,
        _doctor,
    ),
    Command(
        "run", "execute notebooks with papermill and write report.md / report.csv", _add_run, _run
    ),
    Command("fetch", "download and verify datasets into the cache", _add_fetch, _fetch),
    Command(
        "strip", "clear outputs and papermill metadata from notebooks, in place", _add_strip, _strip
    ),
    Command(
        "check-notebooks",
        "check notebooks against CONTRIBUTING.md's conventions",
        _add_check,
        _check,
    ),
    Command(
        "release",
        "write student notebooks: solutions stubbed, hidden tests removed",
        _add_release,
        _release,
    ),
    Command(
        "grade", "execute each student's notebooks and write a table of points", _add_grade, _grade
    ),
    Command(
        "book", "build the course book (HTML) from a folder of executed notebooks", _add_book, _book
    ),
    Command("kernel", "install the course's Jupyter kernel (what make does)", _add_kernel, _kernel),
    Command(
        "predict",
        "classify image files with an exported model, validating each input",
        _add_predict,
        _predict,
    ),
)

_DESCRIPTION = "The leptonlab command: check the environment, run the course, fetch data, keep notebooks clean."

_EPILOG = """examples:
  leptonlab doctor
  leptonlab run --quick                        # every notebooks/NN_*.ipynb, quick mode
  leptonlab run --full --out runs/final notebooks/03_gradients_and_chain_rule.ipynb
  leptonlab fetch mnist
  leptonlab strip notebooks/03_gradients_and_chain_rule.ipynb
  leptonlab kernel install                     # the "Python (leptonlab)" kernel for this Python
  leptonlab check-notebooks
  leptonlab release notebooks/ --out release/
  leptonlab grade submissions/ --source notebooks/ --out grades.csv
  leptonlab book runs/quick-20261206-120000 --out build/book
  leptonlab predict models/mnist digit.png --top 3
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subparser per entry of ``COMMANDS``."""
    parser = _Parser(
        prog="leptonlab",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        subparser = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(subparser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``leptonlab`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        runner = {command.name: command.run for command in COMMANDS}[args.command]
        return runner(args)
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else EXIT_OK
    except (UsageError, ValueError, FileNotFoundError) as err:
        print(f"leptonlab: error: {' '.join(str(err).split())}", file=sys.stderr)
        return EXIT_USAGE


__all__ = [  # the public names (explicit re-exports and definitions)
    "build_parser",
    "Command",
    "COMMANDS",
    "main",
    "UsageError",
]
