"""Kaplan-Meier and Cox estimators for virtual trials, in NumPy (milliseconds, not seconds).

Calibration evaluates a virtual trial hundreds of times, so these estimators are vectorised
closed forms rather than general fitters. They reproduce lifelines' conventions, and
``tests/unit/test_survival.py`` checks them against lifelines:

- Kaplan-Meier (Kaplan & Meier 1958): ``S(t) = Π_{tᵢ ≤ t} (1 − dᵢ/nᵢ)`` on the timeline of
  distinct durations (with 0); Greenwood's ``Σ dᵢ / (nᵢ(nᵢ − dᵢ))``; the pointwise CI on the
  log(−log S) scale ("exponential Greenwood", as lifelines and R's ``conf.type = "log-log"``),
  1 where undefined; the median is the first time ``S ≤ 0.5`` (inf if never), and its CI the
  first times the CI band's lower and upper curves reach 0.5.
- Cox proportional hazards with one binary covariate (Cox 1972), Efron's (1977) handling of
  tied event times, fitted by Newton-Raphson; the model-based standard error from the
  observed information, and the robust (sandwich) standard error clustered on an id
  (Lin & Wei 1989): ``I⁻¹ Σ_c (Σ_{i∈c} rᵢ)² I⁻¹`` with the score residuals ``rᵢ`` of the
  Efron form (the cumulative hazard's increment at a tied time split into ``d`` steps, a
  subject dying then exposed with weight ``1 − l/d`` at step ``l``; Therneau & Grambsch 2000,
  §3.7), so that they sum to the score. Without ties this is lifelines' robust variance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # standard normal 97.5% quantile


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier fit: ``survival``, ``lower`` and ``upper`` (95% CI) at ``timeline``."""

    timeline: np.ndarray
    survival: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n: int

    def at(self, t: float) -> tuple[float, float, float]:
        """Survival and its 95% CI at time ``t`` (the step function's value)."""
        i = max(int(np.searchsorted(self.timeline, t, side="right")) - 1, 0)
        return float(self.survival[i]), float(self.lower[i]), float(self.upper[i])

    def median(self) -> tuple[float, float, float]:
        """Median and its 95% CI: first times the curve and its CI bounds reach 0.5."""
        return tuple(_first_at_or_below(self.timeline, s, 0.5) for s in self._curves())

    def _curves(self):
        return self.survival, self.lower, self.upper


def _first_at_or_below(times: np.ndarray, curve: np.ndarray, q: float) -> float:
    hit = np.flatnonzero(curve <= q)
    return float(times[hit[0]]) if hit.size else math.inf


