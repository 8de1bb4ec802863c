"""The array engine: a whole cohort through one strategy at once, in NumPy, for an unlimited lab.

With an unlimited lab patients do not interact, and every event of the pathway (DESIGN.md §3)
is a closed-form function of the patient's latent natural history
(:class:`~hemodel.model.cohort.Cohort`) and the keyed per-test uniforms, so no event queue is
needed:

* the blood draws are a contiguous prefix of the schedule ``start + k·every``. A loop over
  the test number ``k``, vectorised over the patients still being tested (the active set
  shrinks as patients are detected, die or switch), finds where the prefix ends and the first
  positive result that acts (earliest result day, then lowest test number);
* a switch at day ``s`` moves ESR1-driven progression: the rest of the patient's
  cumulative-hazard budget is spent at ``HR``·hazard (:func:`event_time`); detected
  progression is the first scan at or after true progression;
* costs, QALYs and life-years are integrals of piecewise-constant rates under continuous
  discounting (:mod:`hemodel.engine.accounts`).

The draws of test ``k`` of a patient (result, turnaround, transport) are keyed by patient and
test number, not by strategy, so a lab delay's inverse CDF is computed once per patient and
test and shared by every strategy that uses the same delay law (:class:`TestDraws`).

This engine shares nothing with the SimPy engine (:mod:`hemodel.engine.des`) but the model
inputs, the cohort, the keyed random streams and the columns of the outcome table, so each
checks the other: ``tests/verification/test_engines_agree.py`` requires every per-patient
column to agree (rtol 1e-9) on every bundled scenario and on variants of every feature.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..model import random as rnd
from ..model.cohort import Cohort
from ..model.inputs import DelayLaw, ModelInputs, StrategyPlan, SwitchPlan
from ..model.kinetics import detectable_from, detection_delays
from ..model.outcomes import OUTCOME_COLUMNS, budget_columns
from ..scenario.hazards import TimeToEvent
from .accounts import GRID_TOL, Pathway, accounts


def event_time(law: TimeToEvent, budget, since, hr: float, until=np.inf) -> np.ndarray:
    """Time on the law's own clock at which the cumulative hazard, multiplied by ``hr`` from
    ``since`` to ``until`` (inf: no waning), reaches ``budget``: solves
    ``H(a) + hr·(H(t) − H(a)) = budget`` with ``a = max(since, 0)`` when that ``t`` comes
    before ``until``, else ``H(a) + hr·(H(u) − H(a)) + H(t) − H(u) = budget``.
    ``since = inf`` means the hazard ratio never applies; ``hr = 0`` means the event never
    happens while it applies (the array form of
    :func:`hemodel.scenario.hazards.time_with_hazard_ratio`)."""
    budget = np.asarray(budget, dtype=float)
    plain = law.inv_cumhaz(budget)
    since = np.broadcast_to(np.asarray(since, dtype=float), budget.shape)
    if hr == 1.0 or not np.isfinite(since).any():
        return plain
    until = np.broadcast_to(np.asarray(until, dtype=float), budget.shape)
    a = np.where(np.isfinite(since), np.maximum(since, 0.0), 0.0)
    spent = law.cumhaz(a)
    scaled = np.isfinite(since) & (spent < budget) & (until > a)
    if hr == 0.0:
        later = np.full(budget.shape, np.inf)
    else:
        later = law.inv_cumhaz(np.where(scaled, spent + (budget - spent) / hr, budget))
    wanes = scaled & np.isfinite(until)
    if wanes.any():
        at_end = law.cumhaz(np.where(wanes, until, 0.0))
        reached = spent + hr * (at_end - spent)
        after = wanes & (reached < budget)
        later = np.where(after, law.inv_cumhaz(np.where(after, at_end + budget - reached, 0.0)),
                         later)  # fmt: skip
    return np.where(scaled, later, plain)


def next_on_grid(t: np.ndarray, every: float) -> np.ndarray:
    """First of ``every, 2·every, …`` at or after ``t`` (days); inf stays inf."""
    with np.errstate(invalid="ignore"):
        k = np.maximum(np.ceil(t / every - GRID_TOL), 1.0)
    return np.where(np.isfinite(t), k * every, np.inf)


def grid_count(until, every: float) -> np.ndarray:
    """How many of ``every, 2·every, …`` fall on or before ``until``."""
    return np.maximum(np.floor(np.asarray(until) / every + GRID_TOL), 0.0)


class Biology:
    """Strategy-free quantities of a cohort: progression without any switch, the untreated
    course after it, and when each assay could first detect the mutation (days from the 1L
    start)."""

    def __init__(self, inputs: ModelInputs, cohort: Cohort):
        nh = inputs.natural_history
        c = cohort
        self.cohort, self.horizon, self.laws = c, inputs.horizon, nh
        self.emerged = np.isfinite(c.emergence)
        self.esr1 = np.full(len(c), np.inf)
        em = self.emerged
        budget = nh.esr1_progression.inv_cumhaz(c.esr1_budget[em])
        self.esr1[em] = c.emergence[em] + c.esr1_scale[em] * budget
        self.t1 = np.minimum(c.other_progression, self.esr1)
        self.gap2 = nh.second_progression.inv_cumhaz(c.second_budget)  # untreated
        self.gap_death = self.gap2 + c.disease_death_after
        self.end1 = self.first_line_end(self.t1)
        self._delays: dict[float | None, tuple[np.ndarray, np.ndarray]] = {}

    def first_line_end(self, t1: np.ndarray, idx=slice(None)) -> np.ndarray:
        """End of first-line follow-up other than detection: background death, death from
        the untreated disease, or the horizon."""
        c = self.cohort
        return np.minimum(
            np.minimum(c.background_death[idx], t1 + self.gap_death[idx]), self.horizon
        )

    def progression(self, sw: SwitchPlan, idx: np.ndarray, switch: np.ndarray):
        """True first progression and first-line end of patients ``idx`` switched at
        ``switch`` (days; inf: never) under the switch plan ``sw``."""
        c = self.cohort
        esr1 = self.esr1[idx].copy()
        other = c.other_progression[idx]
        on = self.emerged[idx] & np.isfinite(switch)
        if on.any():
            e, s, scale = c.emergence[idx][on], switch[on], c.esr1_scale[idx][on]
            until = s + sw.effect_duration
            law, budget = self.laws.esr1_progression, c.esr1_budget[idx][on]
            since, stop = (s - e) / scale, (until - e) / scale  # on the patient's clock
            esr1[on] = e + scale * event_time(law, budget, since, sw.hazard_ratio, stop)
            if sw.acts_on_all and sw.hazard_ratio != 1.0:  # from when both apply
                other = other.copy()
                other[on] = event_time(self.laws.other_progression, c.other_budget[idx][on],
                                       np.maximum(s, e), sw.hazard_ratio, until)  # fmt: skip
        t1 = np.minimum(other, esr1)
        return t1, self.first_line_end(t1, idx)

    def detection_delays(self, lod: float | None) -> tuple[np.ndarray, np.ndarray]:
        """:func:`~hemodel.model.kinetics.detection_delays` of an assay with limit of
        detection ``lod`` (percent MAF)."""
        if lod not in self._delays:
            self._delays[lod] = detection_delays(self.cohort.doubling_time, self.laws.kinetics,
                                                 lod)  # fmt: skip
        return self._delays[lod]

    def detectable_from(self, lod: float | None, t1: np.ndarray, idx=slice(None)) -> np.ndarray:
        """First day an assay with limit of detection ``lod`` detects the mutation of patients
        ``idx`` whose true first progression is ``t1``."""
        before, after = self.detection_delays(lod)
        return detectable_from(self.cohort.emergence[idx], t1, before[idx], after[idx])


class TestDraws:
    """Per-test draws of a cohort, keyed by (patient, test number) and shared by strategies
    (and by PSA samples, which reuse the same streams): result uniforms, and gamma lab delays
    (days) by delay law, each computed once, when a patient first reaches that test."""

    #: Gamma delay laws kept at once (a PSA may draw a new law for every sample).
    LAWS = 4

    def __init__(self, seed: int, sample: int, ids: np.ndarray):
        self.seed, self.sample, self.ids = seed, sample, ids
        self._columns: dict[tuple[str, DelayLaw | None], dict[int, np.ndarray]] = {}

    def _cached(self, key, idx: np.ndarray, k: int, compute) -> np.ndarray:
        """Values of column ``k`` at ``idx``, computing those not yet known."""
        if key not in self._columns and len(self._columns) > self.LAWS:
            del self._columns[next(old for old in self._columns if old[1] is not None)]
        column = self._columns.setdefault(key, {}).get(k)
        if column is None:
            column = self._columns[key][k] = np.full(len(self.ids), np.nan)
        values = column[idx]
        missing = np.isnan(values)
        if missing.any():
            todo = idx[missing]
            values[missing] = column[todo] = compute(todo)
        return values

    def _uniforms(self, purpose: str, idx: np.ndarray, k: int) -> np.ndarray:
        return rnd.uniforms(self.seed, self.sample, purpose, self.ids[idx], 1, k)[:, 0]

    def result(self, idx: np.ndarray, k: int) -> np.ndarray:
        """Uniforms deciding the results of test ``k`` of patients ``idx``."""
        key = ("test_result", None)
        return self._cached(key, idx, k, lambda todo: self._uniforms("test_result", todo, k))

    def delay(self, purpose: str, law: DelayLaw, idx: np.ndarray, k: int) -> np.ndarray:
        """Delay (days) of test ``k`` of patients ``idx``."""
        if law.kind == "fixed":
            return np.full(len(idx), float(law.a))
        if law.kind == "uniform":  # cheaper to draw again than to keep
            return law.ppf(self._uniforms(purpose, idx, k))
        return self._cached(
            (purpose, law), idx, k, lambda todo: law.ppf(self._uniforms(purpose, todo, k))
        )


class Monitoring:
    """What a strategy's blood draws did to each patient (arrays over the cohort)."""

    def __init__(self, n: int):
        self.tests = np.zeros(n, np.int64)
        self.positives = np.zeros(n, np.int64)
        self.false_positives = np.zeros(n, np.int64)
        self.wait = np.zeros(n)  # summed days from draw to result
        self.first_true_positive = np.full(n, np.inf)  # result day
        self.trigger = np.full(n, np.inf)  # result day of the positive that acts
        self.trigger_true = np.zeros(n, bool)
        self.switch = np.full(n, np.inf)


