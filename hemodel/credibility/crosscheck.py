"""Independent cross-check of the engine (TECH-VER replication): the pathway of DESIGN.md §3
re-implemented as closed-form, vectorised NumPy over patients, for an **unlimited** lab.

It shares nothing with :mod:`hemodel.engine.des` or :mod:`hemodel.model.economics`: only the
scenario (:func:`~hemodel.model.inputs.build_inputs`), the parameter set (the time-to-event
laws) and the random streams (:func:`~hemodel.model.cohort.draw_cohort` and the keyed uniforms
of :mod:`hemodel.model.random`).
Both implementations consume the same uniforms, so every patient's costs, QALYs, events and
test counts agree to floating-point precision (see ``tests/verification/test_crosscheck.py``).

Instead of simulating events, each quantity is computed directly:

* the blood draws are a contiguous prefix of the schedule ``start + k·every``; a loop over the
  test index ``k`` (vectorised over patients) finds where the prefix ends and the first
  positive result that acts (earliest result day, then lowest test number);
* a switch at ``s`` moves ESR1-driven progression by spending the remaining cumulative-hazard
  budget at ``HR``·hazard; detected progression is the first scan at or after it;
* costs and QALYs are integrals of piecewise-constant rates under continuous discounting,
  ``∫ₐᵇ e^{-rt} dt = (e^{-ra} − e^{-rb}) / r``, plus one-off costs discounted at their day.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ..model import random as rnd
from ..model.cohort import Cohort, draw_cohort
from ..model.inputs import DelayLaw, ModelInputs, StrategyPlan, build_inputs
from ..scenario.load import load_scenario
from ..scenario.schema import Scenario

YEAR = 365.25
CATEGORIES = (
    "testing",
    "phlebotomy",
    "visits",
    "imaging",
    "first_line_drugs",
    "switch_drugs",
    "later_line_drugs",
    "disease_management",
    "terminal_care",
)
_TOL = 1e-9  # relative tolerance of "the first scan at or after true progression"


# ----------------------------------------------------------------------------------- helpers
def delay(law: DelayLaw, u: np.ndarray) -> np.ndarray:
    """Inverse CDF of a lab delay law at uniforms ``u`` (days)."""
    u = np.asarray(u, dtype=float)
    if law.kind == "fixed":
        return np.full(u.shape, float(law.a))
    if law.kind == "uniform":
        return law.a + (law.b - law.a) * u
    mean, sd = law.a, law.b
    shape = (mean / sd) ** 2
    return stats.gamma.ppf(u, shape, scale=mean / shape)


def event_time(law, budget, since, hr):
    """Time on the law's own clock at which the cumulative hazard, multiplied by ``hr`` from
    ``since`` on, reaches ``budget``: solves H(a) + hr·(H(t) − H(a)) = budget with
    a = max(since, 0). ``since = inf`` means the hazard ratio never applies."""
    budget = np.asarray(budget, dtype=float)
    since = np.broadcast_to(np.asarray(since, dtype=float), budget.shape)
    hr = np.broadcast_to(np.asarray(hr, dtype=float), budget.shape)
    plain = law.inv_cumhaz(budget)
    a = np.where(np.isfinite(since), np.maximum(since, 0.0), 0.0)
    spent = law.cumhaz(a)
    scaled = np.isfinite(since) & (hr != 1.0) & (spent < budget)
    with np.errstate(divide="ignore", invalid="ignore"):
        later = law.inv_cumhaz(spent + (budget - spent) / np.where(hr > 0, hr, 1.0))
    later = np.where(hr > 0, later, np.inf)
    return np.where(scaled, later, plain)


def first_scan(t: np.ndarray, every: float) -> np.ndarray:
    """First scan day k·every (k ≥ 1) at or after ``t`` (relative tolerance 1e-9); inf stays inf."""
    with np.errstate(invalid="ignore"):
        k = np.maximum(np.ceil(t / every * (1.0 - _TOL)), 1.0)
    return np.where(np.isfinite(t), k * every, np.inf)


def count_upto(x: np.ndarray, every: float) -> np.ndarray:
    """Number of k ≥ 1 with k·every ≤ x (x finite)."""
    n = np.floor(np.maximum(x, 0.0) / every)
    n = np.where((n + 1) * every <= x, n + 1, n)
    return np.where((n >= 1) & (n * every > x), n - 1, n)


def grid_pv(n: np.ndarray, every: float, rate: float) -> np.ndarray:
    """Σ_{k=1..n} e^{-r·k·every} (geometric series; n when r = 0)."""
    if rate == 0:
        return n.astype(float)
    x = rate * every
    return np.exp(-x) * np.expm1(-x * n) / np.expm1(-x)


def pv(t: np.ndarray, rate: float) -> np.ndarray:
    """Discount factor of a one-off at day ``t``."""
    return np.exp(-rate * t)


def flow(a, b, rate: float) -> np.ndarray:
    """∫ₐᵇ e^{-rt} dt in days (0 when b ≤ a); ``a`` may be inf."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    lo = np.minimum(a, b)
    if rate == 0:
        return b - lo
    return (np.exp(-rate * lo) - np.exp(-rate * b)) / rate


