"""Running a cohort with the chosen engine (:mod:`.choice`): the SimPy engine (the reference
model: any lab, event traces) or the array engine (unlimited lab only, about fifty times
faster); both give the same outcome table."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from ..model.cohort import Cohort
from ..model.inputs import ModelInputs, StrategyPlan
from . import array, des
from .choice import BATCH_SIZE, choose


def run_cohort(
    engine: str,
    inputs: ModelInputs,
    cohort: Cohort,
    seed: int,
    sample: int = 0,
    *,
    trace: bool = False,
    batch_size: int | None = None,
    on_batch: Callable[[int], None] | None = None,
    budget_years: int = 0,
    columns: Sequence[str] | None = None,
    plans: Sequence[StrategyPlan] | None = None,
    draws: array.TestDraws | None = None,
) -> list[tuple[pd.DataFrame, list]]:
    """Every strategy of ``inputs`` (or only ``plans``) on ``cohort`` with the chosen
    ``engine`` (see :func:`choose`): one ``(outcome table, events)`` pair per strategy.
    ``columns`` keeps only those columns; ``on_batch(n)`` is called after each batch of
    ``n`` patients of one strategy. The array engine runs ``batch_size`` patients at a time,
    so memory stays about twice the outcome table (or the kept ``columns``). ``draws``: the
    array engine's per-test draws of ``cohort`` (:class:`~hemodel.engine.array.TestDraws`
    for ``seed``, ``sample`` and these patients), to reuse them across calls."""
    engine = choose(engine, inputs, trace)
    plans = inputs.strategies if plans is None else plans
    size = max(1, batch_size or BATCH_SIZE[engine])
    if engine == "simpy":
        out = []
        for plan in plans:
            log: list | None = [] if trace else None
            frame = des.run_strategy(
                inputs, plan, cohort, seed, sample, log, size, on_batch, budget_years
            )
            out.append((frame if columns is None else frame[list(columns)], log or []))
        return out
    parts: list[list[pd.DataFrame]] = [[] for _ in plans]
    for a in range(0, len(cohort), size):
        part = cohort if size >= len(cohort) else cohort.take(slice(a, a + size))
        bio = array.Biology(inputs, part)
        if draws is None or part is not cohort:
            draws = array.TestDraws(seed, sample, part.ids)
        for s, plan in enumerate(plans):
            parts[s].append(
                array.run_strategy(
                    inputs, plan, part, seed, sample, budget_years,
                    biology=bio, draws=draws, columns=columns,
                )
            )  # fmt: skip
            if on_batch is not None:
                on_batch(len(part))
    return [(_concat(p), []) for p in parts]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
