"""Peak memory of a PSA as the number of samples grows (not part of the test suite).

Each size runs in a fresh process (``--one``) on local worker processes. Printed per size:
peak resident memory of the parent (it gathers the results), of the largest worker, and the
peak total resident memory of the parent and its workers together (sampled every 0.1 s with
psutil), and the ratio of that total to the smallest run's. Tasks return per-strategy sums,
never per-patient rows, so memory should stay flat in the number of samples.

    python benchmarks/memory.py                          # 10 / 100 / 300 samples x 2000
    python benchmarks/memory.py --samples 10 1000 --patients 10000   # the PSA target
    python benchmarks/memory.py --engine simpy --samples 10 100      # the SimPy engine
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time


def measure(samples: int, patients: int, workers: int, engine: str) -> dict:
    import psutil

    from hemodel import load_scenario
    from hemodel.analysis.psa import run_psa

    me = psutil.Process()
    peak = {"total": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            total = 0
            try:
                for p in [me, *me.children(recursive=True)]:
                    total += p.memory_info().rss
            except psutil.Error:
                pass
            peak["total"] = max(peak["total"], total)
            stop.wait(0.1)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    start = time.perf_counter()
    per_sample, drawn = run_psa(
        load_scenario(), samples, patients, seed=1, workers=workers, engine=engine
    )
    elapsed = time.perf_counter() - start
    stop.set()
    watcher.join()
    assert len(per_sample) == samples * per_sample["strategy"].nunique()
    mb = 1 / 1024  # ru_maxrss is in KiB on Linux
    return {
        "samples": samples,
        "patients": patients,
        "seconds": round(elapsed, 1),
        "parent_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * mb, 1),
        "worker_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * mb, 1),
        "total_mb": round(peak["total"] / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[10, 100, 300])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engine", choices=("auto", "simpy", "array"), default="auto")
    args = parser.parse_args()
    print(f"PSA on the default scenario, {args.patients:,} patients per sample, "
          f"{args.workers} worker processes, {args.engine} engine; each size in a fresh "
          "process")  # fmt: skip
    print(f"{'samples':>8} {'seconds':>8} {'parent MB':>10} {'worker MB':>10} {'total MB':>9} "
          f"{'vs first':>9}")  # fmt: skip
    first = None
    for n in args.samples:
        cmd = [sys.executable, __file__, "--one", str(n), str(args.patients), str(args.workers),
               args.engine]  # fmt: skip
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        first = first or r["total_mb"]
        print(f"{r['samples']:>8,} {r['seconds']:>8} {r['parent_mb']:>10} {r['worker_mb']:>10} "
              f"{r['total_mb']:>9} {r['total_mb'] / first:>8.2f}x", flush=True)  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure(*map(int, sys.argv[2:5]), sys.argv[5])))
    else:
        main()
