"""Pydantic schema of scenario files.

Every numeric input is a :class:`Param`: a base ``value`` plus optional ``psa`` distribution,
deterministic-sensitivity ``range`` and ``source``. In YAML a bare number is shorthand for
``{value: number}``, and a duration may be written ``"8 weeks"`` for ``{value: 8, unit: weeks}``.
Models are frozen and reject unknown keys. Cross-references between sections (a strategy
naming an assay, the reference strategy, ...) are checked in :mod:`hemodel.scenario`.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import distributions as dist
from .distributions import PSADistribution
from .units import TIME_UNITS, period_days, to_days


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --------------------------------------------------------------------------------------
# Numeric parameters
# --------------------------------------------------------------------------------------
_NUMBER_WITH_UNIT = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*([a-zA-Z]+)\s*$")


class Param(Strict):
    """A numeric scenario input with optional uncertainty.

    ``psa``: distribution sampled in probabilistic sensitivity analysis.
    ``range``: ``[low, high]`` for one-way (deterministic) sensitivity analysis.
    """

    lower: ClassVar[float] = -math.inf
    upper: ClassVar[float] = math.inf
    lower_open: ClassVar[bool] = False
    allowed: ClassVar[str] = "a number"

    value: float
    psa: PSADistribution | None = None
    range: tuple[float, float] | None = None
    source: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data):
        if isinstance(data, bool):
            raise ValueError(f"must be {cls.allowed}, not a true/false value")
        if isinstance(data, int | float):
            return {"value": data}
        if isinstance(data, str):
            try:
                return {"value": float(data)}
            except ValueError:
                return cls._from_text(data)
        return data

    @classmethod
    def _from_text(cls, text: str):
        raise ValueError(f"must be {cls.allowed}, got text {text!r}")

    def _in_bounds(self, x: float) -> bool:
        if math.isnan(x):
            return False
        above = x > self.lower if self.lower_open else x >= self.lower
        return above and x <= self.upper

    @model_validator(mode="after")
    def _check_bounds(self):
        if not self._in_bounds(self.value):
            raise ValueError(f"value {self.value:g} is not allowed: must be {self.allowed}")
        if self.range is not None:
            lo, hi = self.range
            if not lo <= hi or not (self._in_bounds(lo) and self._in_bounds(hi)):
                raise ValueError(
                    f"range {list(self.range)} must be [low, high] with low <= high, "
                    f"each {self.allowed}"
                )
        if self.psa is not None and not isinstance(self.psa, dist.FixedDist):
            lo, hi = self.psa.support()
            if not (self._in_bounds(lo) or lo == self.lower) or not (
                self._in_bounds(hi) or hi == self.upper
            ):
                raise ValueError(
                    f"psa distribution '{self.psa.dist}' can produce values in [{lo:g}, {hi:g}], "
                    f"but this parameter must be {self.allowed}"
                )
        return self

    def draw(self, u: float) -> float:
        """PSA value at uniform ``u`` (the base value when there is no distribution)."""
        if self.psa is None or isinstance(self.psa, dist.FixedDist):
            return self.value
        return float(self.psa.ppf(u))

    def low_high(self) -> tuple[float, float] | None:
        """DSA range: explicit ``range`` or the PSA distribution's 2.5/97.5 percentiles."""
        if self.range is not None:
            return self.range
        if self.psa is not None and not isinstance(self.psa, dist.FixedDist):
            return self.psa.interval(0.95)
        return None


class Real(Param):
    pass


class NonNegative(Param):
    lower: ClassVar[float] = 0.0
    allowed: ClassVar[str] = "a number >= 0"


class Positive(Param):
    lower: ClassVar[float] = 0.0
    lower_open: ClassVar[bool] = True
    allowed: ClassVar[str] = "a number > 0"


class Probability(Param):
    lower: ClassVar[float] = 0.0
    upper: ClassVar[float] = 1.0
    allowed: ClassVar[str] = "a probability between 0 and 1"


