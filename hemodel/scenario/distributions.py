"""Parameter (PSA) distributions: second-order uncertainty in a scenario input.

They are sampled by inverse CDF from keyed uniforms (``ppf``), so a PSA draw is a pure
function of (seed, sample, parameter). They wrap ``scipy.stats`` (imported when first
evaluated); centre, standard deviation and support are closed forms, so checking a scenario
needs no SciPy. Time-to-event laws are in :mod:`hemodel.scenario.hazards`.
"""

from __future__ import annotations

import functools
import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

#: Standard normal 97.5% quantile, ``scipy.stats.norm.ppf(0.975)`` (a test checks), for 95%
#: intervals. SciPy is imported only where a distribution is evaluated, so reading and
#: checking a scenario does not load it.
Z975 = 1.959963984540054


# --------------------------------------------------------------------------------------
# Parameter (PSA) distributions
# --------------------------------------------------------------------------------------
#: Largest shape, concentration or count-like parameter of a PSA distribution (alpha, beta,
#: gamma shape): beyond it the distribution is a point in practice.
MAX_SHAPE = 1e7
#: Largest log-scale standard deviation of a log-normal PSA distribution.
MAX_SDLOG = 10.0
#: Largest magnitude of a log-normal's ``meanlog`` (``exp`` overflows beyond about 709).
MAX_MEANLOG = 700.0


class _Dist(BaseModel):
    """A PSA distribution; every number in it is finite (a parameter's own bounds are checked
    against the distribution's support, centre and sd in :mod:`hemodel.scenario.quantities`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def frozen(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def support(self) -> tuple[float, float]:  # pragma: no cover - overridden
        """Smallest interval holding every value the distribution can produce (closed form,
        so that checking a scenario needs no SciPy; a test compares it with SciPy's)."""
        raise NotImplementedError

    def ppf(self, u):
        """Inverse CDF at uniforms ``u`` (array or float)."""
        return _scipy(self).ppf(u)

    def mean(self) -> float:
        return float(_scipy(self).mean())

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        lo, hi = _scipy(self).interval(level)
        return float(lo), float(hi)

    def centre(self) -> float:
        """The value a scenario's base ``value`` should match: the mean, except the median of
        a log-normal and the mode of a triangular distribution (how those are reported)."""
        raise NotImplementedError  # pragma: no cover - overridden

    def std(self) -> float:
        """Standard deviation (closed form)."""
        raise NotImplementedError  # pragma: no cover - overridden

    def scaled(self, factor: float) -> _Dist:
        """The same distribution family multiplied by ``factor`` > 0: centre and spread scale
        together, so the coefficient of variation (log-scale sd for a log-normal) is kept.
        Raises ValueError when the scaled distribution is not allowed (a beta beyond 1)."""
        raise NotImplementedError  # pragma: no cover - overridden


@functools.lru_cache(maxsize=4096)
def _scipy(dist: _Dist):
    """``dist.frozen()``, built once per distribution: freezing a SciPy distribution costs
    about a millisecond, a PSA draws each parameter once per sample (a profile showed 88% of
    the time of drawing 100 samples of serena6_us in freezing)."""
    return dist.frozen()


class FixedDist(_Dist):
    """No uncertainty: every PSA sample uses the base value."""

    dist: Literal["fixed"]

    def scaled(self, factor: float) -> FixedDist:
        return self


class BetaDist(_Dist):
    """Beta distribution, from ``alpha``/``beta`` or from ``mean``/``sd`` (method of moments)."""

    dist: Literal["beta"]
    alpha: float | None = Field(default=None, gt=0, le=MAX_SHAPE)
    beta: float | None = Field(default=None, gt=0, le=MAX_SHAPE)
    mean_: float | None = Field(default=None, alias="mean", gt=0, lt=1)
    sd: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check(self):
        if (self.alpha is None) != (self.beta is None):
            raise ValueError("give both alpha and beta, or mean and sd")
        if self.alpha is None:
            if self.mean_ is None or self.sd is None:
                raise ValueError("give alpha and beta, or mean and sd")
            if self.sd**2 >= self.mean_ * (1 - self.mean_):
                raise ValueError(
                    f"sd {self.sd} is too large for a beta with mean {self.mean_} "
                    f"(sd must be below {math.sqrt(self.mean_ * (1 - self.mean_)):.4g})"
                )
        elif self.mean_ is not None or self.sd is not None:
            raise ValueError("give alpha and beta, or mean and sd, not both")
        return self

    def frozen(self):
        from scipy import stats

        if self.alpha is not None:
            return stats.beta(self.alpha, self.beta)
        common = self.mean_ * (1 - self.mean_) / self.sd**2 - 1
        return stats.beta(self.mean_ * common, (1 - self.mean_) * common)

    def support(self) -> tuple[float, float]:
        return 0.0, 1.0

    def _moments(self) -> tuple[float, float]:
        if self.alpha is None:
            return self.mean_, self.sd
        a, b = self.alpha, self.beta
        return a / (a + b), math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))

    def centre(self) -> float:
        return self._moments()[0]

    def std(self) -> float:
        return self._moments()[1]

    def scaled(self, factor: float) -> BetaDist:
        mean, sd = self._moments()
        return BetaDist(dist="beta", mean=mean * factor, sd=sd * factor)


