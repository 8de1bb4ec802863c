"""Virtual trial emulation: a SERENA-6-like trial run inside the simulation.

Design (SERENA-6, Turner et al. NEJM 2025): patients on first-line AI + CDK4/6 inhibitor are
scanned and tested for ctDNA at the same visits, every ``every_weeks`` from the first imaging
visit at or after month ``start_months``. A patient whose ctDNA result comes back positive
while no progression has been detected (and who is alive) is *randomised* at that moment to
switch the AI to the trial drug or to continue it (a placebo switch: same schedule, hazard
ratio 1). PFS (detected progression or death) is then measured from randomisation by the
imaging schedule.

Randomisation by common random numbers: both arms are simulated for *the same* randomised
patients (biology and test results are keyed by seed and patient number, so until the
switch both arms are identical). This is a perfectly balanced 1:1 trial with twice the
information of a seeded split, and the comparison between arms carries no between-patient
sampling noise. Each randomised patient therefore has two rows in the trial table; Cox
models use a robust (sandwich) variance clustered on the patient.

Only the continue arm is simulated for the whole surveillance cohort (it gives the
surveillance funnel); the switch arm is simulated for the randomised patients alone, which is
exact with an unlimited lab (patients do not interact) and is skipped as an optimisation
only then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..engine.choice import choose
from ..engine.select import run_cohort
from ..model import random as rnd
from ..model.cohort import Cohort, draw_cohort
from ..model.inputs import ModelInputs, StrategyPlan, build_inputs
from ..scenario.load import scenario_from_dict
from ..scenario.schema import Scenario
from ..scenario.targets import ARMS, LANDMARKS_MONTHS
from ..scenario.units import DAYS_PER_MONTH

if TYPE_CHECKING:
    from ..run.parallel import Executor

#: Patients per task when an arm of the trial runs on several workers, by engine.
CHUNK = {"simpy": 2000, "array": 20_000}

_PLACEBO = "trial_placebo"


@dataclass(frozen=True)
class TrialDesign:
    """The emulated trial's schedule, index test, drug and analysis.

    ``assay`` and ``therapy`` default to those of the scenario's first strategy with
    monitoring (for the SERENA-6 scenarios: Guardant360 and camizestrant).
    ``follow_up_months``: median follow-up at the PFS analysis (SERENA-6 primary analysis:
    12.6 months). Each randomised patient's potential follow-up (randomisation to data
    cut-off) is uniform on [0, 2 × median], the same in both arms; PFS is censored there.
    ``None``: follow everyone to the time horizon.
    """

    name: str = "serena6"
    title: str = "SERENA-6"
    every_weeks: float = 8.0
    start_months: float = 6.0
    assay: str | None = None
    therapy: str | None = None
    landmarks_months: tuple[float, ...] = LANDMARKS_MONTHS
    follow_up_months: float | None = 12.6

    @property
    def every_days(self) -> float:
        return 7.0 * self.every_weeks

    @property
    def start_days(self) -> float:
        """First test: the first imaging visit at or after ``start_months``."""
        every = self.every_days
        return max(1, math.ceil(self.start_months * DAYS_PER_MONTH / every - 1e-9)) * every


@dataclass
class TrialRun:
    """Per-patient table of a virtual trial (see :func:`run_trial`) and its settings."""

    design: TrialDesign
    table: pd.DataFrame
    patients: int
    seed: int
    scenario: str
    horizon_months: float
    metadata: dict = field(default_factory=dict)

    @property
    def randomised(self) -> pd.DataFrame:
        """Rows of randomised patients: one per patient and arm."""
        rows = self.table[self.table["arm"].isin(ARMS)]
        events = {f"{x}_event": bool for x in ("pfs", "pfs2", "os")}
        return rows.astype(events).assign(arm=rows["arm"].astype(str))

    def funnel(self) -> dict[str, float]:
        """Surveillance funnel: counts and fractions (see docs/validation.md)."""
        t = self.table[self.table["arm"] != "switch"]  # one row per patient
        completed = t[t["completed_surveillance"]]
        n_done, n_det = len(completed), int(completed["detected"].sum())
        n_rand = int(completed["randomised"].sum())
        n_sync = int(completed["progression_at_same_visit"].sum())
        return {
            "patients": self.patients,
            "under_surveillance": int(t["under_surveillance"].sum()),
            "completed_surveillance": n_done,
            "detected": n_det,
            "randomised": n_rand,
            "progression_at_same_visit": n_sync,
            "false_positive_randomised": int(completed["false_positive"].sum()),
            "cumulative_detection": n_det / n_done if n_done else math.nan,
            "detection_without_progression": n_rand / n_done if n_done else math.nan,
            "randomised_of_detected": n_rand / n_det if n_det else math.nan,
        }


def trial_scenario(scenario: Scenario, design: TrialDesign) -> Scenario:
    """The scenario with its strategies replaced by the trial's two arms.

    Both arms scan and test every ``design.every_weeks`` from ``design.start_days`` and switch
    on the first positive result before detected progression (baseline mutations included:
    the trial could not tell them apart); the continue arm switches to a placebo, identical to
    the trial drug except for a hazard ratio of 1.
    """
    monitored = [s for s in scenario.strategies.values() if s.monitoring is not None]
    assay = design.assay or (monitored[0].monitoring.assay if monitored else None)
    therapy = design.therapy or (monitored[0].switch.to if monitored else None)
    if assay not in scenario.assays or therapy not in scenario.switch_therapies:
        raise ValueError(
            "the virtual trial needs an assay and a switch therapy: give them in the trial "
            f"design or define a strategy with monitoring (assay {assay!r}, therapy {therapy!r})"
        )
    data = scenario.model_dump(mode="python", by_alias=True, exclude_none=True)
    drug = data["switch_therapies"][therapy]
    data["switch_therapies"][_PLACEBO] = dict(drug, hazard_ratio={"value": 1.0})
    every = {"value": design.every_days, "unit": "days"}
    monitoring = {"assay": assay, "every": every, "start": {"value": design.start_days,
                                                           "unit": "days"}}  # fmt: skip

    def arm(to: str) -> dict:
        return {
            "description": f"virtual {design.name}: {to} on ctDNA detection",
            "imaging_every": every,
            "monitoring": monitoring,
            "switch": {"to": to, "when": "immediately", "switch_baseline_mutations": True},
        }

    data["strategies"] = {"switch": arm(therapy), "continue": arm(_PLACEBO)}
    data["reference"] = "continue"
    data["targets"] = {}
    data.pop("sweeps", None)  # refer to the original strategies
    return scenario_from_dict(data, name=f"{scenario.name} (virtual {design.name})")


def _arm(engine: str, inputs: ModelInputs, plan: StrategyPlan, cohort: Cohort, seed: int):
    return run_cohort(engine, inputs, cohort, seed, plans=[plan])[0][0]


def _arm_chunk(shared: tuple[str, ModelInputs, StrategyPlan, int], ids) -> pd.DataFrame:
    """One arm for patients ``ids`` (their natural history is keyed by id)."""
    engine, inputs, plan, seed = shared
    return _arm(engine, inputs, plan, draw_cohort(inputs, ids, seed), seed)


def _run_arm(
    inputs: ModelInputs,
    plan: StrategyPlan,
    cohort: Cohort,
    seed: int,
    executor: Executor | None,
    engine: str = "auto",
) -> pd.DataFrame:
    """One arm's outcome table, in chunks on ``executor`` when it has several workers and the
    lab is unlimited (patients are then independent and keyed by id, so the rows are the
    same bits as in one run)."""
    serial = executor is None or executor.backend == "serial"
    chunk = CHUNK[choose(engine, inputs)]
    if serial or inputs.lab_capacity is not None or len(cohort.ids) <= chunk:
        return _arm(engine, inputs, plan, cohort, seed)
    chunks = [cohort.ids[a : a + chunk] for a in range(0, len(cohort.ids), chunk)]
    shared = (engine, inputs, plan, seed)
    return pd.concat(executor.map(_arm_chunk, chunks, shared), ignore_index=True)


def run_trial(
    scenario: Scenario,
    patients: int = 20000,
    seed: int = 1,
    design: TrialDesign | None = None,
    executor: Executor | None = None,
    engine: str = "auto",
) -> TrialRun:
    """Emulate the trial on ``patients`` patients starting first-line therapy.

    Returns every patient of the surveillance cohort: ``arm`` is ``switch``/``continue``
    for randomised patients (two rows each) and ``not_randomised`` otherwise (one row).
    Times are in months: randomisation from first-line start, PFS/PFS2/OS from
    randomisation (censored at the time horizon). ``executor``: where to run the arms
    (default: this process; the result is the same); ``engine``: which engine simulates them
    (:func:`hemodel.engine.choice.choose`).
    """
    design = design or TrialDesign()
    trial = trial_scenario(scenario, design)
    inputs = build_inputs(trial)
    plans = {p.name: p for p in inputs.strategies}
    cohort = draw_cohort(inputs, np.arange(patients), seed)
    cont = _run_arm(inputs, plans["continue"], cohort, seed, executor, engine)
    randomised = cont["switched"].to_numpy(bool)
    if inputs.lab_capacity is None:  # patients are independent: simulate the randomised only
        sw = _run_arm(inputs, plans["switch"], cohort.take(randomised), seed, executor, engine)
    else:  # a shared lab couples patients: simulate everyone
        sw = _run_arm(inputs, plans["switch"], cohort, seed, executor, engine)[randomised]
    sw = sw.reset_index(drop=True)
    if not np.allclose(sw["switch_days"], cont.loc[randomised, "switch_days"], rtol=0, atol=1e-9):
        raise RuntimeError("arms disagree before randomisation: common random numbers broken")

    horizon = inputs.horizon
    every, start = design.every_days, design.start_days
    ids = cohort.ids
    tests = cont["tests"].to_numpy(int)
    detected = cont["positives"].to_numpy(int) > 0
    # Testing stops at the first positive result (or at detected progression), and results
    # return before the next draw (turnaround << interval), so the first positive is the last
    # test drawn.
    last_draw = np.where(tests > 0, start + (tests - 1) * every, np.nan)
    progression = cont["detected_progression_days"].to_numpy(float)
    death = cont["death_days"].to_numpy(float)
    same_visit = detected & ~randomised & np.isclose(last_draw, progression, atol=1e-6)
    ended = randomised | ~np.isnan(progression) | ~np.isnan(death)
    base = pd.DataFrame(
        {
            "patient": ids,
            "arm": "not_randomised",
            "under_surveillance": tests > 0,
            "completed_surveillance": (tests > 0) & ended,
            "tests": tests,
            "detected": detected,
            "first_positive_test": np.where(detected, tests, np.nan),
            "progression_at_same_visit": same_visit,
            "randomised": randomised,
            "false_positive": cont["false_positive_switch"].to_numpy(bool),
            "randomisation_months": cont["switch_days"].to_numpy(float) / DAYS_PER_MONTH,
        }
    )
    if design.follow_up_months is None:
        follow_up = np.full(len(ids), np.inf)
    else:
        u = rnd.uniforms(seed, 0, "trial_follow_up", ids)[:, 0]
        follow_up = 2.0 * design.follow_up_months * u
    base["follow_up_months"] = np.where(randomised, follow_up, np.nan)
    rows = [base[~randomised]]
    for arm, frame in (("switch", sw), ("continue", cont[randomised].reset_index(drop=True))):
        part = base[randomised].reset_index(drop=True).assign(arm=arm)
        zero = frame["switch_days"].to_numpy(float)
        for name, cols in (
            ("pfs", ["detected_progression_days", "death_days"]),
            ("pfs2", ["second_progression_days", "death_days"]),
            ("os", ["death_days"]),
        ):
            end = np.fmin.reduce([frame[c].to_numpy(float) for c in cols])
            part[f"{name}_event"] = ~np.isnan(end)
            part[f"{name}_months"] = (np.where(np.isnan(end), horizon, end) - zero) / DAYS_PER_MONTH
        cut = part["follow_up_months"].to_numpy(float)  # PFS as analysed at data cut-off
        part["pfs_event"] &= part["pfs_months"].to_numpy() <= cut
        part["pfs_months"] = np.minimum(part["pfs_months"].to_numpy(), cut)
        rows.append(part)
    table = pd.concat(rows, ignore_index=True)
    table["arm"] = pd.Categorical(table["arm"], categories=[*ARMS, "not_randomised"])
    table = table.sort_values(["arm", "patient"], kind="stable").reset_index(drop=True)
    return TrialRun(
        design=design,
        table=table,
        patients=patients,
        seed=seed,
        scenario=scenario.name,
        horizon_months=horizon / DAYS_PER_MONTH,
        metadata={"every_weeks": design.every_weeks, "start_days": start},
    )