def monitor(
    inputs: ModelInputs, plan: StrategyPlan, bio: Biology, d1_0, end1_0, draws: TestDraws
) -> Monitoring:
    """Blood draws of a monitoring strategy: which happen, their results, the switch."""
    c, n = bio.cohort, len(bio.cohort)
    assay, sw = plan.assay, plan.switch
    m = Monitoring(n)
    if assay is None:
        return m
    cont = sw is not None and sw.continue_testing
    acts_before = np.minimum(d1_0, end1_0)  # no positive acts once progression is seen
    d1, end1 = d1_0.copy(), end1_0.copy()  # moved by a switch
    found_from = bio.detectable_from(assay.limit_of_detection, bio.t1)  # moved by a switch
    idx = np.arange(n)
    k = 0
    while idx.size:
        d = plan.draw_start + k * plan.draw_every
        keep = (d <= end1[idx]) & (d <= d1[idx])  # as visits: the last day counts
        if not cont:
            keep &= d <= m.trigger[idx]
        idx = idx[keep]
        if not idx.size:
            break
        present = c.emergence[idx] <= d
        u = draws.result(idx, k)
        found = found_from[idx] <= d
        positive = np.where(found, u < assay.sensitivity, u >= assay.specificity)
        transport = draws.delay("transport", inputs.transport, idx, k)
        result = (d + transport) + draws.delay("turnaround", assay.turnaround, idx, k)
        m.tests[idx] += 1
        m.wait[idx] += result - d
        m.positives[idx] += positive
        m.false_positives[idx] += positive & ~present
        tp = idx[positive & present]
        m.first_true_positive[tp] = np.minimum(
            m.first_true_positive[tp], result[positive & present]
        )
        acts = positive & (result < acts_before[idx]) & (result < m.trigger[idx])
        if acts.any():
            j, r = idx[acts], result[acts]
            m.trigger[j], m.trigger_true[j] = r, present[acts]
            s = _switch_day(plan, r, c.emergence[j] == 0.0, present[acts], acts_before[j])
            m.switch[j] = s
            if sw is not None:
                t1, end1[j] = bio.progression(sw, j, s)
                d1[j] = next_on_grid(t1, plan.imaging_every)
                found_from[j] = bio.detectable_from(assay.limit_of_detection, t1, j)
        k += 1
    return m


