"""Scenario fuzzing at scale (not part of the test suite): N mutants through ``check`` and,
when accepted, a 20-patient run (the property of ``tests/fuzz/verdict.py``).

Mutant ``i`` of seed ``s`` is drawn from ``random.Random(f"{s}-{i}")`` by the mutation
functions of ``tests/fuzz/mutants.py`` (the ones the hypothesis test draws from), so a run is
reproducible and any one mutant can be looked at again. Printed: how many were accepted (and
ran), rejected cleanly, or anything else, the distinct kinds of "anything else" with a count
and the first example, and the wall time.

    python benchmarks/fuzz.py --n 10000 --seed 1 --workers 2
    python benchmarks/fuzz.py --seed 1 --show 123     # the files of mutant 123 and its verdict
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz.mutants import Mutant, mutant_number  # noqa: E402
from tests.fuzz.verdict import Verdict, evaluate  # noqa: E402


def show(mutant: Mutant, verdict: Verdict) -> None:
    """Print a mutant's files (long lines cut) and its verdict."""
    print(mutant.describe(400))
    for name, text in mutant.files:
        lines = [line if len(line) < 200 else line[:200] + "…" for line in text.splitlines()]
        print(f"--- {name} ({len(text):,} characters)", *lines[:200], sep="\n")
    print(f"--- links {mutant.links}, fifos {mutant.fifos}, checked: {mutant.main}")
    print(verdict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="mutants (default 1,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first", type=int, default=0, help="number of the first mutant")
    parser.add_argument("--workers", type=int, default=2, help="mutants checked at once")
    parser.add_argument("--no-run", action="store_true", help="check only, run nothing")
    parser.add_argument("--show", type=int, help="show this one mutant and its verdict")
    args = parser.parse_args()
    if args.show is not None:
        mutant = mutant_number(args.seed, args.show)
        show(mutant, evaluate(mutant, run=not args.no_run))
        return

    def one(i: int) -> tuple[int, Mutant, Verdict]:
        mutant = mutant_number(args.seed, i)
        try:
            return i, mutant, evaluate(mutant, run=not args.no_run)
        except Exception as exc:  # a bug of the fuzzer itself: counted apart, the run goes on
            return i, mutant, Verdict("harness error", f"{type(exc).__name__}: {exc}")

    start = time.perf_counter()
    counts: Counter = Counter()
    kinds: Counter = Counter()
    first: dict[str, tuple[int, Mutant, Verdict]] = {}
    numbers = range(args.first, args.first + args.n)
    with ThreadPoolExecutor(max(1, args.workers)) as pool:
        for done, (i, mutant, verdict) in enumerate(pool.map(one, numbers), 1):
            counts[verdict.outcome] += 1
            if verdict.outcome in ("other", "harness error"):
                kinds[verdict.kind] += 1
                first.setdefault(verdict.kind, (i, mutant, verdict))
            if done % 500 == 0:
                print(f"{done:,} mutants, {time.perf_counter() - start:.0f} s: {dict(counts)}")
    elapsed = time.perf_counter() - start
    print(
        f"\n{args.n:,} mutants (seed {args.seed}, from {args.first}) in {elapsed:.0f} s: "
        f"accepted {counts['accepted']:,}{'' if args.no_run else ' (and ran)'}, "
        f"rejected cleanly {counts['rejected']:,}, other {counts['other']:,}"
        + (f", harness errors {counts['harness error']:,}" if counts["harness error"] else "")
    )
    for kind, count in kinds.most_common():
        i, mutant, verdict = first[kind]
        print(f"\n{count:5,}  {kind}\n       e.g. mutant {i}: {mutant.describe(100)}")
        if verdict.detail:
            print("       " + verdict.detail[:300].replace("\n", "\n       "))


if __name__ == "__main__":
    main()
