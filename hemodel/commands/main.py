"""Command line: ``hemodel run | check | schema``.

Invalid scenarios print one message naming file, line and field, and exit with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

from .. import __version__
from ..engine.choice import EngineChoiceError
from ..scenario.load import ScenarioError, scenario_hash
from ..scenario.problems import shorten
from .arguments import (
    DEFAULT_SCENARIO_HELP,
    UsageError,
    add_execution_arguments,
    add_scenario_arguments,
    execution,
    open_scenario,
)
from .output import check_out, os_message, output_folder

EXIT_INVALID = 2  # bad input
EXIT_ENVIRONMENT = 1  # disk full, permission, unreachable scheduler, out of memory, a bug

#: Further subcommands, one module each in hemodel/commands/ with ``register(subparsers)``;
#: each registered parser sets ``handler`` (a function of the parsed args returning an exit code).
COMMANDS: tuple[str, ...] = (
    "psa",
    "evsi",
    "sweep",
    "dsa",
    "threshold",
    "budget",
    "compare",
    "init",
    "docs",
    "report",
    "convergence",
    "validate",
    "calibrate",
    "app",
)

_EXAMPLES = """examples:
  hemodel run                                   # default scenario (SERENA-6, US payer)
  hemodel run scenarios/serena6_uk.yaml --patients 5000 --seed 7 --out results/uk
  hemodel check my_scenario.yaml                # validate only
  hemodel schema > scenario.schema.json         # JSON Schema for editor autocompletion
"""


class _Parser(argparse.ArgumentParser):
    """argparse, with the values its messages echo cut (``--engine`` given a million
    characters must not print a million characters)."""

    def error(self, message: str):
        super().error(shorten(message, 500))


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hemodel",
        description="Discrete-event health-economic model of ctDNA-guided ESR1 monitoring.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hemodel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="simulate every strategy and print summary and incremental tables",
        epilog="example:\n  hemodel run scenarios/serena6_us.yaml --patients 10000 --out out/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_arguments(run, patients=2000)
    run.add_argument("--out", type=Path, help="folder for summary.csv, incremental.csv, ...")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    add_execution_arguments(run)

    check = sub.add_parser(
        "check",
        help="validate a scenario file without running it",
        epilog="examples:\n  hemodel check scenarios/serena6_uk.yaml\n"
        "  hemodel check my_scenario.yaml --strict   # warnings fail too (for CI)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("scenario", nargs="?", help=DEFAULT_SCENARIO_HELP)
    check.add_argument(
        "--strict", action="store_true", help="treat warnings as errors (exit code 2)"
    )

    sub.add_parser(
        "schema",
        help="print the JSON Schema of scenario files",
        epilog="example:\n  hemodel schema > scenario.schema.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for name in COMMANDS:
        importlib.import_module(f"hemodel.commands.{name}").register(sub)
    return parser


def _run(args) -> int:
    import pandas as pd

    from ..present.tables import frontier_table, incremental_table, sequential, summary_table
    from ..run.simulation import simulate

    path, scenario = open_scenario(args.scenario)
    if args.out:
        check_out(args.out)
    progress = None if not args.quiet else False
    results = simulate(
        scenario, patients=args.patients, seed=args.seed, progress=progress, **execution(args)
    )
    if args.out:  # files first: output piped into e.g. `head` must not lose them
        with output_folder(args.out, "run") as staging:
            _write(results, args, path, scenario, staging)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(
            f"{scenario.name} — {args.patients:,} patients, seed {args.seed} "
            f"({results.metadata['engine']} engine)"
        )
        print(
            f"Costs in {scenario.currency} ({scenario.price_year} prices); costs and QALYs "
            f"discounted at {scenario.discount_rates.costs.value:.1%} / "
            f"{scenario.discount_rates.qalys.value:.1%} a year; means per patient.\n"
        )
        print("Summary by strategy")
        print(summary_table(results).to_string(index=False))
        print(f"\nIncremental analysis against '{scenario.reference}'")
        print(incremental_table(results).to_string(index=False))
        print("\nSequential analysis (each strategy against the next cheaper non-dominated one)")
        print(frontier_table(sequential(results), scenario.currency).to_string(index=False))
    if args.out:
        print(
            "\nWrote summary.csv, incremental.csv, sequential.csv, sequential.tex, patients.csv "
            f"and manifest.json to {args.out}"
        )
    return 0


def _write(results, args, path: Path, scenario, out: Path) -> None:
    """The run's tables and manifest, into ``out`` (a staging folder: see commands.output)."""
    from ..present.tables import sequential

    summary = results.summary()
    summary.insert(1, "currency", results.currency)
    summary.to_csv(out / "summary.csv", index=False)
    inc = results.incremental()
    inc.insert(2, "currency", results.currency)
    inc.insert(3, "wtp_per_qaly", results.wtp)
    inc.to_csv(out / "incremental.csv", index=False)
    frontier = sequential(results)
    frontier.insert(1, "currency", results.currency)
    frontier.to_csv(out / "sequential.csv", index=False)
    (out / "sequential.tex").write_text(sequential_latex(frontier, results.currency))
    results.patients.to_csv(out / "patients.csv", index=False)
    manifest = dict(
        results.metadata,
        scenario_file=str(path),
        scenario_hash=scenario_hash(scenario),
        strategies=results.strategies,
        reference=results.reference,
    )
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def sequential_latex(frontier, currency: str) -> str:
    """The journal's sequential ICER table as a LaTeX ``tabular`` (booktabs), ready to paste
    into a manuscript; Word users open sequential.csv or the HTML report's table."""
    from ..present.tables import frontier_table

    table = frontier_table(frontier, currency)
    return table.to_latex(index=False, escape=True, column_format="lrrlrrr")


