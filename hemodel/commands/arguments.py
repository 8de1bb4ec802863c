"""Subcommands of the ``hemodel`` command line beyond run/check/schema.

Each module defines ``register(subparsers)``, which adds one subparser with an example in its
epilog and sets ``handler=<function(args) -> exit code>``. Modules import heavy dependencies
inside their handler, so ``hemodel --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..scenario.problems import shorten

DEFAULT_SCENARIO_HELP = "scenario YAML or bundled name, e.g. tiny (default: SERENA-6 US payer)"


#: Largest counts the command line takes (patients per run or sample, PSA samples): beyond
#: them tables no longer fit in memory.
MAX_PATIENTS = 10_000_000
MAX_SAMPLES = 1_000_000


def positive_int(text: str, minimum: int = 1, maximum: int | None = None) -> int:
    """An argparse type: a whole number from ``minimum`` to ``maximum``."""
    try:
        value = int(text)
    except ValueError:
        digits = text.strip().lstrip("+-").isdigit()
        what = "is far too large" if digits else "is not a whole number"
        raise argparse.ArgumentTypeError(f"{shorten(text)!r} {what}") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and <= {maximum:,}" if maximum is not None else ""
        raise argparse.ArgumentTypeError(
            f"must be a whole number >= {minimum}{upper}, got {shorten(text)}"
        )
    return value


def count(minimum: int = 1, maximum: int | None = None):
    """An argparse type for a count: :func:`positive_int` from ``minimum`` to ``maximum``."""

    def parse(text: str) -> int:
        return positive_int(text, minimum, maximum)

    parse.__name__ = "count"  # argparse names the type in its messages
    return parse


#: Seeds are whole numbers from 0 to 2**63 − 1 (:data:`hemodel.model.random.MAX_SEED`, not
#: imported here: NumPy would load at start-up).
MAX_SEED = 2**63 - 1


class UsageError(ValueError):
    """A bad command-line value found after parsing (exit code 2, one message)."""


def seed(text: str) -> int:
    """An argparse type: a random seed, a whole number from 0 to 2**63 − 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shorten(text)!r} is not a whole number") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"{shorten(text)} is out of range: a seed is a whole number from 0 to "
            f"{MAX_SEED:,} (2**63 - 1)"
        )
    return value


def numbers(text: str, option: str) -> list[float]:
    """``"0.1,0.2"`` → ``[0.1, 0.2]``; a ValueError naming ``option`` otherwise."""
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        msg = f"{option} must be numbers separated by commas, got {shorten(text)!r}"
        raise ValueError(msg) from None


def add_scenario_arguments(
    parser,
    *,
    patients: int,
    patients_help: str = "patients",
    scenario_help: str = DEFAULT_SCENARIO_HELP,
    scenario_required: bool = False,
    min_patients: int = 1,
) -> None:
    """The arguments every simulating command shares: ``scenario``, ``--patients``, ``--seed``,
    ``--engine``."""
    if scenario_required:
        parser.add_argument("scenario", help=scenario_help)
    else:
        parser.add_argument("scenario", nargs="?", help=scenario_help)
    parser.add_argument(
        "--patients",
        type=count(min_patients, MAX_PATIENTS),
        default=patients,
        help=f"{patients_help} (default {patients})",
    )
    parser.add_argument(
        "--seed", type=seed, default=1, help="random seed, 0 to 2**63 - 1 (default 1)"
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "simpy", "array"),
        default="auto",
        help="simpy: the discrete-event reference model (any lab, event traces); array: the "
        "exact vectorised engine, ~50x faster, unlimited lab only; auto (default): array "
        "when the lab is unlimited. Both give the same results.",
    )


def add_execution_arguments(parser, resume: bool = True) -> None:
    """``--workers``, ``--backend``, ``--scheduler`` and (for commands that run one
    simulation or one PSA) ``--resume`` (see docs/cluster.md).

    Results are identical whichever back-end runs them; ``--resume`` keeps finished chunks in
    a folder so an interrupted run continues where it stopped."""
    group = parser.add_argument_group("execution (results are identical on every back-end)")
    group.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="worker processes, at most 4 per core (default: all cores for large runs, "
        "else 1; never more than there are tasks)",
    )
    group.add_argument(
        "--backend",
        choices=("serial", "processes", "dask"),
        help="where to run (default: serial for 1 worker, else processes)",
    )
    group.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="a running Dask scheduler to send the work to (implies dask)",
    )
    if not resume:
        return
    group.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="checkpoint folder: keeps finished chunks; rerun the same "
        "command to resume after an interruption",
    )


def open_scenario(name: str | None):
    """``(path, scenario)`` for a command's scenario argument (a file, a bundled name or None
    for the default); warnings and notes of :func:`~hemodel.scenario.load.check_scenario`
    go to stderr, errors raise ``ScenarioError`` (exit code 2)."""
    import sys

    from ..scenario.load import check_scenario

    checked = check_scenario(name)
    for problem in checked.warnings:
        print(f"warning: {problem}", file=sys.stderr)
    for problem in checked.notes:
        print(f"note: {problem}", file=sys.stderr)
    return checked.path, checked.scenario


def execution(args) -> dict:
    """The keyword arguments of simulate()/run_psa() for the execution flags and ``--engine``;
    :class:`UsageError` for flags that cannot work together (``--workers`` over 4 per core, a
    malformed ``--scheduler`` address, ``--scheduler`` with another ``--backend``)."""
    from ..run.parallel import resolve

    try:
        resolve(args.workers, args.backend, args.scheduler)
    except ValueError as exc:
        why = str(exc).removesuffix("; more need oversubscribe=True")
        raise UsageError(f"--workers/--backend/--scheduler: {why}") from None
    options = {"workers": args.workers, "backend": args.backend, "scheduler": args.scheduler}
    options["engine"] = args.engine
    if getattr(args, "resume", None) is not None:
        options["checkpoint"] = args.resume
    return options
