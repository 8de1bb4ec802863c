"""``hemodel budget``: undiscounted budget impact by cost category over 1-5 years."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .arguments import (
    add_execution_arguments,
    add_scenario_arguments,
    count,
    execution,
    numbers,
    open_scenario,
)
from .output import output_folder

EXAMPLE = """examples:
  hemodel budget                                  # the scenario's population: block
  hemodel budget --incident 5000 --uptake 0.2,0.4,0.6,0.8,0.9 --years 5 --out budget/
  hemodel budget scenarios/serena6_us.yaml --plan-members 1000000 --prevalent 200

The population (incident and prevalent patients, uptake, years, plan size) comes from the
scenario's population: block; each flag overrides its figure. Each year's incident patients
follow the strategy (share = that year's uptake) or the reference for good; costs are
undiscounted, by calendar year after adoption.
writes budget_impact.csv (year, strategy, category), budget_totals.csv (with per member per
month for a plan), annual_costs.csv (mean per patient by year since start),
budget_<strategy>.png and budget_overview.png
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
        help="new patients per year: one number or one per year, comma-separated "
        "(default: the scenario's population: incident)",
    )
    p.add_argument(
        "--uptake",
        help="share of each year's new patients on the strategy, one or one per year "
        "(default: the scenario's population: uptake, else 1)",
    )
    p.add_argument(
        "--years", type=count(1, 100), help="years (default: the scenario's budget_years, else 5)"
    )
    p.add_argument(
        "--prevalent",
        type=float,
        help="patients alive at the start of year 1 who started first-line therapy before "
        "(default: the scenario's, else 0)",
    )
    p.add_argument(
        "--plan-members",
        type=float,
        help="members of the health plan, for per-member-per-month figures "
        "(default: the scenario's)",
    )
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
    from ..present.payer_plots import budget_overview_plot, budget_plot
    from ..present.payer_tables import budget_table
    from ..present.plots import save

    path, scenario = open_scenario(args.scenario)
    strategies = args.strategies.split(",") if args.strategies else None
    try:
        who = budget.resolve_population(
            scenario,
            incident=numbers(args.incident, "--incident") if args.incident else None,
            uptake=numbers(args.uptake, "--uptake") if args.uptake else None,
            years=args.years,
            prevalent=args.prevalent,
            plan_members=args.plan_members,
        )
        table, costs = budget.run_budget_impact(
            scenario,
            who,
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
    tot = budget.totals(table, who.plan_members)
    # files first, so they exist even if the printed output is cut short (e.g. piped to head)
    subtitle = ", ".join(f"{a:,.0f}" for a in who.incident) + " incident patients/yr"
    if len(set(who.incident)) == 1:
        subtitle = f"{who.incident[0]:,.0f} incident patients/yr"
    subtitle += ", uptake " + " → ".join(f"{x:.0%}" for x in who.uptake)
    if who.prevalent:
        subtitle += f", {who.prevalent:,.0f} prevalent"
    pngs = []
    with output_folder(args.out, "budget") as folder:
        table.to_csv(folder / "budget_impact.csv", index=False)
        tot.to_csv(folder / "budget_totals.csv", index=False)
        costs.assign(currency=cur, basis="undiscounted").to_csv(
            folder / "annual_costs.csv", index=False
        )
        for s in dict.fromkeys(table["strategy"]):
            name = f"budget_{s}.png"
            save(budget_plot(table, s, subtitle), folder / name)
            pngs.append(name)
        order = list(scenario.strategies)
        save(budget_overview_plot(tot, cur, order, subtitle), folder / "budget_overview.png")
    pngs.append("budget_overview.png")
    print(
        f"{scenario.name}: budget impact vs {scenario.reference}, UNDISCOUNTED {cur} "
        f"({scenario.price_year} prices)\n{who.describe()}; "
        f"{args.patients:,} simulated patients, seed {args.seed}"
    )
    if who.prevalent:
        print(
            "prevalent patients: survivors of equal yearly cohorts that started in the "
            f"{budget.PAST_YEARS} years before year 1, counted as if on their strategy from start"
        )
    print()
    m = "{:,.0f}".format
    print(budget_table(tot).to_string(index=False))
    by_cat = table.pivot_table(
        index="category", columns="strategy", values="impact", aggfunc="sum", sort=False
    )
    by_cat.loc["total"] = by_cat.sum()
    print(f"\nImpact by category, sum over {who.years} years ({cur}, undiscounted)")
    with pd.option_context("display.width", 250, "display.float_format", m):
        print(by_cat.to_string())
    print(
        f"\nWrote budget_impact.csv, budget_totals.csv, annual_costs.csv, {', '.join(pngs)} "
        f"to {args.out}"
    )
    return 0
