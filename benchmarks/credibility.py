"""Validation and calibration of the default scenario, per engine or against an older
checkout (not a test).

Times, on one core and each in a fresh process, runs alternating:
- ``validate``: the virtual SERENA-6 trial and every target of serena6_us.yaml, 20,000
  patients, seed 1 (what ``hemodel validate`` runs);
- ``calibrate``: the shipped calibration (3 free natural-history parameters, 10,000 patients,
  seed 1) from starting values 10% off, as tests/unit/test_calibrate.py does.
Every run must give the same simulated target values and fitted parameters (to 1e-6).

    python benchmarks/credibility.py                     # SimPy vs array engine (~8 minutes)
    python benchmarks/credibility.py --old /tmp/old      # a checkout of an older commit
    python benchmarks/credibility.py --jobs validate --runs array
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
import warnings

FREE = [
    "natural_history.esr1_emergence.probability",
    "natural_history.esr1_progression.median",
    "natural_history.other_progression.median",
]


def measure(job: str, run: str) -> dict:
    """``run``: an engine name, or ``old:PATH`` (that checkout's hemodel, default engine)."""
    if run.startswith("old:"):
        sys.path.insert(0, run[4:])
    import inspect

    from hemodel import load_scenario
    from hemodel.credibility.calibrate import calibrate
    from hemodel.credibility.validate import validate
    from hemodel.scenario.load import parameters

    options = {} if run.startswith("old:") else {"engine": run}
    assert run.startswith("old:") or "engine" in inspect.signature(validate).parameters
    scenario = load_scenario()
    warnings.simplefilter("ignore")  # lifelines' convergence chatter (older checkouts)
    start = time.perf_counter()
    if job == "validate":
        v = validate(scenario, patients=20_000, seed=1, **options)
        result = {"values": [float(x) for x in v.table["simulated"]]}
    else:
        shipped = {p: parameters(scenario)[p].value for p in FREE}
        begin = {p: v * (1.1 if i % 2 else 0.9) for i, (p, v) in enumerate(shipped.items())}
        fit = calibrate(scenario, FREE, patients=10_000, seed=1, start=begin, **options)
        result = {"values": [fit.values[p] for p in FREE], "evaluations": fit.evaluations}
    return {"seconds": round(time.perf_counter() - start, 1), **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", nargs="+", default=["validate", "calibrate"])
    parser.add_argument("--runs", nargs="+", default=["simpy", "array"])
    parser.add_argument("--old", metavar="PATH", help="also time the checkout at PATH")
    args = parser.parse_args()
    runs = ([f"old:{args.old}"] if args.old else []) + args.runs
    for job in args.jobs:
        results = {}
        for run in runs:
            cmd = [sys.executable, __file__, "--one", job, run]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results[run] = r = json.loads(out.strip().splitlines()[-1])
            values = ", ".join(f"{v:.6g}" for v in r["values"])
            extra = f"; {r['evaluations']} evaluations" if "evaluations" in r else ""
            print(f"{job:>9} {run:>12} {r['seconds']:>7} s  [{values}]{extra}", flush=True)
        first, *others = runs
        for run in others:
            same = all(
                math.isclose(a, b, rel_tol=1e-6)
                for a, b in zip(results[first]["values"], results[run]["values"], strict=True)
            )
            ratio = results[first]["seconds"] / results[run]["seconds"]
            print(f"{job:>9} {run} vs {first}: {ratio:.1f}x faster; same values: {same}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure(sys.argv[2], sys.argv[3])))
    else:
        main()
