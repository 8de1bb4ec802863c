"""Scenario quantities: numeric parameters with units and uncertainty, and distributions.

Every numeric input is a :class:`Param`: a base ``value`` plus optional ``psa`` distribution,
deterministic-sensitivity ``range`` and ``source``. In YAML a bare number is shorthand for
``{value: number}``, and a duration may be written ``"8 weeks"`` for ``{value: 8, unit: weeks}``.
Time-to-event specifications (``distribution: weibull`` with a median and shape, …) and
random delays (lab turnaround) are built from such parameters. Each kind of parameter has
physically sensible bounds, stated in its ``allowed`` text (shown by ``hemodel docs``).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import distributions as dist
from . import hazards
from .distributions import PSADistribution
from .text import shorten
from .units import DAYS_PER_UNIT, DAYS_PER_YEAR, TIME_UNITS, period_days, to_days


class Strict(BaseModel):
    """A scenario section: unknown keys are errors and every number is finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              allow_inf_nan=False)  # fmt: skip


# --------------------------------------------------------------------------------------
# Numeric parameters
# --------------------------------------------------------------------------------------
_NUMBER_WITH_UNIT = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*([a-zA-Z]+)\s*$")

#: Longest time a scenario may span (days): a horizon, a follow-up, an interval. Monitoring
#: daily for 100 years, the slowest engine runs 20 patients in about 30 s.
MAX_DAYS = 100 * DAYS_PER_YEAR
#: Largest cost of one item or billing period (currency): room for KRW or IDR, not for 1e300.
MAX_COST = 1e9
#: Longest lab turnaround or transport time (days).
MAX_DELAY_DAYS = DAYS_PER_YEAR


class Param(Strict):
    """A numeric scenario input with optional uncertainty.

    ``psa``: distribution sampled in probabilistic sensitivity analysis.
    ``range``: ``[low, high]`` for one-way (deterministic) sensitivity analysis.

    Every value is finite and lies in ``[lower, upper]`` (``lower`` excluded when
    ``lower_open``), as do the ``range`` and the centre of the ``psa`` distribution. The
    distribution itself may reach only into ``natural`` (what the quantity can be at all, e.g.
    [0, inf) for a cost): an unbounded tail beyond a sanity limit such as the largest cost is
    allowed, and PSA draws are clipped to ``[lower, upper]``.
    """

    lower: ClassVar[float] = -math.inf
    upper: ClassVar[float] = math.inf
    lower_open: ClassVar[bool] = False
    natural: ClassVar[tuple[float, float] | None] = None  # None: [lower, upper]
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
        raise ValueError(f"must be {cls.allowed}, got text {shorten(repr(text))}")

    def bounds(self) -> tuple[float, float]:
        """``(lower, upper)`` in the parameter's own unit."""
        return self.lower, self.upper

    def _in_bounds(self, x: float) -> bool:
        lo, hi = self.bounds()
        if not math.isfinite(x):
            return False
        above = x > lo if self.lower_open else x >= lo
        return above and x <= hi

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
            self._check_psa(self.psa)
        return self

    def _check_psa(self, psa) -> None:
        lo, hi = psa.support()
        low, high = self.bounds()
        ends = self.natural or (low, high)
        # each end allowed, or where the quantity ends at all (a tail, clipped when drawn)
        if not all(self._in_bounds(x) or x in (low, high, *ends) for x in (lo, hi)):
            raise ValueError(
                f"psa distribution '{psa.dist}' can produce values in [{lo:g}, {hi:g}], "
                f"but this parameter must be {self.allowed}"
            )
        centre = psa.centre()
        if not self._in_bounds(centre):
            raise ValueError(
                f"psa distribution '{psa.dist}' has its centre at {centre:g}, but this "
                f"parameter must be {self.allowed}"
            )

    def draw(self, u):
        """PSA values at uniforms ``u`` (float or array), clipped to the parameter's bounds;
        the base value without a distribution."""
        if self.psa is None or isinstance(self.psa, dist.FixedDist):
            return self.value
        lo, hi = self.bounds()
        if self.lower_open:
            lo = np.nextafter(lo, math.inf)
        return np.clip(self.psa.ppf(u), lo, hi)

    def low_high(self) -> tuple[float, float] | None:
        """DSA range: ``range``, else the PSA's 2.5/97.5 percentiles within the bounds."""
        if self.range is not None:
            return self.range
        if self.psa is not None and not isinstance(self.psa, dist.FixedDist):
            lo, hi = self.psa.interval(0.95)
            return tuple(float(np.clip(x, *self.bounds())) for x in (lo, hi))
        return None


