"""Scenario quantities: numeric parameters with units and uncertainty, and distributions.

Every numeric input is a :class:`Param`: a base ``value`` plus optional ``psa`` distribution,
deterministic-sensitivity ``range`` and ``source``. In YAML a bare number is shorthand for
``{value: number}``, and a duration may be written ``"8 weeks"`` for ``{value: 8, unit: weeks}``.
Time-to-event specifications (``distribution: weibull`` with a median and shape, …) and
random delays (lab turnaround) are built from such parameters.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import distributions as dist
from . import hazards
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

    def draw(self, u):
        """PSA values at uniforms ``u`` (a float or an array; the base value when there is no
        distribution)."""
        if self.psa is None or isinstance(self.psa, dist.FixedDist):
            return self.value
        return self.psa.ppf(u)

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
    def law(self) -> hazards.TimeToEvent:
        raise NotImplementedError


class NeverSpec(_TTE):
    """The event does not happen (useful in teaching and verification scenarios)."""

    distribution: Literal["never"]

    def law(self):
        return hazards.Never()


class ExponentialSpec(_TTE):
    distribution: Literal["exponential"]
    median: Duration

    def law(self):
        return hazards.Exponential(math.log(2) / self.median.days())


class WeibullSpec(_TTE):
    """Weibull by its median and shape (shape > 1: hazard rising with time)."""

    distribution: Literal["weibull"]
    median: Duration
    shape: Positive

    def law(self):
        k = self.shape.value
        return hazards.Weibull(k, self.median.days() / math.log(2) ** (1.0 / k))


class LogLogisticSpec(_TTE):
    distribution: Literal["loglogistic"]
    median: Duration
    shape: Positive

    def law(self):
        return hazards.LogLogistic(self.shape.value, self.median.days())


class LogNormalSpec(_TTE):
    distribution: Literal["lognormal"]
    median: Duration
    sdlog: Positive

    def law(self):
        return hazards.LogNormal(self.median.days(), self.sdlog.value)


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
        return hazards.Gompertz(b, g)


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
        return hazards.PiecewiseExponential(
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
    all in ``unit`` (required, like every time in a scenario). ``"7 days"`` is shorthand for
    a fixed delay.
    """

    distribution: Literal["fixed", "uniform", "gamma"]
    unit: Literal["days", "weeks", "months", "years"]
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


def parameters(scenario: BaseModel) -> dict[str, Param]:
    """Every numeric parameter of a scenario (or any section of one) by dotted path, e.g.
    ``assays.g360.sensitivity``."""
    found: dict[str, Param] = {}

    def walk(obj: Any, path: tuple[str, ...]) -> None:
        if isinstance(obj, Param):
            found[".".join(path)] = obj
        elif isinstance(obj, BaseModel):
            for name in type(obj).model_fields:
                walk(getattr(obj, name), path + (name,))
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, path + (str(k),))
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(v, path + (str(i),))

    walk(scenario, ())
    return found
