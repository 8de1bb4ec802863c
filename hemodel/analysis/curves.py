"""Survival curves and state occupancy over time, per strategy, from a simulation's
per-patient table (:attr:`hemodel.run.results.Results.patients`).

Times in the table are days from the start of first-line therapy; the outputs are on a grid of
months (``DAYS_PER_MONTH`` days each). Every simulated patient is followed to the time
horizon, so the only censoring is there: a patient whose event has not happened by then
(an empty time) is censored at ``horizon_days``. The curves are Kaplan-Meier estimates, which
with this censoring equal the share of patients still event-free.

Curves (:data:`CURVES`), each event the first of:

- ``PFS``: first (true) progression or death: ``true_progression_days``, ``death_days``;
- ``PFS2``: second progression or death: ``second_progression_days``, ``death_days``;
- ``OS``: death from any cause: ``death_days``.

States (:data:`STATES`), each patient in exactly one at each time, the first that applies
from the bottom of this list up:

- ``progression-free, first line``: on first-line therapy, not progressed;
- ``progression-free after switch``: switched on a positive ctDNA result
  (``switch_days``), not progressed;
- ``progressed (second line)``: after the first progression (``true_progression_days``);
- ``after second progression``: after ``second_progression_days``;
- ``dead``: after ``death_days``.

Progression is the true (biological) progression, not the day a scan finds it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..credibility.survival import kaplan_meier
from ..scenario.units import DAYS_PER_MONTH

#: Curve name → the per-patient time columns whose earliest is the event (days).
CURVES: dict[str, tuple[str, ...]] = {
    "PFS": ("true_progression_days", "death_days"),
    "PFS2": ("second_progression_days", "death_days"),
    "OS": ("death_days",),
}

#: Health states in the order a patient passes through them.
STATES = (
    "progression-free, first line",
    "progression-free after switch",
    "progressed (second line)",
    "after second progression",
    "dead",
)


def month_grid(horizon_days: float, step_months: float = 1.0) -> np.ndarray:
    """Months 0, ``step_months``, … up to the horizon (``horizon_days``), the horizon
    included."""
    horizon = horizon_days / DAYS_PER_MONTH
    grid = np.arange(0.0, horizon, step_months)
    return np.append(grid, horizon)


def event_days(patients: pd.DataFrame, curve: str, horizon_days: float) -> tuple:
    """``(durations in days, event happened)`` of ``curve`` for each row of ``patients``;
    rows without the event are censored at ``horizon_days``."""
    columns = CURVES[curve]
    t = patients[columns[0]].to_numpy(float)
    for c in columns[1:]:
        t = np.fmin(t, patients[c].to_numpy(float))
    event = ~np.isnan(t) & (t <= horizon_days)
    return np.where(event, t, horizon_days), event


def survival_at(durations: np.ndarray, events: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The Kaplan-Meier estimate at ``times`` (same unit as ``durations``)."""
    km = kaplan_meier(durations, events)
    i = np.searchsorted(km.timeline, times, side="right") - 1
    return km.survival[np.clip(i, 0, None)]


def survival_curves(
    patients: pd.DataFrame,
    horizon_days: float,
    step_months: float = 1.0,
    curves: tuple[str, ...] = tuple(CURVES),
) -> pd.DataFrame:
    """Kaplan-Meier PFS, PFS2 and OS per strategy on a grid of months (:func:`month_grid`).

    Returns a tidy table: strategy, curve, month, proportion (event-free)."""
    grid = month_grid(horizon_days, step_months)
    parts = []
    for name, g in patients.groupby("strategy", sort=False, observed=True):
        for curve in curves:
            durations, events = event_days(g, curve, horizon_days)
            s = survival_at(durations / DAYS_PER_MONTH, events, grid)
            parts.append(pd.DataFrame({"strategy": name, "curve": curve, "month": grid,
                                       "proportion": s}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def medians(curves: pd.DataFrame) -> pd.DataFrame:
    """Median of each curve of :func:`survival_curves`: the first month on the grid at which
    the proportion is at most 0.5 (NaN if never; a product-limit estimate of exactly one half
    may carry rounding, hence the tolerance). Columns strategy, curve, median_months."""
    rows = []
    for (name, curve), g in curves.groupby(["strategy", "curve"], sort=False):
        below = g.loc[g["proportion"] <= 0.5 + 1e-9, "month"]
        rows.append(dict(strategy=name, curve=curve,
                         median_months=float(below.iloc[0]) if len(below) else np.nan))  # fmt: skip
    return pd.DataFrame(rows)


def _states(g: pd.DataFrame, days: np.ndarray) -> np.ndarray:
    """Index into :data:`STATES` of each patient (columns) at each time (rows, days)."""
    t = days[:, None]

    def reached(column: str) -> np.ndarray:
        return g[column].to_numpy(float)[None, :] <= t  # an empty time is never reached

    return np.select(
        [
            reached("death_days"),
            reached("second_progression_days"),
            reached("true_progression_days"),
            reached("switch_days"),
        ],
        [4, 3, 2, 1],
        default=0,
    )


def state_occupancy(
    patients: pd.DataFrame, horizon_days: float, step_months: float = 1.0
) -> pd.DataFrame:
    """Share of each strategy's patients in each of :data:`STATES` on a grid of months
    (:func:`month_grid`); the shares sum to 1 at each month.

    Returns a tidy table: strategy, month, state, proportion."""
    grid = month_grid(horizon_days, step_months)
    parts = []
    for name, g in patients.groupby("strategy", sort=False, observed=True):
        states = _states(g, grid * DAYS_PER_MONTH)
        for k, state in enumerate(STATES):
            parts.append(pd.DataFrame({"strategy": name, "month": grid, "state": state,
                                       "proportion": (states == k).mean(axis=1)}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)