class GammaDist(_Dist):
    """Gamma distribution, from ``shape``/``scale`` or from ``mean``/``sd``."""

    dist: Literal["gamma"]
    shape: float | None = Field(default=None, gt=0, le=MAX_SHAPE)
    scale: float | None = Field(default=None, gt=0)
    mean_: float | None = Field(default=None, alias="mean", gt=0)
    sd: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check(self):
        by_shape = self.shape is not None and self.scale is not None
        by_moments = self.mean_ is not None and self.sd is not None
        if by_shape == by_moments:
            raise ValueError("give shape and scale, or mean and sd")
        return self

    def frozen(self):
        from scipy import stats

        if self.shape is not None:
            return stats.gamma(self.shape, scale=self.scale)
        shape = (self.mean_ / self.sd) ** 2
        return stats.gamma(shape, scale=self.mean_ / shape)

    def support(self) -> tuple[float, float]:
        return 0.0, math.inf

    def centre(self) -> float:
        return self.mean_ if self.mean_ is not None else self.shape * self.scale

    def std(self) -> float:
        return self.sd if self.sd is not None else math.sqrt(self.shape) * self.scale

    def scaled(self, factor: float) -> GammaDist:
        return GammaDist(dist="gamma", mean=self.centre() * factor, sd=self.std() * factor)


class LogNormalDist(_Dist):
    """Log-normal distribution (hazard ratios, relative effects).

    Give ``meanlog``/``sdlog``, or ``median`` with ``sdlog``, or a 95% interval ``ci``
    (``[low, high]``) optionally with the ``median``: the log-scale sd is then
    ``(ln high - ln low) / (2 × 1.96)`` and the median defaults to ``sqrt(low × high)``.
    """

    dist: Literal["lognormal"]
    meanlog: float | None = Field(default=None, ge=-MAX_MEANLOG, le=MAX_MEANLOG)
    sdlog: float | None = Field(default=None, gt=0, le=MAX_SDLOG)
    median: float | None = Field(default=None, gt=0)
    ci: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _check(self):
        if self.ci is not None:
            lo, hi = self.ci
            if not 0 < lo < hi:
                raise ValueError(f"ci must be [low, high] with 0 < low < high, got {list(self.ci)}")
            if math.log(hi) - math.log(lo) > 2 * Z975 * MAX_SDLOG:
                raise ValueError(f"ci {list(self.ci)} is too wide (sdlog above {MAX_SDLOG:g})")
            if self.sdlog is not None or self.meanlog is not None:
                raise ValueError("with ci, give at most the median (not meanlog or sdlog)")
        elif self.sdlog is None or (self.meanlog is None) == (self.median is None):
            raise ValueError("give meanlog and sdlog, median and sdlog, or a 95% ci")
        return self

    def log_params(self) -> tuple[float, float]:
        """(mean, sd) of the logarithm."""
        if self.ci is not None:
            lo, hi = self.ci
            sdlog = (math.log(hi) - math.log(lo)) / (2 * Z975)
            med = self.median if self.median is not None else math.sqrt(lo * hi)
            return math.log(med), sdlog
        mu = self.meanlog if self.meanlog is not None else math.log(self.median)
        return mu, self.sdlog

    def frozen(self):
        from scipy import stats

        mu, sigma = self.log_params()
        return stats.lognorm(sigma, scale=math.exp(mu))

    def support(self) -> tuple[float, float]:
        return 0.0, math.inf

    def centre(self) -> float:
        return math.exp(self.log_params()[0])

    def std(self) -> float:
        mu, sigma = self.log_params()
        try:
            return math.sqrt(math.expm1(sigma**2)) * math.exp(mu + sigma**2 / 2)
        except OverflowError:
            return math.inf

    def scaled(self, factor: float) -> LogNormalDist:
        mu, sigma = self.log_params()
        return LogNormalDist(dist="lognormal", median=math.exp(mu) * factor, sdlog=sigma)


