"""EVSI of the default scenario's studies: wall time and peak memory (not part of the test suite).

Runs ``run_evsi()`` (hemodel.analysis.evsi) on the default scenario's ``studies:`` block, as
``hemodel evsi`` does but without writing files: a PSA of ``--samples`` samples of
``--patients`` patients, then every study simulated at every sample at each of its own
``sizes:``, then the regression (and, for accuracy studies, moment-matching) EVSI and ENBS.
Printed: seconds for the PSA, for simulating each study and for the EVSI tables, the total,
the peak resident memory of this process and of the largest worker process, then per study
and WTP the optimal size and the EVSI at the largest size.

    python benchmarks/evsi.py                          # 1,000 samples x 1,000 patients, 2
                                                       # workers (a few minutes on 2 cores)
    python benchmarks/evsi.py --samples 300 --patients 500 --workers 1
    python benchmarks/evsi.py --wtp 100000,150000,1000000
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from collections import defaultdict


def _timed(module, name: str, seconds: dict, key) -> None:
    """Replace ``module.name`` by a wrapper adding its wall time to ``seconds[key(args)]``."""
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds[key(args)] += time.perf_counter() - start

    setattr(module, name, wrapper)


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: kilobytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000, help="PSA samples (default 1000)")
    parser.add_argument("--patients", type=int, default=1_000,
                        help="patients per PSA sample (default 1000)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--wtp", default="150000,1000000",
                        help="willingness to pay per QALY, comma-separated "
                        "(default 150000,1000000)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    wtps = [float(w) for w in args.wtp.split(",")]

    from hemodel.analysis import evsi
    from hemodel.scenario.load import load_scenario

    scenario = load_scenario()
    # Time the three parts of run_evsi() by wrapping the functions it calls.
    seconds: dict = defaultdict(float)
    _timed(evsi, "run_psa", seconds, lambda a: "PSA")
    _timed(evsi, "simulate", seconds, lambda a: f"study {a[0].name}")
    _timed(evsi, "evsi_table", seconds, lambda a: "EVSI tables (regression, moment matching)")

    sizes = {name: study.sizes for name, study in scenario.studies.items()}
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"{scenario.name}: {args.samples:,} PSA samples x {args.patients:,} patients, "
          f"{len(scenario.strategies)} strategies, {args.workers} workers, array engine; "
          f"{machine}")  # fmt: skip
    for name, n in sizes.items():
        print(f"  {name}: sizes {', '.join(f'{x:,}' for x in n)}")
    start = time.perf_counter()
    # sizes=None: each study's own sizes: (the same as passing them, one study at a time).
    result = evsi.run_evsi(scenario, args.samples, args.patients, args.seed, sizes=None,
                           wtps=wtps, workers=args.workers, engine="array")  # fmt: skip
    total = time.perf_counter() - start

    print(f"\n{'part':<46} {'seconds':>8}")
    for part, s in seconds.items():
        print(f"{part:<46} {s:>8.1f}")
    print(f"{'total (run_evsi)':<46} {total:>8.1f}")
    children = _peak_mb(resource.RUSAGE_CHILDREN)  # the largest finished child process
    worker = f"largest worker {children:,.0f} MB" if children else "no worker processes"
    print(f"peak RSS: this process {_peak_mb(resource.RUSAGE_SELF):,.0f} MB, {worker}")

    cur = scenario.currency
    table, optimal = result.table, result.optimal.set_index(["study", "wtp"])
    print(f"\nEVPI, EVPPI of the informed parameters, EVSI at the largest size (regression "
          f"± 1.96 SE; MM: moment matching) in {cur} per patient; ENBS in {cur}")  # fmt: skip
    print(f"{'study':<24} {'WTP/QALY':>10} {'EVPI':>7} {'EVPPI':>7} {'largest n':>9} "
          f"{'EVSI':>16} {'EVSI MM':>8} {'ENBS':>14} {'optimal n':>9}")  # fmt: skip
    for (name, wtp), g in table.groupby(["study", "wtp"], sort=False):
        big = g.loc[g["study_size"].idxmax()]
        mm = big["evsi_moment_matching"]
        print(
            f"{name:<24} {wtp:>10,.0f} {big['evpi']:>7,.0f} {big['evppi']:>7,.0f} "
            f"{int(big['study_size']):>9,} {big['evsi']:>7,.1f} ± {1.96 * big['evsi_se']:<6,.1f} "
            f"{'—' if mm != mm else f'{mm:,.1f}':>8} {big['enbs']:>14,.0f} "
            f"{int(optimal.loc[(name, wtp), 'optimal_size']):>9,}"
        )
    print(f"\nEVSI by study size (regression, {cur} per patient):")
    for (name, wtp), g in table.groupby(["study", "wtp"], sort=False):
        by_size = ", ".join(f"{int(r.study_size):,}: {r.evsi:,.1f}" for r in g.itertuples())
        people = g["population"].iloc[0]
        print(f"  {name} at {wtp:,.0f} (population {people:,.0f} persons): {by_size}")


if __name__ == "__main__":
    main()
