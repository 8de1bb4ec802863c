"""Unit tests of hemodel.model.economics: continuous discounting (discount_factor, flow, grid_sum)
and per-patient accrual of costs by category, QALYs and life-years (accrue) on hand-built
timelines, with the hand computation written out."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import integrate

from hemodel.model.economics import (
    Timeline,
    accrue,
    discount_factor,
    flow,
    grid_sum,
)
from hemodel.model.inputs import build_inputs, continuous_rate_per_day
from hemodel.model.outcomes import COST_CATEGORIES
from hemodel.scenario.load import scenario_from_dict
from hemodel.scenario.units import DAYS_PER_YEAR

INF = math.inf
R = math.log(1.035) / DAYS_PER_YEAR  # 3.5% a year, continuous, per day


# --------------------------------------------------------------------------------------
# discount_factor, flow, grid_sum
# --------------------------------------------------------------------------------------
def test_continuous_rate_per_day():
    """An annual rate d is the continuous daily rate ln(1 + d)/365.25: one year discounts
    by exactly 1/(1 + d)."""
    r = continuous_rate_per_day(0.035)
    assert r == pytest.approx(R, rel=1e-15)
    assert discount_factor(DAYS_PER_YEAR, r) == pytest.approx(1 / 1.035, rel=1e-14)


def test_discount_factor():
    """exp(−r t): 1 at t = 0; 1/(1.035)^10 after ten years; 1 at any t when r = 0."""
    assert discount_factor(0.0, R) == 1.0
    assert discount_factor(10 * DAYS_PER_YEAR, R) == pytest.approx(1.035**-10, rel=1e-12)
    assert discount_factor(1234.5, 0.0) == 1.0


@pytest.mark.parametrize(
    ("per_day", "start", "end", "rate"),
    [(3.0, 0.0, 365.25, R), (10.0, 100.0, 900.0, R), (1.0, 5.0, 6.0, 0.01), (7.5, 0.0, 1e4, R)],
)
def test_flow_matches_numerical_integration(per_day, start, end, rate):
    """flow = ∫_start^end c·e^{−r t} dt, checked by adaptive quadrature."""
    want, _ = integrate.quad(lambda t: per_day * math.exp(-rate * t), start, end, epsabs=0)
    assert flow(per_day, start, end, rate) == pytest.approx(want, rel=1e-10)


def test_flow_hand_values():
    """r = 0: rate × length; empty or reversed interval: 0; zero rate of cost: 0; one year at
    r = ln(1.035) per year: c·365.25·(1 − 1/1.035)/ln(1.035); infinite end: c·e^{−r a}/r."""
    assert flow(12.0, 10.0, 40.0, 0.0) == 360.0
    assert flow(12.0, 40.0, 40.0, R) == 0.0
    assert flow(12.0, 50.0, 40.0, R) == 0.0
    assert flow(0.0, 0.0, 40.0, R) == 0.0
    one_year = 2.0 * DAYS_PER_YEAR * (1 - 1 / 1.035) / math.log(1.035)
    assert flow(2.0, 0.0, DAYS_PER_YEAR, R) == pytest.approx(one_year, rel=1e-13)
    assert flow(2.0, 30.0, INF, R) == pytest.approx(2.0 * math.exp(-R * 30) / R, rel=1e-13)
    # additivity over adjacent intervals
    assert flow(2.0, 0.0, 50.0, R) + flow(2.0, 50.0, 80.0, R) == pytest.approx(
        flow(2.0, 0.0, 80.0, R), rel=1e-13
    )


@pytest.mark.parametrize(
    ("every", "until", "rate"),
    [(28.0, 365.0, R), (84.0, 84.0, R), (7.0, 6.99, R), (28.0, 1000.0, 0.0), (1.0, 3650.5, R),
     (84.0, 336.0, 0.001)],
)  # fmt: skip
def test_grid_sum_matches_explicit_sum(every, until, rate):
    """grid_sum = (n, Σ_{k=1..n} e^{−r k·every}) with n = ⌊until/every⌋ (a point exactly at
    ``until`` counts)."""
    ks = [k for k in range(1, 10_000) if k * every <= until + 1e-9]
    n, pv = grid_sum(every, until, rate)
    assert n == len(ks)
    assert pv == pytest.approx(math.fsum(math.exp(-rate * k * every) for k in ks), rel=1e-12)


def test_grid_sum_edges():
    """No event before the first grid point; an infinite interval never fires; a grid point
    missed only by float error (until = 84·(1 − 1e-15) with every = 28) still counts; r = 0
    gives the count."""
    assert grid_sum(28.0, 27.9, R) == (0, 0.0)
    assert grid_sum(INF, 1e6, R) == (0, 0.0)
    assert grid_sum(28.0, 84.0 * (1 - 1e-15), R)[0] == 3
    assert grid_sum(28.0, 100.0, 0.0) == (3, 3.0)


# --------------------------------------------------------------------------------------
# accrue on hand-built timelines
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def setup(tiny):
    """Round-number inputs: prices per day AI 1, CDK4/6i 100, PF management 10, progressed
    management 50, later lines 200, targeted 2L 400; visit 100, imaging 500, venipuncture 5,
    phlebotomy visit 20, terminal care 10 000; switch drug 300/day with utility decrement
    −0.1; utilities PF 0.8, progressed 0.5, molecular decrement −0.05; visits every 28 days,
    scans every 84; costs discounted at 3.5%/year, QALYs at 1.5%/year (continuous)."""
    inputs = build_inputs(scenario_from_dict(tiny()))
    prices = dataclasses.replace(
        inputs.prices,
        ai_per_day=1.0,
        cdk46_per_day=100.0,
        pf_management_per_day=10.0,
        progressed_management_per_day=50.0,
        later_lines_per_day=200.0,
        targeted_2l_per_day=400.0,
        visit=100.0,
        imaging=500.0,
        venipuncture=5.0,
        phlebotomy_visit=20.0,
        terminal_care=10_000.0,
    )
    inputs = dataclasses.replace(
        inputs,
        prices=prices,
        cost_rate=math.log(1.035) / DAYS_PER_YEAR,
        qaly_rate=math.log(1.015) / DAYS_PER_YEAR,
        u_progression_free=0.8,
        u_progressed=0.5,
        molecular_decrement=-0.05,
    )
    plans = {p.name: p for p in inputs.strategies}
    monitored = plans["blood_test_q12w"]
    switch = dataclasses.replace(
        monitored.switch, cost_per_day=300.0, utility_decrement=-0.1, continue_cdk46=True
    )
    monitored = dataclasses.replace(monitored, visit_every=28.0, imaging_every=84.0, switch=switch)
    imaging = dataclasses.replace(plans["imaging_only"], visit_every=28.0, imaging_every=84.0)
    assert imaging.switch is None
    return inputs, monitored, imaging


def _check(result: dict, costs: dict, qaly_days: float, ly_days: float) -> None:
    expected = dict.fromkeys(COST_CATEGORIES, 0.0) | costs
    assert set(result["costs"]) == set(COST_CATEGORIES)
    for cat in COST_CATEGORIES:
        assert result["costs"][cat] == pytest.approx(expected[cat], rel=1e-9, abs=1e-9), cat
    assert result["qalys"] == pytest.approx(qaly_days / DAYS_PER_YEAR, rel=1e-12)
    assert result["lys"] == pytest.approx(ly_days / DAYS_PER_YEAR, rel=1e-12)


# Case A: switched after a true positive, progresses later, dies at day 400.
TL_SWITCH = Timeline(
    end=400.0,
    died=True,
    emergence=60.0,
    switch=112.0,
    true_progression=300.0,
    detected_progression=336.0,
    second_line_start=336.0,
    targeted_second_line=False,
    second_progression=380.0,
    events=[
        (0.0, "testing", 1000.0),
        (0.0, "phlebotomy", 5.0),
        (84.0, "testing", 1000.0),
        (84.0, "phlebotomy", 5.0),
        (401.0, "testing", 1000.0),  # after death: ignored
    ],
)


def test_accrue_switch_timeline_undiscounted(setup):
    """Hand computation (undiscounted), timeline A: emergence 60, switch 112, true progression
    300, detected 336 (4th scan), death 400; the CDK4/6i continues after the switch.

    first-line drugs: AI 1/day × 112 (until switch) + CDK 100/day × 336 (until detection)
                      = 112 + 33 600 = 33 712
    switch drugs:     300/day × (336 − 112) = 67 200
    later lines:      200/day × (400 − 336) = 12 800
    management:       10/day × 336 + 50/day × (400 − 336) = 3 360 + 3 200 = 6 560
    visits:           days 28, 56, …, 336 → 12 × 100 = 1 200
    imaging:          days 84, 168, 252, 336 → 4 × 500 = 2 000
    testing:          2 × 1 000 = 2 000 (the event at day 401 is after death)
    phlebotomy:       2 × 5 = 10
    terminal care:    10 000
    QALY-days:        0.8 × 60 + (0.8 − 0.05) × (112 − 60) + (0.8 − 0.1) × (300 − 112)
                      + 0.5 × (400 − 300) = 48 + 39 + 131.6 + 50 = 268.6
    LY-days:          400
    """
    inputs, plan, _ = setup
    got = accrue(TL_SWITCH, plan, inputs, discounted=False)
    costs = {
        "first_line_drugs": 33_712.0,
        "switch_drugs": 67_200.0,
        "later_line_drugs": 12_800.0,
        "disease_management": 6_560.0,
        "visits": 1_200.0,
        "imaging": 2_000.0,
        "testing": 2_000.0,
        "phlebotomy": 10.0,
        "terminal_care": 10_000.0,
    }
    _check(got, costs, 268.6, 400.0)


def test_accrue_switch_timeline_discounted(setup):
    """Timeline A discounted: every flow is ∫ c·e^{−r_c t} dt over its interval (by quadrature),
    every one-off c·e^{−r_c t}; QALYs ∫ u(t)·e^{−r_q t} dt/365.25 with the utilities of the
    undiscounted test; QALYs and costs use their own rates (r_c = ln 1.035, r_q = ln 1.015
    per year)."""
    inputs, plan, _ = setup
    rc, rq = inputs.cost_rate, inputs.qaly_rate

    def q(c, a, b, r=rc):
        return c * integrate.quad(lambda t: math.exp(-r * t), a, b, epsabs=0)[0]

    def at(c, t):
        return c * math.exp(-rc * t)

    costs = {
        "first_line_drugs": q(1, 0, 112) + q(100, 0, 336),
        "switch_drugs": q(300, 112, 336),
        "later_line_drugs": q(200, 336, 400),
        "disease_management": q(10, 0, 336) + q(50, 336, 400),
        "visits": sum(at(100, 28 * k) for k in range(1, 13)),
        "imaging": sum(at(500, 84 * k) for k in range(1, 5)),
        "testing": at(1000, 0) + at(1000, 84),
        "phlebotomy": at(5, 0) + at(5, 84),
        "terminal_care": at(10_000, 400),
    }
    qaly_days = (
        q(0.8, 0, 60, rq) + q(0.75, 60, 112, rq) + q(0.7, 112, 300, rq) + q(0.5, 300, 400, rq)
    )
    got = accrue(TL_SWITCH, plan, inputs, discounted=True)
    _check(got, costs, qaly_days, q(1, 0, 400, rq))


def test_accrue_death_before_detection_no_switch_plan(setup):
    """Imaging-only plan (no switch); never emerges; true progression at 150, would be seen
    at the scan of day 168, but dies at day 160:

    first-line drugs: (1 + 100)/day × 160 = 16 160 (both stop at death; no switch therapy)
    management:       10/day × 160 (never detected, so no progressed management)
    later lines:      0 (second line never starts)
    visits:           days 28 … 140 → 5 × 100 = 500;  imaging: day 84 → 500
    terminal care:    10 000
    QALY-days:        0.8 × 150 + 0.5 × 10 = 125 (utility follows *true* progression)
    """
    inputs, _, plan = setup
    tl = Timeline(
        end=160.0,
        died=True,
        emergence=INF,
        switch=INF,
        true_progression=150.0,
        detected_progression=168.0,
        second_line_start=INF,
        targeted_second_line=False,
        second_progression=INF,
        events=[],
    )
    costs = {
        "first_line_drugs": 16_160.0,
        "disease_management": 1_600.0,
        "visits": 500.0,
        "imaging": 500.0,
        "terminal_care": 10_000.0,
    }
    _check(accrue(tl, plan, inputs, discounted=False), costs, 125.0, 160.0)


def test_accrue_targeted_second_line_alive_at_horizon(setup):
    """Monitored plan but no switch (mutation present at start, never switched), CDK4/6i not
    continued after a switch (irrelevant here), ESR1 test at detected progression (day 252),
    result and targeted 2L from day 259, second progression 450, alive at the 500-day horizon:

    first-line drugs: (1 + 100)/day × 252 = 25 452
    later lines:      200/day × (500 − 259) + (400 − 200)/day × (450 − 259)
                      = 48 200 + 38 200 = 86 400 (targeted replaces later lines until 2nd prog.)
    management:       10 × 252 + 50 × (500 − 252) = 2 520 + 12 400 = 14 920
    visits:           28 … 252 → 9 × 100 = 900;  imaging: 84, 168, 252 → 1 500
    testing 1 000, phlebotomy 5 (the test at progression); no terminal care (alive)
    QALY-days:        mutation from day 0, no switch: 0.75 × 200 + 0.5 × (500 − 200) = 300
    """
    inputs, plan, _ = setup
    plan = dataclasses.replace(plan, switch=dataclasses.replace(plan.switch, continue_cdk46=False))
    tl = Timeline(
        end=500.0,
        died=False,
        emergence=0.0,
        switch=INF,
        true_progression=200.0,
        detected_progression=252.0,
        second_line_start=259.0,
        targeted_second_line=True,
        second_progression=450.0,
        events=[(252.0, "testing", 1000.0), (252.0, "phlebotomy", 5.0)],
    )
    costs = {
        "first_line_drugs": 25_452.0,
        "later_line_drugs": 86_400.0,
        "disease_management": 14_920.0,
        "visits": 900.0,
        "imaging": 1_500.0,
        "testing": 1_000.0,
        "phlebotomy": 5.0,
    }
    _check(accrue(tl, plan, inputs, discounted=False), costs, 300.0, 500.0)


def test_accrue_switch_stops_cdk_when_not_continued(setup):
    """Timeline A with continue_cdk46 = False: the CDK4/6i stops at the switch (day 112), so
    first-line drugs are (1 + 100) × 112 = 11 312; everything else as in timeline A."""
    inputs, plan, _ = setup
    plan = dataclasses.replace(plan, switch=dataclasses.replace(plan.switch, continue_cdk46=False))
    got = accrue(TL_SWITCH, plan, inputs, discounted=False)
    assert got["costs"]["first_line_drugs"] == pytest.approx(11_312.0)
    assert got["costs"]["switch_drugs"] == pytest.approx(67_200.0)


def test_accrue_zero_rates_equal_undiscounted(setup):
    """With both discount rates 0, the discounted accrual equals the undiscounted one."""
    inputs, plan, _ = setup
    flat = dataclasses.replace(inputs, cost_rate=0.0, qaly_rate=0.0)
    a = accrue(TL_SWITCH, plan, flat, discounted=True)
    b = accrue(TL_SWITCH, plan, inputs, discounted=False)
    assert a["costs"] == b["costs"]
    assert (a["qalys"], a["lys"]) == (b["qalys"], b["lys"])
    assert np.isfinite(list(a["costs"].values())).all()
