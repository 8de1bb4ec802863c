"""Budget impact: undiscounted annual spending for a population adopting a strategy.

Inputs are the mean **undiscounted** cost per patient by year since the patient's start
(``m[s, k, category]``, from one simulation with ``budget_years``) and a population: ``n_e``
incident patients starting in calendar year ``e`` (1, 2, …) of whom a share ``u_e`` (the
uptake in that year) follows the new strategy for good. In calendar year ``t`` each cohort
``e ≤ t`` is in its year ``t − e + 1`` since start, so

* reference world:  ``R[t, c] = Σ_{e≤t} n_e · m[ref, t−e+1, c]``
* strategy world:   ``S[t, c] = Σ_{e≤t} n_e · (u_e·m[s, t−e+1, c] + (1−u_e)·m[ref, t−e+1, c])``
* budget impact:    ``S − R = Σ_{e≤t} n_e · u_e · (m[s, t−e+1, c] − m[ref, t−e+1, c])``.

Prevalent patients (alive at the start of year 1, having started first-line therapy in one
of the :data:`PAST_YEARS` years before) are survivors of earlier cohorts of equal size
``n_p``: a cohort that started ``e`` years before year 1 is in its year ``t + e`` since start
in calendar year ``t``, so it adds ``n_p · m[s, t+e, c]``; ``n_p = prevalent / Σ_e A(e)``,
with ``A(e)`` the share of the reference strategy's patients alive ``e`` years after start.
A share ``u_1`` of them adopts the new strategy in year 1, and their costs are taken as if
they had followed it from their start: an approximation for patients already monitored or
progressed, stated wherever prevalent patients are counted.

Costs are in the scenario currency at its price year, **not discounted**, as budget impact
analyses report them (ISPOR good practice, Sullivan et al. 2014). For a health plan with
``M`` members the impact per member per month is ``impact / (12 · M)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..model.outcomes import COST_CATEGORIES
from ..scenario.schema import Scenario
from ..scenario.units import DAYS_PER_YEAR

BASIS = "undiscounted"

#: Years before year 1 in which today's prevalent patients started first-line therapy.
PAST_YEARS = 10


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


@dataclass(frozen=True)
class BudgetPopulation:
    """Who the budget is for: incident patients and uptake per calendar year (persons, share
    0-1), prevalent patients at the start of year 1 (persons), plan members (persons, for
    PMPM; ``None``: no plan), and where each figure came from (``"scenario"`` or a flag)."""

    incident: np.ndarray
    uptake: np.ndarray
    prevalent: float
    plan_members: float | None
    origin: str

    @property
    def years(self) -> int:
        return len(self.incident)

    def describe(self) -> str:
        """One line a reader can check, e.g. "incident × uptake by year: 100 × 20%, …"."""
        pairs = ", ".join(
            f"{a:,.0f} × {b:.0%}" for a, b in zip(self.incident, self.uptake, strict=True)
        )
        prevalent = (
            f"{self.prevalent:,.0f} prevalent patients (uptake {self.uptake[0]:.0%})"
            if self.prevalent
            else "no prevalent patients"
        )
        plan = f"; plan of {self.plan_members:,.0f} members" if self.plan_members else ""
        return f"incident patients × uptake by year: {pairs}; {prevalent}{plan} ({self.origin})"


def resolve_population(
    scenario: Scenario,
    incident: float | Sequence[float] | None = None,
    uptake: float | Sequence[float] | None = None,
    years: int | None = None,
    prevalent: float | None = None,
    plan_members: float | None = None,
) -> BudgetPopulation:
    """The budget population: each figure from its argument when given (command-line flags),
    else from the scenario's ``population:`` block. Raises ValueError naming what is missing."""
    block = scenario.population
    given = [incident, uptake, years, prevalent, plan_members]
    if block is None and incident is None:
        raise ValueError(
            "the scenario has no population: block; give the number of new patients a year "
            "with --incident (or add population: incident: to the scenario)"
        )
    if years is None:
        years = block.budget_years if block else 5
    if not 1 <= years <= 50:
        raise ValueError("years must be between 1 and 50")
    if incident is None:
        incident = block.incident
    if uptake is None:
        uptake = block.uptake if block else 1.0
    if prevalent is None:
        prevalent = block.prevalent if block else 0.0
    if plan_members is None and block is not None:
        plan_members = block.plan_members
    if not (np.isfinite(prevalent) and prevalent >= 0):
        raise ValueError(f"prevalent patients must be finite and >= 0, got {prevalent}")
    if plan_members is not None and not (np.isfinite(plan_members) and plan_members > 0):
        raise ValueError(f"plan members must be a positive number, got {plan_members}")
    n, u = population(_last_per_year(incident, years), _last_per_year(uptake, years), years)
    if block is None:
        origin = "command line"
    elif all(g is None for g in given):
        origin = "scenario population: block"
    else:
        origin = "scenario population: block, overridden by the command line"
    return BudgetPopulation(n, u, float(prevalent), plan_members, origin)


