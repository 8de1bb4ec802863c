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
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..engine.choice import choose
from ..engine.select import run_cohort
from ..model import random as rnd
from ..model.cohort import Cohort, draw_cohort
from ..model.inputs import ModelInputs, StrategyPlan, build_inputs
from ..scenario.load import with_strategies
from ..scenario.schema import Scenario
from ..scenario.targets import ARMS, LANDMARKS_MONTHS, TRIAL
from ..scenario.trials import TrialSpec
from ..scenario.units import DAYS_PER_MONTH

if TYPE_CHECKING:
    from ..run.parallel import Executor

#: Patients per task when an arm of the trial runs on several workers, by engine.
CHUNK = {"simpy": 2000, "array": 20_000}

_PLACEBO = "trial_placebo"


@dataclass(frozen=True)
class TrialDesign:
    """The emulated trial's schedule, index test, drug, eligibility and analysis.

    ``TrialDesign()`` is the SERENA-6 primary analysis (data cut-off 1), the default trial
    ``serena6`` of a scenario without ``trials:``; :func:`design_from_spec` maps a
    ``trials:`` entry onto it.

    ``assay`` and ``therapy`` default to those of the scenario's first strategy with
    monitoring (for the SERENA-6 scenarios: Guardant360 and camizestrant).
    ``follow_up_months``: median follow-up at the PFS analysis (SERENA-6 primary analysis:
    12.6 months). Each randomised patient's potential follow-up (randomisation to data
    cut-off) is uniform on [0, 2 × median], the same in both arms; PFS is censored there.
    ``None``: follow everyone to the time horizon (complete follow-up).
    ``surveillance_window_months``: each patient's surveillance ends a time uniform on
    [0, window] after its first test (keyed per patient); a mutation first found later is
    neither detected nor randomised. ``None``: surveillance until progression or death.
    ``baseline_mutations_eligible``: randomise patients whose mutation was present at
    first-line start (SERENA-6 could not tell them apart); if false they are detected but
    not randomised. ``landmarks_months``: landmarks always reported (targets may name others).
    """

    name: str = TRIAL
    title: str = "SERENA-6"
    every_weeks: float = 8.0
    start_months: float = 6.0
    assay: str | None = None
    therapy: str | None = None
    landmarks_months: tuple[float, ...] = LANDMARKS_MONTHS
    follow_up_months: float | None = 12.6
    surveillance_window_months: float | None = None
    baseline_mutations_eligible: bool = True

    @property
    def every_days(self) -> float:
        return 7.0 * self.every_weeks

    @property
    def start_days(self) -> float:
        """First test: the first imaging visit at or after ``start_months``."""
        every = self.every_days
        return max(1, math.ceil(self.start_months * DAYS_PER_MONTH / every - 1e-9)) * every


def design_from_spec(name: str, spec: TrialSpec) -> TrialDesign:
    """The design of the scenario's ``trials:`` entry ``name``."""
    window = spec.surveillance_window
    return TrialDesign(
        name=name,
        title=spec.title or name,
        every_weeks=spec.every.days() / 7.0,
        start_months=spec.start.days() / DAYS_PER_MONTH,
        assay=spec.assay,
        therapy=spec.therapy,
        follow_up_months=spec.follow_up.months(),
        surveillance_window_months=None if window is None else window.days() / DAYS_PER_MONTH,
        baseline_mutations_eligible=spec.baseline_mutations_eligible,
    )


def trial_designs(
    scenario: Scenario, design: TrialDesign | Mapping[str, TrialDesign] | None = None
) -> dict[str, TrialDesign]:
    """The scenario's virtual trials by name: its ``trials:``, else ``serena6`` =
    ``TrialDesign()``. ``design`` replaces the trial of its name (``serena6`` by default); a
    mapping replaces the trials it names. Naming a trial the scenario lacks is an error."""
    if scenario.trials:
        designs = {n: design_from_spec(n, spec) for n, spec in scenario.trials.items()}
    else:
        designs = {TRIAL: TrialDesign()}
    overrides = {design.name: design} if isinstance(design, TrialDesign) else dict(design or {})
    for name, d in overrides.items():
        if name not in designs:
            raise ValueError(
                f"the scenario has no virtual trial {name!r} to replace (trials: "
                f"{', '.join(designs)})"
            )
        designs[name] = replace(d, name=name)
    return designs


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

    @property
    def patients_table(self) -> pd.DataFrame:
        """One row per patient (the continue arm's row for randomised patients)."""
        return self.table[self.table["arm"] != "switch"]

    def funnel(self) -> dict[str, float]:
        """Surveillance funnel: counts and fractions (see docs/validation.md)."""
        t = self.patients_table
        tested = int(t["under_surveillance"].sum())
        completed = t[t["completed_surveillance"]]
        n_done, n_det = len(completed), int(completed["detected"].sum())
        n_rand = int(completed["randomised"].sum())
        n_sync = int(completed["progression_at_same_visit"].sum())
        excluded = completed["detected"] & ~completed["randomised"]
        excluded &= ~completed["progression_at_same_visit"] & completed["baseline_mutation"]
        return {
            "patients": self.patients,
            "under_surveillance": tested,
            "completed_surveillance": n_done,
            "window_ended": tested - n_done if self.design.surveillance_window_months else 0,
            "detected": n_det,
            "randomised": n_rand,
            "progression_at_same_visit": n_sync,
            "baseline_excluded": 0 if self.design.baseline_mutations_eligible
            else int(excluded.sum()),
            "false_positive_randomised": int(completed["false_positive"].sum()),
            "detected_of_tested": n_det / tested if tested else math.nan,
            "cumulative_detection": n_det / n_done if n_done else math.nan,
            "detection_without_progression": n_rand / n_done if n_done else math.nan,
            "randomised_of_detected": n_rand / n_det if n_det else math.nan,
        }  # fmt: skip