def _bounded(name: str, lower: float, upper: float, allowed: str, **extra) -> type[Param]:
    """A :class:`Param` subclass with these bounds (``extra``: other class attributes)."""
    attrs = {"lower": lower, "upper": upper, "allowed": allowed, "__doc__": allowed, **extra}
    notes = {k: ClassVar for k in attrs if k != "__doc__"}
    return type(name, (Param,), {"__module__": __name__, "__annotations__": notes, **attrs})


_UNBOUNDED = (0.0, math.inf)
Probability = _bounded("Probability", 0.0, 1.0, "a probability between 0 and 1")
#: The lowest EQ-5D utility of the UK (3L) tariff: the floor of negative utilities.
UTILITY_FLOOR = -0.594
Utility = _bounded("Utility", UTILITY_FLOOR, 1.0, "a utility <= 1 (1 = full health, 0 = dead) "
                   f"and >= 0; down to {UTILITY_FLOOR} (worse than death) only with "
                   "allow_negative_utilities: true")  # fmt: skip
Decrement = _bounded("Decrement", -1.0, 0.0, "a utility decrement between -1 and 0, with "
                     "utility + decrement >= 0 (see allow_negative_utilities)")  # fmt: skip
DiscountRate = _bounded("DiscountRate", 0.0, 1.0, "an annual rate from 0 to 1 (0.03 = 3% a "
                        "year)", natural=_UNBOUNDED)  # fmt: skip
Cost = _bounded("Cost", 0.0, MAX_COST, "a number >= 0 and <= 1e9 (currency units)",
                natural=_UNBOUNDED)  # fmt: skip
HazardRatio = _bounded("HazardRatio", 0.0, 100.0, "a hazard ratio > 0 and <= 100",
                       lower_open=True, natural=_UNBOUNDED)  # fmt: skip
Shape = _bounded("Shape", 0.01, 100.0, "a shape >= 0.01 and <= 100", natural=_UNBOUNDED)
LogSD = _bounded("LogSD", 0.0, 10.0, "a log-scale standard deviation >= 0 and <= 10",
                 natural=_UNBOUNDED)  # fmt: skip
PositiveLogSD = _bounded("PositiveLogSD", 0.0, 10.0, "a log-scale standard deviation > 0 and "
                         "<= 10", lower_open=True, natural=_UNBOUNDED)  # fmt: skip
RatePerYear = _bounded("RatePerYear", 0.0, 1000.0, "a rate per year >= 0 and <= 1000",
                       natural=_UNBOUNDED)  # fmt: skip
GompertzGamma = _bounded("GompertzGamma", -10.0, 10.0, "a Gompertz shape per year from -10 "
                         "to 10")  # fmt: skip
Percent = _bounded("Percent", 0.0, 100.0, "a percentage > 0 and <= 100", lower_open=True,
                   natural=_UNBOUNDED)  # fmt: skip
Fold = _bounded("Fold", 1.0, 1e4, "a factor >= 1 and <= 10000", natural=_UNBOUNDED)
AgeYears = _bounded("AgeYears", 0.0, 119.0, "an age in years >= 0 and <= 119",
                    natural=_UNBOUNDED)  # fmt: skip
AgeSpread = _bounded("AgeSpread", 0.0, 100.0, "a standard deviation in years >= 0 and <= 100",
                     natural=_UNBOUNDED)  # fmt: skip
DelayTime = _bounded("DelayTime", 0.0, MAX_DAYS, "a time >= 0 in the delay's unit, at most 1 "
                     "year", natural=_UNBOUNDED)  # fmt: skip
DelayScale = _bounded("DelayScale", 0.0, MAX_DAYS, "a time > 0 in the delay's unit, at most 1 "
                      "year", lower_open=True, natural=_UNBOUNDED)  # fmt: skip


class Duration(Param):
    """A length of time with an explicit unit; ``"8 weeks"`` is shorthand. ``lower`` and
    ``upper`` are in days."""

    lower: ClassVar[float] = 0.0
    upper: ClassVar[float] = MAX_DAYS
    lower_open: ClassVar[bool] = True
    natural: ClassVar[tuple[float, float] | None] = _UNBOUNDED
    allowed: ClassVar[str] = "a duration > 0 and at most 100 years"

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
                f"{shorten(repr(text))} is not a duration: write a number and a unit, e.g. "
                f"'8 weeks' (units: {', '.join(TIME_UNITS)})"
            )
        return {"value": float(match.group(1)), "unit": unit.rstrip("s") + "s"}

    def bounds(self) -> tuple[float, float]:
        per = DAYS_PER_UNIT[self.unit]
        return self.lower / per, self.upper / per

    def days(self, value: float | None = None) -> float:
        return to_days(self.value if value is None else value, self.unit)


