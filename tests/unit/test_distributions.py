"""Unit tests of the pure math in hemodel.scenario.distributions (time-to-event laws via cumulative
hazard, hazard-ratio switching, PSA distributions) and hemodel.model.lifetable."""

from __future__ import annotations

import math
from importlib import resources

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from scipy import stats

from hemodel.model import lifetable
from hemodel.scenario import distributions as d
from hemodel.scenario import hazards as h
from hemodel.scenario.schema import TimeToEventSpec
from hemodel.scenario.units import DAYS_PER_YEAR

TIMES = np.array([0.5, 1.0, 7.0, 30.0, 100.0, 365.25, 1000.0, 3000.0])

# (law, the same law in scipy.stats); times in days.
LAWS_VS_SCIPY = [
    (h.Exponential(0.002), stats.expon(scale=1 / 0.002)),
    (h.Weibull(shape=1.5, scale=400.0), stats.weibull_min(1.5, scale=400.0)),
    (h.Weibull(shape=0.7, scale=250.0), stats.weibull_min(0.7, scale=250.0)),
    (h.LogLogistic(shape=2.5, scale=300.0), stats.fisk(2.5, scale=300.0)),
    (h.LogNormal(median=500.0, sdlog=0.8), stats.lognorm(0.8, scale=500.0)),
    # H(t) = (b/γ)(e^{γt} − 1) is scipy's gompertz with c = b/γ and scale = 1/γ.
    (h.Gompertz(b=0.001, gamma=0.002), stats.gompertz(0.001 / 0.002, scale=1 / 0.002)),
]
ALL_LAWS = [law for law, _ in LAWS_VS_SCIPY] + [
    h.Gompertz(b=0.001, gamma=0.0),
    h.Gompertz(b=0.003, gamma=-0.001),
    h.PiecewiseExponential(starts=(0.0, 100.0, 400.0), rates=(0.001, 0.004, 0.0005)),
]


def _id(law) -> str:
    return repr(law)


