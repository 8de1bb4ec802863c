"""``hemodel validate``: emulate SERENA-6 inside the model and compare with ``targets:``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import add_execution_arguments, add_scenario_arguments, execution, open_scenario

EXAMPLE = """example:
  hemodel validate scenarios/serena6_us.yaml --out validation/serena6_us

prints the target table (target, its CI, simulated value with its Monte Carlo CI, PASS/FAIL)
and the surveillance funnel; writes targets.csv, trial.csv (one row per patient and arm of the
virtual trial), measures.csv (every measured quantity), funnel.csv and trial_km.png.
Exit code 1 when a target fails. See docs/validation.md.
"""


def register(sub) -> None:
    p = sub.add_parser(
        "validate",
        help="virtual SERENA-6 trial and calibration targets: PASS/FAIL per target",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_arguments(
        p, patients=20000, patients_help="patients starting first line", min_patients=100
    )
    p.add_argument(
        "--out", type=Path, help="output folder (default validation/<scenario file name>)"
    )
    p.add_argument(
        "--every-weeks", type=float, default=8.0, help="trial ctDNA + imaging interval (default 8)"
    )
    add_execution_arguments(p, resume=False)
    p.set_defaults(handler=run)


def run(args) -> int:
    import warnings

    import pandas as pd

    from ..credibility.trial import TrialDesign
    from ..credibility.validate import format_funnel, format_targets, validate
    from ..present.credibility_plots import km_plot

    path, scenario = open_scenario(args.scenario)
    out = args.out or Path("validation") / path.stem
    design = TrialDesign(every_weeks=args.every_weeks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines' convergence chatter; results are checked
        v = validate(
            scenario, patients=args.patients, seed=args.seed, design=design, **execution(args)
        )
        out.mkdir(parents=True, exist_ok=True)
        km_plot(v, out / "trial_km.png", scenario)
    print(f"{scenario.name} — virtual {design.title}, {args.patients:,} patients, seed {args.seed}")
    print(format_funnel(v.trial))
    print("\nTargets (pass: simulated value inside the target CI / range)")
    print(format_targets(v.table))
    v.table.to_csv(out / "targets.csv", index=False)
    v.trial.table.to_csv(out / "trial.csv", index=False)
    pd.DataFrame([{"quantity": k, **vars(m)} for k, m in v.measures.items()]).to_csv(
        out / "measures.csv", index=False
    )
    pd.DataFrame([v.trial.funnel()]).to_csv(out / "funnel.csv", index=False)
    print(f"\nWrote targets.csv, trial.csv, measures.csv, funnel.csv and trial_km.png to {out}")
    return 0 if v.passed else 1
