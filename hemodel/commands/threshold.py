"""``hemodel threshold``: value-based price of the switch drug or an assay at given WTPs."""

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
from .output import output_folder

EXAMPLE = """examples:
  hemodel threshold --price camizestrant --wtp 100000,150000 --out threshold/
  hemodel threshold scenarios/serena6_us.yaml --price guardant360 --patients 5000

Costs are linear in a price, so two runs (price 0 and the base price, same patients) give
each strategy's cost line exactly; the threshold price solves ICER = WTP.
writes price_lines.csv, threshold_prices.csv (vs the reference), threshold_frontier.csv
(price intervals where each strategy is the cost-effective choice), threshold_price.png
"""


def register(sub) -> None:
    p = sub.add_parser(
        "threshold",
        help="threshold (value-based) price of a switch drug or assay, with ICER-price plot",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_arguments(p, patients=2000)
    p.add_argument(
        "--price",
        help="switch therapy or assay name, or its path (e.g. assays.guardant360.cost); "
        "default: the switch therapy of the first switching strategy",
    )
    p.add_argument(
        "--wtp", help="willingness to pay per QALY, comma-separated (default: scenario's)"
    )
    p.add_argument("--min-price", type=float, default=0.0,
                   help="lowest price for the frontier intervals (default 0)")  # fmt: skip
    p.add_argument(
        "--out", type=Path, default=Path("threshold"), help="output folder (default threshold/)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_execution_arguments(p, resume=False)
    p.set_defaults(handler=run)


def run(args) -> int:
    import pandas as pd

    from ..analysis import threshold as th
    from ..present.payer_plots import icer_price_plot
    from ..present.plots import save

    path, scenario = open_scenario(args.scenario)
    try:
        wtps = numbers(args.wtp, "--wtp") if args.wtp else scenario.wtps
        item = args.price or th.default_price_item(scenario)
        lines = th.price_lines(
            scenario,
            item,
            patients=args.patients,
            seed=args.seed,
            progress=False if args.quiet else None,
            **execution(args),
        )
    except ValueError as exc:
        print(f"hemodel threshold: {exc}", file=sys.stderr)
        return 2
    prices = th.threshold_prices(lines, wtps)
    frontier = th.frontier_prices(lines, wtps, min_price=args.min_price)
    cur, unit = scenario.currency, lines["price_unit"].iloc[0]
    label = item.split(".")[1] if "." in item else item
    base = float(lines["base_price"].iloc[0])
    # files first, so they exist even if the printed output is cut short (e.g. piped to head)
    with output_folder(args.out, "threshold") as folder:
        lines.to_csv(folder / "price_lines.csv", index=False)
        prices.to_csv(folder / "threshold_prices.csv", index=False)
        frontier.to_csv(folder / "threshold_frontier.csv", index=False)
        save(icer_price_plot(lines, wtps, label=label), folder / "threshold_price.png")
    print(
        f"{scenario.name}: threshold price of {label} ({lines['price_parameter'].iloc[0]})\n"
        f"{args.patients:,} patients, seed {args.seed}; discounted costs and QALYs per patient; "
        f"base price {cur} {base:,.2f} ({unit}).\n"
    )

    def money(x: float) -> str:
        if pd.isna(x):
            return "—"
        return f"{x:,.0f}" if abs(x) != float("inf") else ("∞" if x > 0 else "−∞")

    shown = pd.DataFrame(
        {
            "Strategy": lines["strategy"],
            "QALYs": lines["qaly"].map("{:.4f}".format),
            f"Cost at price 0 ({cur})": lines["cost_at_zero"].map(money),
            f"Cost per +1 {unit} ({cur})": lines["cost_per_price_unit"].map("{:,.4f}".format),
            f"Cost at base price ({cur})": lines["cost_at_base"].map(money),
        }
    )
    print(
        "Cost lines: cost(price) = cost at 0 + cost per unit × price\n"
        + shown.to_string(index=False)
    )
    print(f"\nThreshold price vs {scenario.reference} (ICER = WTP)")
    shown = pd.DataFrame(
        {
            f"WTP ({cur}/QALY)": prices["wtp"].map(money),
            "Strategy": prices["strategy"],
            "ΔQALYs": prices["inc_qaly"].map("{:.4f}".format),
            f"ICER at base price ({cur}/QALY)": prices["icer_at_base"].map(money),
            f"ICER at price 0 ({cur}/QALY)": prices["icer_at_zero"].map(money),
            f"Threshold price ({unit})": prices["threshold_price"].map(money),
            "Note": prices["note"],
        }
    )
    print(shown.to_string(index=False))
    print(f"\nCost-effective choice by price (efficiency frontier), prices in {unit}")
    shown = pd.DataFrame(
        {
            f"WTP ({cur}/QALY)": frontier["wtp"].map(money),
            "Strategy": frontier["strategy"],
            "Price from": frontier["price_from"].map(money),
            "Price to": frontier["price_to"].map(money),
            "Frontier comparator": frontier["compared_with"].fillna("—"),
            f"Frontier ICER ({cur}/QALY)": frontier["frontier_icer"].map(money),
            "Note": frontier["note"],
        }
    ).fillna("")
    print(shown.to_string(index=False))
    print(
        f"\nWrote price_lines.csv, threshold_prices.csv, threshold_frontier.csv and "
        f"threshold_price.png to {args.out}"
    )
    return 0
