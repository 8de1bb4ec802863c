"""``hemodel convergence``: running mean and standard error of incremental NMB by patients
simulated, and the patients needed for a chosen precision (NICE DSU TSD 15)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import add_scenario_arguments, open_scenario
from .output import output_folder

EXAMPLE = """example:
  hemodel convergence scenarios/serena6_us.yaml --patients 5000 --strategy ctdna_q12w \\
      --precision 2000 --out convergence/

prints, for each strategy against the reference, mean INMB with its standard error, the
per-patient sd, the patients needed for the target standard error (--precision, in the
scenario currency; default the value of 0.01 QALY) and to resolve the sign of INMB; writes
convergence.csv (running mean/SE by patients), convergence_summary.csv and convergence.png
"""


def register(sub) -> None:
    p = sub.add_parser(
        "convergence",
        help="how mean incremental NMB and its standard error settle as patients are added",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_arguments(p, patients=2000, min_patients=2)
    p.add_argument(
        "--strategy",
        action="append",
        help="strategy to follow against the reference (repeatable; default: all)",
    )
    p.add_argument(
        "--precision",
        type=float,
        help="target standard error of mean INMB, in the currency (default: WTP × 0.01 QALY)",
    )
    p.add_argument("--wtp", type=float, help="willingness to pay per QALY (default: the first)")
    p.add_argument("--out", type=Path, default=Path("convergence"), help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args) -> int:
    import sys

    from ..analysis.convergence import convergence, report
    from ..present import plots
    from ..present.credibility_plots import convergence_plot
    from ..run.simulation import simulate

    path, scenario = open_scenario(args.scenario)
    names = args.strategy or []
    unknown = [s for s in names if s not in scenario.strategies]
    if unknown:
        print(
            f"unknown strategy {unknown[0]!r}; choose from {', '.join(scenario.strategies)}",
            file=sys.stderr,
        )
        return 2
    if names and set(names) == {scenario.reference}:
        print(f"{scenario.reference!r} is the reference; name another strategy", file=sys.stderr)
        return 2
    if args.precision is not None and args.precision <= 0:
        print("--precision must be a positive amount (a standard error)", file=sys.stderr)
        return 2
    if names:  # simulate only the reference and the strategies followed
        keep = {scenario.reference, *names}
        strategies = {k: v for k, v in scenario.strategies.items() if k in keep}
        scenario = scenario.model_copy(update={"strategies": strategies})
    progress = None if not args.quiet else False
    results = simulate(
        scenario, patients=args.patients, seed=args.seed, progress=progress, engine=args.engine
    )
    conv = convergence(
        results, [s for s in names if s != scenario.reference] or None,
        wtp=args.wtp, precision=args.precision,
    )  # fmt: skip
    print(f"{scenario.name} — {args.patients:,} patients, seed {args.seed}")
    print(report(conv))
    summary = conv.summary.copy()
    summary.insert(1, "currency", conv.currency)
    summary.insert(2, "wtp_per_qaly", conv.wtp)
    with output_folder(args.out, "convergence") as out:
        conv.trace.to_csv(out / "convergence.csv", index=False)
        summary.to_csv(out / "convergence_summary.csv", index=False)
        order = list(scenario.strategies)
        plots.save(convergence_plot(conv, order=order), out / "convergence.png")
    print(f"\nWrote convergence.csv, convergence_summary.csv and convergence.png to {args.out}")
    return 0