def _nan_inf(x: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(x), x, np.nan)


# ------------------------------------------------------------------------------ monitoring
def _monitor(inputs: ModelInputs, plan: StrategyPlan, c: Cohort, seed, sample, d1_0, end1_0):
    """Blood draws of a monitoring strategy: which happen, their results, the acting positive."""
    n = len(c)
    e = c.emergence
    assay, every, start = plan.assay, plan.draw_every, plan.draw_start
    count = max(int(math.ceil((inputs.horizon - start) / every)) + 2, 1)
    ids = c.ids
    u_res = rnd.uniforms(seed, sample, "test_result", ids, count)
    lab = delay(assay.turnaround, rnd.uniforms(seed, sample, "turnaround", ids, count))
    lab = lab + delay(inputs.transport, rnd.uniforms(seed, sample, "transport", ids, count))
    day = start + every * np.arange(count)
    cont = plan.switch is not None and plan.switch.continue_testing
    drawn = np.zeros((n, count), bool)
    pos = np.zeros((n, count), bool)
    present = e[:, None] <= day[None, :]
    trig_r = np.full(n, np.inf)  # result day of the first positive that acts
    trig_k = np.full(n, -1)
    d1_cur, end1 = d1_0.copy(), end1_0.copy()
    going = np.ones(n, bool)
    for k in range(count):
        d = day[k]
        go = going & (d < end1) & (d <= d1_cur) & (cont | (d <= trig_r))
        going = go
        if not go.any():
            break
        drawn[:, k] = go
        u = u_res[:, k]
        pos[:, k] = go & np.where(present[:, k], u < assay.sensitivity, u >= assay.specificity)
        r = d + lab[:, k]
        new = pos[:, k] & (r < np.minimum(d1_0, end1_0)) & (r < trig_r)
        if new.any():
            trig_r = np.where(new, r, trig_r)
            trig_k = np.where(new, k, trig_k)
            s = _switch_day(inputs, plan, c, trig_r, trig_k, present, d1_0, end1_0)
            _, d1_sw, end1_sw = _progression(inputs, plan, c, s)
            d1_cur = np.where(np.isfinite(s), d1_sw, d1_0)
            end1 = np.where(np.isfinite(s), end1_sw, end1_0)
    result = day[None, :] + lab
    return drawn, pos, present, day, result, trig_r, trig_k


def _switch_day(inputs, plan, c: Cohort, trig_r, trig_k, present, d1_0, end1):
    """Day of the therapy switch (inf: none) planned by the acting positive result."""
    sw = plan.switch
    s = np.full(len(c), np.inf)
    if sw is None:
        return s
    has = trig_k >= 0
    if sw.at_next_visit:
        v = plan.visit_every
        k = np.maximum(np.ceil(np.where(has, trig_r, 0.0) / v), 1.0)
        k = np.where(k * v < trig_r, k + 1, k)
        s = np.where(has, k * v, np.inf)
    else:
        s = np.where(has, trig_r, np.inf)
    true_pos = np.take_along_axis(present, np.maximum(trig_k, 0)[:, None], 1)[:, 0]
    excluded = c.esr1_at_start & true_pos & (not sw.switch_baseline_mutations)
    return np.where(has & ~excluded & (s < np.minimum(d1_0, end1)), s, np.inf)


