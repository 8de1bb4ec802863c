"""Cost-effectiveness decision analysis on tidy tables.

Pure functions on pandas DataFrames; no simulation, no plotting.

Input tables have one row per strategy (deterministic analysis) or per strategy and
probabilistic-sensitivity-analysis (PSA) sample, with columns

* ``strategy`` -- strategy label;
* ``cost`` -- expected cost per person, in the scenario currency;
* ``qaly`` -- expected quality-adjusted life years per person (years);
* ``sample`` -- optional PSA sample index. Without it the table is deterministic and is
  treated as a single sample.

Willingness-to-pay (WTP) thresholds are in currency per QALY. Net monetary benefit (NMB),
EVPI and EVPPI are in currency per person (multiplied by ``population`` where offered).
PSA tables must be paired: every strategy has exactly one row for every sample.
Strategies keep the order of their first appearance in the input; that order breaks
ties where stated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

import numpy as np
import pandas as pd

from .regression import MAX_GROUP, regression_loss

__all__ = [
    "incremental_analysis",
    "net_benefit",
    "ceac",
    "ceaf",
    "evpi",
    "evppi",
    "summarise",
    "ce_plane",
]

STRATEGY, COST, QALY, SAMPLE = "strategy", "cost", "qaly", "sample"
#: Relative tolerance when comparing ICERs for extended dominance.
ICER_RTOL = 1e-10


# --------------------------------------------------------------------------- validation
def _prepare(
    table: pd.DataFrame,
    strategy: str = STRATEGY,
    cost: str = COST,
    qaly: str = QALY,
    sample: str = SAMPLE,
) -> pd.DataFrame:
    """Validate ``table`` and return a copy with standard column names."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    required = [strategy, cost, qaly]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise ValueError(f"table is missing column(s) {missing}; has {list(table.columns)}")
    if table.empty:
        raise ValueError("table has no rows")
    cols = required + ([sample] if sample in table.columns else [])
    df = table[cols].rename(columns={strategy: STRATEGY, cost: COST, qaly: QALY, sample: SAMPLE})
    for col, name in zip(df.columns, cols, strict=True):
        if df[col].isna().any():
            raise ValueError(f"column {name!r} contains NaN/missing values")
    for col, name in ((COST, cost), (QALY, qaly)):
        if not pd.api.types.is_numeric_dtype(df[col]) or not np.isfinite(df[col]).all():
            raise ValueError(f"column {name!r} must be numeric and finite")
    keys = [STRATEGY, SAMPLE] if SAMPLE in df.columns else [STRATEGY]
    dup = df.duplicated(keys)
    if dup.any():
        what = "strategy/sample" if SAMPLE in df.columns else "strategy (deterministic table)"
        raise ValueError(f"duplicate {what} rows: {df.loc[dup, keys].head().to_dict('records')}")
    return df


def _wide(df: pd.DataFrame) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
    """Strategies, sample labels and (n_samples, n_strategies) cost and QALY matrices."""
    names = list(pd.unique(df[STRATEGY]))
    if SAMPLE not in df.columns:
        c = df.set_index(STRATEGY).loc[names]
        return names, np.array([0]), c[[COST]].to_numpy(float).T, c[[QALY]].to_numpy(float).T
    wide = df.pivot(index=SAMPLE, columns=STRATEGY, values=[COST, QALY])
    if wide.isna().any().any():
        raise ValueError("PSA table is not paired: every strategy needs a row for every sample")
    return (
        names,
        wide.index.to_numpy(),
        wide[COST][names].to_numpy(float),
        wide[QALY][names].to_numpy(float),
    )


def _as_wtp(wtp: float | Sequence[float] | np.ndarray) -> np.ndarray:
    w = np.atleast_1d(np.asarray(wtp, dtype=float))
    if w.ndim != 1 or w.size == 0:
        raise ValueError("wtp must be a scalar or a non-empty 1-D sequence")
    if not np.isfinite(w).all():
        raise ValueError("wtp must be finite")
    if (w < 0).any():
        raise ValueError(f"wtp must be >= 0 (currency per QALY), got {w[w < 0][:5]}")
    return w


def _check_population(population: float | None) -> None:
    if population is not None and not (np.isfinite(population) and population >= 0):
        raise ValueError(f"population must be a finite number >= 0, got {population!r}")


