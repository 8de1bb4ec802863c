"""Both engines side by side on the default scenario (not part of the test suite).

For 1,000 / 10,000 / 100,000 patients, each engine runs ``simulate()`` in a fresh process on
one core (the engines alternate: SimPy, array, SimPy, array, ...). Printed per run:
patient-strategy simulations per second, seconds, peak resident memory of the process, the
size of the per-patient result table, and the array engine's speed-up over the SimPy engine.

    python benchmarks/engine.py                     # all sizes (the SimPy engine at 100,000
                                                    # patients takes about 2.5 minutes)
    python benchmarks/engine.py 1000 10000          # chosen sizes
    python benchmarks/engine.py --engines array 100000 1000000   # the array engine only
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def measure(engine: str, patients: int) -> dict:
    from hemodel import load_scenario, simulate

    scenario = load_scenario()
    start = time.perf_counter()
    results = simulate(scenario, patients=patients, seed=1, engine=engine)
    elapsed = time.perf_counter() - start
    sims = patients * len(scenario.strategies)
    return {
        "engine": results.metadata["engine"],
        "patients": patients,
        "seconds": round(elapsed, 2),
        "patient_strategies_per_s": round(sims / elapsed),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "result_table_mb": round(results.patients.memory_usage(deep=True).sum() / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="*", default=[1_000, 10_000, 100_000])
    parser.add_argument(
        "--engines", default="simpy,array", help="comma-separated (default simpy,array)"
    )
    args = parser.parse_args()
    print(
        f"{'engine':>7} {'patients':>9} {'sims/s':>9} {'seconds':>8} {'peak MB':>8} "
        f"{'table MB':>9} {'speed-up':>9}"
    )
    for n in args.sizes:
        rate = {}
        for engine in args.engines.split(","):
            cmd = [sys.executable, __file__, "--one", engine, str(n)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            rate[engine] = r["patient_strategies_per_s"]
            ratio = f"{rate[engine] / rate['simpy']:.1f}x" if "simpy" in rate else ""
            print(
                f"{r['engine']:>7} {r['patients']:>9,} {r['patient_strategies_per_s']:>9,} "
                f"{r['seconds']:>8} {r['peak_rss_mb']:>8} {r['result_table_mb']:>9} {ratio:>9}",
                flush=True,
            )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]))))
    else:
        main()