def _progression(inputs: ModelInputs, plan: StrategyPlan, c: Cohort, switch):
    """True (T1) and detected (D1) first progression given the switch day (inf: none), and the
    end of first-line follow-up other than D1: background death, the horizon, or death from
    disease if it comes before D1 (second progression is timed from T1, so it can precede D1;
    no targeted therapy can have started then, so its hazard ratio is 1)."""
    nh = inputs.natural_history
    hr = plan.switch.hazard_ratio if plan.switch is not None else 1.0
    e = c.emergence
    finite = np.isfinite(e)
    since = np.where(np.isfinite(switch) & finite, switch - np.where(finite, e, 0.0), np.inf)
    esr1 = np.where(finite, e + event_time(nh.esr1_progression, c.esr1_budget, since, hr), np.inf)
    t1 = np.minimum(c.other_progression, esr1)
    untreated = t1 + nh.second_progression.inv_cumhaz(c.second_budget) + c.disease_death_after
    end1 = np.minimum(np.minimum(c.background_death, inputs.horizon), untreated)
    return t1, first_scan(t1, plan.imaging_every), end1


# -------------------------------------------------------------------------------- strategy
def crosscheck_strategy(
    inputs: ModelInputs, plan: StrategyPlan, cohort: Cohort, seed: int, sample: int = 0
) -> pd.DataFrame:
    """Per-patient outcomes of one strategy (columns named as in ``simulate().patients``)."""
    if inputs.lab_capacity is not None:
        raise ValueError("the cross-check models an unlimited lab only (lab.capacity: unlimited)")
    with np.errstate(invalid="ignore"):  # inf − inf where an event never happens
        return _strategy(inputs, plan, cohort, seed, sample)