# ------------------------------------------------------------------ incremental analysis
def incremental_analysis(
    table: pd.DataFrame,
    strategy: str = STRATEGY,
    cost: str = COST,
    qaly: str = QALY,
    sample: str = SAMPLE,
    mcse: bool = False,
) -> pd.DataFrame:
    """Full incremental analysis with dominance and extended dominance.

    Standard sequential procedure (Drummond et al., *Methods for the Economic Evaluation of
    Health Care Programmes*, 4th ed., ch. 4; as in dampack's ``calculate_icers``) applied to
    the mean cost (currency) and mean QALYs (years) of each strategy, averaged over PSA
    samples when a ``sample`` column is present:

    1. Sort by cost ascending, then QALYs descending, then input order.
    2. Dominance: a strategy is ``"dominated"`` if a strategy earlier in that order has at
       least as many QALYs (i.e. another strategy is no more costly and at least as
       effective). Exact ties (identical cost and QALYs): the strategy listed first in the
       input stays in the analysis and the others are labelled ``"dominated"``
       (weak dominance), with zero increments.
    3. Extended dominance: along the remaining strategies, a strategy whose ICER exceeds
       that of the next more costly strategy is ``"extendedly dominated"``; removal is
       repeated until ICERs strictly increase. Equal ICERs (collinear strategies, compared
       with relative tolerance ``ICER_RTOL``) stay on the frontier.

    Returns one row per strategy, ordered as in step 1, with columns ``strategy, cost,
    qaly, inc_cost, inc_qaly, icer, status, compared_with``. Frontier strategies are
    compared with the previous frontier strategy (the cheapest has ``compared_with=None``
    and NaN increments). Non-frontier strategies are compared with the frontier strategy
    of highest cost not exceeding theirs; their ``icer`` is NaN. ``icer`` is currency per
    QALY. With ``mcse=True`` (PSA table required) the Monte Carlo standard errors
    ``inc_cost_mcse`` and ``inc_qaly_mcse`` are added, computed from per-sample paired
    differences sd/sqrt(n), so common random numbers reduce them.
    """
    df = _prepare(table, strategy, cost, qaly, sample)
    names, samples, cs, qs = _wide(df)
    if mcse and len(samples) < 2:
        raise ValueError("mcse=True needs a PSA table with a 'sample' column and >= 2 samples")
    c, q = cs.mean(axis=0), qs.mean(axis=0)
    order = sorted(range(len(names)), key=lambda i: (c[i], -q[i], i))
    status = dict.fromkeys(order, "frontier")
    best_q = -np.inf
    for i in order:
        if q[i] <= best_q:
            status[i] = "dominated"
        best_q = max(best_q, q[i])

    front = [i for i in order if status[i] == "frontier"]
    while True:
        icers = [(c[b] - c[a]) / (q[b] - q[a]) for a, b in pairwise(front)]
        drop = {
            front[k + 1]
            for k in range(len(icers) - 1)
            if icers[k] > icers[k + 1] + ICER_RTOL * abs(icers[k + 1])
        }
        if not drop:
            break
        for i in drop:
            status[i] = "extendedly dominated"
        front = [i for i in front if i not in drop]

    rows, ref = [], None
    for i in order:
        row = {STRATEGY: names[i], COST: c[i], QALY: q[i], "compared_with": None}
        row.update(inc_cost=np.nan, inc_qaly=np.nan, icer=np.nan, status=status[i])
        row.update(inc_cost_mcse=np.nan, inc_qaly_mcse=np.nan)
        if ref is not None:
            dc, dq = cs[:, i] - cs[:, ref], qs[:, i] - qs[:, ref]
            row.update(compared_with=names[ref], inc_cost=c[i] - c[ref], inc_qaly=q[i] - q[ref])
            if status[i] == "frontier":
                row["icer"] = row["inc_cost"] / row["inc_qaly"]
            if mcse:
                n = len(samples)
                row.update(
                    inc_cost_mcse=dc.std(ddof=1) / np.sqrt(n),
                    inc_qaly_mcse=dq.std(ddof=1) / np.sqrt(n),
                )
        if status[i] == "frontier":
            ref = i
        rows.append(row)
    cols = [STRATEGY, COST, QALY, "inc_cost", "inc_qaly", "icer", "status", "compared_with"]
    return pd.DataFrame(rows)[cols + (["inc_cost_mcse", "inc_qaly_mcse"] if mcse else [])]


# ------------------------------------------------------------------------ net benefit
def net_benefit(table: pd.DataFrame, wtp: float | Sequence[float] | np.ndarray) -> pd.DataFrame:
    """Net monetary benefit per row: ``nmb = wtp * qaly - cost`` (currency per person).

    ``wtp`` (currency per QALY) is a scalar or a sequence of thresholds. Returns the input
    rows repeated for each threshold (long format) with added ``wtp`` and ``nmb`` columns.
    """
    df = _prepare(table)
    q, c = df[QALY].to_numpy(float), df[COST].to_numpy(float)
    out = [table.assign(wtp=w, nmb=w * q - c) for w in _as_wtp(wtp)]
    return pd.concat(out, ignore_index=True)


