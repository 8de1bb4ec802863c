"""The SimPy engine: runs a cohort through one strategy and returns per-patient outcomes.

With an unlimited lab, patients do not interact, so they are simulated in batches of
``batch_size`` per SimPy environment (a shallow event heap is faster). With a finite lab
capacity the whole cohort shares one environment, because patients queue for the lab.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import simpy

from ..model import random as rnd
from ..model.cohort import Cohort
from ..model.economics import accrue, annual_costs
from ..model.inputs import ModelInputs, StrategyPlan
from ..model.kinetics import detection_delays
from ..model.outcomes import COST_CATEGORIES, OUTCOME_COLUMNS, budget_columns
from .lab import FiniteLab, Test, UnlimitedLab
from .patient import Patient

_BLOCK = 64  # test draws per patient whose uniforms are generated up front


class StrategyRun:
    """One strategy applied to (part of) a cohort inside one SimPy environment."""

    def __init__(
        self,
        inputs: ModelInputs,
        plan: StrategyPlan,
        cohort: Cohort,
        seed: int,
        sample: int,
        trace: list | None,
    ):
        self.inputs, self.plan, self.cohort = inputs, plan, cohort
        self.seed, self.sample, self.trace = seed, sample, trace
        self.env = simpy.Environment()
        cap = inputs.lab_capacity
        self.lab = FiniteLab(self.env, cap) if cap is not None else UnlimitedLab()
        # Per-test draws come in blocks of _BLOCK tests per patient, already transformed
        # (uniform for the result, days for the delays), so the inner loop only indexes.
        assay = plan.assay
        self._transforms = {
            "test_result": None,
            "turnaround": assay.turnaround.ppf if assay else None,
            "transport": inputs.transport.ppf,
        }
        self._blocks: dict[tuple[str, int], np.ndarray] = {}
        if assay is not None:
            for purpose in self._transforms:
                self._blocks[(purpose, 0)] = self._block(purpose, cohort.ids, 0)
        kinetics = inputs.natural_history.kinetics
        lod = lambda a: a.limit_of_detection if a is not None else None  # noqa: E731
        dt = cohort.doubling_time
        self.monitoring_delays = detection_delays(dt, kinetics, lod(assay))
        self.progression_delays = detection_delays(dt, kinetics, lod(plan.progression_assay))
        self._progression_u = rnd.uniforms(seed, sample, "progression_test", cohort.ids)[:, 0]
        tat_u = rnd.uniforms(seed, sample, "progression_tat", cohort.ids)[:, 0]
        pa = plan.progression_assay
        self._progression_tat = pa.turnaround.ppf(tat_u) if pa is not None else tat_u

    def _block(self, purpose: str, ids, block: int) -> np.ndarray:
        u = rnd.uniforms(self.seed, self.sample, purpose, ids, _BLOCK, block * _BLOCK)
        transform = self._transforms[purpose]
        return u if transform is None else transform(u)

    def _draw_value(self, purpose: str, i: int, k: int) -> float:
        """Value for test ``k`` of patient ``i``; blocks beyond the first are made on demand."""
        if k < _BLOCK:
            return float(self._blocks[(purpose, 0)][i, k])
        key = (purpose, i, k // _BLOCK)
        if key not in self._blocks:
            self._blocks[key] = self._block(purpose, [int(self.cohort.ids[i])], k // _BLOCK)[0]
        return float(self._blocks[key][k % _BLOCK])

    def monitoring_test(
        self, patient: Patient, k: int, now: float, emerged: bool, detectable: bool
    ) -> Test:
        """Blood test number ``k`` (0-based) drawn at day ``now``; its result is fixed here:
        positive with the assay's sensitivity when the mutation is ``detectable``, with one
        minus its specificity otherwise (a true positive only if the mutation has emerged)."""
        assay, i = self.plan.assay, patient.i
        u = self._draw_value("test_result", i, k)
        positive = u < assay.sensitivity if detectable else u >= assay.specificity
        service = self._draw_value("turnaround", i, k)
        transport = self._draw_value("transport", i, k)
        return Test(k, now, positive, positive and emerged, transport, service)

    def progression_test(
        self, patient: Patient, now: float, present: bool, detectable: bool
    ) -> Test:
        assay, i = self.plan.progression_assay, patient.i
        u = self._progression_u[i]
        positive = u < assay.sensitivity if detectable else u >= assay.specificity
        service = float(self._progression_tat[i])
        return Test(-1, now, positive, positive and present, 0.0, service)

    def run(self) -> list[Patient]:
        patients = [Patient(self, i) for i in range(len(self.cohort))]
        for p in patients:
            p.process = self.env.process(p.run())
        self.env.run()
        return patients


def _nan_if_after(t: float, end: float) -> float:
    return t if t <= end and not math.isinf(t) else math.nan


def _row(p: Patient, run: StrategyRun, budget_years: int = 0) -> dict:
    tl, plan, inputs = p.timeline, run.plan, run.inputs
    c, i = run.cohort, p.i
    disc = accrue(tl, plan, inputs, discounted=True)
    undisc = accrue(tl, plan, inputs, discounted=False)
    end = tl.end
    tests = [t for t in p.tests if t.drawn <= end]
    first_tp = min((t.result_time for t in tests if t.true_positive), default=math.inf)
    waits = [t.lab_wait for t in tests]
    row = {
        "age_years": float(c.age[i]),
        "esr1_at_start": bool(c.esr1_at_start[i]),
        "emergence_days": _nan_if_after(tl.emergence, end),
        "true_progression_days": _nan_if_after(tl.true_progression, end),
        "progression_free_days": min(tl.true_progression, end),
        "detected_progression_days": _nan_if_after(tl.detected_progression, end),
        "second_progression_days": _nan_if_after(tl.second_progression, end),
        "death_days": end if tl.died else math.nan,
        "death_cause": ("disease" if end < c.background_death[i] else "background")
        if tl.died
        else "alive",
        "switched": tl.switch <= end,
        "switch_days": _nan_if_after(tl.switch, end),
        "false_positive_switch": p.fp_switch and tl.switch <= end,
        "tests": len(tests),
        "positives": sum(t.positive for t in tests),
        "false_positives": sum(t.positive and not t.true_positive for t in tests),
        "first_positive_days": _nan_if_after(p.first_positive, end),
        "detection_days": _nan_if_after(first_tp, end),
        "lead_time_days": p.lead_time,
        "lab_wait_days": float(np.mean(waits)) if waits else math.nan,
        "lab_queue_days": float(np.mean([t.queue for t in tests])) if tests else math.nan,
        "progression_test": (
            "none"
            if p.progression_test is None
            else "positive"
            if p.progression_test.positive
            else "negative"
        ),
        "targeted_second_line": tl.targeted_second_line,
        "visits": _count(plan.visit_every, min(tl.detected_progression, end)),
        "scans": _count(plan.imaging_every, min(tl.detected_progression, end)),
        "qalys": disc["qalys"],
        "qalys_undiscounted": undisc["qalys"],
        "lys": disc["lys"],
        "lys_undiscounted": undisc["lys"],
    }
    for cat in COST_CATEGORIES:
        row[f"cost_{cat}"] = disc["costs"][cat]
        row[f"cost_{cat}_undiscounted"] = undisc["costs"][cat]
    row["cost_total"] = math.fsum(disc["costs"].values())
    row["cost_total_undiscounted"] = math.fsum(undisc["costs"].values())
    if budget_years:
        for (year, cat), value in annual_costs(tl, plan, inputs, budget_years).items():
            row[f"cost_y{year}_{cat}"] = value
    return row


def _count(every: float, until: float) -> int:
    return int(math.floor(until / every + 1e-9)) if until >= every else 0


def run_strategy(
    inputs: ModelInputs,
    plan: StrategyPlan,
    cohort: Cohort,
    seed: int,
    sample: int = 0,
    trace: list | None = None,
    batch_size: int = 1000,
    on_batch=None,
    budget_years: int = 0,
) -> pd.DataFrame:
    """Simulate ``cohort`` under ``plan``: one row of outcomes per patient (OUTCOME_COLUMNS).

    ``trace``: if a list is given, events ``(patient, strategy, day, event, detail)`` are
    appended to it. ``on_batch(n)`` is called after each batch of ``n`` patients.
    ``budget_years`` > 0 adds undiscounted costs by year since start (:func:`budget_columns`).
    Rows are
    turned into a typed frame batch by batch, so Python objects never pile up.
    """
    n = len(cohort)
    step = n if inputs.lab_capacity is not None else max(1, batch_size)
    frames = []
    for start in range(0, n, step):
        part = cohort.take(slice(start, min(start + step, n)))
        run = StrategyRun(inputs, plan, part, seed, sample, trace)
        rows = [_row(p, run, budget_years) for p in run.run()]
        columns = list(OUTCOME_COLUMNS) + budget_columns(budget_years)
        frames.append(pd.DataFrame.from_records(rows, columns=columns))
        if on_batch is not None:
            on_batch(len(part))
    return pd.concat(frames, ignore_index=True)