def _strategy(inputs: ModelInputs, plan: StrategyPlan, cohort: Cohort, seed, sample):
    c, p, n = cohort, inputs.prices, len(cohort)
    e, bg, horizon = c.emergence, c.background_death, inputs.horizon
    t1_0, d1_0, end1_0 = _progression(inputs, plan, c, np.full(n, np.inf))
    inf = np.full(n, np.inf)
    out: dict = {}

    # Monitoring: draws, results, the positive that acts, the switch.
    if plan.assay is not None:
        drawn, pos, present, day, result, trig_r, trig_k = _monitor(
            inputs, plan, c, seed, sample, d1_0, end1_0
        )
        s = _switch_day(inputs, plan, c, trig_r, trig_k, present, d1_0, end1_0)
        extra = np.abs(day / plan.visit_every - np.round(day / plan.visit_every)) > 1e-9
        per_draw = p.venipuncture + p.phlebotomy_visit * extra
        wait = np.where(drawn, result - day[None, :], 0.0)
        tests = drawn.sum(1)
        true_pos = drawn & pos & present
        tp_result = np.where(true_pos, result, np.inf)
        trig_true = np.take_along_axis(present, np.maximum(trig_k, 0)[:, None], 1)[:, 0]
        out |= {
            "tests": tests,
            "positives": (drawn & pos).sum(1),
            "false_positives": (drawn & pos & ~present).sum(1),
            "first_positive_days": _nan_inf(trig_r),
            "lab_wait_days": np.where(tests > 0, wait.sum(1) / np.maximum(tests, 1), np.nan),
            "lab_queue_days": np.where(tests > 0, 0.0, np.nan),
        }
        draw_cost = {
            "testing": lambda r: (drawn * pv(day, r)).sum(1) * plan.assay.cost,
            "phlebotomy": lambda r: (drawn * pv(day, r) * per_draw).sum(1),
        }
        switched = np.isfinite(s)
        false_switch = switched & ~trig_true
    else:
        s, switched, false_switch = inf, np.zeros(n, bool), np.zeros(n, bool)
        draw_cost = {"testing": lambda r: np.zeros(n), "phlebotomy": lambda r: np.zeros(n)}
        nans = np.full(n, np.nan)
        out |= {"tests": np.zeros(n, int), "positives": np.zeros(n, int)}
        out |= {"false_positives": np.zeros(n, int), "first_positive_days": nans}
        tp_result = np.full((n, 1), np.inf)
        out |= {k: nans for k in ("lab_wait_days", "lab_queue_days")}

    t1, d1, end1 = _progression(inputs, plan, c, s) if switched.any() else (t1_0, d1_0, end1_0)
    second = d1 < end1  # progression detected in life and within the horizon

    # At progression: optional ESR1 test, second line, second progression, death.
    ptest = plan.progression_assay is not None
    if ptest:
        pa = plan.progression_assay
        p_present = e <= d1
        u = rnd.uniforms(seed, sample, "progression_test", c.ids)[:, 0]
        p_pos = np.where(p_present, u < pa.sensitivity, u >= pa.specificity)
        tat = delay(pa.turnaround, rnd.uniforms(seed, sample, "progression_tat", c.ids)[:, 0])
        sl = np.where(second, d1 + tat, inf)
        targeted = second & p_pos
    else:
        p_present = p_pos = np.zeros(n, bool)
        sl = np.where(second, d1, inf)
        targeted = np.zeros(n, bool)
    hr2 = np.where(targeted & p_present, inputs.targeted_2l_hr, 1.0)
    t2_rel = event_time(inputs.natural_history.second_progression, c.second_budget, sl - t1, hr2)
    t2 = t1 + t2_rel  # also when first-line progression is never detected (see _progression)
    disease = t2 + c.disease_death_after
    death = np.minimum(bg, disease)
    end = np.minimum(death, horizon)
    f = np.minimum(d1, end)  # end of first-line follow-up for costs
    # Molecular detection: the first true-positive result (in life); lead time over imaging
    # alone (D1 without any switch), when it arrived during first-line follow-up before that.
    detection = np.where(tp_result <= end[:, None], tp_result, np.inf).min(1)
    in_first_line = detection < np.minimum(np.minimum(d1_0, d1), end1)
    lead = np.where(in_first_line, d1_0 - detection, np.nan)
    out |= {"detection_days": _nan_inf(detection), "lead_time_days": lead}

    # Accounting, discounted (rate) and undiscounted (0).
    sw = plan.switch
    ai_end = np.minimum(s, f)
    cdk_end = f if (sw is None or sw.continue_cdk46) else ai_end
    sw_cost = sw.cost_per_day if sw is not None else 0.0
    t2_end = np.minimum(t2, end)
    n_visits, n_scans = count_upto(f, plan.visit_every), count_upto(f, plan.imaging_every)

    at_d1 = ptest & second  # an ESR1 test is drawn when progression is detected
    pa_cost = plan.progression_assay.cost if ptest else 0.0

    def costs(r: float) -> dict:
        std_from = np.where(targeted, np.maximum(sl, t2_end), sl)
        d1_pv = np.where(at_d1, pv(d1, r), 0.0)
        return {
            "testing": draw_cost["testing"](r) + pa_cost * d1_pv,
            "phlebotomy": draw_cost["phlebotomy"](r) + p.venipuncture * d1_pv,
            "visits": p.visit * grid_pv(n_visits, plan.visit_every, r),
            "imaging": p.imaging * grid_pv(n_scans, plan.imaging_every, r),
            "first_line_drugs": p.ai_per_day * flow(0.0, ai_end, r)
            + p.cdk46_per_day * flow(0.0, cdk_end, r),
            "switch_drugs": sw_cost * flow(s, f, r),
            "later_line_drugs": p.later_lines_per_day * flow(std_from, end, r)
            + p.targeted_2l_per_day * np.where(targeted, flow(sl, t2_end, r), 0.0),
            "disease_management": p.pf_management_per_day * flow(0.0, f, r)
            + p.progressed_management_per_day * flow(d1, end, r),
            "terminal_care": np.where(death <= horizon, p.terminal_care * pv(death, r), 0.0),
        }

    u_pf, u_prog = inputs.u_progression_free, inputs.u_progressed
    u_sw = u_pf + (sw.utility_decrement if sw is not None else 0.0)
    pf_end = np.minimum(t1, end)

    def qalys(r: float) -> np.ndarray:
        a = np.minimum(np.minimum(e, s), pf_end)
        return (
            u_pf * flow(0.0, a, r)
            + (u_pf + inputs.molecular_decrement) * flow(a, np.minimum(s, pf_end), r)
            + u_sw * flow(np.minimum(s, pf_end), pf_end, r)
            + u_prog * flow(pf_end, end, r)
        ) / YEAR

    for suffix, rc, rq in (("", inputs.cost_rate, inputs.qaly_rate), ("_undiscounted", 0, 0)):
        cc = costs(rc)
        for k in CATEGORIES:
            out[f"cost_{k}{suffix}"] = cc[k]
        out[f"cost_total{suffix}"] = sum(cc[k] for k in CATEGORIES)
        out[f"qalys{suffix}"] = qalys(rq)
        out[f"lys{suffix}"] = flow(0.0, end, rq) / YEAR

    cause = np.where(death > horizon, "alive", np.where(disease < bg, "disease", "background"))
    frame = {
        "age_years": c.age,
        "esr1_at_start": c.esr1_at_start,
        "emergence_days": np.where(e < end, e, np.nan),
        "true_progression_days": np.where(t1 < end, t1, np.nan),
        "progression_free_days": pf_end,
        "detected_progression_days": np.where(second, d1, np.nan),
        "second_progression_days": np.where(t2 < end, t2, np.nan),
        "death_days": np.where(death <= horizon, death, np.nan),
        "death_cause": cause,
        "switched": switched,
        "switch_days": _nan_inf(s),
        "false_positive_switch": false_switch,
        "progression_test": np.where(at_d1, np.where(p_pos, "positive", "negative"), "none"),
        "targeted_second_line": targeted,
        "visits": n_visits.astype(int),
        "scans": n_scans.astype(int),
    }
    return pd.DataFrame(frame | out)