def _decision(cs: np.ndarray, qs: np.ndarray, wtps: np.ndarray):
    """Per WTP: P(max NMB) and mean NMB per strategy (W, D), and per-person EVPI (W,)."""
    prob = np.empty((len(wtps), cs.shape[1]))
    mean = np.empty_like(prob)
    value = np.empty(len(wtps))
    for k, w in enumerate(wtps):
        nmb = w * qs - cs
        best = nmb.max(axis=1, keepdims=True)
        wins = (nmb == best).astype(float)
        prob[k] = (wins / wins.sum(axis=1, keepdims=True)).mean(axis=0)
        mean[k] = nmb.mean(axis=0)
        # opportunity loss of the expected-value-optimal strategy: >= 0 term by term
        value[k] = (best[:, 0] - nmb[:, np.argmax(mean[k])]).mean()
    return prob, mean, np.maximum(value, 0.0)


def ceac(table: pd.DataFrame, wtp_grid: float | Sequence[float] | np.ndarray) -> pd.DataFrame:
    """Cost-effectiveness acceptability curves.

    For each WTP (currency per QALY) and strategy, the proportion of PSA samples in which
    the strategy has the highest NMB. When k strategies tie exactly for the highest NMB in
    a sample, each receives 1/k for that sample, so probabilities sum to 1 at every WTP.
    Returns columns ``wtp, strategy, probability``.
    """
    names, _, cs, qs = _wide(_prepare(table))
    wtps = _as_wtp(wtp_grid)
    prob, _, _ = _decision(cs, qs, wtps)
    return pd.DataFrame(
        {
            "wtp": np.repeat(wtps, len(names)),
            STRATEGY: np.tile(np.asarray(names, dtype=object), len(wtps)),
            "probability": prob.ravel(),
        }
    )


def ceaf(table: pd.DataFrame, wtp_grid: float | Sequence[float] | np.ndarray) -> pd.DataFrame:
    """Cost-effectiveness acceptability frontier.

    For each WTP, the strategy with the highest *expected* NMB (ties: first in input order),
    its expected NMB (currency per person) and its probability of being cost-effective
    (as in :func:`ceac`). Returns columns ``wtp, strategy, expected_nmb, probability``.
    """
    names, _, cs, qs = _wide(_prepare(table))
    wtps = _as_wtp(wtp_grid)
    prob, mean, _ = _decision(cs, qs, wtps)
    best = mean.argmax(axis=1)
    rows = np.arange(len(wtps))
    return pd.DataFrame(
        {
            "wtp": wtps,
            STRATEGY: [names[i] for i in best],
            "expected_nmb": mean[rows, best],
            "probability": prob[rows, best],
        }
    )


def evpi(
    table: pd.DataFrame,
    wtp_grid: float | Sequence[float] | np.ndarray,
    population: float | None = None,
) -> pd.DataFrame:
    """Expected value of perfect information, ``E[max_d NMB_d] - max_d E[NMB_d]``.

    Computed as the mean opportunity loss of the strategy with the highest expected NMB,
    which is non-negative term by term (tiny negative rounding is clipped to 0) and exactly
    0 when that strategy has the highest NMB in every sample. Units: currency per person.
    ``population`` (persons; e.g. a discounted sum of future patients) adds
    ``evpi_population = evpi * population``. Returns ``wtp, evpi[, evpi_population]``.
    """
    _check_population(population)
    _, _, cs, qs = _wide(_prepare(table))
    wtps = _as_wtp(wtp_grid)
    out = pd.DataFrame({"wtp": wtps, "evpi": _decision(cs, qs, wtps)[2]})
    if population is not None:
        out["evpi_population"] = out["evpi"] * population
    return out


