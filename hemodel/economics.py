"""Discounting and accrual of costs and QALYs: pure functions of a patient's timeline.

Discounting is continuous: a cost ``c`` at day ``t`` is worth ``c·exp(-r·t)`` with
``r = ln(1 + annual rate) / 365.25`` per day, and a flow of ``c`` per day over ``[a, b)`` is
worth ``c·(exp(-r·a) - exp(-r·b)) / r``. Time origin: the patient's start of first-line
therapy. QALYs and life-years are in years; costs in the scenario currency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .model import ModelInputs, StrategyPlan
from .units import DAYS_PER_YEAR

#: Cost categories reported per patient (columns ``cost_<category>``).
COST_CATEGORIES = (
    "testing",
    "phlebotomy",
    "visits",
    "imaging",
    "first_line_drugs",
    "switch_drugs",
    "later_line_drugs",
    "disease_management",
    "terminal_care",
)


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


def accrue(tl: Timeline, plan: StrategyPlan, inputs: ModelInputs, discounted: bool) -> dict:
    """Costs by category, QALYs and life-years of one timeline (discounted or not)."""
    rc = inputs.cost_rate if discounted else 0.0
    rq = inputs.qaly_rate if discounted else 0.0
    p = inputs.prices
    end = tl.end
    t1, d1, s = min(tl.true_progression, end), min(tl.detected_progression, end), tl.switch
    costs = dict.fromkeys(COST_CATEGORIES, 0.0)

    # first line: AI (+ CDK4/6i) until switch or detected progression; switch drug after.
    first_line_stop = min(s, d1)
    costs["first_line_drugs"] = flow(p.ai_per_day, 0.0, first_line_stop, rc)
    continue_cdk = plan.switch is not None and plan.switch.continue_cdk46
    cdk_stop = d1 if continue_cdk else first_line_stop
    costs["first_line_drugs"] += flow(p.cdk46_per_day, 0.0, cdk_stop, rc)
    if plan.switch is not None and s < d1:
        costs["switch_drugs"] = flow(plan.switch.cost_per_day, s, d1, rc)

    # later lines from the start of second-line therapy; targeted therapy until 2nd progression.
    s2 = min(tl.second_line_start, end)
    later = flow(p.later_lines_per_day, s2, end, rc)
    if tl.targeted_second_line:
        t2 = min(max(tl.second_progression, s2), end)
        later += flow(p.targeted_2l_per_day - p.later_lines_per_day, s2, t2, rc)
    costs["later_line_drugs"] = later

    costs["disease_management"] = flow(p.pf_management_per_day, 0.0, d1, rc) + flow(
        p.progressed_management_per_day, d1, end, rc
    )
    costs["visits"] = p.visit * grid_sum(plan.visit_every, d1, rc)[1]
    costs["imaging"] = p.imaging * grid_sum(plan.imaging_every, d1, rc)[1]
    for day, category, amount in tl.events:
        if day <= end:
            costs[category] += amount * math.exp(-rc * day)
    if tl.died:
        costs["terminal_care"] = p.terminal_care * math.exp(-rc * end)

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