def _index_test(scenario: Scenario, design: TrialDesign) -> tuple[str, str]:
    """The trial's assay and switch therapy (default: the first monitoring strategy's)."""
    monitored = [s for s in scenario.strategies.values() if s.monitoring is not None]
    assay = design.assay or (monitored[0].monitoring.assay if monitored else None)
    therapy = design.therapy or (monitored[0].switch.to if monitored else None)
    if assay not in scenario.assays or therapy not in scenario.switch_therapies:
        raise ValueError(
            "the virtual trial needs an assay and a switch therapy: give them in the trial "
            f"design or define a strategy with monitoring (assay {assay!r}, therapy {therapy!r})"
        )
    return assay, therapy


def trial_scenario(scenario: Scenario, design: TrialDesign) -> Scenario:
    """The scenario with its strategies replaced by the trial's two arms.

    Both arms scan and test every ``design.every_weeks`` from ``design.start_days`` and switch
    on the first positive result before detected progression (mutations present at
    first-line start too unless ``design.baseline_mutations_eligible`` is false); the
    continue arm switches to a placebo, identical to the trial drug except for a hazard
    ratio of 1.
    """
    assay, therapy = _index_test(scenario, design)
    therapies = {n: t.model_dump(mode="python", by_alias=True, exclude_none=True)
                 for n, t in scenario.switch_therapies.items()}  # fmt: skip
    therapies[_PLACEBO] = dict(therapies[therapy], hazard_ratio={"value": 1.0})
    every = {"value": design.every_days, "unit": "days"}
    monitoring = {"assay": assay, "every": every, "start": {"value": design.start_days,
                                                           "unit": "days"}}  # fmt: skip
    baseline = design.baseline_mutations_eligible

    def arm(to: str) -> dict:
        return {
            "description": f"virtual {design.name}: {to} on ctDNA detection",
            "imaging_every": every,
            "monitoring": monitoring,
            "switch": {"to": to, "when": "immediately", "switch_baseline_mutations": baseline},
        }

    arms = {"switch": arm(therapy), "continue": arm(_PLACEBO)}
    name = f"{scenario.name} (virtual {design.name})"
    changes = {"switch_therapies": therapies}
    return with_strategies(scenario, arms, "continue", name=name, psa=False, changes=changes)


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


@dataclass(frozen=True)
class _Arms:
    """Both arms simulated: the continue arm for everyone, the switch arm for the patients
    who switched in it (in the same order); what the analyses of one design share."""

    ids: np.ndarray
    cont: pd.DataFrame
    sw: pd.DataFrame
    horizon: float  # days


def _simulation_key(scenario: Scenario, design: TrialDesign) -> tuple:
    """Designs with equal keys simulate the same arms (they differ only in the analysis:
    follow-up, surveillance window, name, title, landmarks)."""
    every, start = design.every_days, design.start_days
    return (every, start, *_index_test(scenario, design), design.baseline_mutations_eligible)


def _simulate(
    scenario: Scenario,
    design: TrialDesign,
    patients: int,
    seed: int,
    executor: Executor | None,
    engine: str,
) -> _Arms:
    inputs = build_inputs(trial_scenario(scenario, design))
    plans = {p.name: p for p in inputs.strategies}
    cohort = draw_cohort(inputs, np.arange(patients), seed)
    cont = _run_arm(inputs, plans["continue"], cohort, seed, executor, engine)
    switched = cont["switched"].to_numpy(bool)
    if inputs.lab_capacity is None:  # patients are independent: simulate the switched only
        sw = _run_arm(inputs, plans["switch"], cohort.take(switched), seed, executor, engine)
    else:  # a shared lab couples patients: simulate everyone
        sw = _run_arm(inputs, plans["switch"], cohort, seed, executor, engine)[switched]
    sw = sw.reset_index(drop=True)
    if not np.allclose(sw["switch_days"], cont.loc[switched, "switch_days"], rtol=0, atol=1e-9):
        raise RuntimeError("arms disagree before randomisation: common random numbers broken")
    return _Arms(cohort.ids, cont, sw, inputs.horizon)


