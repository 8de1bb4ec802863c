"""Pydantic schema of scenario files: the sections of a scenario and how they fit together.

The numeric building blocks (parameters with units and uncertainty, time-to-event and delay
specifications) live in :mod:`hemodel.scenario.quantities`. Models are frozen and reject
unknown keys.
Cross-references between sections (a strategy naming an assay, the reference strategy, ...)
are checked in :mod:`hemodel.scenario.load`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .consistency import utility_floor_error
from .quantities import (
    UTILITY_FLOOR,
    ZERO_DELAY,
    AgeSpread,
    AgeYears,
    Cost,
    CostRate,
    Decrement,
    Delay,
    DiscountRate,
    Duration,
    Fold,
    HazardRatio,
    Interval,
    LogSD,
    Median,
    Percent,
    Probability,
    RatePerYear,
    Strict,
    TimeOffset,
    TimeToEventSpec,
    Utility,
)
from .studies import Population, Study, StudyName
from .text import shorten
from .trials import TrialName, TrialSpec


# --------------------------------------------------------------------------------------
# Scenario sections
# --------------------------------------------------------------------------------------
class DiscountRates(Strict):
    """Annual discount rates, applied continuously (rate ln(1+r) per year)."""

    costs: DiscountRate
    qalys: DiscountRate


class Age(Strict):
    """Age at start of first-line therapy, years: normal(mean, sd) truncated to [min, max]."""

    mean: AgeYears
    sd: AgeSpread
    min: float = Field(default=18, ge=0, le=119)
    max: float = Field(default=100, ge=0, le=119)

    @model_validator(mode="after")
    def _check(self):
        if not self.min <= self.mean.value <= self.max:
            raise ValueError(
                f"mean {self.mean.value} must lie in [min, max] = [{self.min}, {self.max}]"
            )
        return self


class BackgroundMortality(Strict):
    """Deaths from other causes: a bundled ``life_table`` or a ``constant_rate`` per year."""

    life_table: str | None = None
    constant_rate_per_year: RatePerYear | None = None

    @model_validator(mode="after")
    def _one(self):
        if (self.life_table is None) == (self.constant_rate_per_year is None):
            raise ValueError("give exactly one of life_table or constant_rate_per_year")
        return self


class Cohort(Strict):
    age: Age
    background_mortality: BackgroundMortality
    enrolment_interval: TimeOffset = Field(
        default_factory=lambda: TimeOffset(value=0, unit="days"),
        description="time between successive patients' starts (0: all start together); "
        "matters only with a finite lab capacity",
    )


class Emergence(Strict):
    """ESR1 mutation emerging in ctDNA during first-line therapy."""

    probability: Probability = Field(description="probability the mutation ever emerges on 1L")
    time: TimeToEventSpec = Field(description="time from 1L start to emergence, if it emerges")


class DoublingTime(Strict):
    """Doubling time of the mutant ctDNA level: lognormal across patients."""

    median: Median
    sdlog: LogSD = Field(description="standard deviation of its natural log")


class CtDNAKinetics(Strict):
    """Latent mutant ctDNA level of an emerged ESR1 mutation (mutant allele fraction, MAF, %).

    The level doubles every ``doubling_time`` (per patient) from ``level_at_emergence`` and is
    multiplied by ``shedding_at_progression`` from first progression on; an assay detects
    the mutation in a draw whose level is at or above its ``limit_of_detection``. Mutations
    present at first-line start are detectable from the start. The ESR1 progression law is
    that of a patient with the median doubling time; a patient's runs in proportion to their
    doubling time (see :mod:`hemodel.model.kinetics`).
    """

    level_at_emergence: Percent = Field(description="percent MAF when the mutation emerges")
    doubling_time: DoublingTime
    shedding_at_progression: Fold = Field(
        description="factor on the level from first progression on (tumour burden; progression "
        "does not lower shedding)"
    )


class NaturalHistory(Strict):
    esr1_at_start: Probability = Field(description="probability ESR1m is present at 1L start")
    esr1_emergence: Emergence
    esr1_progression: TimeToEventSpec = Field(
        description="time from emergence to ESR1-driven progression on the aromatase inhibitor"
    )
    other_progression: TimeToEventSpec = Field(
        description="time from 1L start to progression by other mechanisms"
    )
    second_line_progression: TimeToEventSpec = Field(
        description="time from first progression to second progression (PFS2 interval)"
    )
    post_progression_survival: TimeToEventSpec = Field(
        description="time from second progression to death from the disease"
    )
    ctdna: CtDNAKinetics | None = Field(
        default=None,
        description="mutant ctDNA kinetics; without it an emerged mutation is detectable at "
        "once (each test then finds it with the assay's sensitivity)",
    )


class Utilities(Strict):
    progression_free: Utility
    progressed: Utility
    molecular_progression_decrement: Decrement = Field(
        description="added while an emerged ESR1 mutation goes untreated on the AI"
    )


class FirstLineCosts(Strict):
    aromatase_inhibitor: CostRate
    cdk46_inhibitor: CostRate


class StateCosts(Strict):
    progression_free: CostRate
    progressed: CostRate


class Costs(Strict):
    first_line: FirstLineCosts
    disease_management: StateCosts
    later_lines: CostRate = Field(description="standard therapy after first progression")
    visit: Cost
    imaging: Cost
    venipuncture: Cost
    phlebotomy_visit: Cost = Field(description="extra visit for a draw off the visit grid")
    terminal_care: Cost


class Assay(Strict):
    sensitivity: Probability = Field(
        description="per-test probability of detecting a mutation that is detectable (at or "
        "above the limit of detection with ctDNA kinetics; emerged without)"
    )
    specificity: Probability = Field(description="per-test probability of a negative result "
                                     "without a detectable mutation")  # fmt: skip
    limit_of_detection: Percent | None = Field(
        default=None, description="percent MAF; needed when natural_history has ctdna:"
    )
    cost: Cost
    turnaround: Delay = Field(description="lab processing time per test")


#: Largest finite lab capacity (tests processed at once).
MAX_CAPACITY = 1_000_000


class Lab(Strict):
    capacity: int | Literal["unlimited"] = Field(
        default="unlimited", description=f"tests processed at once: 1 to {MAX_CAPACITY:,}"
    )
    transport: Delay = ZERO_DELAY

    @field_validator("capacity", mode="before")
    @classmethod
    def _capacity(cls, v):
        if v == "unlimited":
            return v
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_CAPACITY:
            raise ValueError(
                f"capacity must be a whole number >= 1 and <= {MAX_CAPACITY:,}, or 'unlimited', "
                f"got {shorten(repr(v))}"
            )
        return v


class SwitchTherapy(Strict):
    cost: CostRate
    hazard_ratio: HazardRatio = Field(description="on the progression hazards of `acts_on`, "
                                      "from the switch on")  # fmt: skip
    acts_on: Literal["esr1_progression", "all_progression"] = Field(
        default="esr1_progression",
        description="esr1_progression: the ESR1-driven hazard only; all_progression: also the "
        "hazard of progression by other mechanisms of a patient carrying the mutation",
    )
    effect_duration: Duration | None = Field(
        default=None, description="the hazard ratio stops applying this long after the switch "
        "(waning); default: for the rest of first line",
    )  # fmt: skip
    utility_decrement: Decrement
    continue_cdk46: bool = True


class TargetedSecondLine(Strict):
    """Therapy at first progression for a detected ESR1 mutation (e.g. an oral SERD)."""

    cost: CostRate
    hazard_ratio: HazardRatio = Field(description="on second progression, for true ESR1m")


class Schedule(Strict):
    visit_every: Interval
    imaging_every: Interval


class Monitoring(Strict):
    assay: str
    every: Interval
    start: TimeOffset = Field(default_factory=lambda: TimeOffset(value=0, unit="weeks"))


class SwitchRule(Strict):
    to: str
    when: Literal["immediately", "next_visit"] = "immediately"
    switch_baseline_mutations: bool = Field(
        default=False, description="switch patients whose mutation was present at 1L start"
    )
    continue_testing_after_switch: bool = False


class TestAtProgression(Strict):
    assay: str


class Strategy(Strict):
    description: str = ""
    visit_every: Interval | None = None
    imaging_every: Interval | None = None
    monitoring: Monitoring | None = None
    switch: SwitchRule | None = None
    test_at_progression: TestAtProgression | None = None

    @model_validator(mode="after")
    def _check(self):
        if self.monitoring is not None and self.switch is None:
            raise ValueError("a strategy with monitoring needs a switch rule ('switch:')")
        if self.switch is not None and self.monitoring is None:
            raise ValueError("a switch rule needs monitoring ('monitoring:')")
        return self


class Target(Strict):
    value: float
    ci: tuple[float, float] | None = None
    tolerance: float | None = Field(default=None, gt=0)
    source: str | None = None

    @model_validator(mode="after")
    def _check(self):
        if self.ci is not None and not self.ci[0] <= self.value <= self.ci[1]:
            raise ValueError(f"value {self.value} lies outside its ci {list(self.ci)}")
        return self


class Correlation(Strict):
    """Correlated PSA draws: a Gaussian copula over parameters that have ``psa`` distributions.

    ``matrix`` is the correlation matrix of the underlying normals (unit diagonal, symmetric,
    positive definite), in the order of ``parameters`` (dotted paths).
    """

    parameters: list[str] = Field(min_length=2)
    matrix: list[list[float]]

    @model_validator(mode="after")
    def _check(self):
        import numpy as np

        m = np.asarray(self.matrix, dtype=float)
        k = len(self.parameters)
        if m.shape != (k, k):
            raise ValueError(f"matrix must be {k}×{k} (one row and column per parameter)")
        if not np.allclose(m, m.T) or not np.allclose(np.diag(m), 1.0):
            raise ValueError("matrix must be symmetric with ones on the diagonal")
        if np.any(np.abs(m) > 1) or np.linalg.eigvalsh(m).min() <= 0:
            raise ValueError("matrix must be a positive definite correlation matrix")
        return self


#: Bounds of a Dirichlet concentration: below 0.05 a gamma draw at the smallest uniform
#: underflows to 0, and a group could sum to 0.
MIN_CONCENTRATION, MAX_CONCENTRATION = 0.1, 1e6


class DirichletGroup(Strict):
    """Probabilities that sum to one, drawn jointly: Dirichlet(``concentrations``)."""

    parameters: list[str] = Field(min_length=2)
    concentrations: list[float] = Field(min_length=2)

    @model_validator(mode="after")
    def _check(self):
        if len(self.parameters) != len(self.concentrations):
            raise ValueError("give one concentration per parameter")
        if any(not MIN_CONCENTRATION <= a <= MAX_CONCENTRATION for a in self.concentrations):
            raise ValueError(
                f"concentrations must be >= {MIN_CONCENTRATION} and <= {MAX_CONCENTRATION:g} "
                "(smaller ones make gamma draws underflow to 0)"
            )
        return self


class Posterior(Strict):
    """Draws of a calibration posterior, the joint PSA distribution of ``parameters``.

    ``draws``: a CSV file (relative to the scenario file that names it) with one row per
    posterior draw and a column per parameter (dotted path; values in the parameter's own
    unit, as its ``value:``); other columns are ignored. PSA sample s takes one whole row
    (keyed by seed and sample), so the parameters keep their posterior correlations; their
    own ``psa:`` is then ignored. ``hemodel calibrate --method bayes`` writes both.
    """

    draws: str = Field(min_length=1, description="CSV of posterior draws, relative to this file")
    parameters: list[str] = Field(min_length=1, description="dotted paths, one column each")
    table: tuple[tuple[float, ...], ...] = Field(
        default=(),
        description="the draws, read from the file when the scenario is loaded (never written)",
    )

    @model_validator(mode="after")
    def _check(self):
        twice = sorted({p for p in self.parameters if self.parameters.count(p) > 1})
        if twice:
            raise ValueError(f"parameters named twice: {', '.join(twice)}")
        k = len(self.parameters)
        if any(len(row) != k for row in self.table):
            raise ValueError(f"every row of table must hold {k} values (one per parameter)")
        return self


class Uncertainty(Strict):
    """Joint structure of the PSA draws (each parameter's own ``psa:`` gives its marginal,
    except for parameters drawn from a calibration ``posterior``)."""

    correlations: list[Correlation] = Field(default_factory=list)
    dirichlet: list[DirichletGroup] = Field(default_factory=list)
    posterior: Posterior | None = None

    @model_validator(mode="after")
    def _one_joint_law(self):
        if self.posterior is None:
            return self
        joint = set(self.posterior.parameters)
        groups = [("correlations", g) for g in self.correlations]
        groups += [("dirichlet", g) for g in self.dirichlet]
        for i, (kind, group) in enumerate(groups):
            both = [p for p in group.parameters if p in joint]
            if both:
                j = i if kind == "correlations" else i - len(self.correlations)
                names = ", ".join(repr(p) for p in both)
                raise ValueError(
                    f"{names} {'is' if len(both) == 1 else 'are'} drawn from the posterior "
                    f"(a draw keeps the posterior's correlations), so cannot also be in "
                    f"{kind} group {j}: remove {'it' if len(both) == 1 else 'them'} from one"
                )
        return self


class Sweep(Strict):
    """A grid over a monitoring strategy's settings, expanded into strategies by
    ``hemodel sweep``. Unlisted settings keep those of ``base``."""

    base: str = Field(description="a strategy with monitoring whose settings are varied")
    every: list[Interval] = Field(default_factory=list, description="testing intervals")
    assay: list[str] = Field(default_factory=list)
    start: list[TimeOffset] = Field(default_factory=list, description="first test")
    when: list[Literal["immediately", "next_visit"]] = Field(default_factory=list)
    compare_with: list[str] = Field(
        default_factory=list, description="other strategies kept as comparators"
    )


_NAME = r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$"  # at most 64 characters


class Scenario(Strict):
    """A complete, validated scenario (see scenarios/serena6_us.yaml for a commented example)."""

    name: str
    description: str = ""
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD")
    price_year: int = Field(ge=1900, le=2100)
    time_horizon: Duration
    discount_rates: DiscountRates
    willingness_to_pay: list[Cost] = Field(
        min_length=1, description="per QALY, in currency; the first is used for net benefit"
    )
    allow_negative_utilities: bool = Field(
        default=False,
        description="allow utilities below 0 (states worse than death, as some EQ-5D tariffs "
        f"value them), down to {UTILITY_FLOOR}, the UK EQ-5D-3L tariff's lowest; without it "
        "every utility, and every utility plus a decrement, must be >= 0, so QALYs cannot be "
        "negative",
    )
    cohort: Cohort
    natural_history: NaturalHistory
    utilities: Utilities
    costs: Costs
    assays: dict[Annotated[str, Field(pattern=_NAME)], Assay] = Field(default_factory=dict)
    lab: Lab = Field(default_factory=Lab)
    switch_therapies: dict[Annotated[str, Field(pattern=_NAME)], SwitchTherapy] = Field(
        default_factory=dict
    )
    targeted_second_line: TargetedSecondLine | None = None
    schedule: Schedule
    strategies: dict[Annotated[str, Field(pattern=_NAME)], Strategy] = Field(min_length=1)
    reference: str
    trials: dict[TrialName, TrialSpec] = Field(default_factory=dict)
    targets: dict[Annotated[str, Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")], Target] = Field(
        default_factory=dict
    )
    uncertainty: Uncertainty = Field(default_factory=Uncertainty)
    sweeps: dict[Annotated[str, Field(pattern=_NAME)], Sweep] = Field(default_factory=dict)
    population: Population | None = Field(
        default=None, description="who the budget impact and population EVPI are for"
    )
    studies: dict[StudyName, Study] = Field(
        default_factory=dict, description="proposed studies whose value `hemodel evsi` estimates"
    )

    @model_validator(mode="after")
    def _utilities_floor(self):
        error = utility_floor_error(self)
        if error:
            raise ValueError(error)
        return self

    @property
    def wtps(self) -> list[float]:
        """The willingness-to-pay thresholds as numbers (currency per QALY)."""
        return [w.value for w in self.willingness_to_pay]