def kaplan_meier(durations, events) -> KaplanMeier:
    """Fit a Kaplan-Meier curve (durations in any time unit; events true for an event,
    false for censoring)."""
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    timeline, inverse = np.unique(np.concatenate([[0.0], t]), return_inverse=True)
    inverse = inverse[1:]
    deaths = np.bincount(inverse[e], minlength=len(timeline)).astype(float)
    leaving = np.bincount(inverse, minlength=len(timeline)).astype(float)
    at_risk = len(t) - np.concatenate([[0.0], np.cumsum(leaving)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        survival = np.cumprod(np.where(at_risk > 0, 1.0 - deaths / at_risk, 1.0))
        term = deaths / (at_risk * (at_risk - deaths))
        greenwood = np.cumsum(np.where(np.isfinite(term), term, 0.0))
        v = np.log(survival)
        spread = Z95 * np.sqrt(greenwood) / v
        lower = np.exp(-np.exp(np.log(-v) - spread))
        upper = np.exp(-np.exp(np.log(-v) + spread))
    lower, upper = (np.where(np.isnan(b), 1.0, b) for b in (lower, upper))
    return KaplanMeier(timeline, survival, lower, upper, len(t))


@dataclass(frozen=True)
class CoxFit:
    """Log hazard ratio ``beta`` of the covariate, its model-based and robust standard errors."""

    beta: float
    se: float
    robust_se: float

    def hazard_ratio(self, robust: bool = True) -> tuple[float, float, float]:
        """Hazard ratio and its 95% CI."""
        se = self.robust_se if robust else self.se
        return tuple(math.exp(self.beta + k * Z95 * se) for k in (0.0, -1.0, 1.0))


class _RiskSets:
    """Rows sorted by time and the risk sets of the distinct event times, for a Cox model with
    one 0/1 covariate ``x``."""

    def __init__(self, t: np.ndarray, e: np.ndarray, x: np.ndarray):
        self.order = np.argsort(t, kind="stable")
        self.t, self.e, self.x = t[self.order], e[self.order], x[self.order]
        times, first = np.unique(self.t, return_index=True)  # time j: rows first[j]:
        group = np.searchsorted(times, self.t)
        events_at = np.bincount(group[self.e], minlength=len(times)).astype(float)
        self.has = events_at > 0
        self.event_times, self.d, self.start = times[self.has], events_at[self.has], first[self.has]
        self.event_group, self.n_times = group[self.e], len(times)
        self.x_events = float(self.x[self.e].sum())

    def sums(self, beta: float):
        """φ = e^{βx} per row; S0, S1 over each event time's risk set; E0, E1 over its deaths."""
        x, e = self.x, self.e
        phi = np.exp(beta * x)
        s0 = np.cumsum(phi[::-1])[::-1][self.start]
        s1 = np.cumsum((x * phi)[::-1])[::-1][self.start]
        weights = (phi[e], (x * phi)[e])
        e0, e1 = (np.bincount(self.event_group, w, self.n_times)[self.has] for w in weights)
        return phi, s0, s1, e0, e1

    def steps(self, beta: float):
        """Efron's steps l = 0..d−1 at each event time: ``(m, f, A0, x̄)`` for the event times
        ``m`` with more than l deaths, ``f = l/d``, ``A0 = S0 − f·E0``, ``x̄ = (S1 − f·E1)/A0``."""
        phi, s0, s1, e0, e1 = self.sums(beta)
        for k in range(int(self.d.max())):
            m = self.d > k
            f = k / self.d[m]
            a0 = s0[m] - f * e0[m]
            yield m, f, a0, (s1[m] - f * e1[m]) / a0

    def efron(self, beta: float) -> tuple[float, float, float]:
        """Log partial likelihood, score and information (Efron; x² = x)."""
        loglik, score, info = beta * self.x_events, self.x_events, 0.0
        for _, _, a0, xbar in self.steps(beta):
            loglik -= float(np.log(a0).sum())
            score -= float(xbar.sum())
            info += float((xbar - xbar**2).sum())
        return loglik, score, info

    def score_residuals(self, beta: float) -> np.ndarray:
        """Efron score residuals of the sorted rows (see the module docstring):
        ``rᵢ = δᵢ(xᵢ − mean_l x̄ₗ(tᵢ)) − φᵢ Σ_{tⱼ ≤ tᵢ} Σ_l cᵢₗ (xᵢ − x̄ⱼₗ) / A0ⱼₗ``."""
        t, e, x, d = self.t, self.e, self.x, self.d
        p_all, q_all, p_dead, q_dead, xbar_mean = (np.zeros(len(d)) for _ in range(5))
        for m, f, a0, xbar in self.steps(beta):
            p_all[m] += 1.0 / a0
            q_all[m] += xbar / a0
            p_dead[m] += (1.0 - f) / a0
            q_dead[m] += (1.0 - f) * xbar / a0
            xbar_mean[m] += xbar / d[m]
        cum_p = np.concatenate([[0.0], np.cumsum(p_all)])
        cum_q = np.concatenate([[0.0], np.cumsum(q_all)])
        upto = np.searchsorted(self.event_times, t, side="right")  # event times ≤ tᵢ
        p, q = cum_p[upto], cum_q[upto]
        j = upto[e] - 1  # a death's own event time: exposed with weights 1 − l/d there
        p[e] += p_dead[j] - p_all[j]
        q[e] += q_dead[j] - q_all[j]
        own = np.zeros(len(t))
        own[e] = x[e] - xbar_mean[j]
        return own - np.exp(beta * x) * (x * p - q)


def cox_binary(durations, events, covariate, cluster=None) -> CoxFit:
    """Cox model with one 0/1 covariate (Efron ties); ``cluster``: ids for the robust standard
    error (default: each row its own cluster). NaN when the model has no finite estimate
    (no events, or every event in one group)."""
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    x = np.asarray(covariate, dtype=float)
    nothing = CoxFit(math.nan, math.nan, math.nan)
    if not e.any() or x[e].min() == x[e].max() or x.min() == x.max():
        return nothing
    risk = _RiskSets(t, e, x)
    beta = 0.0
    loglik, score, info = risk.efron(beta)
    for _ in range(100):
        step = score / info
        new = beta + step
        new_loglik, new_score, new_info = risk.efron(new)
        while new_loglik < loglik - 1e-12 and abs(step) > 1e-14:  # step halving
            step /= 2
            new = beta + step
            new_loglik, new_score, new_info = risk.efron(new)
        beta, loglik, score, info = new, new_loglik, new_score, new_info
        if abs(step) < 1e-12:
            break
    if not (math.isfinite(beta) and info > 0):
        return nothing
    variance = 1.0 / info
    ids = np.arange(len(t)) if cluster is None else np.asarray(cluster)[risk.order]
    _, cluster_index = np.unique(ids, return_inverse=True)
    per_cluster = np.bincount(cluster_index, weights=risk.score_residuals(beta))
    robust = math.sqrt(variance**2 * float((per_cluster**2).sum()))
    return CoxFit(beta, math.sqrt(variance), robust)
