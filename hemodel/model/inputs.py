"""Engine-ready model inputs: a :class:`~hemodel.scenario.schema.Scenario` resolved to plain
numbers.

Times are in **days**, costs per day or per event in the scenario currency, discount rates
continuous per day. Building inputs from a scenario is the only place units are converted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from ..scenario.hazards import TimeToEvent
from ..scenario.quantities import UTILITY_FLOOR
from ..scenario.schema import Delay, Scenario, Strategy
from ..scenario.units import DAYS_PER_YEAR, to_days


@dataclass(frozen=True)
class DelayLaw:
    """A delay in days drawn by inverse CDF: ``fixed``, ``uniform`` or ``gamma``."""

    kind: str
    a: float
    b: float = 0.0

    @classmethod
    def from_spec(cls, spec: Delay) -> DelayLaw:
        days = lambda p: to_days(p.value, spec.unit)  # noqa: E731
        if spec.distribution == "fixed":
            return cls("fixed", days(spec.value))
        if spec.distribution == "uniform":
            return cls("uniform", days(spec.low), days(spec.high))
        return cls("gamma", days(spec.mean), days(spec.sd))

    def ppf(self, u):
        """Delay (days) at uniforms ``u``."""
        u = np.asarray(u, dtype=float)
        if self.kind == "fixed":
            return np.full_like(u, self.a)
        if self.kind == "uniform":
            return self.a + (self.b - self.a) * u
        shape = (self.a / self.b) ** 2
        # what scipy.stats.gamma.ppf computes, without its argument checks (90 µs a call)
        return special.gammaincinv(shape, u) * (self.a / shape)


@dataclass(frozen=True)
class AssayPlan:
    name: str
    sensitivity: float
    specificity: float
    cost: float
    turnaround: DelayLaw
    limit_of_detection: float | None = None  # percent MAF


@dataclass(frozen=True)
class Kinetics:
    """Latent mutant ctDNA level, percent MAF (:class:`~hemodel.scenario.schema.CtDNAKinetics`)."""

    level_at_emergence: float  # percent MAF
    doubling_time_median: float  # days
    doubling_time_sdlog: float
    shedding_at_progression: float  # factor on the level from first progression on


@dataclass(frozen=True)
class SwitchPlan:
    therapy: str
    cost_per_day: float
    hazard_ratio: float
    utility_decrement: float
    continue_cdk46: bool
    acts_on_all: bool  # also on progression by other mechanisms of mutation carriers
    effect_duration: float  # days the hazard ratio lasts after the switch (inf: no waning)
    at_next_visit: bool
    switch_baseline_mutations: bool
    continue_testing: bool


@dataclass(frozen=True)
class StrategyPlan:
    """What one strategy does, in days."""

    name: str
    visit_every: float
    imaging_every: float
    draw_every: float | None
    draw_start: float
    assay: AssayPlan | None
    switch: SwitchPlan | None
    progression_assay: AssayPlan | None


@dataclass(frozen=True)
class NaturalHistoryLaws:
    esr1_at_start: float
    emergence_probability: float
    emergence: TimeToEvent
    esr1_progression: TimeToEvent
    other_progression: TimeToEvent
    second_progression: TimeToEvent
    disease_death: TimeToEvent
    age_mean: float
    age_sd: float
    age_min: float
    age_max: float
    life_table: str | None
    background_rate_per_day: float | None
    kinetics: Kinetics | None = None


@dataclass(frozen=True)
class Prices:
    """Costs per day (flows) and per event (one-offs), scenario currency."""

    ai_per_day: float
    cdk46_per_day: float
    pf_management_per_day: float
    progressed_management_per_day: float
    later_lines_per_day: float
    targeted_2l_per_day: float
    visit: float
    imaging: float
    venipuncture: float
    phlebotomy_visit: float
    terminal_care: float


@dataclass(frozen=True)
class ModelInputs:
    horizon: float  # days
    cost_rate: float  # continuous discount rate per day, costs
    qaly_rate: float  # continuous discount rate per day, QALYs
    u_progression_free: float
    u_progressed: float
    molecular_decrement: float
    targeted_2l_hr: float
    prices: Prices
    natural_history: NaturalHistoryLaws
    lab_capacity: int | None  # None = unlimited
    transport: DelayLaw
    enrolment_interval: float  # days between successive patients' starts
    strategies: tuple[StrategyPlan, ...]


def continuous_rate_per_day(annual: float) -> float:
    """Continuous daily rate equivalent to an annual discount rate: ln(1 + r) / 365.25."""
    return math.log1p(annual) / DAYS_PER_YEAR


def _assay(s: Scenario, name: str) -> AssayPlan:
    a = s.assays[name]
    return AssayPlan(
        name,
        a.sensitivity.value,
        a.specificity.value,
        a.cost.value,
        DelayLaw.from_spec(a.turnaround),
        a.limit_of_detection.value if a.limit_of_detection is not None else None,
    )


def _utility_floor(s: Scenario) -> float:
    """Lowest utility a state may have: 0, or the EQ-5D floor with allow_negative_utilities."""
    return UTILITY_FLOOR if s.allow_negative_utilities else 0.0


def _decrement(s: Scenario, decrement: float) -> float:
    """``decrement``, raised where needed so that progression-free utility plus it stays at
    or above the floor (a PSA sample may draw a low utility and a large decrement together;
    fixed values are checked when the scenario is loaded)."""
    return max(decrement, _utility_floor(s) - s.utilities.progression_free.value)


def _plan(s: Scenario, name: str, st: Strategy) -> StrategyPlan:
    visit = (st.visit_every or s.schedule.visit_every).days()
    imaging = (st.imaging_every or s.schedule.imaging_every).days()
    switch = None
    if st.switch is not None:
        th = s.switch_therapies[st.switch.to]
        switch = SwitchPlan(
            therapy=st.switch.to,
            cost_per_day=th.cost.per_day(),
            hazard_ratio=th.hazard_ratio.value,
            utility_decrement=_decrement(s, th.utility_decrement.value),
            continue_cdk46=th.continue_cdk46,
            acts_on_all=th.acts_on == "all_progression",
            effect_duration=th.effect_duration.days() if th.effect_duration else math.inf,
            at_next_visit=st.switch.when == "next_visit",
            switch_baseline_mutations=st.switch.switch_baseline_mutations,
            continue_testing=st.switch.continue_testing_after_switch,
        )
    mon = st.monitoring
    return StrategyPlan(
        name=name,
        visit_every=visit,
        imaging_every=imaging,
        draw_every=mon.every.days() if mon else None,
        draw_start=mon.start.days() if mon else 0.0,
        assay=_assay(s, mon.assay) if mon else None,
        switch=switch,
        progression_assay=(
            _assay(s, st.test_at_progression.assay) if st.test_at_progression else None
        ),
    )


def build_inputs(s: Scenario) -> ModelInputs:
    """Resolve a validated scenario to engine inputs (days, per-day rates)."""
    nh = s.natural_history
    mort = s.cohort.background_mortality
    c = s.costs
    t2l = s.targeted_second_line
    laws = NaturalHistoryLaws(
        esr1_at_start=nh.esr1_at_start.value,
        emergence_probability=nh.esr1_emergence.probability.value,
        emergence=nh.esr1_emergence.time.law(),
        esr1_progression=nh.esr1_progression.law(),
        other_progression=nh.other_progression.law(),
        second_progression=nh.second_line_progression.law(),
        disease_death=nh.post_progression_survival.law(),
        age_mean=s.cohort.age.mean.value,
        age_sd=s.cohort.age.sd.value,
        age_min=s.cohort.age.min,
        age_max=s.cohort.age.max,
        life_table=mort.life_table,
        background_rate_per_day=(
            mort.constant_rate_per_year.value / DAYS_PER_YEAR
            if mort.constant_rate_per_year is not None
            else None
        ),
        kinetics=(
            Kinetics(
                nh.ctdna.level_at_emergence.value,
                nh.ctdna.doubling_time.median.days(),
                nh.ctdna.doubling_time.sdlog.value,
                nh.ctdna.shedding_at_progression.value,
            )
            if nh.ctdna is not None
            else None
        ),
    )
    prices = Prices(
        ai_per_day=c.first_line.aromatase_inhibitor.per_day(),
        cdk46_per_day=c.first_line.cdk46_inhibitor.per_day(),
        pf_management_per_day=c.disease_management.progression_free.per_day(),
        progressed_management_per_day=c.disease_management.progressed.per_day(),
        later_lines_per_day=c.later_lines.per_day(),
        targeted_2l_per_day=t2l.cost.per_day() if t2l else 0.0,
        visit=c.visit.value,
        imaging=c.imaging.value,
        venipuncture=c.venipuncture.value,
        phlebotomy_visit=c.phlebotomy_visit.value,
        terminal_care=c.terminal_care.value,
    )
    return ModelInputs(
        horizon=s.time_horizon.days(),
        cost_rate=continuous_rate_per_day(s.discount_rates.costs.value),
        qaly_rate=continuous_rate_per_day(s.discount_rates.qalys.value),
        u_progression_free=s.utilities.progression_free.value,
        u_progressed=s.utilities.progressed.value,
        molecular_decrement=_decrement(s, s.utilities.molecular_progression_decrement.value),
        targeted_2l_hr=t2l.hazard_ratio.value if t2l else 1.0,
        prices=prices,
        natural_history=laws,
        lab_capacity=None if s.lab.capacity == "unlimited" else int(s.lab.capacity),
        transport=DelayLaw.from_spec(s.lab.transport),
        enrolment_interval=s.cohort.enrolment_interval.days(),
        strategies=tuple(_plan(s, n, st) for n, st in s.strategies.items()),
    )
