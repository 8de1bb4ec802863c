"""Subcommands of the ``hemodel`` command line beyond run/check/schema.

Each module defines ``register(subparsers)``, which adds one subparser with an example in its
epilog and sets ``handler=<function(args) -> exit code>``. Modules import heavy dependencies
inside their handler, so ``hemodel --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path


def add_execution_arguments(parser) -> None:
    """``--workers``, ``--backend``, ``--scheduler`` and ``--resume`` (see docs/cluster.md).

    Results are identical whichever back-end runs them; ``--resume`` keeps finished chunks in
    a folder so an interrupted run continues where it stopped."""
    group = parser.add_argument_group("execution (results are identical on every back-end)")
    group.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: all cores for large runs, else 1)",
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
    group.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="checkpoint folder: keeps finished chunks; rerun the same "
        "command to resume after an interruption",
    )


def execution(args) -> dict:
    """The keyword arguments of simulate()/run_psa() for the execution flags."""
    return {
        "workers": args.workers,
        "backend": args.backend,
        "scheduler": args.scheduler,
        "checkpoint": args.resume,
    }