def _check(args) -> int:
    from ..scenario.load import check_scenario

    checked = check_scenario(args.scenario)
    scenario = checked.scenario
    shown = args.scenario or checked.path
    for problem in checked.notes:
        print(f"note: {problem}")
    if checked.warnings:
        noun = "warning" if len(checked.warnings) == 1 else "warnings"
        label = "error" if args.strict else "warning"
        print(f"{shown}: {len(checked.warnings)} {noun}" + (" (--strict)" if args.strict else ""))
        for problem in checked.warnings:
            print(f"  {label}: {problem}")
        if args.strict:
            return EXIT_INVALID
    print(
        f"{shown}: OK — '{scenario.name}', {len(scenario.strategies)} strategies "
        f"(reference: {scenario.reference}), currency {scenario.currency} "
        f"{scenario.price_year}, hash {scenario_hash(scenario)[:12]}"
    )
    return 0


def _schema(args) -> int:
    from ..scenario.schema import Scenario

    print(json.dumps(Scenario.model_json_schema(by_alias=True), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit code is 0 (done), 2 (bad input: the scenario, a flag, the
    ``--out`` or ``--resume`` folder), 1 (the environment: disk full, permission, an
    unreachable scheduler, out of memory, or a bug) or 130 (Ctrl-C). Every failure prints
    one message, never a traceback (``HEMODEL_DEBUG=1`` shows it)."""
    args = _parser().parse_args(argv)
    core = {"run": _run, "check": _check, "schema": _schema}
    handler = core.get(args.command) or args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - one message per failure, see failure_message
        if os.environ.get("HEMODEL_DEBUG"):
            raise
        code, message = failure_message(args.command, exc)
        print(message, file=sys.stderr)
        return code


def failure_message(command: str, exc: Exception) -> tuple[int, str]:
    """The exit code and the one message for an exception that ended ``command``."""
    from ..run.checkpoint import CheckpointMismatch
    from .output import OutputError

    name = f"hemodel {command}"
    if isinstance(exc, ScenarioError):
        return EXIT_INVALID, str(exc)
    if isinstance(exc, EngineChoiceError):  # --engine array on a finite lab
        return EXIT_INVALID, f"{name}: --engine: {shorten(exc, 400)}"
    if isinstance(exc, UsageError | OutputError | CheckpointMismatch):
        return EXIT_INVALID, f"{name}: {shorten(exc, 2000)}"
    if isinstance(exc, MemoryError):
        return EXIT_ENVIRONMENT, f"{name}: out of memory: use fewer patients or samples"
    if isinstance(exc, OSError):
        return EXIT_ENVIRONMENT, f"{name}: {os_message(exc)}"
    return EXIT_ENVIRONMENT, (
        f"{name}: internal error ({type(exc).__name__}: {shorten(exc, 300)}). This is a "
        "bug in hemodel: please report it with the command and scenario you used "
        "(HEMODEL_DEBUG=1 shows the traceback)."
    )


if __name__ == "__main__":
    sys.exit(main())
