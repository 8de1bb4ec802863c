"""``hemodel validate``: emulate the scenario's virtual trials (default: SERENA-6) inside the
model and compare with ``targets:``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import add_execution_arguments, add_scenario_arguments, execution, open_scenario
from .output import check_out, output_folder

EXAMPLE = """example:
  hemodel validate scenarios/serena6_us.yaml --out validation/serena6_us

prints the surveillance funnel of each virtual trial (the scenario's trials:, default one
SERENA-6 trial named serena6) and the target table (target, its CI, simulated value with its
Monte Carlo CI, PASS/FAIL); writes targets.csv, measures.csv (every measured quantity),
funnel.csv (one row per trial) and per trial trial_<name>.csv (one row per patient and arm)
and trial_km_<name>.png; trial.csv and trial_km.png are those of the first trial.
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
        "--every-weeks",
        type=float,
        default=None,
        help="ctDNA + imaging interval of every trial, in weeks (default: each trial's every:, "
        "8 for the default trial)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_execution_arguments(p, resume=False)
    p.set_defaults(handler=run)


def run(args) -> int:
    import dataclasses
    import shutil
    import warnings

    import pandas as pd

    from ..credibility.trial import trial_designs
    from ..credibility.validate import validate
    from ..present.credibility_plots import km_plot
    from ..present.validation_tables import format_funnel, format_targets
    from ..run.progress import elapsed_bar

    path, scenario = open_scenario(args.scenario)
    target = args.out or Path("validation") / path.stem
    check_out(target)
    designs = trial_designs(scenario)
    if args.every_weeks is not None:
        designs = {
            n: dataclasses.replace(d, every_weeks=args.every_weeks) for n, d in designs.items()
        }
    with (
        warnings.catch_warnings(),
        elapsed_bar(f"validate {scenario.name}", False if args.quiet else None),
    ):
        warnings.simplefilter("ignore")  # lifelines' convergence chatter; results are checked
        v = validate(
            scenario, patients=args.patients, seed=args.seed, design=designs, **execution(args)
        )
    first = next(iter(v.trials))
    titles = ", ".join(f"{r.design.title} ({n})" for n, r in v.trials.items())
    print(f"{scenario.name} — virtual {titles}; {args.patients:,} patients, seed {args.seed}")
    print("\n\n".join(format_funnel(run) for run in v.trials.values()))
    print("\nTargets (pass: simulated value inside the target CI / range)")
    print(format_targets(v.table))
    with output_folder(target, "validate") as out:
        for name in v.trials:
            km_plot(v, out / f"trial_km_{name}.png", scenario, trial=name)
        shutil.copyfile(out / f"trial_km_{first}.png", out / "trial_km.png")
        v.table.to_csv(out / "targets.csv", index=False)
        for name, run in v.trials.items():
            run.table.to_csv(out / f"trial_{name}.csv", index=False)
        shutil.copyfile(out / f"trial_{first}.csv", out / "trial.csv")
        pd.DataFrame([{"quantity": k, **vars(m)} for k, m in v.measures.items()]).to_csv(
            out / "measures.csv", index=False
        )
        funnels = [{"trial": n, **r.funnel()} for n, r in v.trials.items()]
        pd.DataFrame(funnels).to_csv(out / "funnel.csv", index=False)
    per_trial = ", ".join(f"trial_{n}.csv, trial_km_{n}.png" for n in v.trials)
    print(
        f"\nWrote targets.csv, measures.csv, funnel.csv, {per_trial} (trial.csv and "
        f"trial_km.png: {first}) to {target}"
    )
    return 0 if v.passed else 1