def _switch_day(plan: StrategyPlan, result, baseline, true_positive, before) -> np.ndarray:
    """Day of the switch (inf: none) planned on a positive result at day ``result``."""
    sw = plan.switch
    if sw is None:
        return np.full(len(result), np.inf)
    s = next_on_grid(result, plan.visit_every) if sw.at_next_visit else result
    excluded = baseline & true_positive & (not sw.switch_baseline_mutations)
    return np.where(~excluded & (s < before), s, np.inf)


def _pathway(inputs: ModelInputs, plan: StrategyPlan, bio: Biology, draws: TestDraws):
    """Every patient's pathway under ``plan``: the :class:`Pathway` for the books and the
    event columns of the outcome table."""
    c, n = bio.cohort, len(bio.cohort)
    e, horizon = c.emergence, inputs.horizon
    d1_0 = next_on_grid(bio.t1, plan.imaging_every)  # detection without any switch
    m = monitor(inputs, plan, bio, d1_0, bio.end1, draws)
    switched = np.isfinite(m.switch)
    t1, end1 = bio.t1, bio.end1
    if switched.any():
        j = np.flatnonzero(switched)
        t1, end1 = t1.copy(), end1.copy()
        t1[j], end1[j] = bio.progression(plan.switch, j, m.switch[j])
    d1 = next_on_grid(t1, plan.imaging_every)
    second = d1 < end1  # progression detected in life and within the horizon

    # At detected progression: optional ESR1 test, second line, second progression, death.
    pa = plan.progression_assay
    sl = np.where(second, d1, np.inf)
    targeted = tested_positive = np.zeros(n, bool)
    if pa is not None:
        found = bio.detectable_from(pa.limit_of_detection, t1) <= d1
        u = rnd.uniforms(draws.seed, draws.sample, "progression_test", c.ids)[:, 0]
        tested_positive = np.where(found, u < pa.sensitivity, u >= pa.specificity)
        tat = rnd.uniforms(draws.seed, draws.sample, "progression_tat", c.ids)[:, 0]
        sl = np.where(second, d1 + pa.turnaround.ppf(tat), np.inf)
        targeted = second & tested_positive
    gap2 = bio.gap2
    effective = np.flatnonzero(targeted & (e <= d1))
    if effective.size and inputs.targeted_2l_hr != 1.0:
        gap2 = gap2.copy()
        since = sl[effective] - t1[effective]
        law2 = inputs.natural_history.second_progression
        gap2[effective] = event_time(law2, c.second_budget[effective], since, inputs.targeted_2l_hr)
    t2 = t1 + gap2
    disease = np.where(second, t2 + c.disease_death_after, t1 + bio.gap_death)
    death = np.minimum(c.background_death, disease)
    died = death <= horizon
    end = np.minimum(death, horizon)
    f = np.minimum(d1, end)
    visits, scans = grid_count(f, plan.visit_every), grid_count(f, plan.imaging_every)
    at_progression = second & (pa is not None)

    # Molecular detection: the first true-positive result in life; lead time over imaging
    # alone (detection without any switch) when it came during first-line follow-up.
    detection = np.where(m.first_true_positive <= end, m.first_true_positive, np.inf)
    lead = np.where(detection < np.minimum(np.minimum(d1_0, d1), end1), d1_0 - detection, np.nan)
    tests = m.tests
    wait = np.where(tests > 0, m.wait / np.maximum(tests, 1), np.nan)
    switch_seen = m.switch <= end
    events = {
        "age_years": c.age,
        "esr1_at_start": c.esr1_at_start,
        "emergence_days": _within(e, end),
        "true_progression_days": _within(t1, end),
        "progression_free_days": np.minimum(t1, end),
        "detected_progression_days": _within(d1, end),
        "second_progression_days": _within(t2, end),
        "death_days": np.where(died, end, np.nan),
        "death_cause": np.where(
            died, np.where(end < c.background_death, "disease", "background"), "alive"
        ),
        "switched": switch_seen,
        "switch_days": _within(m.switch, end),
        "false_positive_switch": switch_seen & ~m.trigger_true,
        "tests": tests,
        "positives": m.positives,
        "false_positives": m.false_positives,
        "first_positive_days": _within(m.trigger, end),
        "detection_days": _within(detection, end),
        "lead_time_days": lead,
        "lab_wait_days": wait,
        "lab_queue_days": np.where(tests > 0, 0.0, np.nan),
        "progression_test": np.where(
            at_progression, np.where(tested_positive, "positive", "negative"), "none"
        ),
        "targeted_second_line": targeted,
        "visits": visits.astype(np.int64),
        "scans": scans.astype(np.int64),
    }
    schedule = np.zeros(0)
    if plan.assay is not None:
        schedule = plan.draw_start + np.arange(int(tests.max(initial=0))) * plan.draw_every
    path = Pathway(
        emergence=e, switch=m.switch, t1=t1, d1=d1, f=f, end=end, died=died, sl=sl,
        targeted=targeted, t2=t2, tests=tests, draw_days=schedule,
        at_progression=at_progression, visits=visits, scans=scans,
    )  # fmt: skip
    return path, events


