"""How long the analyst app takes to answer: an edited scenario loaded from its YAML and a
base case recomputed (issue 13: about 2 s at 10,000 patients on one core).

    python benchmarks/app_recompute.py [PATIENTS ...]   (default 10000)

Prints, per patient count, the seconds to load the edited scenario and to run the base case
with the tables the app shows, best and median of 5 repeats after a warm-up, on one core.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from hemodel.app import analyses
from hemodel.app.edits import Edits, bundled_source, controls, edited_scenario


def main(counts: list[int]) -> None:
    source = bundled_source("serena6_us")
    edits = Edits({c.path: c.value for c in controls(source.scenario)})
    edits.values["assays.guardant360.cost"] = 4000.0  # one slider moved
    folder = Path(tempfile.mkdtemp(prefix="hemodel-bench-"))
    analyses.base_case(source.scenario, 1000, 1)  # warm-up: imports, life table
    print("patients | load edited scenario (s) | base case (s) | total (s), best / median of 5")
    for n in counts:
        load, run = [], []
        for _ in range(5):
            start = time.perf_counter()
            scenario = edited_scenario(source, edits, folder).scenario
            loaded = time.perf_counter()
            analyses.base_case(scenario, n, 1)
            load.append(loaded - start)
            run.append(time.perf_counter() - loaded)
        total = [a + b for a, b in zip(load, run, strict=True)]
        print(
            f"{n:,} | {min(load):.3f} / {statistics.median(load):.3f} | "
            f"{min(run):.3f} / {statistics.median(run):.3f} | "
            f"{min(total):.3f} / {statistics.median(total):.3f}"
        )


if __name__ == "__main__":
    main([int(x) for x in sys.argv[1:]] or [10_000])