class Interval(Duration):
    """How often something recurs (visits, scans, tests): at least a day."""

    lower: ClassVar[float] = 1.0
    lower_open: ClassVar[bool] = False
    allowed: ClassVar[str] = "a duration > 0: from 1 day to 100 years"


class Median(Duration):
    """The median of a time to event, or a doubling time (100 times the longest horizon)."""

    lower: ClassVar[float] = 0.01
    upper: ClassVar[float] = 10 * MAX_DAYS
    lower_open: ClassVar[bool] = False
    allowed: ClassVar[str] = "a duration > 0: from 0.01 days to 1000 years"


class TimeOffset(Duration):
    """A duration that may be zero (a start time, a delay)."""

    lower_open: ClassVar[bool] = False
    allowed: ClassVar[str] = "a duration >= 0 and at most 100 years"


class CostRate(Param):
    """A cost accruing over time: ``value`` currency units per ``per`` (e.g. ``28 days``)."""

    lower: ClassVar[float] = 0.0
    upper: ClassVar[float] = MAX_COST
    natural: ClassVar[tuple[float, float] | None] = _UNBOUNDED
    allowed: ClassVar[str] = "a cost >= 0 and <= 1e9 per period"

    per: str = Field(description="billing period from 1 day to 100 years, e.g. month, 28 days")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data):
        if isinstance(data, int | float | str) and not isinstance(data, bool):
            raise ValueError(
                f"a cost rate needs its period: write {{value: {shorten(data)}, per: 28 days}} "
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
    median: Median

    def law(self):
        return hazards.Exponential(math.log(2) / self.median.days())


class WeibullSpec(_TTE):
    """Weibull by its median and shape (shape > 1: hazard rising with time)."""

    distribution: Literal["weibull"]
    median: Median
    shape: Shape

    def law(self):
        k = self.shape.value
        return hazards.Weibull(k, self.median.days() / math.log(2) ** (1.0 / k))


class LogLogisticSpec(_TTE):
    distribution: Literal["loglogistic"]
    median: Median
    shape: Shape

    def law(self):
        return hazards.LogLogistic(self.shape.value, self.median.days())


class LogNormalSpec(_TTE):
    distribution: Literal["lognormal"]
    median: Median
    sdlog: PositiveLogSD

    def law(self):
        return hazards.LogNormal(self.median.days(), self.sdlog.value)


class GompertzSpec(_TTE):
    """Gompertz by its median and shape ``gamma`` (per year; > 0: hazard rising)."""

    distribution: Literal["gompertz"]
    median: Median
    gamma_per_year: GompertzGamma

    @model_validator(mode="after")
    def _check(self):
        self.law()
        return self

    def law(self):
        g = self.gamma_per_year.value / DAYS_PER_YEAR
        m = self.median.days()
        try:
            b = math.log(2) / m if g == 0 else g * math.log(2) / math.expm1(g * m)
        except OverflowError:
            b = 0.0
        if not 0 < b < math.inf:
            raise ValueError(
                "this median and gamma_per_year give no usable hazard (gamma_per_year x median "
                "in years must stay below about 700)"
            )
        return hazards.Gompertz(b, g)


class PiecewiseSpec(_TTE):
    """Constant hazards per interval: ``starts`` (first = 0) and ``rates_per_year``."""

    distribution: Literal["piecewise_exponential"]
    unit: Literal["days", "weeks", "months", "years"]
    starts: list[float] = Field(min_length=1, description="in unit, at most 100 years")
    rates_per_year: list[RatePerYear] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self):
        if len(self.starts) != len(self.rates_per_year):
            raise ValueError("starts and rates_per_year must have the same length")
        if self.starts[0] != 0 or any(
            b <= a for a, b in zip(self.starts, self.starts[1:], strict=False)
        ):
            raise ValueError("starts must begin at 0 and increase")
        if to_days(self.starts[-1], self.unit) > MAX_DAYS:
            raise ValueError(
                f"starts must not exceed 100 years (got {self.starts[-1]:g} {self.unit})"
            )
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
    value: DelayTime | None = None
    low: DelayTime | None = None
    high: DelayTime | None = None
    mean: DelayScale | None = None
    sd: DelayScale | None = None

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
        for name in given:
            p = getattr(self, name)
            uncertain = p.psa is not None and p.psa.dist != "fixed"
            top = max(p.value, *(p.range or ()), p.psa.centre() if uncertain else 0.0)
            if to_days(top, self.unit) > MAX_DELAY_DAYS:
                raise ValueError(f"{name} must be at most 1 year (got {top:g} {self.unit})")
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