def _within(t: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``t`` where it happened by ``end`` (days), NaN otherwise."""
    return np.where(t <= end, t, np.nan)


def run_strategy(
    inputs: ModelInputs,
    plan: StrategyPlan,
    cohort: Cohort,
    seed: int,
    sample: int = 0,
    budget_years: int = 0,
    *,
    biology: Biology | None = None,
    draws: TestDraws | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Outcomes of ``cohort`` under ``plan``: one row per patient, columns
    :data:`~hemodel.model.outcomes.OUTCOME_COLUMNS` (+ ``budget_columns(budget_years)``),
    or only ``columns``.

    ``biology`` and ``draws`` of the cohort may be passed in to share them between
    strategies (:func:`run_strategies`)."""
    if inputs.lab_capacity is not None:
        raise ValueError(
            "the array engine models an unlimited lab only (lab.capacity: unlimited); "
            "use the SimPy engine for a finite lab"
        )
    bio = biology or Biology(inputs, cohort)
    draws = draws or TestDraws(seed, sample, cohort.ids)
    with np.errstate(invalid="ignore"):  # inf − inf where an event never happens
        path, values = _pathway(inputs, plan, bio, draws)
        values |= accounts(inputs, plan, path, budget_years)
    wanted = columns if columns is not None else (*OUTCOME_COLUMNS, *budget_columns(budget_years))
    return pd.DataFrame({k: values[k] for k in wanted})


def run_strategies(
    inputs: ModelInputs, cohort: Cohort, seed: int, sample: int = 0, budget_years: int = 0
) -> list[pd.DataFrame]:
    """:func:`run_strategy` for every strategy of ``inputs``, sharing the cohort's biology
    and per-test draws."""
    bio = Biology(inputs, cohort)
    draws = TestDraws(seed, sample, cohort.ids)
    return [
        run_strategy(inputs, p, cohort, seed, sample, budget_years, biology=bio, draws=draws)
        for p in inputs.strategies
    ]
