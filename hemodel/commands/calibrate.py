"""``hemodel calibrate``: fit free parameters to the scenario's ``targets:``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arguments import add_execution_arguments, add_scenario_arguments, execution, open_scenario

EXAMPLE = """example:
  hemodel calibrate scenarios/serena6_us.yaml --out scenarios/serena6_us_calibrated.yaml \\
    --free natural_history.esr1_emergence.probability natural_history.esr1_progression.median

fits the free parameters (dotted paths; `hemodel.parameters()` lists them) by least
squares on the same simulated patients (common random numbers), prints the fit per target and
writes a scenario that extends the original with the fitted values and a comment recording
the date, seed, objective and targets. Exits with code 1 when the best point fails a target
(the scenario is still written, for inspection).
"""


def register(sub) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit free parameters to the scenario's targets (writes an extending scenario)",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_arguments(
        p,
        patients=5000,
        scenario_help="scenario YAML with a targets: section",
        scenario_required=True,
    )
    p.add_argument(
        "--free", nargs="+", required=True, metavar="PARAM", help="parameters to fit (dotted)"
    )
    p.add_argument("--start", nargs="*", default=[], metavar="PARAM=VALUE", help="starting values")
    p.add_argument(
        "--max-evaluations", type=int, default=150, help="objective evaluations (default 150)"
    )
    p.add_argument("--out", type=Path, help="calibrated scenario (default <name>_calibrated.yaml)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    add_execution_arguments(p, resume=False)
    p.set_defaults(handler=run)


def run(args) -> int:
    import sys
    import time
    import warnings

    from ..credibility.calibrate import calibrate, format_fit, write_calibrated

    path, scenario = open_scenario(args.scenario)
    start = {}
    for spec in args.start:
        name, _, value = spec.partition("=")
        try:
            start[name] = float(value)
        except ValueError:
            raise SystemExit(f"--start wants PARAM=VALUE, got {spec!r}") from None
    if set(start) - set(args.free):
        raise SystemExit(
            f"--start names parameters that are not --free: {set(start) - set(args.free)}"
        )
    t0 = time.time()

    def progress(values, objective):
        if not args.quiet:
            shown = ", ".join(f"{k.rsplit('.', 2)[-2]}.{k.rsplit('.', 1)[-1]}={v:.4g}"
                              for k, v in values.items())  # fmt: skip
            print(f"  [{time.time() - t0:5.0f}s] objective {objective:9.4g}  {shown}",
                  file=sys.stderr, flush=True)  # fmt: skip

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = calibrate(
                scenario,
                args.free,
                patients=args.patients,
                seed=args.seed,
                start=start,
                max_evaluations=args.max_evaluations,
                progress=progress,
                **execution(args),
            )
        except (KeyError, ValueError) as exc:
            print(f"hemodel calibrate: {exc}", file=sys.stderr)
            return 2
    print(format_fit(fit))
    out = args.out or Path(f"{path.stem}_calibrated.yaml")
    write_calibrated(fit, path, out)
    print(f"\nWrote {out} (extends {path.name})")
    failing = fit.table.loc[~fit.table["passed"], "quantity"].tolist()
    if failing:
        print(
            f"hemodel calibrate: the best point fails {len(failing)} of {len(fit.table)} "
            f"targets ({', '.join(failing)}): {out} is written for inspection only; free "
            "other parameters, start elsewhere (--start) or allow more --max-evaluations",
            file=sys.stderr,
        )
        return 1
    return 0
