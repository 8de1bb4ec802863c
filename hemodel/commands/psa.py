"""``hemodel psa``: probabilistic sensitivity analysis with CE plane, CEAC/CEAF, EVPI, EVPPI."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..scenario.problems import shorten
from .arguments import (
    MAX_SAMPLES,
    UsageError,
    add_execution_arguments,
    add_scenario_arguments,
    count,
    execution,
    open_scenario,
)
from .output import output_folder

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
    p.add_argument(
        "--samples", type=count(2, MAX_SAMPLES), default=200, help="PSA samples (default 200)"
    )
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
            raise UsageError(f"--evppi-group wants NAME=P1,P2, got {shorten(spec)!r}")
        groups[name] = params.split(",")
    if not args.quiet:
        print(_estimate(scenario, args.samples, args.patients, args.seed, execution(args)),
              file=sys.stderr, flush=True)  # fmt: skip
    with output_folder(args.out, "psa") as folder:
        tables = psa_outputs(
            scenario,
            args.samples,
            args.patients,
            args.seed,
            folder,
            wtp_max=args.wtp_max,
            groups=groups or None,
            progress=False if args.quiet else None,
            **execution(args),
        )
    print(tables["text"])
    written = sorted(p.name for p in args.out.iterdir() if p.suffix in (".csv", ".png"))
    print(f"\nWrote to {args.out}: {', '.join(written)}")
    return 0


#: Seconds to start a pool of worker processes (spawn, imports), or a local Dask cluster.
_START = {"serial": 0.0, "processes": 2.0, "dask": 5.0}


def _estimate(scenario, samples: int, patients: int, seed: int, options: dict) -> str:
    """The PSA's size and expected wall time, from a pilot: the base case on up to one task's
    patients, timed in this process after a small warm-up run (imports, caches)."""
    import time

    from ..analysis.psa import CHUNK_SIZE, run_points
    from ..engine.choice import choose
    from ..model.inputs import build_inputs
    from ..run.parallel import resolve
    from ..run.progress import about

    inputs = build_inputs(scenario)
    engine = choose(options["engine"], inputs)
    whole = inputs.lab_capacity is not None  # a finite lab runs whole samples
    pilot = patients if whole else min(patients, CHUNK_SIZE[engine])
    run_points(scenario, {0: {}}, min(pilot, 20), seed, engine=engine)
    start = time.perf_counter()
    run_points(scenario, {0: {}}, pilot, seed, engine=engine)
    seconds = (time.perf_counter() - start) * samples * patients / pilot  # on one core
    n = len(inputs.strategies)
    work = samples * patients * n
    backend, workers = resolve(options["workers"], options["backend"], options["scheduler"], work)
    size = f"PSA: {samples:,} samples × {patients:,} patients × {n} strategies"
    if workers == 0:  # a running Dask cluster of unknown size
        return f"{size}; expected {about(seconds)} of worker time, shared by the cluster"
    expected = _START[backend] + seconds / workers
    plural = "s" if workers > 1 else ""
    return f"{size}; expected {about(expected)} on {workers} worker{plural}"