class Utility(Param):
    upper: ClassVar[float] = 1.0
    allowed: ClassVar[str] = "a utility <= 1 (1 = full health, 0 = dead)"


class Decrement(Param):
    lower: ClassVar[float] = -1.0
    upper: ClassVar[float] = 0.0
    allowed: ClassVar[str] = "a utility decrement between -1 and 0"


class DiscountRate(Param):
    lower: ClassVar[float] = 0.0
    upper: ClassVar[float] = 1.0
    lower_open: ClassVar[bool] = False
    allowed: ClassVar[str] = "an annual rate between 0 and 1 (0.03 = 3% a year)"


class Duration(Param):
    """A length of time with an explicit unit; ``"8 weeks"`` is shorthand."""

    lower: ClassVar[float] = 0.0
    lower_open: ClassVar[bool] = True
    allowed: ClassVar[str] = "a duration > 0"

    unit: Literal["days", "weeks", "months", "years"]

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data):
        if isinstance(data, int | float) and not isinstance(data, bool):
            raise ValueError(
                f"{data} has no unit: write e.g. '{data} weeks' or "
                f"{{value: {data}, unit: weeks}} (units: {', '.join(TIME_UNITS)})"
            )
        if isinstance(data, str):
            return cls._from_text(data)
        return data

    @classmethod
    def _from_text(cls, text: str):
        match = _NUMBER_WITH_UNIT.match(text)
        unit = match.group(2).lower() if match else ""
        if not match or unit.rstrip("s") + "s" not in TIME_UNITS:
            raise ValueError(
                f"{text!r} is not a duration: write a number and a unit, e.g. '8 weeks' "
                f"(units: {', '.join(TIME_UNITS)})"
            )
        return {"value": float(match.group(1)), "unit": unit.rstrip("s") + "s"}

    def days(self, value: float | None = None) -> float:
        return to_days(self.value if value is None else value, self.unit)


class TimeOffset(Duration):
    """A duration that may be zero (a start time, a delay)."""

    lower_open: ClassVar[bool] = False
    allowed: ClassVar[str] = "a duration >= 0"


class CostRate(Param):
    """A cost accruing over time: ``value`` currency units per ``per`` (e.g. ``28 days``)."""

    lower: ClassVar[float] = 0.0
    allowed: ClassVar[str] = "a cost >= 0"

    per: str

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data):
        if isinstance(data, int | float | str) and not isinstance(data, bool):
            raise ValueError(
                f"a cost rate needs its period: write {{value: {data}, per: 28 days}} "
                "(per: day, week, month, year or e.g. '28 days')"
            )
        return data

    @field_validator("per")
    @classmethod
    def _check_per(cls, per: str) -> str:
        period_days(per)
        return per

    def per_day(self, value: float | None = None) -> float:
        """Cost per day."""
        return (self.value if value is None else value) / period_days(self.per)


# --------------------------------------------------------------------------------------
# Distribution specifications with parameters
# --------------------------------------------------------------------------------------
class _TTE(Strict):
    def law(self) -> dist.TimeToEvent:
        raise NotImplementedError


class NeverSpec(_TTE):
    """The event does not happen (useful in teaching and verification scenarios)."""

    distribution: Literal["never"]

    def law(self):
        return dist.Never()


class ExponentialSpec(_TTE):
    distribution: Literal["exponential"]
    median: Duration

    def law(self):
        return dist.Exponential(math.log(2) / self.median.days())


class WeibullSpec(_TTE):
    """Weibull by its median and shape (shape > 1: hazard rising with time)."""

    distribution: Literal["weibull"]
    median: Duration
    shape: Positive

    def law(self):
        k = self.shape.value
        return dist.Weibull(k, self.median.days() / math.log(2) ** (1.0 / k))


class LogLogisticSpec(_TTE):
    distribution: Literal["loglogistic"]
    median: Duration
    shape: Positive

    def law(self):
        return dist.LogLogistic(self.shape.value, self.median.days())