def _last_per_year(values: float | Sequence[float], years: int) -> float | Sequence[float]:
    """A scenario's per-year list cut or extended (last value kept) to ``years`` years."""
    if isinstance(values, (int, float)) or len(values) in (1, years):
        return values
    values = list(values)
    return (values + values[-1:] * years)[:years]


def alive_after(patients: pd.DataFrame, strategy: str, years: int) -> np.ndarray:
    """Share of ``strategy``'s patients alive 1, 2, …, ``years`` years after their start."""
    g = patients[patients["strategy"] == strategy]
    death = g["death_days"].to_numpy(float)
    at = np.arange(1, years + 1) * DAYS_PER_YEAR
    return np.array([np.mean(~(death <= t)) for t in at])


def budget_impact(
    costs: pd.DataFrame,
    reference: str,
    incident: float | Sequence[float],
    uptake: float | Sequence[float],
    years: int,
    strategies: Sequence[str] | None = None,
    currency: str = "",
    prevalent: float = 0.0,
    alive: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Annual budget by category, reference world vs each strategy's world.

    ``costs``: mean per-patient cost by ``strategy, year`` (since start) and ``category``
    (as from :func:`per_patient_costs`). ``incident``: new patients per calendar year (one
    number, or one per year); ``uptake``: share of each year's new patients on the strategy
    (one number or one per year, 0-1). ``prevalent``: patients alive at the start of year 1
    who started in the ``len(alive)`` years before; ``alive[e-1]``: share alive ``e`` years
    after start (see the module docstring; ``costs`` must then cover ``years + len(alive)``
    years). Returns ``year, strategy, category, reference_cost, strategy_cost, impact,
    reference, currency, basis`` for calendar years 1..``years`` (``basis`` is always
    ``"undiscounted"``).
    """
    n, u = population(incident, uptake, years)
    alive = np.asarray([] if alive is None else alive, dtype=float)
    past = len(alive) if prevalent else 0
    if prevalent and alive.sum() <= 0:
        raise ValueError("prevalent patients need the share alive after each past year")
    if int(costs["year"].max()) < years + past:
        raise ValueError(
            f"per-patient costs cover {costs['year'].max()} years, need {years + past}"
        )
    names = list(dict.fromkeys(costs["strategy"]))
    if reference not in names:
        raise ValueError(f"reference {reference!r} is not in the cost table ({names})")
    strategies = [s for s in (strategies or names) if s != reference]
    categories = list(dict.fromkeys(costs["category"]))
    cube = costs.set_index(["strategy", "year", "category"])["cost"]
    n_past = prevalent / float(alive.sum()) if past else 0.0

    def m(s: str) -> np.ndarray:  # (year since start, category)
        idx = pd.MultiIndex.from_product([[s], range(1, years + past + 1), categories])
        return cube.reindex(idx).to_numpy(float).reshape(years + past, len(categories))

    def world(weights: np.ndarray, mean: np.ndarray, past_weight: float) -> np.ndarray:
        out = np.zeros((years, len(categories)))  # (calendar year, category)
        for t in range(years):
            for e in range(t + 1):
                out[t] += weights[e] * mean[t - e]
            for e in range(1, past + 1):  # cohorts that started e years before year 1
                out[t] += past_weight * mean[t + e]
        return out

    ref = world(n, m(reference), n_past)
    rows = []
    for s in strategies:
        diff = m(s) - m(reference)
        impact = world(n * u, diff, n_past * u[0])
        new = ref + impact
        for t in range(years):
            for j, c in enumerate(categories):
                rows.append((t + 1, s, c, ref[t, j], new[t, j], impact[t, j]))
    cols = ["year", "strategy", "category", "reference_cost", "strategy_cost", "impact"]
    out = pd.DataFrame(rows, columns=cols)
    return out.assign(reference=reference, currency=currency, basis=BASIS)


def totals(table: pd.DataFrame, plan_members: float | None = None) -> pd.DataFrame:
    """Per year and strategy: all categories summed, and the cumulative impact; with
    ``plan_members`` (persons) also the impact per member per month, ``impact_pmpm``."""
    out = (
        table.groupby(["strategy", "year"], sort=False)[
            ["reference_cost", "strategy_cost", "impact"]
        ]
        .sum()
        .reset_index()
    )
    out["cumulative_impact"] = out.groupby("strategy", sort=False)["impact"].cumsum()
    if plan_members:
        out["impact_pmpm"] = out["impact"] / (12.0 * plan_members)
    first = table.iloc[0]
    return out.assign(reference=first["reference"], currency=first["currency"], basis=BASIS)


def run_budget_impact(
    scenario: Scenario,
    who: BudgetPopulation,
    *,
    strategies: Sequence[str] | None = None,
    patients: int = 2000,
    seed: int = 1,
    progress: bool | None = False,
    **execution,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate and compute the budget impact for ``who`` (see :func:`resolve_population`).
    Returns ``(impact table, per-patient costs)``.

    ``execution``: ``workers``, ``backend``, ``scheduler``, ``checkpoint`` for :func:`simulate`.

    Only the reference and ``strategies`` (default: all) are simulated, on the same patients.
    With prevalent patients the simulation covers :data:`PAST_YEARS` more years (fewer if the
    time horizon is shorter).
    """
    from ..run.simulation import simulate
    from ..scenario.load import with_strategies

    years = who.years
    horizon_years = scenario.time_horizon.days() / DAYS_PER_YEAR
    if horizon_years < years - 1e-9:
        raise ValueError("the time horizon is shorter than the budget period")
    past = min(PAST_YEARS, int(horizon_years + 1e-9) - years) if who.prevalent else 0
    if who.prevalent and past < 1:
        raise ValueError("prevalent patients need a time horizon longer than the budget period")
    if strategies:
        unknown = [s for s in strategies if s not in scenario.strategies]
        if unknown:
            raise ValueError(
                f"unknown strategies {unknown} (have {', '.join(scenario.strategies)})"
            )
        keep = [s for s in scenario.strategies if s in strategies or s == scenario.reference]
        scenario = with_strategies(scenario, keep, scenario.reference)
    r = simulate(
        scenario,
        patients=patients,
        seed=seed,
        budget_years=years + past,
        progress=progress,
        **execution,
    )
    costs = per_patient_costs(r.patients, years + past)
    alive = alive_after(r.patients, scenario.reference, past) if past else None
    table = budget_impact(
        costs,
        scenario.reference,
        who.incident,
        who.uptake,
        years,
        strategies,
        scenario.currency,
        prevalent=who.prevalent,
        alive=alive,
    )
    return table, costs
