"""``hemodel dsa``: one-way (tornado) and two-way (heat map) deterministic sensitivity analysis."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .arguments import (
    add_execution_arguments,
    add_scenario_arguments,
    count,
    execution,
    open_scenario,
)
from .output import output_folder

EXAMPLE = """examples:
  hemodel dsa --comparison ctdna_q12w --patients 1000 --out dsa/
  hemodel dsa scenarios/serena6_us.yaml --comparison ctdna_q12w --measure icer \\
      --two-way switch_therapies.camizestrant.cost natural_history.esr1_progression.median

Every parameter with a range (range: [low, high], or the 2.5/97.5 percentiles of its psa:
distribution) is set to its low and high value; only the reference and the comparison are
simulated, all runs on the same patients (common random numbers).
writes dsa.csv (sorted by swing), tornado.png, and with --two-way dsa_two_way.csv, two_way.png
"""


def register(sub) -> None:
    p = sub.add_parser(
        "dsa",
        help="deterministic sensitivity analysis: tornado and two-way heat map",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_arguments(p, patients=1000, patients_help="patients per run")
    p.add_argument(
        "--comparison",
        help="strategy compared with the reference (default: the first monitoring strategy)",
    )
    p.add_argument("--reference", help="reference strategy (default: the scenario's)")
    p.add_argument(
        "--measure",
        choices=("inmb", "icer"),
        default="inmb",
        help="outcome: incremental net monetary benefit at --wtp (default) or ICER",
    )
    p.add_argument("--wtp", type=float, help="willingness to pay per QALY (default: scenario's)")
    p.add_argument("--out", type=Path, default=Path("dsa"), help="output folder (default dsa/)")
    p.add_argument(
        "--top", type=count(1, 1000), default=15, help="parameters in the tornado (default 15)"
    )
    p.add_argument(
        "--two-way",
        nargs=2,
        metavar=("X", "Y"),
        help="also a two-way analysis of these two parameter paths",
    )
    p.add_argument(
        "--steps", type=count(2, 101), default=5, help="grid points per two-way axis (default 5)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_execution_arguments(p, resume=False)
    p.set_defaults(handler=run)


def run(args) -> int:
    import pandas as pd

    from ..analysis import dsa
    from ..present.plots import save
    from ..present.sensitivity_plots import heatmap, tornado
    from ..present.tables import short_number

    path, scenario = open_scenario(args.scenario)
    if len(scenario.strategies) < 2:
        print("the scenario needs at least two strategies", file=sys.stderr)
        return 2
    comparison = args.comparison or dsa.default_comparison(scenario)
    progress = False if args.quiet else None
    common = dict(
        reference=args.reference,
        measure=args.measure,
        wtp=args.wtp,
        patients=args.patients,
        seed=args.seed,
        progress=progress,
        **execution(args),
    )
    try:
        table = dsa.one_way(scenario, comparison, **common)
        grid = None
        if args.two_way:
            grid = dsa.two_way(scenario, comparison, *args.two_way, steps=args.steps, **common)
    except (KeyError, ValueError) as exc:
        print(f"hemodel dsa: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    # files first, so they exist even if the printed output is cut short (e.g. piped to head)
    written = ["dsa.csv", "tornado.png"]
    with output_folder(args.out, "dsa") as folder:
        table.to_csv(folder / "dsa.csv", index=False)
        save(tornado(table, top=args.top), folder / "tornado.png")
        if grid is not None:
            grid.to_csv(folder / "dsa_two_way.csv", index=False)
            save(heatmap(grid), folder / "two_way.png")
            written += ["dsa_two_way.csv", "two_way.png"]
    first = table.iloc[0]
    cur, wtp = scenario.currency, float(first["wtp"])
    what = (
        f"INMB at {cur} {wtp:,.0f}/QALY ({cur} per patient)"
        if args.measure == "inmb"
        else f"ICER ({cur}/QALY)"
    )
    print(
        f"{scenario.name}: one-way sensitivity of {comparison} vs {first['reference']}\n"
        f"{args.patients:,} patients per run, seed {args.seed}, common random numbers; "
        f"outcome: {what}, discounted. Base: {float(first['base']):,.0f}\n"
    )
    shown = pd.DataFrame(
        {
            "Parameter": table["parameter"],
            "Low": table["low"].map(short_number),
            "High": table["high"].map(short_number),
            "Unit": table["unit"],
            f"At low ({cur})": table["outcome_low"].map("{:,.0f}".format),
            f"At high ({cur})": table["outcome_high"].map("{:,.0f}".format),
            f"Swing ({cur})": table["swing"].map("{:,.0f}".format),
            "Note": table["used"].map({True: "", False: "not used by these strategies"}),
        }
    )
    with pd.option_context("display.width", 250, "display.max_rows", 500):
        print(shown.to_string(index=False))
    if grid is not None:
        wide = grid.pivot(index="y_value", columns="x_value", values="outcome")
        # parameter values as themselves (4 significant digits), not rounded like the outcome
        wide.index = wide.index.map(lambda v: short_number(v, 4))
        wide.columns = wide.columns.map(lambda v: short_number(v, 4))
        wide.index.name, wide.columns.name = args.two_way[1], args.two_way[0]
        print(f"\nTwo-way: {what}; rows {args.two_way[1]}, columns {args.two_way[0]}")
        with pd.option_context("display.width", 250, "display.float_format", "{:,.0f}".format):
            print(wide.to_string())
    print(f"\nWrote {', '.join(written)} to {args.out}")
    return 0
