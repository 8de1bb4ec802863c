"""Nonparametric regression for the value of information: the conditional expectations of
incremental costs and QALYs given some parameters (EVPPI, Strong, Oakley & Brennan 2014) or
given a study's summaries (EVSI, Strong et al. 2015), and the opportunity loss they imply.

Each variable is rescaled to [0, 1] and given a cubic B-spline basis (20 functions for one
variable, knots at sample quantiles) with a curvature penalty; several variables (up to
:data:`MAX_GROUP`) use the tensor product of their bases (about min(256, n/5) functions,
>= 4 per variable). Each fitted response gets its own smoothing parameter, chosen by
generalised cross-validation. Amounts are in currency per person.
"""

from __future__ import annotations

from functools import reduce

import numpy as np
from scipy import linalg
from scipy.interpolate import BSpline

_K_1D = 20  # cubic B-spline basis functions for a single variable
_MAX_COLUMNS = 256  # maximum tensor-product basis size
MAX_GROUP = 4  # maximum number of variables in one regression


def _margin(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cubic B-spline basis (knots at quantiles of x) and its penalty int f''(u)^2 du."""
    lo, hi = x.min(), x.max()
    if hi <= lo:  # constant parameter: carries no information
        return np.ones((len(x), 1)), np.zeros((1, 1))
    u = (x - lo) / (hi - lo)
    breaks = np.unique(np.quantile(u, np.linspace(0.0, 1.0, k - 2)))
    t = np.r_[[0.0] * 3, breaks, [1.0] * 3]
    m = len(t) - 4
    basis = BSpline.design_matrix(u, t, 3).toarray()
    half, mid = np.diff(breaks) / 2, (breaks[:-1] + breaks[1:]) / 2
    nodes = (mid[:, None] + half[:, None] * np.array([-1.0, 1.0]) / np.sqrt(3.0)).ravel()
    d2 = BSpline(t, np.eye(m), 3).derivative(2)(nodes)  # 2-point Gauss rule is exact here
    penalty = d2.T @ (np.repeat(half, 2)[:, None] * d2)
    return basis, penalty / np.trace(penalty)


def _basis_size(n: int, d: int) -> int:
    """Columns of the regression basis for ``n`` samples of ``d`` variables."""
    if d == 1:
        return _K_1D
    return max(4, int(min(_MAX_COLUMNS, n // 5) ** (1.0 / d) + 1e-9)) ** d


def min_samples(dimensions: int) -> int:
    """Fewest PSA samples a regression on ``dimensions`` variables needs (EVPPI, EVSI)."""
    n = 2
    while n <= _basis_size(n, dimensions) + 10:
        n += 1
    return n


def _design(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tensor-product spline design matrix and summed marginal penalties for x (n, d)."""
    n, d = x.shape
    k = _K_1D if d == 1 else max(4, int(min(_MAX_COLUMNS, n // 5) ** (1.0 / d) + 1e-9))
    bases, pens = zip(*(_margin(x[:, j], k) for j in range(d)), strict=True)
    design = reduce(lambda a, b: (a[:, :, None] * b[:, None, :]).reshape(n, -1), bases)
    margins = [(p, b.shape[1]) for p, b in zip(pens, bases, strict=True)]
    penalty = sum(
        reduce(np.kron, [p if i == j else np.eye(s) for i, (p, s) in enumerate(margins)])
        for j in range(d)
    )
    return design, np.asarray(penalty)


def _smooth(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fitted values of penalised regression splines of each column of y (n, m) on x (n, d).

    One smoothing parameter per column, chosen by generalised cross-validation over a log
    grid, using the simultaneous diagonalisation of X'X and the penalty so that every
    candidate costs O(p).
    """
    design, penalty = _design(x)
    n, p = design.shape
    if n <= p + 10:
        raise ValueError(
            f"the regression needs more PSA samples than basis functions ({n} <= {p} + 10)"
        )
    xtx = design.T @ design
    scale = np.trace(xtx) / p
    penalty = penalty * (np.trace(xtx) / max(np.trace(penalty), 1e-300)) + 1e-10 * scale * np.eye(p)
    mu, w = linalg.eigh(penalty, xtx + penalty)  # W'(X'X+S)W = I, W'SW = diag(mu)
    mu = np.clip(mu, 0.0, 1.0)[:, None]
    xw = design @ w
    centre = y.mean(axis=0)
    yc = y - centre
    g = xw.T @ yc
    lams = np.logspace(-8, 6, 57)[None, :]
    denom = 1.0 - mu + lams * mu  # (p, L)
    edf = ((1.0 - mu) / denom).sum(axis=0)
    fitted = np.empty_like(y, dtype=float)
    for j in range(y.shape[1]):
        coef = g[:, [j]] / denom
        rss = yc[:, j] @ yc[:, j] - 2 * (g[:, [j]] * coef).sum(0) + ((1 - mu) * coef**2).sum(0)
        gcv = n * np.maximum(rss, 0.0) / np.maximum(n - edf, 1e-12) ** 2
        fitted[:, j] = xw @ coef[:, np.argmin(gcv)] + centre[j]
    return fitted


def fitted_increments(cs: np.ndarray, qs: np.ndarray, x: np.ndarray):
    """``E[ΔC | x]`` and ``E[ΔQ | x]`` of each strategy against the first (columns), per
    sample (rows), by the penalised regression splines of :func:`_smooth` on ``x`` (n, d):
    the regression step of EVPPI (Strong et al. 2014) and EVSI (Strong et al. 2015)."""
    rel_c, rel_q = cs[:, 1:] - cs[:, :1], qs[:, 1:] - qs[:, :1]
    fit = _smooth(x, np.hstack([rel_c, rel_q]))
    return fit[:, : rel_c.shape[1]], fit[:, rel_c.shape[1] :]


def opportunity_loss(fit_c: np.ndarray, fit_q: np.ndarray, wtps: np.ndarray) -> np.ndarray:
    """Per sample (rows) and WTP (columns): ``max_d f_d − f_d*`` with ``f`` the incremental
    NMB ``w·ΔQ − ΔC`` (0 for the first strategy) and ``d*`` the strategy of highest mean ``f``.
    Its mean is the value of knowing what ``f`` is conditioned on (currency per person)."""
    out = np.zeros((len(fit_c), len(wtps)))
    for k, w in enumerate(wtps):
        out[:, k] = loss_of_choice(w * fit_q - fit_c)
    return out


def loss_of_choice(increments: np.ndarray) -> np.ndarray:
    """Per sample: ``max_d f_d − f_d*`` for incremental NMBs ``f`` (n, strategies − 1) against
    a first strategy of ``f = 0``, ``d*`` the strategy of highest mean ``f`` (≥ 0 term by term)."""
    f = np.hstack([np.zeros((len(increments), 1)), increments])
    return f.max(axis=1) - f[:, np.argmax(f.mean(axis=0))]


def regression_loss(cs: np.ndarray, qs: np.ndarray, x: np.ndarray, wtps: np.ndarray):
    """:func:`opportunity_loss` of the increments regressed on ``x`` (zeros for one strategy)."""
    if cs.shape[1] < 2:
        return np.zeros((len(cs), len(wtps)))
    return opportunity_loss(*fitted_increments(cs, qs, x), wtps)
