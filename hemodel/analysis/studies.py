"""Simulated data of proposed studies: what a study of each size would report at each PSA
sample (the data-generating step of EVSI, Strong et al. 2015).

For PSA sample ``k`` with parameter values θ_k, a study's data are simulated from the model
at θ_k with patients (or samples) of their own: streams keyed by
``derived_seed(seed, "study:<name>")`` and sample ``k``, so they are independent of the PSA's
cohort and of every other sample's study, and the same whatever the number of workers or the
order the samples run in. Sizes are nested: a study of ``n`` uses the first ``n`` patients of
the largest one, so EVSI changes smoothly with size.

- ``trial``: patient pairs (0, 1), (2, 3), … are split between the two arms by a keyed coin
  (randomised blocks of two: arms differ by at most one patient at every size). Each patient
  is simulated on their arm only, from first-line start, and followed for the endpoint until
  their data cut-off (uniform on [0, 2 × median follow-up], or the time horizon). The Cox model
  (Efron ties, model-based standard error) gives ``log_hr`` of the second arm against the
  first (when it has no finite estimate, at small sizes with every event in one arm: the log
  ratio of event rates with 0.5 added to each arm's events, standard error
  √(Σ 1/(d + 0.5))); ``median.<arm>`` is the Kaplan-Meier median in months (when not
  reached: the arm's longest follow-up, a lower bound); ``events.<arm>`` the share with an
  event. With a finite lab the arms queue separately, so sizes are not exactly nested.
  With ``screening:`` (SERENA-6's design, :func:`hemodel.credibility.trial.trial_scenario`),
  patients 0, 1, … are scanned and tested at the screening strategy's interval and those whose
  test is positive before progression is detected are randomised, in order of patient number,
  until the largest size is reached (in blocks sized from the share randomised so far); the
  continue arm switches to a placebo. Times run from randomisation.
- ``accuracy``: sample ``i`` gives a correct result when its keyed uniform is below the
  parameter's value at θ_k; ``proportion`` is the share correct (binomial).

A study of size 0 reports nothing (NaN summaries), so its EVSI is 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..credibility.survival import cox_binary, kaplan_meier
from ..credibility.trial import TrialDesign, trial_scenario
from ..engine.choice import choose
from ..engine.select import run_cohort
from ..model import random as rnd
from ..model.cohort import draw_cohort
from ..model.inputs import ModelInputs, build_inputs
from ..run.parallel import Executor
from ..scenario.load import parameters, with_strategies, with_values
from ..scenario.schema import Scenario
from ..scenario.studies import Study, trial_summaries
from ..scenario.units import DAYS_PER_MONTH

#: PSA samples per task (a trial sample is a few milliseconds of simulation).
SAMPLES_PER_TASK = 25


@dataclass(frozen=True)
class StudyJob:
    """What every task of one study shares. ``scenario``: for a trial, only its two arms."""

    name: str
    study: Study
    scenario: Scenario
    seed: int  # the study's own: derived_seed(run seed, "study:<name>")
    engine: str

    @classmethod
    def of(cls, scenario: Scenario, name: str, seed: int, engine: str = "auto") -> StudyJob:
        """The job of ``scenario``'s study ``name`` for a run with ``seed``."""
        if name not in scenario.studies:
            known = ", ".join(scenario.studies) or "none"
            raise KeyError(f"no study {name!r} in the scenario (studies: {known})")
        study = scenario.studies[name]
        if study.screening is not None:
            scenario = trial_scenario(scenario, screening_design(scenario, name, study))
            engine = choose(engine, build_inputs(scenario))
        elif study.design == "trial":
            # Nothing after the last data cut-off (2 × median follow-up) is observed, so the
            # simulation stops there (the same event times, fewer scheduled tests).
            changes, median = {}, study.follow_up.months()
            if median is not None and 2 * median * DAYS_PER_MONTH < scenario.time_horizon.days():
                changes["time_horizon"] = {"value": 2 * median, "unit": "months"}
            arms, title = study.arms, f"{scenario.name} ({name})"
            scenario = with_strategies(scenario, arms, arms[0], name=title, changes=changes)
            engine = choose(engine, build_inputs(scenario))
        own = rnd.derived_seed(seed, f"study:{name}")
        return cls(name, study, scenario, own, engine)

    @property
    def columns(self) -> list[str]:
        """Every summary this study reports (the columns of :func:`simulate`)."""
        if self.study.design == "trial":
            return trial_summaries(self.study.arm_names)
        return ["proportion"]


