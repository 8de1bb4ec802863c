"""``hemodel compare``: two or more scenarios side by side (inputs that differ, results,
decisions at each willingness-to-pay)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .arguments import (
    add_execution_arguments,
    add_scenario_arguments,
    execution,
    numbers,
    open_scenario,
)
from .output import check_out, output_folder

EXAMPLE = """examples:
  hemodel compare serena6_us serena6_uk --patients 2000 --out compare/
  hemodel compare scenarios/serena6_uk.yaml my_uk_variant.yaml --wtp 20000,30000

Every scenario runs with the same patients and seed (common random numbers). Money stays in
each scenario's currency. --out writes compare_inputs.csv, compare_results.csv,
compare_decisions.csv, compare.png and compare.html (self-contained).
"""

NAME = "hemodel compare"


def register(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="compare scenarios side by side: inputs that differ, results, decisions",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_arguments(
        p,
        patients=2000,
        patients_help="patients, the same for every scenario",
        scenario_help="a scenario YAML or bundled name, e.g. serena6_us",
        scenario_required=True,
    )
    p.add_argument(
        "others", nargs="*", metavar="SCENARIO", help="the scenarios to compare with the first"
    )
    p.add_argument(
        "--wtp",
        help="willingness-to-pay thresholds to decide at in every scenario besides its own, "
        "comma-separated, each in the scenario's currency per QALY",
    )
    p.add_argument("--out", type=Path, help="folder for the CSV files, compare.png, compare.html")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_execution_arguments(p, resume=False)
    p.set_defaults(handler=run)


def keys(names: list[str]) -> list[str]:
    """A unique column heading per scenario argument: its file stem, ``tiny (2)`` if repeated."""
    out: list[str] = []
    for name in names:
        stem = Path(name).stem
        out.append(stem if stem not in out else f"{stem} ({out.count(stem) + 1})")
    return out


def run(args) -> int:
    from ..analysis import compare
    from ..present import compare_report

    names = [args.scenario, *args.others]
    try:
        common = _checked(args, names)
    except ValueError as exc:
        print(f"{NAME}: {exc}", file=sys.stderr)
        return 2
    opened = [open_scenario(name) for name in names]
    _warn_repeats(names, [path for path, _ in opened])
    scenarios = dict(zip(keys(names), (s for _, s in opened), strict=True))
    cases = compare.simulate_cases(
        scenarios, args.patients, args.seed, progress=False if args.quiet else None,
        **execution(args),
    )  # fmt: skip
    inputs = compare.differing_inputs(cases)
    results = compare.strategy_results(cases)
    decisions = compare.decisions(cases, common)
    about = (
        f"{', '.join(f'{c.key} ({c.scenario.name})' for c in cases)}; {args.patients:,} "
        f"patients and seed {args.seed} for every scenario (common random numbers)"
    )
    if args.out:  # files first, so they exist even if the printed output is cut short
        with output_folder(args.out, "compare") as folder:
            _write(folder, inputs, results, decisions, list(scenarios), about)
    print(f"Comparing {about}\n")
    print(compare_report.console(inputs, results, decisions, list(scenarios)))
    if args.out:
        print(
            "\nWrote compare_inputs.csv, compare_results.csv, compare_decisions.csv, "
            f"compare.png and compare.html to {args.out}"
        )
    return 0


def _checked(args, names: list[str]) -> list[float]:
    """The common WTPs of ``--wtp`` (currency per QALY); a ValueError for unusable arguments."""
    if len(names) < 2:
        raise ValueError("give at least two scenarios to compare")
    if args.out:
        check_out(args.out)
    common = numbers(args.wtp, "--wtp") if args.wtp else []
    if any(not 0 <= w < float("inf") for w in common):
        raise ValueError(f"--wtp must be numbers >= 0 (per QALY), got {args.wtp!r}")
    return common


def _warn_repeats(names: list[str], paths: list[Path]) -> None:
    """A warning on stderr for each scenario file given more than once."""
    seen: dict[Path, str] = {}
    for name, path in zip(names, paths, strict=True):
        where = path.resolve()
        if where in seen:
            twice = (
                f"{name} is given twice"
                if name == seen[where]
                else (f"{seen[where]} and {name} are the same file")
            )
            print(f"warning: {twice}: their results will be identical", file=sys.stderr)
        seen.setdefault(where, name)


def _write(out: Path, inputs, results, decisions, keys: list[str], about: str) -> None:
    """The three tables as CSV, the planes as PNG and the page as HTML, into ``out``."""
    from ..present import compare_report
    from ..present.plots import style

    labelled = inputs.copy()
    labelled.insert(1, "label", inputs["input"].map(compare_report.input_label))
    labelled.to_csv(out / "compare_inputs.csv", index=False)
    results.to_csv(out / "compare_results.csv", index=False)
    decisions.to_csv(out / "compare_decisions.csv", index=False)
    figure = compare_report.ce_planes(results, decisions, keys)
    with style():
        figure.savefig(out / "compare.png")
    page = compare_report.page(inputs, results, decisions, keys, about, figure)
    (out / "compare.html").write_text(page, encoding="utf-8")
