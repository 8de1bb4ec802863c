"""Background mortality from bundled period life tables.

Within each year of age the hazard is constant (``-ln(1 - qx)`` per year), so survival
is piecewise exponential; death times are drawn by inverting the cumulative hazard.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np

from ..scenario.units import DAYS_PER_YEAR

_MAX_AGE = 120


@lru_cache(maxsize=8)
def annual_hazards(name: str) -> np.ndarray:
    """Hazard per year, ``-ln(1 - qx)``, for ages 0..119 (death is certain at 120)."""
    text = (resources.files("hemodel") / "data" / f"{name}.csv").read_text()
    rows = [ln.split(",") for ln in text.splitlines() if ln and not ln.startswith(("#", "age"))]
    qx = np.array([float(q) for _, q in rows])
    if len(qx) != _MAX_AGE or np.any((qx <= 0) | (qx >= 1)):
        raise ValueError(f"life table {name!r} must hold qx in (0, 1) for ages 0-119")
    return -np.log1p(-qx)


def sample_death_times(name: str, ages: np.ndarray, budgets: np.ndarray) -> np.ndarray:
    """Vectorised death times (days) for ages (years) and ``Exp(1)`` hazard budgets.

    Solves H(age + t) - H(age) = budget with the table's piecewise-constant hazards.
    Anyone reaching age 120 dies there.
    """
    hazards = annual_hazards(name)
    cum = np.concatenate([[0.0], np.cumsum(hazards)])  # H at integer ages 0..120
    ages = np.asarray(ages, dtype=float)
    a0 = np.floor(ages).astype(int)
    h_start = cum[a0] + hazards[a0] * (ages - a0)
    target = h_start + np.asarray(budgets, dtype=float)
    k = np.clip(np.searchsorted(cum, target, side="right") - 1, 0, _MAX_AGE - 1)
    death_age = k + (target - cum[k]) / hazards[k]
    death_age = np.minimum(death_age, float(_MAX_AGE))
    return (death_age - ages) * DAYS_PER_YEAR