def _task(shared: tuple[StudyJob, tuple[int, ...]], batch) -> list[dict]:
    job, sizes = shared
    return [row for k, values in batch for row in _sample_rows(job, sizes, k, values)]


def simulate(
    job: StudyJob,
    sizes,
    values: Mapping[int, Mapping[str, float]],
    executor: Executor | None = None,
    on_batch=None,
) -> pd.DataFrame:
    """Summaries of the study at every size (columns ``sample``, ``size``, then
    :attr:`StudyJob.columns`) for the PSA samples ``values`` (sample → parameter values), in
    tasks of :data:`SAMPLES_PER_TASK` samples on ``executor`` (default: this process; the
    result does not depend on it); ``on_batch(samples)`` after each task."""
    sizes = tuple(sorted(int(n) for n in sizes))
    items = [(k, tuple((p, float(x)) for p, x in v.items())) for k, v in values.items()]
    batches = [items[a : a + SAMPLES_PER_TASK] for a in range(0, len(items), SAMPLES_PER_TASK)]
    ex = executor or Executor(1)

    def done(i: int, _rows) -> None:
        if on_batch is not None:
            on_batch(len(batches[i]))

    parts = ex.map(_task, batches, (job, sizes), on_result=done)
    rows = [row for part in parts for row in part]
    return pd.DataFrame(rows, columns=["sample", "size", *job.columns])


# -- one sample ---------------------------------------------------------------------------
def _sample_rows(job: StudyJob, sizes: tuple[int, ...], sample: int, values: tuple) -> list[dict]:
    largest = max(sizes)
    if job.study.design == "accuracy":
        p = dict(values).get(job.study.parameter)
        if p is None:  # not drawn in this run: its base value
            p = float(parameters(job.scenario)[job.study.parameter].value)
        u = rnd.uniforms(job.seed, sample, "study_result", np.arange(largest))[:, 0]
        correct = np.concatenate([[0], np.cumsum(u < p)])
        return [
            {"sample": sample, "size": n, "proportion": correct[n] / n if n else np.nan}
            for n in sizes
        ]
    inputs = build_inputs(with_values(job.scenario, dict(values)))
    times, events, arm = _trial_data(job, inputs, sample, largest)
    return [{"sample": sample, "size": n, **_trial_summaries(job, times[:n], events[:n], arm[:n])}
            for n in sizes]  # fmt: skip


