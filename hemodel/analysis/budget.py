"""Budget impact: undiscounted annual spending for a population adopting a strategy.

Inputs are the mean **undiscounted** cost per patient by year since the patient's start
(``m[s, k, category]``, from one simulation with ``budget_years``) and a population: ``n_e``
incident patients starting in calendar year ``e`` (1, 2, …) of whom a share ``u_e`` (the
uptake in that year) follows the new strategy for good. In calendar year ``t`` each cohort
``e ≤ t`` is in its year ``t − e + 1`` since start, so

* reference world:  ``R[t, c] = Σ_{e≤t} n_e · m[ref, t−e+1, c]``
* strategy world:   ``S[t, c] = Σ_{e≤t} n_e · (u_e·m[s, t−e+1, c] + (1−u_e)·m[ref, t−e+1, c])``
* budget impact:    ``S − R = Σ_{e≤t} n_e · u_e · (m[s, t−e+1, c] − m[ref, t−e+1, c])``.

Patients already on treatment before year 1 (prevalent cases) are not included. Costs are
in the scenario currency at its price year, **not discounted**, as budget impact analyses
report them (ISPOR good practice, Sullivan et al. 2014).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..model.outcomes import COST_CATEGORIES
from ..scenario.schema import Scenario

BASIS = "undiscounted"


def per_patient_costs(patients: pd.DataFrame, years: int) -> pd.DataFrame:
    """Mean undiscounted cost per patient by ``strategy, year`` (since start), ``category``.

    ``patients`` is a :attr:`hemodel.Results.patients` table simulated with
    ``budget_years >= years`` (columns ``cost_y<year>_<category>``).
    """
    cols = [f"cost_y{y}_{c}" for y in range(1, years + 1) for c in COST_CATEGORIES]
    missing = [c for c in cols if c not in patients.columns]
    if missing:
        raise ValueError(f"simulate with budget_years={years} first (missing e.g. {missing[0]})")
    means = patients.groupby("strategy", observed=True, sort=False)[cols].mean()
    long = means.reset_index().melt(id_vars="strategy", var_name="column", value_name="cost")
    parts = long["column"].str.extract(r"^cost_y(\d+)_(.+)$")
    long["year"], long["category"] = parts[0].astype(int), parts[1]
    long["strategy"] = long["strategy"].astype(str)
    return long[["strategy", "year", "category", "cost"]]


def per_year(values: float | Sequence[float], years: int, what: str) -> np.ndarray:
    v = np.atleast_1d(np.asarray(values, dtype=float))
    if v.size == 1:
        v = np.repeat(v, years)
    if v.size != years:
        raise ValueError(f"give one {what} or one per year ({years}), got {v.size}")
    if not np.isfinite(v).all() or (v < 0).any():
        raise ValueError(f"{what} must be finite and >= 0, got {list(v)}")
    return v


def population(
    incident: float | Sequence[float], uptake: float | Sequence[float], years: int
) -> tuple[np.ndarray, np.ndarray]:
    """Incident patients and uptake per calendar year, checked (uptake between 0 and 1)."""
    n = per_year(incident, years, "incident count")
    u = per_year(uptake, years, "uptake")
    if (u > 1).any():
        raise ValueError(f"uptake is a share between 0 and 1, got {list(u)}")
    return n, u


def budget_impact(
    costs: pd.DataFrame,
    reference: str,
    incident: float | Sequence[float],
    uptake: float | Sequence[float],
    years: int,
    strategies: Sequence[str] | None = None,
    currency: str = "",
) -> pd.DataFrame:
    """Annual budget by category, reference world vs each strategy's world.

    ``costs``: mean per-patient cost by ``strategy, year`` (since start) and ``category``
    (as from :func:`per_patient_costs`). ``incident``: new patients per calendar year (one
    number, or one per year); ``uptake``: share of each year's new patients on the strategy
    (one number or one per year, 0-1). Returns ``year, strategy, category, reference_cost,
    strategy_cost, impact, reference, currency, basis`` for calendar years 1..``years``
    (``basis`` is always ``"undiscounted"``).
    """
    n, u = population(incident, uptake, years)
    if int(costs["year"].max()) < years:
        raise ValueError(f"per-patient costs cover {costs['year'].max()} years, need {years}")
    names = list(dict.fromkeys(costs["strategy"]))
    if reference not in names:
        raise ValueError(f"reference {reference!r} is not in the cost table ({names})")
    strategies = [s for s in (strategies or names) if s != reference]
    categories = list(dict.fromkeys(costs["category"]))
    cube = costs.set_index(["strategy", "year", "category"])["cost"]

    def m(s: str) -> np.ndarray:  # (year since start, category)
        idx = pd.MultiIndex.from_product([[s], range(1, years + 1), categories])
        return cube.reindex(idx).to_numpy(float).reshape(years, len(categories))

    def world(weights: np.ndarray, mean: np.ndarray) -> np.ndarray:  # (calendar year, cat)
        out = np.zeros((years, len(categories)))
        for t in range(years):
            for e in range(t + 1):
                out[t] += weights[e] * mean[t - e]
        return out

    ref = world(n, m(reference))
    rows = []
    for s in strategies:
        impact = world(n * u, m(s) - m(reference))
        new = world(n * u, m(s)) + world(n * (1 - u), m(reference))
        for t in range(years):
            for j, c in enumerate(categories):
                rows.append((t + 1, s, c, ref[t, j], new[t, j], impact[t, j]))
    cols = ["year", "strategy", "category", "reference_cost", "strategy_cost", "impact"]
    out = pd.DataFrame(rows, columns=cols)
    return out.assign(reference=reference, currency=currency, basis=BASIS)


def totals(table: pd.DataFrame) -> pd.DataFrame:
    """Per year and strategy: all categories summed, and the cumulative impact."""
    out = (
        table.groupby(["strategy", "year"], sort=False)[
            ["reference_cost", "strategy_cost", "impact"]
        ]
        .sum()
        .reset_index()
    )
    out["cumulative_impact"] = out.groupby("strategy", sort=False)["impact"].cumsum()
    first = table.iloc[0]
    return out.assign(reference=first["reference"], currency=first["currency"], basis=BASIS)


def run_budget_impact(
    scenario: Scenario,
    incident: float | Sequence[float],
    uptake: float | Sequence[float],
    years: int = 5,
    *,
    strategies: Sequence[str] | None = None,
    patients: int = 2000,
    seed: int = 1,
    progress: bool | None = False,
    **execution,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate and compute the budget impact. Returns ``(impact table, per-patient costs)``.

    ``execution``: ``workers``, ``backend``, ``scheduler``, ``checkpoint`` for :func:`simulate`.

    Only the reference and ``strategies`` (default: all) are simulated, on the same patients.
    """
    from ..run.simulation import simulate
    from ..scenario.load import with_strategies

    if not 1 <= years <= 50:
        raise ValueError("years must be between 1 and 50")
    population(incident, uptake, years)  # fail before simulating
    if scenario.time_horizon.days() < years * 365.25 - 1e-9:
        raise ValueError("the time horizon is shorter than the budget period")
    if strategies:
        unknown = [s for s in strategies if s not in scenario.strategies]
        if unknown:
            raise ValueError(
                f"unknown strategies {unknown} (have {', '.join(scenario.strategies)})"
            )
        keep = [s for s in scenario.strategies if s in strategies or s == scenario.reference]
        scenario = with_strategies(scenario, keep, scenario.reference)
    r = simulate(
        scenario, patients=patients, seed=seed, budget_years=years, progress=progress, **execution
    )
    costs = per_patient_costs(r.patients, years)
    table = budget_impact(
        costs, scenario.reference, incident, uptake, years, strategies, scenario.currency
    )
    return table, costs
