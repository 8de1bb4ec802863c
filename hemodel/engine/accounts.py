"""Costs, QALYs and life-years of a whole cohort's pathways at once (the array engine's books).

Discounting is continuous at ``r`` per day: a one-off ``c`` at day ``t`` is worth
``c·e^{-rt}``, a flow of ``c`` per day over ``[a, b)`` is worth
``c·∫ₐᵇ e^{-rt} dt = c·(e^{-ra} − e^{-rb}) / r``, and ``n`` unit events on the grid
``every, 2·every, …`` are worth the geometric series ``Σ_{k=1..n} e^{-r·k·every}``. The blood
draws of a patient are a prefix of the schedule, so their costs are prefix sums over the
schedule, indexed by the patient's number of tests. QALYs and life-years are in years, costs
in the scenario currency, times in days from the 1L start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.inputs import ModelInputs, StrategyPlan
from ..model.outcomes import COST_CATEGORIES
from ..scenario.units import DAYS_PER_YEAR

GRID_TOL = 1e-9  # "on or before a grid day" absorbs float error: a day on the grid maps to itself


@dataclass(frozen=True)
class Pathway:
    """When things happened to each patient under one strategy (arrays, days; inf: never).

    ``end``: death or the horizon; ``f``: end of first-line follow-up (detected progression
    or ``end``); ``sl``: start of second-line therapy; ``tests``: blood draws (a prefix of
    the schedule ``draw_days``); ``at_progression``: an ESR1 test was drawn at ``d1``;
    ``visits``, ``scans``: clinic visits and scans up to ``f``.
    """

    emergence: np.ndarray
    switch: np.ndarray
    t1: np.ndarray
    d1: np.ndarray
    f: np.ndarray
    end: np.ndarray
    died: np.ndarray
    sl: np.ndarray
    targeted: np.ndarray
    t2: np.ndarray
    tests: np.ndarray
    draw_days: np.ndarray
    at_progression: np.ndarray
    visits: np.ndarray
    scans: np.ndarray


def flow(a, b, rate: float) -> np.ndarray:
    """``∫ₐᵇ e^{-rt} dt`` in days (0 when ``b ≤ a``); ``a`` and ``b`` may be inf."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    lo = np.minimum(a, b)
    if rate == 0:
        return np.where(b > lo, b - lo, 0.0)
    return (np.exp(-rate * lo) - np.exp(-rate * b)) / rate


def _grid_before(x, every: float) -> np.ndarray:
    """How many of ``every, 2·every, …`` fall strictly before ``x``."""
    return np.maximum(np.ceil(np.asarray(x) / every - GRID_TOL) - 1.0, 0.0)


def grid_value(n: np.ndarray, every: float, rate: float) -> np.ndarray:
    """``Σ_{k=1..n} e^{-r·k·every}`` (geometric series; ``n`` when ``r = 0``)."""
    if rate == 0:
        return n.astype(float)
    x = rate * every
    return np.exp(-x) * np.expm1(-x * n) / np.expm1(-x)


def _extra_visits(plan: StrategyPlan, days: np.ndarray) -> np.ndarray:
    """Draw days that are not clinic-visit days (a phlebotomy visit is paid for them)."""
    v = plan.visit_every
    return np.abs(days / v - np.round(days / v)) >= 1e-9


def accounts(inputs: ModelInputs, plan: StrategyPlan, p: Pathway, budget_years: int = 0) -> dict:
    """Columns ``cost_<category>[_undiscounted]``, ``cost_total[...]``, ``qalys[...]``,
    ``lys[...]`` and, for ``budget_years`` > 0, ``cost_y<year>_<category>``."""
    out: dict[str, np.ndarray] = {}
    flows = _flows(inputs, plan, p)
    extra = _extra_visits(plan, p.draw_days)
    for suffix, rc, rq in (("", inputs.cost_rate, inputs.qaly_rate), ("_undiscounted", 0.0, 0.0)):
        costs = _costs(inputs, plan, p, rc, flows, extra)
        for category in COST_CATEGORIES:
            out[f"cost_{category}{suffix}"] = costs[category]
        out[f"cost_total{suffix}"] = sum(costs[c] for c in COST_CATEGORIES)
        out[f"qalys{suffix}"] = _qalys(inputs, plan, p, rq)
        out[f"lys{suffix}"] = flow(0.0, p.end, rq) / DAYS_PER_YEAR
    for year in range(1, budget_years + 1):
        lo, hi = (year - 1) * DAYS_PER_YEAR, year * DAYS_PER_YEAR
        for category, value in _year_costs(inputs, plan, p, lo, hi, flows, extra).items():
            out[f"cost_y{year}_{category}"] = value
    return out


