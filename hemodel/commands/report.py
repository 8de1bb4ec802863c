"""``hemodel report``: self-contained HTML report and Excel workbook."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import add_execution_arguments, add_scenario_arguments, execution, open_scenario

EXAMPLE = """examples:
  hemodel report scenarios/serena6_us.yaml --out report/
  hemodel report my_scenario.yaml --psa-samples 200 --sweep --out report/

writes report.html (open in any browser; works offline) and report.xlsx (one sheet per table)
"""


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help="HTML report and Excel workbook of a scenario",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_arguments(p, patients=2000)
    p.add_argument("--out", type=Path, default=Path("report"), help="output folder")
    p.add_argument(
        "--psa-samples",
        type=int,
        default=0,
        help="add a PSA with this many samples (default: none)",
    )
    p.add_argument("--psa-patients", type=int, default=500, help="patients per PSA sample")
    p.add_argument("--sweep", action="store_true", help="add the scenario's first sweep")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_execution_arguments(p, resume=False)
    p.set_defaults(handler=run)


def run(args) -> int:
    import sys

    from ..analysis.psa import require_uncertainty
    from ..present.report import build
    from .sweep import no_sweeps

    path, scenario = open_scenario(args.scenario)
    if args.sweep and not scenario.sweeps:
        print(no_sweeps(path), file=sys.stderr)
        return 2
    if args.psa_samples:
        try:
            require_uncertainty(scenario)
        except ValueError as exc:
            print(f"hemodel report: --psa-samples: {path}: {exc}", file=sys.stderr)
            return 2
    html_path, xlsx_path = build(
        scenario,
        path,
        args.out,
        args.patients,
        args.seed,
        args.psa_samples,
        args.psa_patients,
        args.sweep,
        progress=False if args.quiet else None,
        **execution(args),
    )
    print(f"Wrote {html_path} and {xlsx_path}")
    return 0
