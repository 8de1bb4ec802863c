"""``hemodel sweep``: testing-frequency (and assay, start, switch timing) sweep."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import add_execution_arguments, add_scenario_arguments, execution, open_scenario
from .output import output_folder

EXAMPLE = """example:
  hemodel sweep scenarios/serena6_us.yaml --sweep testing_interval --patients 2000 --out sweep/

writes sweep.csv (one row per grid strategy: settings, cost, QALYs, NMB, frontier status),
sweep_optimal.csv (the optimal strategy and testing interval at each willingness to pay) and
sweep.png (cost, QALYs and NMB against the testing interval)
"""


def register(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="sweep the testing interval (and assay, start, switch timing) of a strategy",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_arguments(p, patients=2000)
    p.add_argument(
        "--sweep", help="name of the sweep in the scenario's sweeps: block (default: the first)"
    )
    p.add_argument("--out", type=Path, default=Path("sweep"), help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_execution_arguments(p)
    p.set_defaults(handler=run)


def no_sweeps(path) -> str:
    """The message for a scenario without a ``sweeps:`` block (``sweep``, ``report --sweep``)."""
    return (
        f"{path}: the scenario has no sweeps: block, so there is no sweep to run "
        "(see the sweeps: block of scenarios/serena6_us.yaml for an example)"
    )


def run(args) -> int:
    import sys

    import numpy as np
    import pandas as pd

    from ..analysis.sweep import analyse, expand
    from ..present import plots
    from ..present.payer_plots import sweep_plot
    from ..run.simulation import simulate

    path, scenario = open_scenario(args.scenario)
    if not scenario.sweeps:
        print(no_sweeps(path), file=sys.stderr)
        return 2
    name = args.sweep or next(iter(scenario.sweeps))
    expanded, grid = expand(scenario, name)
    results = simulate(
        expanded,
        patients=args.patients,
        seed=args.seed,
        progress=False if args.quiet else None,
        **execution(args),
    )
    full = results.summary()
    summary = results.ce_table(full).merge(full[["strategy", "tests"]])
    wtps = scenario.wtps
    top = max(wtps)
    grid_wtp = np.unique(np.concatenate([np.linspace(0, 20 * top, 201), wtps]))
    out = analyse(summary, grid, grid_wtp)
    cur = scenario.currency
    table = grid.merge(
        summary[["strategy", "cost", "cost_se", "qaly", "qaly_se", "tests"]], on="strategy"
    )
    table = table.merge(out["frontier"][["strategy", "status", "icer"]], on="strategy")
    table[f"nmb_at_{wtps[0]:.0f}"] = wtps[0] * table["qaly"] - table["cost"]
    with output_folder(args.out, "sweep") as folder:
        table.assign(currency=cur).to_csv(folder / "sweep.csv", index=False)
        out["optimal"].assign(currency=cur).to_csv(folder / "sweep_optimal.csv", index=False)
        ref = summary.set_index("strategy").loc[scenario.reference]
        axes = sweep_plot(table, cur, wtps[0], (ref["cost"], ref["qaly"]))
        plots.save(axes[0], folder / "sweep.png")

    show = table.sort_values("every_weeks")[
        ["strategy", "every_weeks", "cost", "qaly", "status", "icer"]
    ]
    show = show.rename(
        columns={
            "every_weeks": "interval (weeks)",
            "cost": f"cost ({cur})",
            "qaly": "QALYs",
            "icer": f"ICER ({cur}/QALY)",
        }
    )
    show[f"cost ({cur})"] = show[f"cost ({cur})"].map("{:,.0f}".format)
    show["QALYs"] = show["QALYs"].map("{:.4f}".format)
    show[f"ICER ({cur}/QALY)"] = show[f"ICER ({cur}/QALY)"].map(
        lambda x: "—" if pd.isna(x) else f"{x:,.0f}"
    )
    show["interval (weeks)"] = show["interval (weeks)"].map("{:g}".format)
    with pd.option_context("display.width", 200):
        print(
            f"Sweep '{name}' of {scenario.name}: {len(grid)} strategies, "
            f"{args.patients:,} patients, seed {args.seed}; costs discounted.\n"
        )
        print(show.to_string(index=False))
    best = out["optimal"]
    print("\nOptimal strategy by willingness to pay:")
    for w in wtps:
        row = best.loc[np.isclose(best["wtp"], w)].iloc[0]
        interval = "—" if pd.isna(row["every_weeks"]) else f"every {row['every_weeks']:g} weeks"
        print(f"  {cur} {w:,.0f}/QALY: {row['strategy']} ({interval})")
    changes = best[best["strategy"] != best["strategy"].shift()]
    print(
        "  (optimal changes at: "
        + ", ".join(f"{cur} {r.wtp:,.0f} → {r.strategy}" for r in changes.itertuples())
        + ")"
    )
    print(f"\nWrote sweep.csv, sweep_optimal.csv and sweep.png to {args.out}")
    return 0