def _flows(inputs: ModelInputs, plan: StrategyPlan, p: Pathway) -> dict[str, list]:
    """Cost flows by category: ``(per_day, start, end)`` with per-patient start and end."""
    prices, sw = inputs.prices, plan.switch
    first_line_stop = np.minimum(p.switch, p.f)
    cdk_stop = p.f if sw is None or sw.continue_cdk46 else first_line_stop
    t2_end = np.minimum(p.t2, p.end)
    standard_from = np.where(p.targeted, np.maximum(p.sl, t2_end), p.sl)
    targeted_until = np.where(p.targeted, t2_end, p.sl)
    return {
        "first_line_drugs": [
            (prices.ai_per_day, 0.0, first_line_stop),
            (prices.cdk46_per_day, 0.0, cdk_stop),
        ],
        "switch_drugs": [(sw.cost_per_day if sw else 0.0, p.switch, p.f)],
        "later_line_drugs": [
            (prices.later_lines_per_day, standard_from, p.end),
            (prices.targeted_2l_per_day, p.sl, targeted_until),
        ],
        "disease_management": [
            (prices.pf_management_per_day, 0.0, p.f),
            (prices.progressed_management_per_day, p.f, p.end),
        ],
    }


def _draw_costs(inputs: ModelInputs, plan: StrategyPlan, p: Pathway, rate: float, extra):
    """Testing and phlebotomy costs of each patient's blood draws (prefix sums); ``extra``:
    which draw days need a phlebotomy visit of their own."""
    if plan.assay is None:
        zero = np.zeros(len(p.tests))
        return zero, zero
    factor = np.exp(-rate * p.draw_days)
    per_draw = inputs.prices.venipuncture + inputs.prices.phlebotomy_visit * extra
    testing = np.concatenate([[0.0], np.cumsum(factor)])[p.tests] * plan.assay.cost
    phlebotomy = np.concatenate([[0.0], np.cumsum(factor * per_draw)])[p.tests]
    return testing, phlebotomy


def _costs(inputs: ModelInputs, plan: StrategyPlan, p: Pathway, rate: float, flows, extra):
    prices, pa = inputs.prices, plan.progression_assay
    testing, phlebotomy = _draw_costs(inputs, plan, p, rate, extra)
    if pa is not None:
        at_d1 = np.where(p.at_progression, np.exp(-rate * p.d1), 0.0)
        testing = testing + pa.cost * at_d1
        phlebotomy = phlebotomy + prices.venipuncture * at_d1
    costs = {
        "testing": testing,
        "phlebotomy": phlebotomy,
        "visits": prices.visit * grid_value(p.visits, plan.visit_every, rate),
        "imaging": prices.imaging * grid_value(p.scans, plan.imaging_every, rate),
        "terminal_care": np.where(p.died, prices.terminal_care * np.exp(-rate * p.end), 0.0),
    }
    for category, items in flows.items():
        costs[category] = sum(per_day * flow(a, b, rate) for per_day, a, b in items)
    return costs


def _qalys(inputs: ModelInputs, plan: StrategyPlan, p: Pathway, rate: float) -> np.ndarray:
    """QALYs (years): the utility changes at emergence (molecular progression), at the
    switch and at true progression."""
    u_pf, u_prog = inputs.u_progression_free, inputs.u_progressed
    u_switch = u_pf + (plan.switch.utility_decrement if plan.switch is not None else 0.0)
    pf_end = np.minimum(p.t1, p.end)
    switch_from = np.minimum(p.switch, pf_end)
    molecular_from = np.minimum(p.emergence, switch_from)
    days = (
        u_pf * flow(0.0, molecular_from, rate)
        + (u_pf + inputs.molecular_decrement) * flow(molecular_from, switch_from, rate)
        + u_switch * flow(switch_from, pf_end, rate)
        + u_prog * flow(pf_end, p.end, rate)
    )
    return days / DAYS_PER_YEAR


def _year_costs(
    inputs: ModelInputs, plan: StrategyPlan, p: Pathway, lo: float, hi: float, flows, extra
):
    """Undiscounted costs by category that fall in days ``[lo, hi)``."""
    prices, pa = inputs.prices, plan.progression_assay
    out = {}
    for category, items in flows.items():
        out[category] = sum(
            per_day * flow(np.maximum(a, lo), np.minimum(b, hi), 0.0) for per_day, a, b in items
        )
    for category, price, every, upto_f in (
        ("visits", prices.visit, plan.visit_every, p.visits),
        ("imaging", prices.imaging, plan.imaging_every, p.scans),
    ):
        upper = np.where(p.f < hi, upto_f, _grid_before(hi, every))
        out[category] = price * np.maximum(upper - _grid_before(lo, every), 0.0)
    testing = phlebotomy = np.zeros(len(p.end))
    if plan.assay is not None:
        first, last = (np.minimum(p.tests, np.searchsorted(p.draw_days, x)) for x in (lo, hi))
        extras = np.concatenate([[0], np.cumsum(extra)])
        testing = plan.assay.cost * (last - first)
        phlebotomy = prices.venipuncture * (last - first) + prices.phlebotomy_visit * (
            extras[last] - extras[first]
        )
    if pa is not None:
        at_d1 = p.at_progression & (lo <= p.d1) & (p.d1 < hi)
        testing = testing + pa.cost * at_d1
        phlebotomy = phlebotomy + prices.venipuncture * at_d1
    out["testing"], out["phlebotomy"] = testing, phlebotomy
    out["terminal_care"] = prices.terminal_care * (p.died & (lo <= p.end) & (p.end < hi))
    return {c: out[c] for c in COST_CATEGORIES}
