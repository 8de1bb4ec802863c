"""Validation and calibration of the default scenario with each engine (not a test).

Times, on one core and each in a fresh process, with the engines alternating:
- ``validate``: the virtual SERENA-6 trial and every target of serena6_us.yaml, 20,000
  patients, seed 1 (what ``hemodel validate`` runs);
- ``calibrate``: the shipped calibration (3 free natural-history parameters, 10,000 patients,
  seed 1) from starting values 10% off, as tests/unit/test_calibrate.py does.
Both engines must give the same target table and the same fitted values; the script checks it.

    python benchmarks/credibility.py                        # both, both engines (~10 minutes)
    python benchmarks/credibility.py --jobs validate --engines array
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings

FREE = [
    "natural_history.esr1_emergence.probability",
    "natural_history.esr1_progression.median",
    "natural_history.other_progression.median",
]


def measure(job: str, engine: str) -> dict:
    from hemodel import load_scenario
    from hemodel.credibility.calibrate import calibrate
    from hemodel.credibility.validate import validate
    from hemodel.scenario.load import parameters

    scenario = load_scenario()
    warnings.simplefilter("ignore")  # lifelines' convergence chatter
    start = time.perf_counter()
    if job == "validate":
        v = validate(scenario, patients=20_000, seed=1, engine=engine)
        result = {"simulated": [round(x, 9) for x in v.table["simulated"]]}
    else:
        shipped = {p: parameters(scenario)[p].value for p in FREE}
        begin = {p: v * (1.1 if i % 2 else 0.9) for i, (p, v) in enumerate(shipped.items())}
        fit = calibrate(scenario, FREE, patients=10_000, seed=1, start=begin, engine=engine)
        result = {"fitted": {p: round(v, 9) for p, v in fit.values.items()},
                  "evaluations": fit.evaluations}  # fmt: skip
    return {"job": job, "engine": engine, "seconds": round(time.perf_counter() - start, 1),
            **result}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", nargs="+", default=["validate", "calibrate"])
    parser.add_argument("--engines", nargs="+", default=["simpy", "array"])
    args = parser.parse_args()
    for job in args.jobs:
        runs = {}
        for engine in args.engines:
            cmd = [sys.executable, __file__, "--one", job, engine]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            runs[engine] = r = json.loads(out.strip().splitlines()[-1])
            detail = {k: v for k, v in r.items() if k not in ("job", "engine", "seconds")}
            print(f"{job:>9} {engine:>6} {r['seconds']:>8} s  {detail}", flush=True)
        if {"simpy", "array"} <= set(runs):
            same = {k: v for k, v in runs["simpy"].items() if k != "seconds"} == {
                k: v for k, v in runs["array"].items() if k not in ("seconds",)
            } | {"engine": "simpy"}
            ratio = runs["simpy"]["seconds"] / runs["array"]["seconds"]
            print(f"{job:>9} speed-up {ratio:.1f}x; same results: {same}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure(sys.argv[2], sys.argv[3])))
    else:
        main()