def _analyse(arms: _Arms, design: TrialDesign, patients: int, seed: int, scenario: str):
    """The trial table of ``design`` from its simulated arms: who was tested, detected and
    randomised within their surveillance, and the arms' times censored at the data cut-off."""
    cont, ids, horizon = arms.cont, arms.ids, arms.horizon
    every, start = design.every_days, design.start_days
    tests_all = cont["tests"].to_numpy(int)
    tested = tests_all > 0
    # Testing stops at the first positive result (or at detected progression), and results
    # return before the next draw (turnaround << interval), so the first positive is the last
    # test drawn.
    last_draw = np.where(tested, start + (tests_all - 1) * every, np.nan)
    if design.surveillance_window_months is None:
        window_end = np.full(len(ids), np.inf)
    else:
        u = rnd.uniforms(seed, 0, "trial_surveillance_window", ids)[:, 0]
        window_end = start + u * design.surveillance_window_months * DAYS_PER_MONTH
    with np.errstate(invalid="ignore"):
        in_window = np.floor((window_end - start) / every + 1e-9) + 1  # draws up to its end
    tests = np.where(tested, np.minimum(tests_all, in_window), 0).astype(int)
    detected = (cont["positives"].to_numpy(int) > 0) & (last_draw <= window_end + 1e-9)
    switched = cont["switched"].to_numpy(bool)
    randomised = switched & detected
    progression = cont["detected_progression_days"].to_numpy(float)
    death = cont["death_days"].to_numpy(float)
    same_visit = detected & ~randomised & np.isclose(last_draw, progression, atol=1e-6)
    # Surveillance ends at detection, detected progression or death; completed if within
    # the patient's window.
    stop = np.fmin.reduce([np.where(detected, last_draw, np.nan), progression, death])
    completed = tested & (stop <= window_end + 1e-9)
    switch_days = np.where(randomised, cont["switch_days"].to_numpy(float), np.nan)
    base = pd.DataFrame(
        {
            "patient": ids,
            "arm": "not_randomised",
            "under_surveillance": tested,
            "completed_surveillance": completed,
            "surveillance_end_months": np.where(
                tested & np.isfinite(window_end), window_end / DAYS_PER_MONTH, np.nan
            ),
            "tests": tests,
            "detected": detected,
            "first_positive_test": np.where(detected, tests_all, np.nan),
            "progression_at_same_visit": same_visit,
            "baseline_mutation": cont["esr1_at_start"].to_numpy(bool),
            "randomised": randomised,
            "false_positive": cont["false_positive_switch"].to_numpy(bool) & randomised,
            "randomisation_months": switch_days / DAYS_PER_MONTH,
        }
    )
    if design.follow_up_months is None:
        follow_up = np.full(len(ids), np.inf)
    else:
        u = rnd.uniforms(seed, 0, "trial_follow_up", ids)[:, 0]
        follow_up = 2.0 * design.follow_up_months * u
    base["follow_up_months"] = np.where(randomised, follow_up, np.nan)
    rows = [base[~randomised]]
    sw = arms.sw[randomised[switched]].reset_index(drop=True)
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
        detected_progression = frame["detected_progression_days"].to_numpy(float)
        part["to_progression_months"] = (detected_progression - zero) / DAYS_PER_MONTH
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
        scenario=scenario,
        horizon_months=horizon / DAYS_PER_MONTH,
        metadata={"every_weeks": design.every_weeks, "start_days": start},
    )


def run_trials(
    scenario: Scenario,
    designs: Mapping[str, TrialDesign],
    patients: int = 20000,
    seed: int = 1,
    executor: Executor | None = None,
    engine: str = "auto",
) -> dict[str, TrialRun]:
    """Emulate several trials on the same ``patients``; trials that differ only in their
    analysis (follow-up, surveillance window) share one simulation, with results identical
    to separate :func:`run_trial` calls (the per-patient uniforms are keyed)."""
    simulated: dict[tuple, _Arms] = {}
    runs = {}
    for name, design in designs.items():
        key = _simulation_key(scenario, design)
        if key not in simulated:
            simulated[key] = _simulate(scenario, design, patients, seed, executor, engine)
        runs[name] = _analyse(simulated[key], design, patients, seed, scenario.name)
    return runs


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
    randomisation (censored at the time horizon). ``design``: default ``TrialDesign()``
    (not the scenario's ``trials:``; see :func:`trial_designs`). ``executor``: where to run
    the arms (default: this process; the result is the same); ``engine``: which engine
    simulates them (:func:`hemodel.engine.choice.choose`).
    """
    design = design or TrialDesign()
    arms = _simulate(scenario, design, patients, seed, executor, engine)
    return _analyse(arms, design, patients, seed, scenario.name)
