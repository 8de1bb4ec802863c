"""``hemodel psa``: probabilistic sensitivity analysis with CE plane, CEAC/CEAF, EVPI, EVPPI."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import add_execution_arguments, add_scenario_arguments, execution, open_scenario

EXAMPLE = """example:
  hemodel psa scenarios/serena6_us.yaml --samples 500 --patients 1000 --out psa/
  hemodel psa --samples 200 --evppi-group effect=switch_therapies.camizestrant.hazard_ratio

writes psa_samples.csv (one row per sample × strategy), psa_parameters.csv, psa_incremental.csv,
ceac.csv, ceaf.csv (acceptability frontier), evpi.csv, evppi.csv (with 50 samples or more),
ce_plane.png, ceac.png, evpi.png
"""


def register(sub) -> None:
    p = sub.add_parser(
        "psa",
        help="probabilistic sensitivity analysis: CE plane, CEAC/CEAF, EVPI, EVPPI",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_arguments(p, patients=1000, patients_help="patients per sample")
    p.add_argument("--samples", type=int, default=200, help="PSA samples (default 200)")
    p.add_argument("--out", type=Path, default=Path("psa"), help="output folder (default psa/)")
    p.add_argument("--wtp-max", type=float, help="largest WTP on the curves (currency per QALY)")
    p.add_argument(
        "--evppi-group",
        action="append",
        default=[],
        metavar="NAME=P1,P2",
        help="a named group of parameter paths for EVPPI (repeatable); "
        "default: every uncertain parameter on its own",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_execution_arguments(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    import sys

    from ..analysis.psa import require_uncertainty
    from ..present.psa_report import psa_outputs

    path, scenario = open_scenario(args.scenario)
    try:
        require_uncertainty(scenario)
    except ValueError as exc:
        print(f"hemodel psa: {path}: {exc}", file=sys.stderr)
        return 2
    groups = {}
    for spec in args.evppi_group:
        name, _, params = spec.partition("=")
        if not params:
            raise SystemExit(f"--evppi-group wants NAME=P1,P2, got {spec!r}")
        groups[name] = params.split(",")
    tables = psa_outputs(
        scenario,
        args.samples,
        args.patients,
        args.seed,
        args.out,
        wtp_max=args.wtp_max,
        groups=groups or None,
        progress=False if args.quiet else None,
        **execution(args),
    )
    print(tables["text"])
    written = sorted(p.name for p in args.out.iterdir() if p.suffix in (".csv", ".png"))
    print(f"\nWrote to {args.out}: {', '.join(written)}")
    return 0