class LogNormalSpec(_TTE):
    distribution: Literal["lognormal"]
    median: Duration
    sdlog: Positive

    def law(self):
        return dist.LogNormal(self.median.days(), self.sdlog.value)


class GompertzSpec(_TTE):
    """Gompertz by its median and shape ``gamma`` (per year; > 0: hazard rising)."""

    distribution: Literal["gompertz"]
    median: Duration
    gamma_per_year: Real

    def law(self):
        g = self.gamma_per_year.value / 365.25
        m = self.median.days()
        b = math.log(2) / m if g == 0 else g * math.log(2) / math.expm1(g * m)
        if b <= 0:
            raise ValueError("gompertz median and gamma give a non-positive hazard")
        return dist.Gompertz(b, g)


class PiecewiseSpec(_TTE):
    """Constant hazards per interval: ``starts`` (first = 0) and ``rates_per_year``."""

    distribution: Literal["piecewise_exponential"]
    unit: Literal["days", "weeks", "months", "years"]
    starts: list[float] = Field(min_length=1)
    rates_per_year: list[NonNegative] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self):
        if len(self.starts) != len(self.rates_per_year):
            raise ValueError("starts and rates_per_year must have the same length")
        if self.starts[0] != 0 or any(
            b <= a for a, b in zip(self.starts, self.starts[1:], strict=False)
        ):
            raise ValueError("starts must begin at 0 and increase")
        return self

    def law(self):
        return dist.PiecewiseExponential(
            tuple(to_days(s, self.unit) for s in self.starts),
            tuple(r.value / 365.25 for r in self.rates_per_year),
        )


TimeToEventSpec = Annotated[
    NeverSpec
    | ExponentialSpec
    | WeibullSpec
    | LogLogisticSpec
    | LogNormalSpec
    | GompertzSpec
    | PiecewiseSpec,
    Field(discriminator="distribution"),
]


class Delay(Strict):
    """A random delay (first-order variability), e.g. lab turnaround.

    ``fixed`` (``value``), ``uniform`` (``low``, ``high``) or ``gamma`` (``mean``, ``sd``);
    all in ``unit``. ``"7 days"`` is shorthand for a fixed delay.
    """

    distribution: Literal["fixed", "uniform", "gamma"]
    unit: Literal["days", "weeks", "months", "years"] = "days"
    value: NonNegative | None = None
    low: NonNegative | None = None
    high: NonNegative | None = None
    mean: Positive | None = None
    sd: Positive | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data):
        if isinstance(data, str):
            parsed = TimeOffset._from_text(data)
            return {"distribution": "fixed", "value": parsed["value"], "unit": parsed["unit"]}
        if isinstance(data, int | float) and not isinstance(data, bool):
            raise ValueError(f"{data} has no unit: write e.g. '{data} days'")
        return data

    @model_validator(mode="after")
    def _check(self):
        need = {"fixed": ("value",), "uniform": ("low", "high"), "gamma": ("mean", "sd")}
        wanted = need[self.distribution]
        given = [f for f in ("value", "low", "high", "mean", "sd") if getattr(self, f) is not None]
        if sorted(given) != sorted(wanted):
            raise ValueError(
                f"a {self.distribution} delay takes exactly: {', '.join(wanted)} (got: "
                f"{', '.join(given) or 'nothing'})"
            )
        if self.distribution == "uniform" and self.low.value > self.high.value:
            raise ValueError("low must not exceed high")
        return self

    def mean_days(self) -> float:
        if self.distribution == "fixed":
            return to_days(self.value.value, self.unit)
        if self.distribution == "uniform":
            return to_days((self.low.value + self.high.value) / 2, self.unit)
        return to_days(self.mean.value, self.unit)


ZERO_DELAY = Delay(distribution="fixed", value=0.0, unit="days")


# --------------------------------------------------------------------------------------
# Scenario sections
# --------------------------------------------------------------------------------------
class DiscountRates(Strict):
    """Annual discount rates, applied continuously (rate ln(1+r) per year)."""

    costs: DiscountRate
    qalys: DiscountRate