# --------------------------------------------------------------------------------------
# Time-to-event laws
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("law", "ref"), LAWS_VS_SCIPY, ids=[_id(x) for x, _ in LAWS_VS_SCIPY])
def test_cumhaz_is_minus_scipy_logsf(law, ref):
    """H(t) = −log S(t), with S from the matching scipy.stats distribution."""
    np.testing.assert_allclose(law.cumhaz(TIMES), -ref.logsf(TIMES), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(law.survival(TIMES), ref.sf(TIMES), rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("law", ALL_LAWS, ids=_id)
def test_inverse_cumhaz_round_trip(law):
    """H⁻¹(H(t)) = t for every law, and H(0) = 0. (Times where H(t) < 1e-9 are excluded
    here: see test_lognormal_inverse_cumhaz_small_budgets.)"""
    t = TIMES[law.cumhaz(TIMES) > 1e-9]
    assert len(t) >= 6
    np.testing.assert_allclose(law.inv_cumhaz(law.cumhaz(t)), t, rtol=1e-9)
    assert float(law.cumhaz(0.0)) == 0.0
    budgets = np.array([1e-4, 0.1, 0.5, 1.0, 2.0])
    finite = np.isfinite(law.inv_cumhaz(budgets))
    np.testing.assert_allclose(
        law.cumhaz(law.inv_cumhaz(budgets))[finite], budgets[finite], rtol=1e-9
    )


@pytest.mark.parametrize("law", [x for x in ALL_LAWS if not isinstance(x, h.LogNormal)], ids=_id)
def test_inverse_cumhaz_small_budgets(law):
    """Round trip H⁻¹(H(t)) = t to 1e-9 also where the cumulative hazard is tiny
    (t = 1e-3 … 1 day)."""
    t = np.array([1e-3, 0.01, 0.5, 1.0])
    np.testing.assert_allclose(law.inv_cumhaz(law.cumhaz(t)), t, rtol=1e-9)


def test_lognormal_inverse_cumhaz_small_budgets():
    """LogNormal(median 500 days, sdlog 0.8): H(0.5) ≈ 2.9e-18, H(1) ≈ 4.0e-15; the inverse
    must still return 0.5 and 1 (relative error ≤ 1e-9)."""
    law = h.LogNormal(median=500.0, sdlog=0.8)
    t = np.array([0.5, 1.0, 7.0])
    np.testing.assert_allclose(law.inv_cumhaz(law.cumhaz(t)), t, rtol=1e-9)


def test_sample_is_inverse_cumhaz():
    """sample(E) = H⁻¹(E): the event happens when the cumulative hazard reaches E."""
    law = h.Weibull(2.0, 100.0)
    e = np.array([0.01, 1.0, 4.0])
    np.testing.assert_array_equal(law.sample(e), law.inv_cumhaz(e))
    np.testing.assert_allclose(law.sample(e), 100.0 * np.sqrt(e))


def test_never():
    """Never: zero cumulative hazard, survival 1, infinite event time."""
    law = h.Never()
    np.testing.assert_array_equal(law.cumhaz(TIMES), 0.0)
    np.testing.assert_array_equal(law.survival(TIMES), 1.0)
    assert np.isinf(law.inv_cumhaz(np.array([0.1, 5.0]))).all()


def test_gompertz_special_cases():
    """γ = 0 is exponential with rate b; γ < 0 has a cure fraction: the total hazard is b/|γ|,
    so budgets above it never happen and S(∞) = e^{−b/|γ|}."""
    np.testing.assert_allclose(h.Gompertz(0.01, 0.0).cumhaz(TIMES), 0.01 * TIMES)
    cure = h.Gompertz(b=0.003, gamma=-0.001)  # total hazard 3
    assert float(cure.cumhaz(1e7)) == pytest.approx(3.0)
    assert math.isinf(float(cure.inv_cumhaz(3.5)))
    assert float(cure.inv_cumhaz(1.0)) == pytest.approx(-math.log(1 - 1.0 / 3.0) / 0.001)


def test_piecewise_exponential_hand_values():
    """Rates 0.001/day on [0,100), 0.004 on [100,400), 0.0005 after:
    H(50) = 0.05; H(100) = 0.1; H(250) = 0.1 + 0.6 = 0.7; H(400) = 1.3; H(600) = 1.4;
    H⁻¹(0.7) = 250; H⁻¹(1.4) = 600."""
    law = ALL_LAWS[-1]
    np.testing.assert_allclose(
        law.cumhaz(np.array([0.0, 50.0, 100.0, 250.0, 400.0, 600.0])),
        [0.0, 0.05, 0.1, 0.7, 1.3, 1.4],
    )
    np.testing.assert_allclose(law.inv_cumhaz(np.array([0.05, 0.7, 1.4])), [50.0, 250.0, 600.0])
    zero_tail = h.PiecewiseExponential((0.0, 10.0), (0.1, 0.0))  # total hazard 1
    assert math.isinf(float(zero_tail.inv_cumhaz(1.5)))


SPECS = [
    {"distribution": "exponential", "median": "10 months"},
    {"distribution": "weibull", "median": "10 months", "shape": 1.7},
    {"distribution": "weibull", "median": "2 years", "shape": 0.6},
    {"distribution": "loglogistic", "median": "10 months", "shape": 2.2},
    {"distribution": "lognormal", "median": "40 weeks", "sdlog": 0.9},
    {"distribution": "gompertz", "median": "10 months", "gamma_per_year": 0.8},
    {"distribution": "gompertz", "median": "10 months", "gamma_per_year": -0.3},
    {"distribution": "gompertz", "median": "10 months", "gamma_per_year": 0},
]
_UNIT_DAYS = {"weeks": 7.0, "months": DAYS_PER_YEAR / 12, "years": DAYS_PER_YEAR}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s['distribution']}-{s['median']}")
def test_schema_median_is_the_median(spec):
    """A law specified by its median m has S(m) = 1/2 and H⁻¹(ln 2) = m (m in days)."""
    law = TypeAdapter(TimeToEventSpec).validate_python(spec).law()
    value, unit = spec["median"].split()
    m = float(value) * _UNIT_DAYS[unit]
    assert float(law.survival(m)) == pytest.approx(0.5, rel=1e-12)
    assert float(law.inv_cumhaz(math.log(2))) == pytest.approx(m, rel=1e-12)


def test_schema_piecewise_rates_per_year():
    """Piecewise rates per year become per day; starts convert from the given unit."""
    spec = {
        "distribution": "piecewise_exponential",
        "unit": "months",
        "starts": [0, 12],
        "rates_per_year": [0.5, 1.0],
    }
    law = TypeAdapter(TimeToEventSpec).validate_python(spec).law()
    year = DAYS_PER_YEAR
    assert float(law.cumhaz(year)) == pytest.approx(0.5)
    assert float(law.cumhaz(3 * year)) == pytest.approx(0.5 + 2.0)


# --------------------------------------------------------------------------------------
# time_with_hazard_ratio
# --------------------------------------------------------------------------------------
def test_hazard_ratio_exponential_hand_values():
    """Exponential rate λ = 0.01/day, budget E = 2, switch at s = 50 with HR h = 0.5:
    λs = 0.5 < E, so t = s + (E − λs)/(hλ) = 50 + 1.5/0.005 = 350 (vs 200 without switch).
    A switch after the event (s = 300: λs = 3 ≥ E) leaves t = E/λ = 200."""
    law = h.Exponential(0.01)
    assert h.time_with_hazard_ratio(law, 2.0, 50.0, 0.5) == pytest.approx(350.0)
    assert h.time_with_hazard_ratio(law, 2.0, 300.0, 0.5) == pytest.approx(200.0)
    assert h.time_with_hazard_ratio(law, 2.0, 200.0, 0.5) == pytest.approx(200.0)
    # HR > 1 brings the event forward: 50 + 1.5/(2·0.01) = 125.
    assert h.time_with_hazard_ratio(law, 2.0, 50.0, 2.0) == pytest.approx(125.0)
    # a switch at (or before) time 0 scales the whole hazard: E/(hλ) = 400.
    assert h.time_with_hazard_ratio(law, 2.0, 0.0, 0.5) == pytest.approx(400.0)
    assert h.time_with_hazard_ratio(law, 2.0, -30.0, 0.5) == pytest.approx(400.0)
    # HR = 0 after the switch: the event never happens if the budget was not spent.
    assert h.time_with_hazard_ratio(law, 2.0, 50.0, 0.0) == math.inf


@pytest.mark.parametrize("law", ALL_LAWS, ids=_id)
def test_hazard_ratio_one_or_never_switching_is_plain_inverse(law):
    """HR = 1 or switch = ∞ gives H⁻¹(E); otherwise H(s) + HR·(H(t) − H(s)) = E."""
    for e in (0.05, 0.7, 2.0):
        plain = float(law.inv_cumhaz(e))
        assert h.time_with_hazard_ratio(law, e, math.inf, 0.5) == plain
        assert h.time_with_hazard_ratio(law, e, 120.0, 1.0) == plain
        t = h.time_with_hazard_ratio(law, e, 30.0, 0.6)
        h_s = float(law.cumhaz(30.0))
        if math.isfinite(t) and h_s < e:
            assert h_s + 0.6 * (float(law.cumhaz(t)) - h_s) == pytest.approx(e, rel=1e-9)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # H⁻¹ = inf
@settings(max_examples=200, deadline=None)
@given(
    budget=st.floats(1e-4, 20.0),
    s1=st.floats(0.0, 5000.0),
    s2=st.floats(0.0, 5000.0),
    hr=st.floats(0.01, 1.0),
    law=st.sampled_from(ALL_LAWS),
)
def test_switching_earlier_never_gives_earlier_event(budget, s1, s2, hr, law):
    """With HR ≤ 1, the event time is non-increasing in the switch time: switching earlier
    never makes the event happen earlier (per patient, same budget). It also never precedes
    the event time without any switch."""
    early, late = min(s1, s2), max(s1, s2)
    t_early = h.time_with_hazard_ratio(law, budget, early, hr)
    t_late = h.time_with_hazard_ratio(law, budget, late, hr)
    t_never = h.time_with_hazard_ratio(law, budget, math.inf, hr)
    assert t_early >= t_late * (1 - 1e-12)
    assert t_late >= t_never * (1 - 1e-12)


# --------------------------------------------------------------------------------------
# PSA distributions
# --------------------------------------------------------------------------------------
def test_beta_from_mean_sd_reproduces_moments():
    """Beta by method of moments: mean 0.3, sd 0.05 → α + β = 0.3·0.7/0.05² − 1 = 83,
    α = 0.3·83 = 24.9, β = 0.7·83 = 58.1."""
    b = d.BetaDist.model_validate({"dist": "beta", "mean": 0.3, "sd": 0.05})
    f = b.frozen()
    assert f.mean() == pytest.approx(0.3, rel=1e-12)
    assert f.std() == pytest.approx(0.05, rel=1e-12)
    assert f.args == pytest.approx((24.9, 58.1), rel=1e-12)
    with pytest.raises(ValueError):
        d.BetaDist.model_validate({"dist": "beta", "mean": 0.5, "sd": 0.5})


def test_gamma_from_mean_sd_reproduces_moments():
    """Gamma by moments: mean 1000, sd 250 → shape 16, scale 62.5."""
    g = d.GammaDist.model_validate({"dist": "gamma", "mean": 1000, "sd": 250}).frozen()
    assert g.mean() == pytest.approx(1000)
    assert g.std() == pytest.approx(250)


def test_lognormal_from_ci_reproduces_percentiles():
    """A 95% CI [0.3, 0.6] gives median √(0.18) and 2.5/97.5 percentiles exactly 0.3, 0.6;
    an explicit median keeps the log-scale sd (ln 0.6 − ln 0.3)/(2·1.96)."""
    ln = d.LogNormalDist.model_validate({"dist": "lognormal", "ci": [0.3, 0.6]})
    lo, hi = ln.interval(0.95)
    assert (lo, hi) == pytest.approx((0.3, 0.6), rel=1e-12)
    assert ln.ppf(0.5) == pytest.approx(math.sqrt(0.18), rel=1e-12)
    with_median = d.LogNormalDist.model_validate(
        {"dist": "lognormal", "ci": [0.3, 0.6], "median": 0.44}
    )
    mu, sd = with_median.log_params()
    assert mu == pytest.approx(math.log(0.44))
    assert sd == pytest.approx(math.log(2) / (2 * stats.norm.ppf(0.975)))


@pytest.mark.parametrize(
    "spec",
    [
        {"dist": "beta", "mean": 0.3, "sd": 0.05},
        {"dist": "beta", "alpha": 0.5, "beta": 0.5},
        {"dist": "gamma", "mean": 1000, "sd": 250},
        {"dist": "gamma", "shape": 0.8, "scale": 3},
        {"dist": "lognormal", "ci": [0.3, 0.6]},
        {"dist": "normal", "mean": -1, "sd": 2},
        {"dist": "uniform", "low": 0.1, "high": 0.3},
        {"dist": "triangular", "low": -2, "mode": 0.5, "high": 7.25},
    ],
    ids=lambda spec: spec["dist"],
)
def test_closed_form_support_is_scipys(spec):
    """Scenario checking uses each distribution's support in closed form (no SciPy import):
    it must be the interval SciPy gives, up to the rounding of loc + scale."""
    law = TypeAdapter(d.PSADistribution).validate_python(spec)
    np.testing.assert_allclose(law.support(), law.frozen().support(), rtol=1e-15, atol=0)


def test_z975_is_the_normal_quantile():
    assert float(stats.norm.ppf(0.975)) == d.Z975


def test_psa_ppf_matches_scipy():
    """ppf at uniforms is scipy's inverse CDF (uniform, triangular, normal)."""
    u = np.array([0.025, 0.5, 0.975])
    uni = d.UniformDist.model_validate({"dist": "uniform", "low": 2, "high": 6})
    np.testing.assert_allclose(uni.ppf(u), [2.1, 4.0, 5.9])
    tri = d.TriangularDist.model_validate({"dist": "triangular", "low": 0, "mode": 1, "high": 1})
    np.testing.assert_allclose(tri.ppf(u), np.sqrt(u))  # CDF x² on [0, 1]
    nor = d.NormalDist.model_validate({"dist": "normal", "mean": 1, "sd": 2})
    np.testing.assert_allclose(nor.ppf(u), 1 + 2 * stats.norm.ppf(u))


# --------------------------------------------------------------------------------------
# Life table
# --------------------------------------------------------------------------------------
def _qx(name: str) -> np.ndarray:
    text = (resources.files("hemodel") / "data" / f"{name}.csv").read_text()
    rows = [ln.split(",") for ln in text.splitlines() if ln and not ln.startswith(("#", "age"))]
    return np.array([float(q) for _, q in rows])


TABLE = "us_female_2018"


@pytest.mark.parametrize("age", [0, 30, 60, 85, 118])
def test_life_table_one_year_budget_is_exactly_one_year(age):
    """From an integer age a, a budget equal to that year's cumulative hazard −ln(1 − q_a)
    is spent exactly at age a + 1: 365.25 days."""
    h = lifetable.annual_hazards(TABLE)
    t = lifetable.sample_death_times(TABLE, np.array([float(age)]), np.array([h[age]]))
    assert t[0] == pytest.approx(DAYS_PER_YEAR, rel=1e-12)


def _table_law(age: float) -> h.PiecewiseExponential:
    """Reference law built here from qx: constant hazard -ln(1 - qx) within each year of age."""
    qx = _qx(TABLE)
    a0 = int(math.floor(age))
    starts = [0.0] + [(a - age) * DAYS_PER_YEAR for a in range(a0 + 1, 120)]
    rates = [-math.log1p(-q) / DAYS_PER_YEAR for q in qx[a0:120]]
    return h.PiecewiseExponential(tuple(starts), tuple(rates))


@pytest.mark.parametrize("age", [0, 30, 60, 85, 118])
def test_life_table_one_year_survival_is_one_minus_qx(age):
    """exp(−annual hazard) = 1 − q_x; from age x + 0.5, a budget of half the year's hazard
    is spent in exactly half a year."""
    qx = _qx(TABLE)
    h = lifetable.annual_hazards(TABLE)
    assert math.exp(-h[age]) == pytest.approx(1 - qx[age], rel=1e-12)
    t = lifetable.sample_death_times(TABLE, np.array([age + 0.5]), np.array([h[age] / 2]))
    assert t[0] == pytest.approx(DAYS_PER_YEAR / 2, rel=1e-12)


def test_life_table_sampler_matches_piecewise_law():
    """The vectorised sampler inverts the life table's piecewise-constant cumulative hazard
    (reference built independently from qx), and nobody outlives age 120."""
    rng = np.random.default_rng(7)
    ages = rng.uniform(40, 95, size=50)
    budgets = rng.exponential(size=50)
    got = lifetable.sample_death_times(TABLE, ages, budgets)
    want = [float(_table_law(a).inv_cumhaz(e)) for a, e in zip(ages, budgets, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-9)
    huge = lifetable.sample_death_times(TABLE, np.array([100.0]), np.array([1e6]))
    assert huge[0] == pytest.approx(20 * DAYS_PER_YEAR)
