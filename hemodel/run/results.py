"""Results of a simulation: tidy per-patient table, per-strategy summary, incremental table.

Per-patient times are in days (columns ``*_days``); summaries report months. Money is in the
scenario currency (named in :attr:`Results.currency`), QALYs and life-years in years.
Every summary mean comes with its Monte Carlo standard error (sd / sqrt(n)); incremental
standard errors use per-patient differences, which common random numbers make small.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..model.outcomes import COST_CATEGORIES
from ..scenario.units import DAYS_PER_MONTH

#: Summary quantities: (column in the summary, per-patient column, transform).
_MEANS = (
    *((f"cost_{c}", f"cost_{c}") for c in COST_CATEGORIES),
    ("cost_total", "cost_total"),
    ("cost_total_undiscounted", "cost_total_undiscounted"),
    ("qalys", "qalys"),
    ("qalys_undiscounted", "qalys_undiscounted"),
    ("lys", "lys"),
    ("lys_undiscounted", "lys_undiscounted"),
    ("tests", "tests"),
    ("positives", "positives"),
    ("false_positives", "false_positives"),
)


@dataclass
class Results:
    """Outcome of :func:`hemodel.simulate`.

    ``patients``: one row per patient × strategy. ``events``: the per-event trace (empty
    unless ``trace=True``). ``metadata``: scenario name and hash, seed, patients, version.
    """

    patients: pd.DataFrame
    reference: str
    wtp: float
    currency: str
    metadata: dict
    events: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def strategies(self) -> list[str]:
        return list(dict.fromkeys(self.patients["strategy"]))

    def summary(self) -> pd.DataFrame:
        """Per-strategy means with Monte Carlo standard errors (``<column>_se``)."""
        rows = []
        for name, g in self.patients.groupby("strategy", sort=False, observed=True):
            n = len(g)
            row: dict = {"strategy": name, "patients": n}
            for out, col in _MEANS:
                _mean_se(row, out, g[col].to_numpy(float))
            row["progressions"] = g["true_progression_days"].notna().mean()
            row["progressions_detected"] = g["detected_progression_days"].notna().mean()
            row["switches"] = g["switched"].mean()
            row["false_positive_switches"] = g["false_positive_switch"].mean()
            row["targeted_second_line"] = g["targeted_second_line"].mean()
            row["deaths"] = g["death_days"].notna().mean()
            _mean_se(row, "mean_progression_free_months", _months(g, "progression_free_days"))
            _mean_se(row, "mean_lead_time_months", _months(g, "lead_time_days"), skipna=True)
            _mean_se(row, "mean_lab_wait_days", g["lab_wait_days"].to_numpy(float), skipna=True)
            rows.append(row)
        return pd.DataFrame(rows)

    def ce_table(self, summary: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per-strategy means in the tidy form :mod:`hemodel.analysis.cea` reads: strategy, cost
        (currency, discounted), qaly (discounted), with Monte Carlo SEs cost_se, qaly_se.
        ``summary``: an already computed :meth:`summary`, to avoid recomputing it."""
        s = self.summary() if summary is None else summary
        return pd.DataFrame({"strategy": s["strategy"], "cost": s["cost_total"],
                             "cost_se": s["cost_total_se"], "qaly": s["qalys"],
                             "qaly_se": s["qalys_se"]})  # fmt: skip

    def incremental(self) -> pd.DataFrame:
        """Each strategy against the reference: Δcost, ΔQALY, ICER, NMB and INMB at ``wtp``.

        ICER = Δcost / ΔQALY; reported as NaN with a ``note`` when the strategy is dominated
        (costs more, gains no QALYs) or dominant (costs less, gains QALYs), and when ΔQALY = 0.
        Standard errors come from paired per-patient differences.
        """
        p = self.patients
        ref = p[p["strategy"] == self.reference].set_index("patient")
        rows = []
        for name, g in p.groupby("strategy", sort=False, observed=True):
            g = g.set_index("patient").loc[ref.index]
            d_cost = (g["cost_total"] - ref["cost_total"]).to_numpy(float)
            d_qaly = (g["qalys"] - ref["qalys"]).to_numpy(float)
            row: dict = {"strategy": name, "reference": self.reference}
            _mean_se(row, "cost", g["cost_total"].to_numpy(float))
            _mean_se(row, "qalys", g["qalys"].to_numpy(float))
            _mean_se(row, "inc_cost", d_cost)
            _mean_se(row, "inc_qalys", d_qaly)
            dc, dq = row["inc_cost"], row["inc_qalys"]
            row["icer"], row["note"] = icer(dc, dq)
            if name == self.reference:
                row["note"] = "reference"
            row["nmb"] = self.wtp * row["qalys"] - row["cost"]
            _mean_se(row, "inmb", self.wtp * d_qaly - d_cost)
            rows.append(row)
        return pd.DataFrame(rows)


def icer(d_cost: float, d_qaly: float) -> tuple[float, str]:
    """ICER (currency per QALY) and a note: 'no difference', 'dominated', 'dominant',
    'less costly, less effective' (the ratio is then savings per QALY forgone) or ''."""
    if d_cost == 0 and d_qaly == 0:
        return math.nan, "no difference"
    if d_qaly <= 0 and d_cost >= 0:
        return math.nan, "dominated"
    if d_qaly >= 0 and d_cost <= 0:
        return math.nan, "dominant"
    if d_qaly < 0:  # cheaper and worse: the ratio is savings per QALY lost
        return d_cost / d_qaly, "less costly, less effective"
    return d_cost / d_qaly, ""


def _months(g: pd.DataFrame, column: str) -> np.ndarray:
    return g[column].to_numpy(float) / DAYS_PER_MONTH


def _mean_se(row: dict, name: str, x: np.ndarray, skipna: bool = False) -> None:
    if skipna:
        x = x[~np.isnan(x)]
    n = len(x)
    row[name] = float(np.mean(x)) if n else math.nan
    row[f"{name}_se"] = float(np.std(x, ddof=1) / math.sqrt(n)) if n > 1 else math.nan
