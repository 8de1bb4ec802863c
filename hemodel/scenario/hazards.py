"""Time-to-event laws, used by the engines through their cumulative hazard ``H(t)`` and its
inverse.

A time is drawn as ``T = H⁻¹(E)`` with ``E ~ Exp(1)``, and a hazard ratio applied from time
``s`` is handled by spending the remaining hazard budget at the scaled rate (see
:func:`time_with_hazard_ratio`). All times are in **days**.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


# --------------------------------------------------------------------------------------
# Time-to-event distributions (engine units: days)
# --------------------------------------------------------------------------------------
class TimeToEvent:
    """A time-to-event law given by its cumulative hazard ``H`` (days → hazard)."""

    def cumhaz(self, t):
        raise NotImplementedError

    def inv_cumhaz(self, x):
        raise NotImplementedError

    def sample(self, e):
        """Event time for hazard budgets ``e`` (``Exp(1)`` draws): ``H⁻¹(e)``."""
        return self.inv_cumhaz(e)

    def survival(self, t):
        return np.exp(-self.cumhaz(t))


@dataclass(frozen=True)
class Never(TimeToEvent):
    """The event never happens (zero hazard)."""

    def cumhaz(self, t):
        return np.zeros_like(np.asarray(t, dtype=float))

    def inv_cumhaz(self, x):
        x = np.asarray(x, dtype=float)
        return np.where(x > 0, np.inf, 0.0)  # H(0) = 0 is reached at once


@dataclass(frozen=True)
class Exponential(TimeToEvent):
    """Constant hazard ``rate`` per day: ``H(t) = rate·t``."""

    rate: float

    def cumhaz(self, t):
        return self.rate * np.asarray(t, dtype=float)

    def inv_cumhaz(self, x):
        return np.asarray(x, dtype=float) / self.rate


@dataclass(frozen=True)
class Weibull(TimeToEvent):
    """``H(t) = (t/scale)^shape``; scale in days."""

    shape: float
    scale: float

    def cumhaz(self, t):
        return (np.asarray(t, dtype=float) / self.scale) ** self.shape

    def inv_cumhaz(self, x):
        return self.scale * np.asarray(x, dtype=float) ** (1.0 / self.shape)


@dataclass(frozen=True)
class LogLogistic(TimeToEvent):
    """``S(t) = 1/(1+(t/scale)^shape)``, so ``H(t) = log1p((t/scale)^shape)``; scale = median."""

    shape: float
    scale: float

    def cumhaz(self, t):
        return np.log1p((np.asarray(t, dtype=float) / self.scale) ** self.shape)

    def inv_cumhaz(self, x):
        return self.scale * np.expm1(np.asarray(x, dtype=float)) ** (1.0 / self.shape)


@dataclass(frozen=True)
class LogNormal(TimeToEvent):
    """``log T ~ N(log median, sdlog²)``; ``H(t) = -log Φ(-(log t - log median)/sdlog)``."""

    median: float
    sdlog: float

    def cumhaz(self, t):
        t = np.asarray(t, dtype=float)
        with np.errstate(divide="ignore"):
            z = (np.log(t) - math.log(self.median)) / self.sdlog
        from scipy import special

        return -special.log_ndtr(-z)

    def inv_cumhaz(self, x):
        from scipy import special

        # F = 1 - exp(-x) = Φ(z); -expm1 keeps precision for small budgets x
        z = special.ndtri(-np.expm1(-np.asarray(x, dtype=float)))
        return self.median * np.exp(self.sdlog * z)


@dataclass(frozen=True)
class Gompertz(TimeToEvent):
    """Hazard ``b·exp(γt)``: ``H(t) = (b/γ)(exp(γt) - 1)``; ``gamma`` per day (may be < 0)."""

    b: float
    gamma: float

    def cumhaz(self, t):
        t = np.asarray(t, dtype=float)
        if self.gamma == 0:
            return self.b * t
        return self.b / self.gamma * np.expm1(self.gamma * t)

    def inv_cumhaz(self, x):
        x = np.asarray(x, dtype=float)
        if self.gamma == 0:
            return x / self.b
        arg = 1.0 + self.gamma * x / self.b
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.log(arg) / self.gamma
        # With γ < 0 the total hazard is bounded (a "cure" fraction): budgets beyond it never occur.
        return np.where(arg > 0, out, np.inf)


@dataclass(frozen=True)
class PiecewiseExponential(TimeToEvent):
    """Constant hazards ``rates[i]`` (per day) from ``starts[i]`` (days; ``starts[0] == 0``)."""

    starts: tuple[float, ...]
    rates: tuple[float, ...]

    def _knots(self):
        starts = np.asarray(self.starts, dtype=float)
        rates = np.asarray(self.rates, dtype=float)
        cum = np.concatenate([[0.0], np.cumsum(np.diff(starts) * rates[:-1])])
        return starts, rates, cum

    def cumhaz(self, t):
        starts, rates, cum = self._knots()
        t = np.asarray(t, dtype=float)
        i = np.searchsorted(starts, t, side="right") - 1
        return cum[i] + rates[i] * (t - starts[i])

    def inv_cumhaz(self, x):
        starts, rates, cum = self._knots()
        x = np.asarray(x, dtype=float)
        i = np.searchsorted(cum, x, side="right") - 1
        with np.errstate(divide="ignore", invalid="ignore"):
            out = starts[i] + (x - cum[i]) / rates[i]
        return np.where(rates[i] > 0, out, np.inf)


def time_with_hazard_ratio(
    law: TimeToEvent, budget: float, switch: float, hazard_ratio: float, until: float = math.inf
) -> float:
    """Event time (days from the clock's origin) when the hazard is multiplied from ``switch``
    until ``until`` (days on the same clock; inf: the effect never wanes).

    The event happens when the accrued cumulative hazard reaches ``budget`` (an ``Exp(1)``
    draw fixed per patient). Before ``switch`` the hazard is ``h(t)``; from ``switch`` to
    ``until`` it is ``hazard_ratio · h(t)``; after ``until`` it is ``h(t)`` again. With
    ``s = max(switch, 0)`` and ``u = until`` the event time solves
    ``H(s) + HR·(H(t) − H(s)) = budget``, i.e. ``t = H⁻¹(H(s) + (budget − H(s)) / HR)``, when
    that ``t`` falls before ``u``, and otherwise
    ``H(s) + HR·(H(u) − H(s)) + H(t) − H(u) = budget``.
    With ``switch = inf`` (never) this is ``H⁻¹(budget)``.
    """
    s = max(switch, 0.0)
    if switch == math.inf or hazard_ratio == 1.0 or until <= s:
        return float(law.inv_cumhaz(budget))
    spent = float(law.cumhaz(s))
    if spent >= budget:
        return float(law.inv_cumhaz(budget))
    if until < math.inf:
        at_end = float(law.cumhaz(until))
        reached = spent + hazard_ratio * (at_end - spent)  # accrued when the effect ends
        if reached < budget:
            return float(law.inv_cumhaz(at_end + (budget - reached)))
    if hazard_ratio == 0.0:
        return math.inf
    return float(law.inv_cumhaz(spent + (budget - spent) / hazard_ratio))