def evppi(
    table: pd.DataFrame,
    parameters: pd.DataFrame,
    wtp: float | Sequence[float] | np.ndarray,
    groups: Mapping[str, Sequence[str] | str] | None = None,
    population: float | None = None,
) -> pd.DataFrame:
    """Expected value of partial perfect information by nonparametric regression.

    Method of Strong, Oakley & Brennan (2014, Med Decis Making 34:311-326). For each
    non-reference strategy d (the reference is the first strategy in input order) the
    conditional expectations E[dC_d | theta] and E[dQ_d | theta] of the incremental cost
    and QALYs are estimated with a penalised cubic regression spline in theta: each
    parameter is rescaled to [0, 1], with 20 B-spline basis functions (knots at sample
    quantiles) and a curvature penalty; a group of up to 4 parameters uses their tensor
    product (about min(256, n/5) basis functions, >= 4 per parameter) with one smoothing
    parameter shared by its margins. Each fitted response gets its own smoothing parameter,
    chosen by generalised cross-validation. Since the smoother is linear in the response, the fitted
    incremental NMB at each WTP is ``wtp * E[dQ|theta] - E[dC|theta]``; then
    ``EVPPI = mean_s max_d f_sd - max_d mean_s f_sd`` (reference f = 0), computed as the
    mean opportunity loss, and clipped to ``[0, EVPI]`` at the same WTP because regression
    noise can push the estimate slightly above EVPI.

    ``parameters``: one row per PSA sample, indexed by sample (or with a ``sample`` column),
    one numeric column per parameter. ``groups`` maps a name to a list of columns; default
    is one group per column. Returns ``group, wtp, evppi[, evppi_population]``, in currency
    per person (times ``population`` persons).
    """
    _check_population(population)
    df = _prepare(table)
    if SAMPLE not in df.columns:
        raise ValueError("EVPPI needs a PSA table with a 'sample' column")
    names, samples, cs, qs = _wide(df)
    wtps = _as_wtp(wtp)
    if not isinstance(parameters, pd.DataFrame):
        raise TypeError("parameters must be a pandas DataFrame")
    params = parameters.set_index(SAMPLE) if SAMPLE in parameters.columns else parameters
    if params.index.has_duplicates:
        raise ValueError("parameters has duplicate sample labels")
    missing = pd.Index(samples).difference(params.index)
    if len(missing):
        raise ValueError(f"parameters lacks {len(missing)} sample(s), e.g. {list(missing[:5])}")
    params = params.loc[samples]
    if groups is None:
        groups = {str(col): [col] for col in params.columns}
    groups = {
        name: [cols] if isinstance(cols, str) else list(cols) for name, cols in groups.items()
    }
    for name, cols in groups.items():
        bad = [col for col in cols if col not in params.columns]
        if bad or not cols:
            raise ValueError(f"group {name!r}: unknown or no parameter column(s) {bad}")
        if len(cols) > MAX_GROUP:
            raise ValueError(f"group {name!r} has {len(cols)} parameters; at most {MAX_GROUP}")
        values = params[cols]
        if not all(pd.api.types.is_numeric_dtype(values[c]) for c in cols):
            raise ValueError(f"group {name!r}: parameters must be numeric")
        if not np.isfinite(values.to_numpy(float)).all():
            raise ValueError(f"group {name!r}: parameters contain NaN or infinite values")

    limit = _decision(cs, qs, wtps)[2]
    rows = []
    for name, cols in groups.items():
        value = regression_loss(cs, qs, params[cols].to_numpy(float), wtps).mean(axis=0)
        rows.append(pd.DataFrame({"group": name, "wtp": wtps, "evppi": np.clip(value, 0, limit)}))
    out = pd.concat(rows, ignore_index=True)
    if population is not None:
        out["evppi_population"] = out["evppi"] * population
    return out


# ------------------------------------------------------------------- summaries, plane
def summarise(
    table: pd.DataFrame,
    by: str | Sequence[str] = STRATEGY,
    columns: Sequence[str] = (COST, QALY),
) -> pd.DataFrame:
    """Mean and Monte Carlo standard error (sd / sqrt(n), sd with ddof=1) per group.

    Returns ``by`` columns, ``n`` and ``<column>_mean``, ``<column>_mcse`` for each of
    ``columns`` (units of the column; MCSE is NaN when n = 1).
    """
    by = [by] if isinstance(by, str) else list(by)
    columns = list(columns)
    missing = [c for c in by + columns if c not in table.columns]
    if missing:
        raise ValueError(f"table is missing column(s) {missing}")
    for col in columns:
        if not pd.api.types.is_numeric_dtype(table[col]) or table[col].isna().any():
            raise ValueError(f"column {col!r} must be numeric without NaN")
    grouped = table.groupby(by, sort=False, dropna=False)[columns]
    n = grouped.size()
    out = pd.DataFrame({"n": n})
    mean, sd = grouped.mean(), grouped.std(ddof=1)
    for col in columns:
        out[f"{col}_mean"] = mean[col]
        out[f"{col}_mcse"] = sd[col] / np.sqrt(n)
    return out.reset_index()


def ce_plane(table: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Per-sample incremental cost (currency) and QALYs (years) versus ``reference``.

    Returns long columns ``sample, strategy, inc_cost, inc_qaly`` for every strategy other
    than the reference (a deterministic table gives a single sample labelled 0).
    """
    names, samples, cs, qs = _wide(_prepare(table))
    if reference not in names:
        raise ValueError(f"reference {reference!r} is not a strategy; have {names}")
    r = names.index(reference)
    others = [i for i in range(len(names)) if i != r]
    return pd.DataFrame(
        {
            SAMPLE: np.tile(samples, len(others)),
            STRATEGY: np.repeat(np.asarray([names[i] for i in others], dtype=object), len(samples)),
            "inc_cost": (cs[:, others] - cs[:, [r]]).T.ravel(),
            "inc_qaly": (qs[:, others] - qs[:, [r]]).T.ravel(),
        }
    )