class NormalDist(_Dist):
    dist: Literal["normal"]
    mean_: float = Field(alias="mean")
    sd: float = Field(gt=0)

    def frozen(self):
        from scipy import stats

        return stats.norm(self.mean_, self.sd)

    def support(self) -> tuple[float, float]:
        return -math.inf, math.inf

    def centre(self) -> float:
        return self.mean_

    def std(self) -> float:
        return self.sd

    def scaled(self, factor: float) -> NormalDist:
        return NormalDist(dist="normal", mean=self.mean_ * factor, sd=self.sd * factor)


class UniformDist(_Dist):
    dist: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _check(self):
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self

    def frozen(self):
        from scipy import stats

        return stats.uniform(self.low, self.high - self.low)

    def support(self) -> tuple[float, float]:
        return self.low, self.high

    def centre(self) -> float:
        return (self.low + self.high) / 2

    def std(self) -> float:
        return (self.high - self.low) / math.sqrt(12)

    def scaled(self, factor: float) -> UniformDist:
        return UniformDist(dist="uniform", low=self.low * factor, high=self.high * factor)


class TriangularDist(_Dist):
    dist: Literal["triangular"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _check(self):
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError("need low <= mode <= high and low < high")
        return self

    def frozen(self):
        from scipy import stats

        width = self.high - self.low
        return stats.triang((self.mode - self.low) / width, loc=self.low, scale=width)

    def support(self) -> tuple[float, float]:
        return self.low, self.high

    def centre(self) -> float:
        return self.mode

    def std(self) -> float:
        a, c, b = self.low, self.mode, self.high
        return math.sqrt((a * a + b * b + c * c - a * b - a * c - b * c) / 18)

    def scaled(self, factor: float) -> TriangularDist:
        a, c, b = (x * factor for x in (self.low, self.mode, self.high))
        return TriangularDist(dist="triangular", low=a, mode=c, high=b)


def recentred(dist: _Dist, value: float) -> _Dist:
    """``dist`` multiplied so that its centre (:meth:`_Dist.centre`) is ``value``, keeping
    its relative spread; a fixed distribution is returned as it is. Raises ValueError when
    that is impossible (a zero centre or value, opposite signs, a beta pushed beyond 1)."""
    if isinstance(dist, FixedDist):
        return dist
    centre = dist.centre()
    factor = value / centre if centre else math.nan
    if not (factor > 0 and math.isfinite(factor)):
        raise ValueError(
            f"its centre {centre:g} and the value {value:g} must be non-zero with the same sign"
        )
    try:
        return dist.scaled(factor)
    except ValidationError as exc:
        raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None


PSADistribution = Annotated[
    FixedDist | BetaDist | GammaDist | LogNormalDist | NormalDist | UniformDist | TriangularDist,
    Field(discriminator="dist"),
]
