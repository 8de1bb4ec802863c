"""Probabilistic sensitivity analysis: parameter draws and per-sample simulation summaries.

Sample ``k`` (1, 2, …) draws every parameter that has a ``psa:`` distribution by inverse CDF
from the keyed uniform ``(seed, k, "psa:<parameter path>")``, so a draw does not depend on
which other parameters exist. Correlated parameters share a Gaussian copula
(``uncertainty.correlations``); probabilities summing to one come from a Dirichlet
(``uncertainty.dirichlet``, drawn as normalised gamma variates). Parameters calibrated by
``hemodel calibrate --method bayes`` (``uncertainty.posterior``) are drawn jointly: sample
``k`` takes row ``floor(u·n)`` of the ``n`` posterior draws, ``u`` the keyed uniform
``(seed, k, "psa_posterior")``, so they keep the posterior's correlations (their own
``psa:`` is ignored).

Every sample simulates the **same patients** (their natural-history streams are keyed by
sample 0): differences between samples then come from parameters only, so first-order
(patient-level) noise does not inflate EVPI or blur the CEAC, and a PSA whose distributions
are all degenerate reproduces the deterministic run exactly. First-order error remains as
one shared cohort effect, reported as the Monte Carlo standard error of each sample's mean.

Execution: the work is split into tasks of (sample, patient chunk), run on any back-end of
:mod:`hemodel.run.parallel`. A task returns exact per-strategy sums and sums of squares
(:class:`~hemodel.run.sums.Moments`), never per-patient rows, so memory stays flat as samples
grow, and a sample's means are correctly rounded: bit-identical for any back-end, number of
workers, chunk size or completion order. (They can differ in the last bit from a pandas
``mean()`` of the same rows, which sums in a different order.) With a finite lab capacity
patients interact through the queue, so each sample runs as one task (chunking by sample
only). ``checkpoint=DIR`` stores each finished task and resumes from them (see
:mod:`hemodel.run.checkpoint`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from .. import __version__
from ..engine.array import TestDraws
from ..engine.choice import choose
from ..engine.select import run_cohort
from ..model import random as rnd
from ..model.cohort import draw_cohort
from ..model.inputs import ModelInputs, build_inputs
from ..model.outcomes import COST_CATEGORIES, budget_columns
from ..run.checkpoint import Checkpoint
from ..run.parallel import Executor
from ..run.progress import progress_bar
from ..run.sums import Moments
from ..scenario.load import parameters, scenario_hash, with_values
from ..scenario.schema import Scenario

#: Per-sample, per-strategy means kept by the PSA (per-patient outcome columns).
KEPT = ("cost_total", "qalys", "lys", "cost_total_undiscounted", "lys_undiscounted",
        "tests", "switched", "false_positive_switch",
        *(f"cost_{c}" for c in COST_CATEGORIES))  # fmt: skip
#: Columns whose standard error is reported (``<name>_se``).
WITH_SE = ("cost_total", "qalys")
_RENAME = {"cost_total": "cost", "qalys": "qaly", "switched": "switches",
           "false_positive_switch": "false_positive_switches"}  # fmt: skip
#: Default patients per task by engine (chunks never change results, only the task count).
CHUNK_SIZE = {"simpy": 500, "array": 10_000}


def uncertain_parameters(scenario: Scenario) -> dict:
    """Parameters drawn in the PSA: those with a non-degenerate ``psa:``, in a Dirichlet or
    drawn from a calibration posterior."""
    params = parameters(scenario)
    joint = set(_posterior_parameters(scenario))
    out = {
        p: v
        for p, v in params.items()
        if p in joint or (v.psa is not None and v.psa.dist != "fixed")
    }
    for group in scenario.uncertainty.dirichlet:
        out.update({p: params[p] for p in group.parameters})
    return out


def require_uncertainty(scenario: Scenario) -> None:
    """Raise ValueError when no parameter is drawn: every PSA sample would be the base case."""
    if not uncertain_parameters(scenario):
        raise ValueError(
            f"no parameter of '{scenario.name}' has a psa: distribution, so every PSA sample "
            "would repeat the base case: give the uncertain parameters a psa: (e.g. "
            "psa: {dist: beta, mean: 0.85, sd: 0.05}; see docs/howto-psa-on-a-cluster.md)"
        )


def draw_table(scenario: Scenario, samples, seed: int) -> dict[str, np.ndarray]:
    """Parameter values of the PSA ``samples`` (numbers ≥ 1), one array per dotted parameter
    path, all samples at once (each value is a pure function of seed, sample and path)."""
    samples = np.asarray(samples, dtype=np.int64)
    if samples.size and samples.min() < 1:
        raise ValueError("PSA samples are numbered from 1 (sample 0 is the base case)")
    params = uncertain_parameters(scenario)
    joint = _posterior_parameters(scenario)
    u = {p: rnd.sample_uniforms(seed, samples, f"psa:{p}") for p in params if p not in joint}
    for corr in scenario.uncertainty.correlations:
        z = special.ndtri(np.array([u[p] for p in corr.parameters]))
        lower = np.linalg.cholesky(np.asarray(corr.matrix))
        # Summed term by term, not with `@`: BLAS may round differently for other shapes,
        # and a sample's values must not depend on how many samples are drawn with it.
        correlated = sum(lower[:, [j]] * z[j] for j in range(len(z)))
        u.update(zip(corr.parameters, special.ndtr(correlated), strict=True))
    values = {p: np.asarray(params[p].draw(u[p]), dtype=float) for p in u}
    for group in scenario.uncertainty.dirichlet:
        g = np.array(
            [
                stats.gamma.ppf(u[p], a)
                for p, a in zip(group.parameters, group.concentrations, strict=True)
            ]
        )
        values.update(zip(group.parameters, g / g.sum(axis=0), strict=True))
    if joint:
        values.update(posterior_draws(scenario, samples, seed))
    return {p: np.broadcast_to(values[p], samples.shape) for p in params}


def _posterior_parameters(scenario: Scenario) -> list[str]:
    posterior = scenario.uncertainty.posterior
    return list(posterior.parameters) if posterior is not None else []


def posterior_draws(scenario: Scenario, samples, seed: int) -> dict[str, np.ndarray]:
    """Values of the posterior's parameters in PSA ``samples``: sample ``k`` takes row
    ``floor(u·n)`` of the ``n`` draws, ``u`` the keyed uniform ``(seed, k, "psa_posterior")``
    (the same row for every parameter: their joint distribution is the posterior's)."""
    posterior = scenario.uncertainty.posterior
    table = np.asarray(posterior.table, dtype=float)
    if table.size == 0:
        raise ValueError(
            "uncertainty.posterior has no draws: load the scenario from its file (the draws "
            f"are read from {posterior.draws!r} then)"
        )
    u = rnd.sample_uniforms(seed, np.asarray(samples, dtype=np.int64), "psa_posterior")
    rows = np.minimum((u * len(table)).astype(np.int64), len(table) - 1)
    return {p: table[rows, j] for j, p in enumerate(posterior.parameters)}


def draw_parameters(scenario: Scenario, sample: int, seed: int) -> dict[str, float]:
    """Parameter values of PSA ``sample`` (≥ 1), keyed by dotted parameter path."""
    return {p: float(v[0]) for p, v in draw_table(scenario, [sample], seed).items()}


def sample_scenario(scenario: Scenario, sample: int, seed: int) -> Scenario:
    """The scenario with PSA ``sample``'s parameter values (sample 0: unchanged)."""
    return (
        scenario if sample == 0 else with_values(scenario, draw_parameters(scenario, sample, seed))
    )


def summarise_sample(patients: pd.DataFrame, sample: int) -> pd.DataFrame:
    """Per-strategy means (and their standard errors) of one sample's patients."""
    g = patients.groupby("strategy", sort=False, observed=True)
    means = g[list(KEPT)].mean()
    ses = g[["cost_total", "qalys"]].sem().add_suffix("_se")
    out = pd.concat([means, ses], axis=1).reset_index()
    out = out.rename(columns={**_RENAME, "cost_total_se": "cost_se", "qalys_se": "qaly_se"})
    out.insert(0, "sample", sample)
    out["strategy"] = out["strategy"].astype(str)
    return out


# -- tasks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryJob:
    """What every task of a run shares (sent once per worker on Dask)."""

    scenario: Scenario
    seed: int
    budget_years: int = 0
    engine: str = "simpy"  # "simpy" or "array"
    token: str = ""  # scenario hash (computed): workers cache model inputs under it

    def __post_init__(self):
        if not self.token:
            object.__setattr__(self, "token", scenario_hash(self.scenario))


@dataclass(frozen=True)
class Chunk:
    """One task: patients ``first_patient`` .. ``+ patients - 1`` of one parameter sample.

    ``values`` are the sample's parameter values; ``cohort`` the number of patients of the
    whole run (a finite lab needs the whole cohort in one task).
    """

    sample: int
    values: tuple[tuple[str, float], ...]
    first_patient: int
    patients: int
    cohort: int

    @property
    def key(self) -> str:
        return f"{self.sample}-{self.first_patient}"


def chunk_ranges(patients: int, chunk_size: int | None, finite_lab: bool) -> list[tuple[int, int]]:
    """``(first_patient, patients)`` of each chunk. With a finite lab, patients interact
    through the queue, so there is one chunk: the whole cohort."""
    size = patients if finite_lab or not chunk_size else max(1, chunk_size)
    return [(a, min(size, patients - a)) for a in range(0, patients, size)]


_INPUTS: dict[tuple, ModelInputs] = {}  # per process: (token, values) → model inputs
#: Per process: the array engine's per-test draws of the last chunks, which every sample
#: shares (the same patients and streams at every parameter point).
_DRAWS: dict[tuple[int, int, int], TestDraws] = {}


def _inputs(job: SummaryJob, values: tuple) -> ModelInputs:
    key = (job.token, values)
    if key not in _INPUTS:
        if len(_INPUTS) >= 16:
            _INPUTS.clear()
        _INPUTS[key] = build_inputs(with_values(job.scenario, dict(values)))
    return _INPUTS[key]


def summarise_chunk(job: SummaryJob, chunk: Chunk) -> dict[str, Moments]:
    """Run one chunk through every strategy: exact per-strategy sums (a pure function)."""
    inputs = _inputs(job, chunk.values)
    if inputs.lab_capacity is not None and (chunk.first_patient, chunk.patients) != (
        0,
        chunk.cohort,
    ):
        raise ValueError(
            "with a finite lab capacity patients queue together: a task must hold the whole "
            f"cohort (patients 0..{chunk.cohort - 1}), not a chunk"
        )
    ids = np.arange(chunk.first_patient, chunk.first_patient + chunk.patients)
    cohort = draw_cohort(inputs, ids, job.seed, 0)
    columns = list(KEPT) + budget_columns(job.budget_years)
    key = (job.seed, chunk.first_patient, chunk.patients)
    if job.engine == "array" and key not in _DRAWS:
        if len(_DRAWS) >= 2:
            _DRAWS.clear()
        _DRAWS[key] = TestDraws(job.seed, 0, ids)
    frames = run_cohort(
        job.engine,
        inputs,
        cohort,
        job.seed,
        budget_years=job.budget_years,
        columns=columns,
        draws=_DRAWS.get(key),
    )
    return {
        plan.name: Moments.of(frame, columns, WITH_SE)
        for plan, (frame, _) in zip(inputs.strategies, frames, strict=True)
    }


def summarise_chunks(job: SummaryJob, chunks: tuple[Chunk, ...]) -> list[dict[str, Moments]]:
    """Several small chunks as one task (fewer round trips); one result per chunk."""
    return [summarise_chunk(job, c) for c in chunks]


def batches(chunks: list[Chunk], patients: int) -> list[tuple[Chunk, ...]]:
    """Consecutive chunks grouped into tasks of at least ``patients`` patients."""
    out: list[tuple[Chunk, ...]] = []
    group: list[Chunk] = []
    for c in chunks:
        group.append(c)
        if sum(g.patients for g in group) >= patients:
            out.append(tuple(group))
            group = []
    return out + [tuple(group)] * bool(group)


def sample_rows(sample: int, parts: list[dict[str, Moments]]) -> list[dict]:
    """Per-strategy rows of one sample from its chunks' sums (any order: sums are exact)."""
    rows = []
    for strategy in parts[0]:
        m = Moments.combine([p[strategy] for p in parts])
        row: dict = {"sample": sample, "strategy": strategy}
        row.update({_RENAME.get(c, c): m.mean(c) for c in m.sums})
        row.update({_RENAME[c] + "_se": m.sem(c) for c in WITH_SE})
        rows.append(row)
    return rows


# -- runs --------------------------------------------------------------------------------


def run_points(
    scenario: Scenario,
    points: Mapping[int, Mapping[str, float]],
    patients: int,
    seed: int = 1,
    *,
    progress: bool | None = False,
    workers: int | None = 1,
    backend: str | None = None,
    scheduler: str | None = None,
    executor: Executor | None = None,
    checkpoint: Checkpoint | str | os.PathLike | None = None,
    chunk_size: int | None = None,
    budget_years: int = 0,
    engine: str = "auto",
) -> pd.DataFrame:
    """Per-strategy means of ``patients`` patients at each parameter point.

    ``points``: label (an int, reported as ``sample``) → parameter values (dotted path →
    value; ``{}`` is the base case). The same patients (streams of sample 0) are used at
    every point. Returns the columns of :func:`run_psa`'s ``per_sample``, plus
    ``cost_y<year>_<category>`` means when ``budget_years`` > 0. This is the engine of PSA,
    DSA, sweeps and calibration; ``executor`` reuses running workers across calls.
    """
    if patients < 1:
        raise ValueError("patients must be at least 1")
    inputs = build_inputs(scenario)
    finite, engine = inputs.lab_capacity is not None, choose(engine, inputs)
    size = chunk_size or CHUNK_SIZE[engine]
    ranges = chunk_ranges(patients, size, finite)
    ckpt = checkpoint
    if ckpt is not None and not isinstance(ckpt, Checkpoint):
        identity = run_identity("points", scenario, seed, patients, size, budget_years, finite)
        identity["engine"] = engine
        identity["points"] = _points_hash(points)
        ckpt = Checkpoint(ckpt, identity)
    values = {k: tuple((p, float(v)) for p, v in points[k].items()) for k in points}
    chunks = {k: [Chunk(k, values[k], a, n, patients) for a, n in ranges] for k in points}
    job = SummaryJob(scenario, seed, budget_years, engine)
    results: dict[str, dict[str, Moments]] = {}  # chunk key → sums, until its sample is done
    rows: dict[int, list[dict]] = {}
    bar = _bar(len(points) * patients, progress)

    def finish(task: Chunk, result: dict[str, Moments]) -> None:
        results[task.key] = result
        mine = chunks[task.sample]
        if all(c.key in results for c in mine):  # combine the sample, drop its chunks
            rows[task.sample] = sample_rows(task.sample, [results.pop(c.key) for c in mine])
        bar.update(task.patients)
        bar.set_postfix_str(f"{len(rows)}/{len(points)} samples", refresh=False)

    tasks = [c for k in points for c in chunks[k]]
    own = executor is None
    ex = executor
    try:
        with bar:
            stored = ckpt.load(t.key for t in tasks) if ckpt is not None else {}
            for t in tasks:
                if t.key in stored:
                    finish(t, stored.pop(t.key))
            todo = [t for t in tasks if t.key not in results and t.sample not in rows]
            groups = batches(todo, size)  # small samples travel together

            def done(i: int, parts: list[dict[str, Moments]]) -> None:
                for task, result in zip(groups[i], parts, strict=True):
                    if ckpt is not None:
                        ckpt.save(task.key, result)
                    finish(task, result)

            work = sum(t.patients for t in todo) * len(scenario.strategies)
            ex = ex or Executor(workers, backend, scheduler, work=work)
            ex.map(summarise_chunks, groups, job, on_result=done)
    finally:
        if own and ex is not None:
            ex.close()
    return pd.DataFrame([r for k in points for r in rows[k]])


def run_identity(
    kind: str, scenario: Scenario, seed: int, patients: int, chunk: int, budget: int, finite: bool
) -> dict:
    """What identifies a run's checkpoint: resuming with anything else is refused."""
    return {
        "run": kind,
        "scenario_hash": scenario_hash(scenario),
        "seed": seed,
        "patients": patients,
        "chunk_size": patients if finite else chunk,
        "budget_years": budget,
        "hemodel_version": __version__,
    }


def _points_hash(points: Mapping[int, Mapping[str, float]]) -> str:
    text = json.dumps([[k, sorted(v.items())] for k, v in points.items()])
    return hashlib.sha256(text.encode()).hexdigest()


def run_psa(
    scenario: Scenario,
    samples: int,
    patients: int,
    seed: int = 1,
    progress: bool | None = False,
    *,
    workers: int | None = 1,
    backend: str | None = None,
    scheduler: str | None = None,
    executor: Executor | None = None,
    checkpoint: str | os.PathLike | None = None,
    chunk_size: int | None = None,
    budget_years: int = 0,
    engine: str = "auto",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run ``samples`` PSA samples of ``patients`` patients each.

    Returns ``(per_sample, drawn)``: per-sample, per-strategy means (columns ``sample``,
    ``strategy``, ``cost``, ``qaly`` — the tidy form :mod:`hemodel.analysis.cea` reads — costs by
    category, life-years, tests, switches, and the standard errors ``cost_se``, ``qaly_se``
    of each sample's means) and the drawn parameter
    values (one row per sample, one column per parameter path).

    Execution (results are bit-identical whichever is chosen): ``workers`` processes
    (``None``: all cores, or in-process for small runs), ``backend`` ``"serial"``,
    ``"processes"`` or ``"dask"`` (a ``LocalCluster`` of ``workers``), ``scheduler``
    (``tcp://host:port`` of a Dask scheduler), or a running ``executor``. ``chunk_size``:
    patients per task (default :data:`CHUNK_SIZE` of the engine; a finite lab forces whole
    samples). ``engine``: ``"auto"``, ``"simpy"`` or ``"array"``
    (:func:`hemodel.engine.choice.choose`; the array engine needs an unlimited lab).
    ``checkpoint``: a directory to store finished tasks in and resume from; a finished run
    there is returned as stored. ``budget_years`` > 0 adds mean undiscounted costs by year
    (``cost_y<year>_<category>``) for budget impact.
    Without any ``psa:`` distribution every sample repeats the base case (a verification
    check); commands call :func:`require_uncertainty` first and refuse such a scenario.
    """
    ckpt = None
    if checkpoint is not None:
        inputs = build_inputs(scenario)
        finite, chosen = inputs.lab_capacity is not None, choose(engine, inputs)
        size = chunk_size or CHUNK_SIZE[chosen]
        identity = run_identity("psa", scenario, seed, patients, size, budget_years, finite)
        ckpt = Checkpoint(checkpoint, {**identity, "samples": samples, "engine": chosen})
        if ckpt.complete:
            out = ckpt.outputs(["per_sample", "drawn"])
            return out["per_sample"], out["drawn"]
    table = draw_table(scenario, np.arange(1, samples + 1), seed)
    points = {k: {p: float(v[k - 1]) for p, v in table.items()} for k in range(1, samples + 1)}
    per_sample = run_points(
        scenario,
        points,
        patients,
        seed,
        progress=progress,
        workers=workers,
        backend=backend,
        scheduler=scheduler,
        executor=executor,
        checkpoint=ckpt,
        chunk_size=chunk_size,
        budget_years=budget_years,
        engine=engine,
    )
    drawn = pd.DataFrame([{"sample": k, **v} for k, v in points.items()])
    if ckpt is not None:
        ckpt.finish({"per_sample": per_sample, "drawn": drawn})
    return per_sample, drawn


def _bar(total: int, progress: bool | None):
    return progress_bar(total, "PSA", "patient", progress, smoothing=0.1, dynamic_ncols=True)
