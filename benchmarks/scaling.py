"""Parallel scaling of the PSA on the default scenario (not part of the test suite).

Prints throughput (patient-strategy simulations per second) in-process and with 1 and 2
local worker processes, the parallel efficiency of 2 workers, and the overhead of a Dask
LocalCluster against local processes on a 200-sample PSA with few patients per sample.
Worker pools are started and warmed up before timing (start-up is printed separately), and
every run is checked to give the same bits as the in-process one.

    python benchmarks/scaling.py                      # ~4 minutes on 2 cores
    python benchmarks/scaling.py --samples 4 --patients 500 --psa-patients 50   # quicker
"""

from __future__ import annotations

import argparse
import os
import time

import pandas as pd

from hemodel import load_scenario
from hemodel.parallel import Executor
from hemodel.psa import run_psa


def timed_psa(scenario, samples: int, patients: int, ex: Executor | None) -> tuple[float, tuple]:
    start = time.perf_counter()
    out = run_psa(scenario, samples, patients, seed=1, executor=ex)
    return time.perf_counter() - start, out


def warm(backend: str, workers: int, scenario) -> tuple[Executor, float]:
    """A started executor whose workers have imported hemodel; and the seconds it took."""
    start = time.perf_counter()
    ex = Executor(workers, backend)
    run_psa(scenario, workers, 5, seed=99, executor=ex, chunk_size=5)
    return ex, time.perf_counter() - start


def best(scenario, samples, patients, ex, repeat) -> tuple[float, tuple]:
    runs = [timed_psa(scenario, samples, patients, ex) for _ in range(repeat)]
    return min(r[0] for r in runs), runs[0][1]


def same(a: tuple, b: tuple) -> bool:
    try:
        for x, y in zip(a, b, strict=True):
            pd.testing.assert_frame_equal(x, y, check_exact=True)
    except AssertionError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8, help="PSA samples, throughput (8)")
    parser.add_argument("--patients", type=int, default=1000, help="patients, throughput (1000)")
    parser.add_argument("--psa-samples", type=int, default=200, help="samples, Dask test (200)")
    parser.add_argument("--psa-patients", type=int, default=100, help="patients, Dask (100)")
    parser.add_argument("--repeat", type=int, default=1, help="best of N timings (1)")
    args = parser.parse_args()
    scenario = load_scenario()
    k = len(scenario.strategies)
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}")

    # -- throughput, 1 vs 2 workers -----------------------------------------------------
    sims = args.samples * args.patients * k
    print(f"\nThroughput: PSA of {args.samples} samples x {args.patients:,} patients x "
          f"{k} strategies = {sims:,} patient-strategy simulations")  # fmt: skip
    t_serial, ref = best(scenario, args.samples, args.patients, None, args.repeat)
    rows = [("in-process", 1, t_serial, 0.0, True)]
    for workers in (1, 2):
        ex, start_up = warm("processes", workers, scenario)
        with ex:
            t, out = best(scenario, args.samples, args.patients, ex, args.repeat)
        rows.append(("processes", workers, t, start_up, same(out, ref)))
    print(f"{'back-end':>12} {'workers':>7} {'seconds':>8} {'sims/s':>8} {'start-up s':>10} "
          f"{'identical':>9}")  # fmt: skip
    for name, w, t, s, ok in rows:
        print(f"{name:>12} {w:>7} {t:>8.2f} {sims / t:>8,.0f} {s:>10.2f} {ok!s:>9}")
    t1, t2 = rows[1][2], rows[2][2]
    print(f"parallel efficiency, 2 workers vs 1 worker process: {t1 / (2 * t2):.1%}")
    print(f"parallel efficiency, 2 workers vs in-process:       {t_serial / (2 * t2):.1%}")

    # -- Dask overhead ------------------------------------------------------------------
    n, p = args.psa_samples, args.psa_patients
    sims = n * p * k
    print(
        f"\nDask overhead: PSA of {n} samples x {p} patients ({sims:,} simulations), 2 workers each"
    )
    times, outs, starts = {}, {}, {}
    for backend in ("processes", "dask"):
        ex, starts[backend] = warm(backend, 2, scenario)
        with ex:
            times[backend], outs[backend] = best(scenario, n, p, ex, args.repeat)
    for backend in times:
        print(f"{backend:>12}: {times[backend]:7.2f} s  {sims / times[backend]:>8,.0f} sims/s  "
              f"(start-up {starts[backend]:.2f} s)")  # fmt: skip
    overhead = times["dask"] / times["processes"] - 1
    with_start = (times["dask"] + starts["dask"]) / (times["processes"] + starts["processes"]) - 1
    identical = same(outs["dask"], outs["processes"])
    print(f"Dask overhead vs local processes: {overhead:+.1%} "
          f"({with_start:+.1%} counting start-up); identical: {identical}")  # fmt: skip


if __name__ == "__main__":
    main()