def allocation(seed: int, sample: int, patients: int) -> np.ndarray:
    """Arm (0 = control, 1 = experimental) of patients ``0 .. patients-1``: each pair
    (2j, 2j+1) gets one of each, the order set by a keyed coin (randomised blocks of two)."""
    pairs = np.arange((patients + 1) // 2)
    first = (rnd.uniforms(seed, sample, "study_arm", pairs)[:, 0] < 0.5).astype(int)
    return np.column_stack([first, 1 - first]).ravel()[:patients]


def screening_design(scenario: Scenario, name: str, study: Study) -> TrialDesign:
    """The virtual trial of a study with ``screening:``: scans and tests at the screening
    strategy's interval from its first scan at or after the strategy's first test, its assay
    and switch therapy, and the study's follow-up."""
    plan = scenario.strategies[study.screening]
    return TrialDesign(
        name=name,
        every_weeks=plan.monitoring.every.days() / 7.0,
        start_months=plan.monitoring.start.days() / DAYS_PER_MONTH,
        assay=plan.monitoring.assay,
        therapy=plan.switch.to,
        follow_up_months=study.follow_up.months(),
    )


def _end(table: pd.DataFrame, endpoint: str) -> np.ndarray:
    """Day of the endpoint's event (NaN: none within the horizon)."""
    cols = ["death_days"] if endpoint == "os" else ["detected_progression_days", "death_days"]
    return np.fmin.reduce([table[c].to_numpy(float) for c in cols])


def _trial_data(job: StudyJob, inputs: ModelInputs, sample: int, patients: int):
    """Endpoint times (months from randomisation), event flags and arms of the trial's
    ``patients`` randomised patients at one PSA sample."""
    study = job.study
    arm = allocation(job.seed, sample, patients)
    if study.screening is not None:
        ids, zero, end = _randomised_on_detection(job, inputs, sample, arm)
    else:
        ids, zero, end = np.arange(patients), np.zeros(patients), np.full(patients, np.nan)
        cohort = draw_cohort(inputs, ids, job.seed, sample)
        for a, plan in enumerate(inputs.strategies):  # the arms, control first
            mine = arm == a
            if mine.any():
                rows = run_cohort(job.engine, inputs, cohort.take(mine), job.seed, sample,
                                  plans=[plan])  # fmt: skip
                end[mine] = _end(rows[0][0], study.endpoint)
    horizon = (inputs.horizon - zero) / DAYS_PER_MONTH
    median = study.follow_up.months()
    if median is None:
        cut = horizon
    else:
        u = rnd.uniforms(job.seed, sample, "study_follow_up", ids)[:, 0]
        cut = np.minimum(2.0 * median * u, horizon)
    months = (end - zero) / DAYS_PER_MONTH
    events = months <= cut  # NaN (no event within the horizon) compares false
    return np.where(events, months, cut), events, arm


#: Most patients screened per patient randomised before a screening trial gives up.
MAX_SCREENED = 200


def _randomised_on_detection(job: StudyJob, inputs: ModelInputs, sample: int, arm: np.ndarray):
    """Screen patients 0, 1, … (monitored, placebo switch on detection) until ``len(arm)`` are
    randomised; return their ids, randomisation days and endpoint days in their arm."""
    plans = {p.name: p for p in inputs.strategies}
    wanted, ids, zero, end = len(arm), [], [], []
    screened, found, block = 0, 0, max(64, 5 * wanted)
    while found < wanted:
        if screened >= MAX_SCREENED * wanted:
            raise ValueError(
                f"study {job.name!r}: fewer than 1 in {MAX_SCREENED} screened patients were "
                f"randomised at PSA sample {sample} ({screened:,} screened): choose a "
                "screening strategy that detects mutations before progression"
            )
        cohort = draw_cohort(inputs, np.arange(screened, screened + block), job.seed, sample)
        cont = run_cohort(job.engine, inputs, cohort, job.seed, sample,
                          plans=[plans["continue"]])[0][0]  # fmt: skip
        hit = cont["switched"].to_numpy(bool)
        ids.append(cohort.ids[hit])
        zero.append(cont["switch_days"].to_numpy(float)[hit])
        end.append(_end(cont, job.study.endpoint)[hit])
        screened += block
        found += len(ids[-1])
        # The next block: what the share randomised so far needs, with a margin (any blocks
        # give the same patients: they are randomised in order of patient number).
        block = int(1.2 * (wanted - found) * screened / found) if found else 4 * screened
        block = max(64, min(block, MAX_SCREENED * wanted - screened))
    ids, zero, end = (np.concatenate(x)[:wanted] for x in (ids, zero, end))
    switch = arm == 1
    if switch.any():
        cohort = draw_cohort(inputs, ids[switch], job.seed, sample)
        rows = run_cohort(job.engine, inputs, cohort, job.seed, sample, plans=[plans["switch"]])
        end[switch] = _end(rows[0][0], job.study.endpoint)
    return ids, zero, end


def _trial_summaries(job: StudyJob, times, events, arm) -> dict[str, float]:
    names = job.study.arm_names
    out = dict.fromkeys(trial_summaries(names), np.nan)
    if len(times) == 0:
        return out
    fit = cox_binary(times, events, arm)
    out["log_hr"], out["log_hr_se"] = fit.beta, fit.se
    if np.isnan(fit.beta) and 0 < arm.sum() < len(arm):  # no events, or all in one arm
        d = np.array([events[arm == a].sum() for a in (0, 1)], float) + 0.5
        exposure = np.array([times[arm == a].sum() for a in (0, 1)])
        out["log_hr"] = float(np.log(d[1] / exposure[1]) - np.log(d[0] / exposure[0]))
        out["log_hr_se"] = float(np.sqrt((1.0 / d).sum()))
    for a, name in enumerate(names):
        mine = arm == a
        if not mine.any():
            continue
        median = kaplan_meier(times[mine], events[mine]).median()[0]
        out[f"median.{name}"] = median if np.isfinite(median) else float(times[mine].max())
        out[f"events.{name}"] = float(events[mine].mean())
    return out
