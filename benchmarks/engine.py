"""Engine throughput and memory on the default scenario (not part of the test suite).

Prints, for 1,000 / 10,000 / 100,000 patients (each size in a fresh process):
patient-strategy simulations per second on one core, peak resident memory, the size of the
per-patient result table, and the share of run time spent setting up random streams.

    python benchmarks/engine.py                 # all sizes (the largest takes ~5 minutes)
    python benchmarks/engine.py 1000 10000      # chosen sizes
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def measure(patients: int) -> dict:
    import hemodel.model.random as rnd

    from hemodel import load_scenario, simulate

    spent = {"streams": 0.0}
    original = rnd.uniforms

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent["streams"] += time.perf_counter() - start

    rnd.uniforms = timed
    scenario = load_scenario()
    start = time.perf_counter()
    results = simulate(scenario, patients=patients, seed=1)
    elapsed = time.perf_counter() - start
    sims = patients * len(scenario.strategies)
    return {
        "patients": patients,
        "strategies": len(scenario.strategies),
        "seconds": round(elapsed, 2),
        "patient_strategies_per_s": round(sims / elapsed),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "result_table_mb": round(results.patients.memory_usage(deep=True).sum() / 2**20, 1),
        "stream_setup_share": round(spent["streams"] / elapsed, 4),
    }


def main(sizes: list[int]) -> None:
    print(
        f"{'patients':>9} {'sims/s':>8} {'seconds':>8} {'peak MB':>8} {'table MB':>9} "
        f"{'streams':>8}"
    )
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], check=True, capture_output=True, text=True
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"{r['patients']:>9,} {r['patient_strategies_per_s']:>8,} {r['seconds']:>8} "
            f"{r['peak_rss_mb']:>8} {r['result_table_mb']:>9} {r['stream_setup_share']:>8.1%}"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure(int(sys.argv[2]))))
    else:
        main([int(a) for a in sys.argv[1:]] or [1_000, 10_000, 100_000])
