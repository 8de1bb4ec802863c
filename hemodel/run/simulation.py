"""``simulate()``: run every strategy of a scenario on a common cohort.

In-process by default; ``workers``/``backend``/``scheduler`` run chunks of ``batch_size``
patients as tasks on local processes or a Dask cluster (:mod:`hemodel.run.parallel`). Every
patient's outcomes are a pure function of (scenario, seed, sample, patient), and chunks are
reassembled in patient order, so the result is bit-identical to an in-process run (the trace
too: chunks follow the engine's own batches). With a finite lab capacity patients queue
together, so the cohort cannot be split: it runs as one task, in this process.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import __version__
from ..engine.choice import BATCH_SIZE, choose
from ..engine.select import run_cohort
from ..model.cohort import draw_cohort
from ..model.inputs import build_inputs
from ..scenario.load import load_scenario, scenario_hash
from ..scenario.schema import Scenario
from .checkpoint import Checkpoint
from .codec import CHUNK
from .parallel import ENGINE_COST, Executor
from .progress import progress_bar
from .results import Results


@dataclass(frozen=True)
class _Job:
    scenario: Scenario
    seed: int
    sample: int
    trace: bool
    batch_size: int
    budget_years: int
    engine: str  # "simpy" or "array"


def _simulate_chunk(job: _Job, chunk: tuple[int, int], on_batch=None):
    """Patients ``chunk = (first, n)`` through every strategy: one frame and one event list
    per strategy (a pure function of its arguments)."""
    first, n = chunk
    inputs = build_inputs(job.scenario)
    cohort = draw_cohort(inputs, np.arange(first, first + n), job.seed, job.sample)
    frames, events = [], []
    for plan, (frame, log) in zip(
        inputs.strategies,
        run_cohort(
            job.engine,
            inputs,
            cohort,
            job.seed,
            job.sample,
            trace=job.trace,
            batch_size=job.batch_size,
            on_batch=on_batch,
            budget_years=job.budget_years,
        ),
        strict=True,
    ):
        frame.insert(0, "strategy", plan.name)
        frame.insert(0, "patient", cohort.ids)
        frames.append(frame)
        events.append(log)
    return frames, events


def simulate(
    scenario: Scenario | str | os.PathLike,
    patients: int = 1000,
    seed: int = 1,
    *,
    sample: int = 0,
    first_patient: int = 0,
    trace: bool = False,
    progress: bool | None = False,
    batch_size: int | None = None,
    budget_years: int = 0,
    engine: str = "auto",
    workers: int | None = 1,
    backend: str | None = None,
    scheduler: str | None = None,
    executor: Executor | None = None,
    checkpoint: str | os.PathLike | None = None,
) -> Results:
    """Simulate ``patients`` patients through every strategy of ``scenario``.

    All strategies see the same patients (common random numbers): patient ``i`` has the
    same latent natural history everywhere, keyed by ``(seed, sample, i)``.
    ``first_patient`` offsets the patient numbers (to run a cohort in parts).
    ``trace=True`` records every event in :attr:`Results.events`.
    ``progress``: ``True`` shows a progress bar, ``None`` shows it only on a terminal.
    ``budget_years`` > 0 adds undiscounted costs by year since start and category
    (columns ``cost_y<year>_<category>``) for budget impact analysis.
    ``workers`` (``None``: all cores, or in-process for small runs, weighed by the engine's
    cost: :data:`~hemodel.run.parallel.ENGINE_COST`), ``backend``
    (``"serial"``, ``"processes"``, ``"dask"``), ``scheduler`` (a Dask scheduler address)
    or a running ``executor`` choose where chunks of ``batch_size`` patients run (default:
    1,000 for the SimPy engine, 10,000 for the array engine); the results are the same
    bits wherever they run. ``engine``: ``"simpy"`` (the reference discrete-event model),
    ``"array"`` (the exact vectorised engine, unlimited lab only) or ``"auto"`` (array when
    the lab is unlimited and no trace is asked for); the metadata record which ran.
    ``checkpoint``: a directory that keeps each finished chunk, so that an interrupted run
    resumes where it stopped.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if patients < 1:
        raise ValueError("patients must be at least 1")
    inputs = build_inputs(scenario)
    n_strategies = len(inputs.strategies)
    engine = choose(engine, inputs, trace)
    batch_size = max(1, batch_size or BATCH_SIZE[engine])
    job = _Job(scenario, seed, sample, trace, batch_size, budget_years, engine)
    step = patients if inputs.lab_capacity is not None else max(1, batch_size)
    chunks = [(a, min(step, first_patient + patients - a)) for a in
              range(first_patient, first_patient + patients, step)]  # fmt: skip
    ckpt = _checkpoint(checkpoint, scenario, job, patients, first_patient)
    if ckpt is not None and ckpt.complete:
        out = ckpt.outputs(["patients", "events"])
        return _results(scenario, job, patients, first_patient, out["patients"], out["events"])
    stored = ckpt.load((f"{sample}-{a}" for a, _ in chunks), CHUNK) if ckpt else {}
    parts: list = [stored.get(f"{sample}-{a}") for a, _ in chunks]
    todo = [c for c, part in zip(chunks, parts, strict=True) if part is None]
    bar = progress_bar(
        patients * n_strategies,
        scenario.name,
        "patient-strategy",
        progress,
        initial=(patients - sum(n for _, n in todo)) * n_strategies,
        leave=False,
    )

    def done(j: int, part, count: bool = True) -> None:
        if ckpt is not None:
            ckpt.save(f"{sample}-{todo[j][0]}", part)
        parts[chunks.index(todo[j])] = part
        if count:
            bar.update(todo[j][1] * n_strategies)

    work = sum(n for _, n in todo) * n_strategies * ENGINE_COST[engine]
    ex = executor or Executor(workers, backend, scheduler, work=round(work))
    try:
        with bar:
            if ex.backend == "serial" or len(todo) <= 1:
                for j, c in enumerate(todo):  # in this process: progress batch by batch
                    done(j, _simulate_chunk(job, c, bar.update), count=False)
            else:
                ex.map(_simulate_chunk, todo, job, on_result=done)
    finally:
        if executor is None:
            ex.close()
    # strategy by strategy, chunks in patient order: the in-process layout
    table = pd.concat(
        [part[0][s] for s in range(n_strategies) for part in parts], ignore_index=True
    )
    table["strategy"] = pd.Categorical(table["strategy"], categories=list(scenario.strategies))
    events = [e for s in range(n_strategies) for part in parts for e in part[1][s]]
    trace_frame = pd.DataFrame(events, columns=["patient", "strategy", "day", "event", "detail"])
    results = _results(scenario, job, patients, first_patient, table, trace_frame)
    if ckpt is not None:
        ckpt.finish({"patients": table, "events": trace_frame}, csv=False)
    return results


def _checkpoint(directory, scenario: Scenario, job: _Job, patients: int, first: int):
    if directory is None:
        return None
    identity = {
        "run": "simulate",
        "scenario_hash": scenario_hash(scenario),
        "seed": job.seed,
        "sample": job.sample,
        "patients": patients,
        "first_patient": first,
        "batch_size": job.batch_size,
        "trace": job.trace,
        "budget_years": job.budget_years,
        "engine": job.engine,
        "hemodel_version": __version__,
    }
    return Checkpoint(directory, identity)


def _results(scenario, job: _Job, patients: int, first: int, table, events) -> Results:
    metadata = {
        "scenario": scenario.name,
        "scenario_hash": scenario_hash(scenario),
        "seed": job.seed,
        "sample": job.sample,
        "patients": patients,
        "first_patient": first,
        "engine": job.engine,
        "hemodel_version": __version__,
        "currency": scenario.currency,
        "price_year": scenario.price_year,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return Results(
        patients=table,
        reference=scenario.reference,
        wtp=scenario.willingness_to_pay[0].value,
        currency=scenario.currency,
        metadata=metadata,
        events=events,
    )
