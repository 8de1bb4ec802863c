"""``hemodel report``: self-contained HTML report and Excel workbook."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import (
    MAX_PATIENTS,
    MAX_SAMPLES,
    add_execution_arguments,
    add_scenario_arguments,
    count,
    execution,
    open_scenario,
)
from .output import output_folder

SECTIONS = "base, survival, sweep, dsa, threshold, budget, psa, evsi, validation, convergence"

EXAMPLE = f"""examples:
  hemodel report scenarios/serena6_us.yaml --out report/
  hemodel report --only base,survival,budget --out quick/   # some analyses only
  hemodel report --skip psa,validation --out report/
  hemodel report --psa-samples 1000 --psa-patients 2000 --out final/

sections: {SECTIONS}
(the executive summary, decision problem, strategies, model diagram, inputs, CHEERS 2022
checklist and manifest are always there).
writes report.html (open in any browser; works offline) and report.xlsx (one sheet per table,
numbers as numbers, CE plane and CEAC charts); the PSA's files go to OUT/psa/, the EVSI's
to OUT/evsi/
"""


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help="HTML report and Excel workbook of a scenario: every analysis, CHEERS 2022",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_arguments(p, patients=2000)
    p.add_argument("--out", type=Path, default=Path("report"), help="output folder")
    p.add_argument("--only", type=_names, help=f"comma-separated sections ({SECTIONS})")
    p.add_argument("--skip", type=_names, help="comma-separated sections to leave out")
    p.add_argument(
        "--psa-samples", type=count(2, MAX_SAMPLES), default=100, help="PSA samples (default 100)"
    )
    p.add_argument(
        "--psa-patients",
        type=count(1, MAX_PATIENTS),
        default=500,
        help="patients per PSA sample (default 500)",
    )
    p.add_argument(
        "--dsa-patients",
        type=count(1, MAX_PATIENTS),
        default=1000,
        help="patients per one-way run (default 1000)",
    )
    p.add_argument(
        "--validation-patients",
        type=count(100, MAX_PATIENTS),
        default=2000,
        help="patients per virtual trial (default 2000)",
    )
    p.add_argument(
        "--evsi-samples",
        type=count(2, MAX_SAMPLES),
        default=300,
        help="PSA samples of the EVSI (default 300)",
    )
    p.add_argument(
        "--evsi-patients",
        type=count(1, MAX_PATIENTS),
        default=300,
        help="patients per EVSI sample (default 300)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_execution_arguments(p, resume=False)
    p.set_defaults(handler=run)


def run(args) -> int:
    import sys

    from ..analysis.evsi import check_studies
    from ..analysis.psa import require_uncertainty
    from ..present.report import ReportSettings, build, choose_analyses
    from .sweep import no_sweeps

    path, scenario = open_scenario(args.scenario)
    if "sweep" in (args.only or ()) and not scenario.sweeps:  # asked for by name: refuse
        print(no_sweeps(path), file=sys.stderr)
        return 2
    try:
        settings = ReportSettings(
            patients=args.patients,
            seed=args.seed,
            psa_samples=args.psa_samples,
            psa_patients=args.psa_patients,
            dsa_patients=args.dsa_patients,
            validation_patients=args.validation_patients,
            evsi_samples=args.evsi_samples,
            evsi_patients=args.evsi_patients,
            analyses=choose_analyses(args.only, args.skip),
        )
        if "psa" in settings.analyses:
            require_uncertainty(scenario)
        if "evsi" in settings.analyses and scenario.studies:
            check_studies(scenario, args.evsi_samples, flag="--evsi-samples")
    except ValueError as exc:
        print(f"hemodel report: {exc} (leave the PSA out with --skip psa)"
              if "psa:" in str(exc) else f"hemodel report: {exc}", file=sys.stderr)  # fmt: skip
        return 2
    with output_folder(args.out, "report") as folder:
        html_path, xlsx_path = build(
            scenario, path, folder, settings, progress=False if args.quiet else None,
            **execution(args),
        )  # fmt: skip
    print(f"Wrote {args.out / html_path.name} and {args.out / xlsx_path.name}")
    return 0
