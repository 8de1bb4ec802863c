"""The decision population: how many patients today's decision (and research that informs
it) concerns, for population EVPI and EVPPI.

From the scenario's ``population:`` block, with ``N_t`` the new patients in year ``t`` (its
``incident``; a per-year list is continued with its last value), ``H`` the decision horizon
in years and ``r`` the annual discount rate of costs:

    population = Σ_{t=0}^{⌈H⌉-1} w_t · N_{t+1} / (1 + r)^t,   w_t = min(1, H − t)

(the last year counts in part when ``H`` is fractional). For the expected net benefit of a
study that reports after ``D`` years, only years from ``D`` on count (in part for the year
``D`` falls in). Prevalent patients are left out:
their expected value of information differs from that of a new patient, whom the per-patient
EVPI describes (Philips et al. 2008; Claxton & Sculpher 2006).
"""

from __future__ import annotations

import math

import numpy as np

from ..scenario.schema import Scenario


def decision_population(scenario: Scenario, start: float = 0.0) -> float | None:
    """Discounted number of future patients (persons) over the decision horizon, or ``None``
    when the scenario has no ``population:`` block. ``start`` (years): count only patients
    who start from then on (those who start while a study runs do not benefit from it); year
    ``t`` then counts with the share of it inside ``[start, H]``."""
    block = scenario.population
    if block is None:
        return None
    horizon = float(block.decision_horizon)
    years = math.ceil(horizon)
    per_year = block.incident if isinstance(block.incident, list) else [block.incident]
    incident = np.array([per_year[min(t, len(per_year) - 1)] for t in range(years)], float)
    t = np.arange(years)
    weight = np.clip(np.minimum(t + 1.0, horizon) - np.maximum(t, start), 0.0, 1.0)
    discount = (1.0 + scenario.discount_rates.costs.value) ** -np.arange(years)
    return float((weight * incident * discount).sum())
