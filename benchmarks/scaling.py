"""Parallel scaling of the PSA on the default scenario (not part of the test suite).

Prints throughput (patient-strategy simulations per second) in-process and with 1 and 2
local worker processes, the parallel efficiency of 2 workers, and the overhead of a Dask
LocalCluster against local processes on a 200-sample PSA with few patients per sample.

Worker pools are started and warmed up before timing (start-up is printed separately); the
configurations are timed in turn, ``--repeat`` times, and the best time of each is kept, so
a burst of load from other programs hits all of them alike. Because wall-clock times on a
shared machine also depend on what else runs, the script first measures how much of two
cores two busy processes actually get (``cores free``), and it reports CPU time too (this
process and all its workers): CPU seconds per simulation do not depend on other load, so
their ratio shows the overhead of a back-end even on a busy machine. Every run is checked
to give the same bits as the in-process one.

    python benchmarks/scaling.py                      # ~5 minutes on 2 cores
    python benchmarks/scaling.py --repeat 1 --samples 4 --psa-samples 40   # quicker
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time

import pandas as pd
import psutil

from hemodel import load_scenario
from hemodel.analysis.psa import run_psa
from hemodel.run.parallel import Executor


def _spin(_: int) -> float:
    start, s = time.perf_counter(), 0
    for i in range(6_000_000):
        s += i * i % 7
    return time.perf_counter() - start


def cores_free() -> float:
    """How many cores two busy processes get right now (2.0 on an idle 2-core machine)."""
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        one = min(pool.map(_spin, [0]))
        start = time.perf_counter()
        pool.map(_spin, [0, 1], chunksize=1)
        two = time.perf_counter() - start
    return 2 * one / two


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and every live descendant."""
    total = 0.0
    me = psutil.Process()
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def warm(backend: str, workers: int, scenario) -> tuple[Executor | None, float]:
    """A started executor whose workers have imported hemodel; and the seconds it took."""
    if backend == "serial":
        return None, 0.0
    start = time.perf_counter()
    ex = Executor(workers, backend)
    run_psa(scenario, workers, 5, seed=99, executor=ex, chunk_size=5)
    return ex, time.perf_counter() - start


def compare(scenario, configs, samples, patients, repeat) -> dict:
    """Best wall time, CPU time of that run, output and start-up of each configuration."""
    execs = {name: warm(backend, w, scenario) for name, (backend, w) in configs.items()}
    out = {name: {"wall": float("inf"), "start": execs[name][1]} for name in configs}
    try:
        for _ in range(repeat):
            for name in configs:
                cpu0, t0 = cpu_seconds(), time.perf_counter()
                result = run_psa(scenario, samples, patients, seed=1, executor=execs[name][0])
                wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
                if wall < out[name]["wall"]:
                    out[name].update(wall=wall, cpu=cpu, result=result)
    finally:
        for ex, _ in execs.values():
            if ex is not None:
                ex.close()
    return out


def same(a: tuple, b: tuple) -> bool:
    try:
        for x, y in zip(a, b, strict=True):
            pd.testing.assert_frame_equal(x, y, check_exact=True)
    except AssertionError:
        return False
    return True


def table(runs: dict, sims: int, reference: tuple) -> None:
    print(f"{'back-end':>14} {'seconds':>8} {'sims/s':>8} {'CPU s':>7} {'CPU us/sim':>10} "
          f"{'start-up s':>10} {'identical':>9}")  # fmt: skip
    for name, r in runs.items():
        print(f"{name:>14} {r['wall']:>8.2f} {sims / r['wall']:>8,.0f} {r['cpu']:>7.2f} "
              f"{1e6 * r['cpu'] / sims:>10.1f} {r['start']:>10.2f} "
              f"{same(r['result'], reference)!s:>9}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8, help="PSA samples, throughput (8)")
    parser.add_argument("--patients", type=int, default=1000, help="patients, throughput (1000)")
    parser.add_argument("--psa-samples", type=int, default=200, help="samples, Dask test (200)")
    parser.add_argument("--psa-patients", type=int, default=100, help="patients, Dask (100)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N timings (3)")
    args = parser.parse_args()
    scenario = load_scenario()
    k = len(scenario.strategies)
    free = cores_free()
    print(f"cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.2f}; "
          f"cores free for two busy processes: {free:.2f} (2.00 = idle machine)")  # fmt: skip

    # -- throughput, 1 vs 2 workers -----------------------------------------------------
    sims = args.samples * args.patients * k
    print(f"\nThroughput: PSA of {args.samples} samples x {args.patients:,} patients x {k} "
          f"strategies = {sims:,} patient-strategy simulations, best of {args.repeat}")  # fmt: skip
    configs = {"in-process": ("serial", 1), "1 process": ("processes", 1),
               "2 processes": ("processes", 2)}  # fmt: skip
    runs = compare(scenario, configs, args.samples, args.patients, args.repeat)
    table(runs, sims, runs["in-process"]["result"])
    one, two = runs["1 process"], runs["2 processes"]
    print(f"parallel efficiency, 2 workers vs 1 (wall time): {one['wall'] / (2 * two['wall']):.1%}"
          f"  (vs in-process: {runs['in-process']['wall'] / (2 * two['wall']):.1%})")  # fmt: skip
    print(
        f"CPU time per simulation, 2 workers vs 1: {two['cpu'] / one['cpu'] - 1:+.1%} "
        f"(parallel overhead in work done; efficiency bound {one['cpu'] / two['cpu']:.1%})"
    )

    # -- Dask overhead ------------------------------------------------------------------
    n, p = args.psa_samples, args.psa_patients
    sims = n * p * k
    print(f"\nDask overhead: PSA of {n} samples x {p} patients ({sims:,} simulations), "
          f"2 workers each, best of {args.repeat}")  # fmt: skip
    configs = {"processes": ("processes", 2), "dask": ("dask", 2)}
    runs = compare(scenario, configs, n, p, args.repeat)
    table(runs, sims, runs["processes"]["result"])
    proc, dask = runs["processes"], runs["dask"]
    with_start = (dask["wall"] + dask["start"]) / (proc["wall"] + proc["start"]) - 1
    print(
        f"Dask overhead vs local processes: wall {dask['wall'] / proc['wall'] - 1:+.1%} "
        f"({with_start:+.1%} counting start-up); CPU {dask['cpu'] / proc['cpu'] - 1:+.1%}"
    )
    print(f"cores free at the end: {cores_free():.2f}")


if __name__ == "__main__":
    main()
