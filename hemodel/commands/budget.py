"""``hemodel budget``: undiscounted budget impact by cost category over 1-5 years."""

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

EXAMPLE = """examples:
  hemodel budget --incident 5000 --uptake 0.2,0.4,0.6,0.8,0.9 --years 5 --out budget/
  hemodel budget scenarios/serena6_us.yaml --strategies ctdna_q12w,ddpcr_q8w --patients 5000

Each year's incident patients follow the strategy (share = that year's uptake) or the
reference for good; costs are undiscounted, by calendar year after adoption.
writes budget_impact.csv (year, strategy, category), budget_totals.csv, annual_costs.csv
(mean per patient by year since start) and budget_<strategy>.png
"""


def register(sub) -> None:
    p = sub.add_parser(
        "budget",
        help="budget impact for a population: annual undiscounted cost by category",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_arguments(p, patients=2000)
    p.add_argument(
        "--incident",
        default="5000",
        help="new patients per year: one number or one per year, comma-separated (default 5000)",
    )
    p.add_argument(
        "--uptake",
        default="0.2,0.4,0.6,0.8,0.9",
        help="share of each year's new patients on the strategy, one or one per year "
        "(default 0.2,0.4,0.6,0.8,0.9)",
    )
    p.add_argument("--years", type=int, default=5, help="years (default 5)")
    p.add_argument(
        "--strategies", help="comma-separated strategies (default: all but the reference)"
    )
    p.add_argument(
        "--out", type=Path, default=Path("budget"), help="output folder (default budget/)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_execution_arguments(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    import pandas as pd

    from ..analysis import budget
    from ..present.payer_plots import budget_plot
    from ..present.plots import save

    path, scenario = open_scenario(args.scenario)
    strategies = args.strategies.split(",") if args.strategies else None
    try:
        incident = numbers(args.incident, "--incident")
        uptake = numbers(args.uptake, "--uptake")
        table, costs = budget.run_budget_impact(
            scenario,
            incident,
            uptake,
            args.years,
            strategies=strategies,
            patients=args.patients,
            seed=args.seed,
            progress=False if args.quiet else None,
            **execution(args),
        )
    except ValueError as exc:
        print(f"hemodel budget: {exc}", file=sys.stderr)
        return 2
    cur = scenario.currency
    tot = budget.totals(table)
    n, u = budget.population(incident, uptake, args.years)
    # files first, so they exist even if the printed output is cut short (e.g. piped to head)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "budget_impact.csv", index=False)
    tot.to_csv(args.out / "budget_totals.csv", index=False)
    costs.assign(currency=cur, basis="undiscounted").to_csv(
        args.out / "annual_costs.csv", index=False
    )
    subtitle = f"{n[0]:,.0f} incident patients/yr, uptake " + " → ".join(f"{x:.0%}" for x in u)
    if len(set(n)) > 1:
        subtitle = (
            "incident "
            + ", ".join(f"{x:,.0f}" for x in n)
            + "; uptake "
            + ", ".join(f"{x:.0%}" for x in u)
        )
    pngs = []
    for s in dict.fromkeys(table["strategy"]):
        name = f"budget_{s}.png"
        save(budget_plot(table, s, subtitle), args.out / name)
        pngs.append(name)
    pop = ", ".join(f"{a:,.0f} × {b:.0%}" for a, b in zip(n, u, strict=True))
    print(
        f"{scenario.name}: budget impact vs {scenario.reference}, UNDISCOUNTED {cur} "
        f"({scenario.price_year} prices)\n"
        f"incident patients × uptake by year: {pop}; no prevalent patients; "
        f"{args.patients:,} simulated patients, seed {args.seed}\n"
    )
    m = "{:,.0f}".format
    shown = pd.DataFrame(
        {
            "Strategy": tot["strategy"],
            "Year": tot["year"],
            f"Reference world ({cur})": tot["reference_cost"].map(m),
            f"Strategy world ({cur})": tot["strategy_cost"].map(m),
            f"Impact ({cur})": tot["impact"].map(m),
            f"Cumulative impact ({cur})": tot["cumulative_impact"].map(m),
        }
    )
    print(shown.to_string(index=False))
    by_cat = table.pivot_table(
        index="category", columns="strategy", values="impact", aggfunc="sum", sort=False
    )
    by_cat.loc["total"] = by_cat.sum()
    print(f"\nImpact by category, sum over {args.years} years ({cur}, undiscounted)")
    with pd.option_context("display.width", 250, "display.float_format", m):
        print(by_cat.to_string())
    print(
        f"\nWrote budget_impact.csv, budget_totals.csv, annual_costs.csv, {', '.join(pngs)} "
        f"to {args.out}"
    )
    return 0
