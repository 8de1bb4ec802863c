"""Discounting and accrual of costs and QALYs: pure functions of a patient's timeline.

Discounting is continuous: a cost ``c`` at day ``t`` is worth ``c·exp(-r·t)`` with
``r = ln(1 + annual rate) / 365.25`` per day, and a flow of ``c`` per day over ``[a, b)`` is
worth ``c·(exp(-r·a) - exp(-r·b)) / r``. Time origin: the patient's start of first-line
therapy. QALYs and life-years are in years; costs in the scenario currency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..scenario.units import DAYS_PER_YEAR
from .inputs import ModelInputs, StrategyPlan
from .outcomes import COST_CATEGORIES


def discount_factor(t: float, rate: float) -> float:
    """``exp(-rate·t)``: present value of 1 at day ``t`` (``rate`` per day)."""
    return math.exp(-rate * t)


def flow(per_day: float, start: float, end: float, rate: float) -> float:
    """Present value of ``per_day`` accruing continuously over ``[start, end)`` (days)."""
    if end <= start or per_day == 0.0:
        return 0.0
    if rate == 0.0:
        return per_day * (end - start)
    return per_day * (math.exp(-rate * start) - math.exp(-rate * end)) / rate


def grid_sum(every: float, until: float, rate: float) -> tuple[int, float]:
    """Count and present value of unit events at ``every, 2·every, …`` up to ``until`` (incl.).

    Closed form of the geometric series ``Σ_{k=1..n} exp(-rate·k·every)``.
    """
    if until < every or math.isinf(every):
        return 0, 0.0
    n = int(math.floor(until / every + 1e-9))
    if rate == 0.0:
        return n, float(n)
    q = math.exp(-rate * every)
    return n, q * (1.0 - q**n) / (1.0 - q)


@dataclass
class Timeline:
    """When things happened to one patient under one strategy (days from 1L start).

    ``end`` is death or the horizon, whichever first. Times after ``end`` are harmless.
    ``events`` are one-off costs: (day, category, amount).
    """

    end: float
    died: bool
    emergence: float
    switch: float
    true_progression: float
    detected_progression: float
    second_line_start: float
    targeted_second_line: bool
    second_progression: float
    events: list[tuple[float, str, float]]


@dataclass(frozen=True)
class CostItems:
    """A timeline's costs: flows (category, per day, start, end), grids of one-off costs
    (category, amount, every, until: at every, 2·every, … ≤ until) and one-offs (category,
    day, amount). Days from the patient's start; the same items give every summary."""

    flows: list[tuple[str, float, float, float]]
    grids: list[tuple[str, float, float, float]]
    one_offs: list[tuple[str, float, float]]


def cost_items(tl: Timeline, plan: StrategyPlan, inputs: ModelInputs) -> CostItems:
    """What one patient's timeline costs, by category, before any discounting."""
    p = inputs.prices
    end = tl.end
    d1, s = min(tl.detected_progression, end), tl.switch
    first_line_stop = min(s, d1)
    continue_cdk = plan.switch is not None and plan.switch.continue_cdk46
    s2 = min(tl.second_line_start, end)
    flows = [
        # first line: AI (+ CDK4/6i) until switch or detected progression; switch drug after.
        ("first_line_drugs", p.ai_per_day, 0.0, first_line_stop),
        ("first_line_drugs", p.cdk46_per_day, 0.0, d1 if continue_cdk else first_line_stop),
        # later lines from the start of second-line therapy (targeted until 2nd progression).
        ("later_line_drugs", p.later_lines_per_day, s2, end),
        ("disease_management", p.pf_management_per_day, 0.0, d1),
        ("disease_management", p.progressed_management_per_day, d1, end),
    ]
    if plan.switch is not None and s < d1:
        flows.append(("switch_drugs", plan.switch.cost_per_day, s, d1))
    if tl.targeted_second_line:
        t2 = min(max(tl.second_progression, s2), end)
        flows.append(("later_line_drugs", p.targeted_2l_per_day - p.later_lines_per_day, s2, t2))
    grids = [
        ("visits", p.visit, plan.visit_every, d1),
        ("imaging", p.imaging, plan.imaging_every, d1),
    ]
    one_offs = [(category, day, amount) for day, category, amount in tl.events if day <= end]
    if tl.died:
        one_offs.append(("terminal_care", end, p.terminal_care))
    return CostItems(flows, grids, one_offs)


def accrue(tl: Timeline, plan: StrategyPlan, inputs: ModelInputs, discounted: bool) -> dict:
    """Costs by category, QALYs and life-years of one timeline (discounted or not)."""
    rc = inputs.cost_rate if discounted else 0.0
    rq = inputs.qaly_rate if discounted else 0.0
    end = tl.end
    t1, s = min(tl.true_progression, end), tl.switch
    items = cost_items(tl, plan, inputs)
    costs = dict.fromkeys(COST_CATEGORIES, 0.0)
    for category, per_day, a, b in items.flows:
        costs[category] += flow(per_day, a, b, rc)
    for category, amount, every, until in items.grids:
        costs[category] += amount * grid_sum(every, until, rc)[1]
    for category, day, amount in items.one_offs:
        costs[category] += amount * math.exp(-rc * day)

    # utilities by state; the state changes at emergence, switch and true progression.
    u_pf = inputs.u_progression_free
    dec_switch = plan.switch.utility_decrement if plan.switch is not None else 0.0
    mol_start = min(tl.emergence, s, t1)
    switch_start = min(s, t1)
    qaly_days = (
        flow(u_pf, 0.0, mol_start, rq)
        + flow(u_pf + inputs.molecular_decrement, mol_start, switch_start, rq)
        + flow(u_pf + dec_switch, switch_start, t1, rq)
        + flow(inputs.u_progressed, t1, end, rq)
    )
    return {
        "costs": costs,
        "qalys": qaly_days / DAYS_PER_YEAR,
        "lys": flow(1.0, 0.0, end, rq) / DAYS_PER_YEAR,
    }


def annual_costs(tl: Timeline, plan: StrategyPlan, inputs: ModelInputs, years: int) -> dict:
    """Undiscounted costs by (year since start, category) for years 1..``years``.

    Year ``y`` covers days ``[(y-1)·365.25, y·365.25)``; a one-off cost on a boundary day
    falls in the later year. Summed over all years (and beyond) this equals the
    undiscounted totals of :func:`accrue`.
    """
    items = cost_items(tl, plan, inputs)
    out = {(y, c): 0.0 for y in range(1, years + 1) for c in COST_CATEGORIES}
    for y in range(1, years + 1):
        lo, hi = (y - 1) * DAYS_PER_YEAR, y * DAYS_PER_YEAR
        for category, per_day, a, b in items.flows:
            out[(y, category)] += flow(per_day, max(a, lo), min(b, hi), 0.0)
        for category, amount, every, until in items.grids:
            out[(y, category)] += amount * _grid_days_in(every, until, lo, hi)
        for category, day, amount in items.one_offs:
            if lo <= day < hi:
                out[(y, category)] += amount
    return out


def _grid_days_in(every: float, until: float, lo: float, hi: float) -> int:
    """How many of every, 2·every, … (≤ until) fall in [lo, hi); 1e-9 absorbs float error."""
    if math.isinf(every):
        return 0

    def up_to(x: float) -> int:  # grid days ≤ x
        return max(0, math.floor(x / every + 1e-9))

    def below(x: float) -> int:  # grid days < x
        return max(0, math.ceil(x / every - 1e-9) - 1)

    upper = up_to(until) if until < hi else below(hi)
    return max(0, upper - below(lo))