def crosscheck(
    scenario: Scenario | str | Path,
    patients: int = 1000,
    seed: int = 1,
    *,
    sample: int = 0,
    first_patient: int = 0,
    strategies=None,
) -> pd.DataFrame:
    """Cross-check table: one row per patient × strategy, like ``simulate(...).patients``."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    inputs = build_inputs(scenario)
    ids = np.arange(first_patient, first_patient + patients)
    cohort = draw_cohort(inputs, ids, seed, sample)
    frames = []
    for plan in inputs.strategies:
        if strategies is not None and plan.name not in strategies:
            continue
        frame = crosscheck_strategy(inputs, plan, cohort, seed, sample)
        frame.insert(0, "strategy", plan.name)
        frame.insert(0, "patient", ids)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def compare(engine: pd.DataFrame, check: pd.DataFrame, rtol: float = 1e-9, atol: float = 1e-9):
    """Per column: number of patient-strategies that disagree and the largest difference."""
    key = ["patient", "strategy"]
    a = engine.astype({"strategy": str}).set_index(key)
    b = check.astype({"strategy": str}).set_index(key).loc[a.index]
    rows = []
    for col in b.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if x.dtype.kind in "fiub" and y.dtype.kind in "fiub":
            x, y = x.astype(float), y.astype(float)
            same = np.isclose(x, y, rtol=rtol, atol=atol, equal_nan=True)
            with np.errstate(invalid="ignore"):
                diff = np.where(same, 0.0, np.abs(x - y))
            worst = float(np.nanmax(diff)) if len(diff) else 0.0
        else:
            same = x.astype(str) == y.astype(str)
            worst = math.nan
        rows.append({"column": col, "mismatches": int((~same).sum()), "max_abs_diff": worst})
    return pd.DataFrame(rows)