class Age(Strict):
    """Age at start of first-line therapy, years: normal(mean, sd) truncated to [min, max]."""

    mean: Positive
    sd: NonNegative
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
    constant_rate_per_year: NonNegative | None = None

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
    visit: NonNegative
    imaging: NonNegative
    venipuncture: NonNegative
    phlebotomy_visit: NonNegative = Field(description="extra visit for a draw off the visit grid")
    terminal_care: NonNegative


class Assay(Strict):
    sensitivity: Probability = Field(
        description="per-test probability of detecting an emerged mutation"
    )
    specificity: Probability
    cost: NonNegative
    turnaround: Delay = Field(description="lab processing time per test")


class Lab(Strict):
    capacity: int | Literal["unlimited"] = "unlimited"
    transport: Delay = ZERO_DELAY

    @field_validator("capacity", mode="before")
    @classmethod
    def _capacity(cls, v):
        if v == "unlimited":
            return v
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"capacity must be a whole number >= 1 or 'unlimited', got {v!r}")
        return v


class SwitchTherapy(Strict):
    cost: CostRate
    hazard_ratio: Positive = Field(description="on ESR1-driven progression, from the switch on")
    utility_decrement: Decrement
    continue_cdk46: bool = True


class TargetedSecondLine(Strict):
    """Therapy at first progression for a detected ESR1 mutation (e.g. an oral SERD)."""

    cost: CostRate
    hazard_ratio: Positive = Field(description="on second progression, for true ESR1m")


class Schedule(Strict):
    visit_every: Duration
    imaging_every: Duration


class Monitoring(Strict):
    assay: str
    every: Duration
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
    visit_every: Duration | None = None
    imaging_every: Duration | None = None
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


class DirichletGroup(Strict):
    """Probabilities that sum to one, drawn jointly: Dirichlet(``concentrations``)."""

    parameters: list[str] = Field(min_length=2)
    concentrations: list[float] = Field(min_length=2)

    @model_validator(mode="after")
    def _check(self):
        if len(self.parameters) != len(self.concentrations):
            raise ValueError("give one concentration per parameter")
        if any(a <= 0 for a in self.concentrations):
            raise ValueError("concentrations must be > 0")
        return self


class Uncertainty(Strict):
    """Joint structure of the PSA draws (each parameter's own ``psa:`` gives its marginal)."""

    correlations: list[Correlation] = Field(default_factory=list)
    dirichlet: list[DirichletGroup] = Field(default_factory=list)


class Sweep(Strict):
    """A grid over a monitoring strategy's settings, expanded into strategies by
    ``hemodel sweep``. Unlisted settings keep those of ``base``."""

    base: str = Field(description="a strategy with monitoring whose settings are varied")
    every: list[Duration] = Field(default_factory=list, description="testing intervals")
    assay: list[str] = Field(default_factory=list)
    start: list[TimeOffset] = Field(default_factory=list, description="first test")
    when: list[Literal["immediately", "next_visit"]] = Field(default_factory=list)
    compare_with: list[str] = Field(
        default_factory=list, description="other strategies kept as comparators"
    )


_NAME = r"^[A-Za-z][A-Za-z0-9_\-]*$"


class Scenario(Strict):
    """A complete, validated scenario (see scenarios/serena6_us.yaml for a commented example)."""

    name: str
    description: str = ""
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD")
    price_year: int = Field(ge=1900, le=2100)
    time_horizon: Duration
    discount_rates: DiscountRates
    willingness_to_pay: list[NonNegative] = Field(
        min_length=1, description="per QALY, in currency; the first is used for net benefit"
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
    targets: dict[Annotated[str, Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")], Target] = Field(
        default_factory=dict
    )
    uncertainty: Uncertainty = Field(default_factory=Uncertainty)
    sweeps: dict[Annotated[str, Field(pattern=_NAME)], Sweep] = Field(default_factory=dict)
