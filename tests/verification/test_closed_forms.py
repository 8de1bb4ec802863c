"""Statistical verification against closed forms (DESIGN.md §8, "Statistical").

Each test builds a scenario from ``scenarios/tiny.yaml`` in which only exponential (or
Weibull) clocks are active, simulates it with a fixed seed, and compares the per-patient
sample mean with the closed-form expectation within **4 Monte Carlo standard errors**
(SE = sample sd / sqrt(n) of the simulated per-patient values; never a fixed percentage).

Units: rates in the closed forms are per year; the engine works in days (a year is 365.25
days). A constant hazard ``μ`` per year is given to the model as an exponential law with
median ``ln 2 / μ`` years, and an annual discount rate ``d`` is the continuous rate
``r = ln(1 + d)`` per year.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from hemodel.run.simulation import simulate
from hemodel.scenario.load import scenario_from_dict
from hemodel.scenario.units import DAYS_PER_YEAR

NEVER = {"distribution": "never"}


def exponential(rate_per_year: float) -> dict:
    """Exponential law with hazard ``rate_per_year``, written by its median (ln 2 / rate)."""
    return {
        "distribution": "exponential",
        "median": {"value": math.log(2) / rate_per_year, "unit": "years"},
    }


def only(data: dict, strategy: str, **changes) -> dict:
    """Keep only ``strategy`` (made the reference), with top-level field changes."""
    data["strategies"] = {strategy: {**data["strategies"].get(strategy, {}), **changes}}
    data["reference"] = strategy
    return data


def quiet_biology(data: dict, death_rate_per_year: float) -> dict:
    """Nothing happens but background death at a constant rate (which may be 0)."""
    nh = data["natural_history"]
    nh["esr1_at_start"] = 0
    nh["esr1_emergence"]["probability"] = 0
    nh["esr1_progression"] = NEVER
    nh["other_progression"] = NEVER
    data["cohort"]["background_mortality"] = {"constant_rate_per_year": death_rate_per_year}
    return data


def run(data: dict, patients: int, seed: int):
    """Per-patient table of a single-strategy scenario."""
    res = simulate(scenario_from_dict(data), patients=patients, seed=seed, progress=False)
    assert res.patients["strategy"].nunique() == 1
    return res.patients


def assert_mc(values, expected: float, label: str) -> None:
    """Sample mean within 4 Monte Carlo standard errors of ``expected`` (prints both)."""
    x = np.asarray(values, dtype=float)
    assert not np.isnan(x).any(), f"{label}: NaN in simulated values"
    n = len(x)
    mean = float(x.mean())
    se = float(x.std(ddof=1) / math.sqrt(n))
    z = (mean - expected) / se if se > 0 else math.copysign(math.inf, mean - expected)
    print(f"{label}: closed form {expected:.6g}, simulated {mean:.6g} ± {se:.3g} (z = {z:+.2f})")
    # A zero SE (constant column) demands agreement to rounding error.
    tol = 4 * se if se > 0 else 1e-9 * max(1.0, abs(expected))
    assert abs(mean - expected) <= tol, (
        f"{label}: simulated mean {mean:.6g} differs from closed form {expected:.6g} by "
        f"{mean - expected:.3g} (> 4 SE = {4 * se:.3g}, n = {n})"
    )


# --------------------------------------------------------------------------------------
# 1. Single exponential death
# --------------------------------------------------------------------------------------
def test_single_exponential_death_life_years_and_costs(tiny):
    """Only background death, constant hazard μ = 0.1/year (no progression, no emergence,
    horizon 100 years, the longest allowed, so P(censoring) = e^-10 ≈ 5e-5, far below the
    Monte Carlo tolerance). With T ~ Exp(μ):

    - discounted LY  = E[∫_0^T e^{-rt} dt] = 1/(μ + r),  r = ln(1.03) (QALY rate);
    - undiscounted LY = E[T] = 1/μ;
    - QALYs with utility 0.8 = 0.8/(μ + r);
    - a flow cost c per day (AI + CDK4/6i + progression-free management, all paid until
      death since progression never happens) = c · 365.25/(μ + r_c),  r_c = ln(1.4) (a
      deliberately high cost rate, so that using the annual rate 0.4 instead of ln 1.4 or
      discounting in whole years would be detected: the closed forms differ by > 10%);
    - visits every Δ = 28 days (at Δ, 2Δ, … while alive), cost v each:
      v · Σ_{k≥1} e^{-(μ+r_c)kΔ} = v · q/(1 − q),  q = e^{-(μ+r_c)Δ};
    - terminal care K at death: K · E[e^{-r_c T}] = K · μ/(μ + r_c).
    """
    mu, rq, rc = 0.1, math.log(1.03), math.log(1.4)
    data = quiet_biology(tiny(), mu)
    data["time_horizon"] = "100 years"
    data["discount_rates"] = {"costs": 0.4, "qalys": 0.03}
    p = run(only(data, "imaging_only"), patients=20_000, seed=101)

    assert_mc(p["lys"], 1 / (mu + rq), "discounted LY 1/(mu+r)")
    assert_mc(p["lys_undiscounted"], 1 / mu, "undiscounted LY 1/mu")
    assert_mc(p["qalys"], 0.8 / (mu + rq), "QALY 0.8/(mu+r)")

    prices = data["costs"]  # tiny.yaml: AI 10, CDK 10000, PF management 500 per month
    per_day = sum(
        prices[a][b]["value"] / (DAYS_PER_YEAR / 12)
        for a, b in (
            ("first_line", "aromatase_inhibitor"),
            ("first_line", "cdk46_inhibitor"),
            ("disease_management", "progression_free"),
        )
    )
    flows = p["cost_first_line_drugs"] + p["cost_disease_management"]
    assert_mc(flows, per_day * DAYS_PER_YEAR / (mu + rc), "flow cost c*365.25/(mu+r_c)")
    q = math.exp(-(mu + rc) * 28 / DAYS_PER_YEAR)
    assert_mc(p["cost_visits"], prices["visit"] * q / (1 - q), "visit cost v*q/(1-q)")
    assert_mc(
        p["cost_terminal_care"],
        prices["terminal_care"] * mu / (mu + rc),
        "terminal care K*mu/(mu+r_c)",
    )


# --------------------------------------------------------------------------------------
# 2. Illness-death with exponential rates
# --------------------------------------------------------------------------------------
def test_illness_death_exponential_qalys_and_costs(tiny):
    """Progression-free (PF) → progressed at rate λ = 0.6/year (other_progression only);
    after first progression a two-stage chain: second progression at rate ν1 = 1.2/year, then
    death from the disease at rate ν2 = 0.9/year; background death μ = 0.05/year throughout.
    Utility u1 = 0.8 in PF, u2 = 0.55 after first (true) progression; r = ln(1.035).

    Derivation: the discounted time spent in PF is ∫ e^{-rt} e^{-(λ+μ)t} dt = 1/(λ+μ+r).
    First progression happens at a with density λe^{-(λ+μ)a}; from there (memorylessness)
    the patient spends discounted time 1/(ν1+μ+r) before second progression (or death) and,
    reaching second progression with discounted weight ν1/(ν1+μ+r), another 1/(ν2+μ+r):

      E[QALY] = u1/(λ+μ+r) + u2 · λ/(λ+μ+r) · [1/(ν1+μ+r) + ν1/(ν1+μ+r) · 1/(ν2+μ+r)].

    LY is the same with u1 = u2 = 1 (undiscounted: r = 0).

    Costs use *detected* progression D = first scan at or after true progression T1
    (imaging every Δ = 1 day here, so D = ceil(T1)). PF management c_pf per day is paid on
    [0, min(D, death)); P(D > t) = e^{-λΔ⌊t/Δ⌋}, so with r_c = ln(1.05)
      E[PF cost] = c_pf · Σ_k e^{-λΔk} ∫_{kΔ}^{(k+1)Δ} e^{-(μ+r_c)t} dt
                 = c_pf · (1 − e^{-(μ+r_c)Δ}) / ((μ+r_c)(1 − e^{-(λ+μ+r_c)Δ})),
    and progressed management c_p per day from D to death has expectation
    c_p · (LY at r_c − the PF integral above). (Neglected: second progression *and* disease
    death both inside the ≤1-day gap [T1, D): probability ≈ ν1ν2Δ²/2 ≈ 4e-6.)
    """
    lam, mu, nu1, nu2 = 0.6, 0.05, 1.2, 0.9
    u1, u2 = 0.8, 0.55
    rq, rc = math.log(1.035), math.log(1.05)
    data = quiet_biology(tiny(), mu)
    nh = data["natural_history"]
    nh["other_progression"] = exponential(lam)
    nh["second_line_progression"] = exponential(nu1)
    nh["post_progression_survival"] = exponential(nu2)
    data["time_horizon"] = "100 years"
    data["discount_rates"] = {"costs": 0.05, "qalys": 0.035}
    data["utilities"] = {
        "progression_free": u1,
        "progressed": u2,
        "molecular_progression_decrement": 0,
    }
    data["schedule"]["imaging_every"] = "1 days"
    c_pf, c_p = 600.0, 3000.0  # per month
    data["costs"]["disease_management"] = {
        "progression_free": {"value": c_pf, "per": "month"},
        "progressed": {"value": c_p, "per": "month"},
    }
    p = run(only(data, "imaging_only"), patients=10_000, seed=202)

    def life(r: float, w1: float = 1.0, w2: float = 1.0) -> float:
        a, b1, b2 = lam + mu + r, nu1 + mu + r, nu2 + mu + r
        return w1 / a + w2 * lam / a * (1 / b1 + nu1 / b1 / b2)

    assert_mc(p["qalys"], life(rq, u1, u2), "illness-death QALY")
    assert_mc(p["lys"], life(rq), "illness-death discounted LY")
    assert_mc(p["lys_undiscounted"], life(0.0), "illness-death undiscounted LY")

    step = 1 / DAYS_PER_YEAR  # imaging interval, years
    pf_years = -math.expm1(-(mu + rc) * step) / (mu + rc) / -math.expm1(-(lam + mu + rc) * step)
    per_year = 12.0  # cost per month → per year
    expected = per_year * (c_pf * pf_years + c_p * (life(rc) - pf_years))
    assert_mc(p["cost_disease_management"], expected, "illness-death management cost")


# --------------------------------------------------------------------------------------
# 3. Detection delay
# --------------------------------------------------------------------------------------
def test_detection_delay(tiny):
    """ESR1 emergence T ~ Exp(θ) from day 0 (probability 1, median 6 months), blood draws at
    0, Δ, 2Δ, … (Δ = 28 days), per-test sensitivity s = 0.7, specificity 1, fixed turnaround
    τ = 10 days, no transport; no progression and no death within the 60-year horizon.
    Delay from emergence to the first true-positive *result*:

      E[detection − emergence] = Δ/(1 − e^{−θΔ}) − 1/θ + Δ(1/s − 1) + τ,

    i.e. the mean gap from T to the next draw (E[Δ⌈T/Δ⌉] − E[T], with
    E[⌈T/Δ⌉] = 1/(1 − e^{−θΔ})), plus (geometric number of failed draws) × Δ, plus τ.
    Per patient this is ``detection_days − emergence_days``.
    """
    theta = math.log(2) / (DAYS_PER_YEAR / 2)  # per day
    delta, s, tau = 28.0, 0.7, 10.0
    data = quiet_biology(tiny(), 0.0)
    nh = data["natural_history"]
    nh["esr1_emergence"] = {"probability": 1, "time": {"distribution": "exponential",
                                                       "median": "6 months"}}  # fmt: skip
    data["time_horizon"] = "60 years"
    data["assays"]["blood_test"].update(sensitivity=s, specificity=1, turnaround="10 days")
    only(
        data,
        "blood_test_q12w",
        monitoring={"assay": "blood_test", "every": "4 weeks", "start": "0 weeks"},
    )
    p = run(data, patients=10_000, seed=303)

    expected = delta / -math.expm1(-theta * delta) - 1 / theta + delta * (1 / s - 1) + tau
    delay = p["detection_days"] - p["emergence_days"]
    assert_mc(delay, expected, "detection delay (days)")
    assert (p["false_positives"] == 0).all()


# --------------------------------------------------------------------------------------
# 4. Tests per patient
# --------------------------------------------------------------------------------------
def test_tests_per_patient(tiny):
    """Blood draws at 0, Δ, 2Δ, … (Δ = 28 days) while alive; death T ~ Exp(μ), μ = 0.85/year;
    sensitivity 0 and specificity 1, so no result is ever positive and testing never stops;
    no progression; horizon 100 years (P(censoring) = e^-50). The number of draws is
    N = #{k ≥ 0 : kΔ < T}, so

      E[tests] = Σ_{k≥0} P(T > kΔ) = 1/(1 − e^{−μΔ})   (≈ 15.8; SE ≈ 0.15 with 10,000
      patients, so an off-by-one count is ~6 SE away; > 64 draws for ~1.5% of patients,
      which exercises the engine's on-demand stream blocks beyond the first 64 draws),

    and the discounted test cost (c per test, r_c = ln(1.03)) is c/(1 − e^{−(μ+r_c)Δ}).
    """
    mu, rc = 0.85, math.log(1.03)
    delta_years = 28 / DAYS_PER_YEAR
    data = quiet_biology(tiny(), mu)
    data["time_horizon"] = "100 years"
    data["assays"]["blood_test"].update(sensitivity=0, specificity=1)
    only(
        data,
        "blood_test_q12w",
        monitoring={"assay": "blood_test", "every": "4 weeks", "start": "0 weeks"},
    )
    p = run(data, patients=10_000, seed=404)

    assert_mc(p["tests"], 1 / -math.expm1(-mu * delta_years), "tests per patient")
    assert (p["tests"] > 64).sum() >= 50
    assert (p["positives"] == 0).all()
    cost = data["assays"]["blood_test"]["cost"]
    assert_mc(
        p["cost_testing"],
        cost / -math.expm1(-(mu + rc) * delta_years),
        "discounted test cost",
    )


# --------------------------------------------------------------------------------------
# 5. Distribution of first-progression times
# --------------------------------------------------------------------------------------
def test_first_progression_times_follow_weibull(tiny):
    """Only other_progression is active: Weibull with median m = 20 months and shape k = 1.5,
    no background death, no ESR1 emergence, horizon 100 years (no censoring). The simulated
    ``true_progression_days`` must follow S(t) = exp(−(t/λ)^k) with scale
    λ = m / (ln 2)^{1/k} (m in days): one-sample Kolmogorov–Smirnov test against
    ``scipy.stats.weibull_min(k, scale=λ)``, p > 1e-3 (fixed seed).
    """
    k, median_days = 1.5, 20 * DAYS_PER_YEAR / 12
    data = quiet_biology(tiny(), 0.0)
    data["natural_history"]["other_progression"] = {
        "distribution": "weibull",
        "median": "20 months",
        "shape": k,
    }
    data["time_horizon"] = "100 years"
    p = run(only(data, "imaging_only"), patients=10_000, seed=505)

    t = p["true_progression_days"].to_numpy(float)
    assert not np.isnan(t).any()
    law = stats.weibull_min(k, scale=median_days / math.log(2) ** (1 / k))
    ks = stats.kstest(t, law.cdf)
    print(f"Weibull KS: D = {ks.statistic:.4f}, p = {ks.pvalue:.3f}, n = {len(t)}")
    assert ks.pvalue > 1e-3
    # The fraction progressed by the specified median is Binomial(n, 1/2)/n.
    assert_mc(t <= median_days, 0.5, "P(progression by the specified median)")


# --------------------------------------------------------------------------------------
# 6. ESR1 pathway with a hazard-ratio switch
# --------------------------------------------------------------------------------------
def test_esr1_progression_with_switch(tiny):
    """Emergence T_e ~ Exp(θ) (median 6 months, probability 1), then ESR1-driven progression
    at rate κ (median 9 months) on the AI; nothing else happens (no other progression, no
    death, horizon 100 years). Reference strategy: imaging only, so

      E[T1] = 1/θ + 1/κ.

    Monitored strategy: draws at 0, Δ, 2Δ, … (Δ = 28 days), sensitivity 1, specificity 1,
    zero turnaround, immediate switch with hazard ratio h = 0.5. The switch happens at the
    first draw after emergence, a gap g = Δ⌈T_e/Δ⌉ − T_e later; ESR1 hazard is κ until then and
    hκ after, so the time from emergence to progression has mean
    (1 − E[e^{−κg}])/κ + E[e^{−κg}]/(hκ). The fractional part f = T_e mod Δ has density
    θe^{−θf}/(1 − e^{−θΔ}) on [0, Δ) and g = Δ − f, hence

      E[e^{−κg}] = θ e^{−κΔ} (e^{(κ−θ)Δ} − 1) / ((κ − θ)(1 − e^{−θΔ})),
      E[T1] = 1/θ + 1/κ + E[e^{−κg}] (1/h − 1)/κ.

    The per-patient paired difference (common random numbers: same budgets) has mean
    E[e^{−κg}](1/h − 1)/κ and is checked too.
    """
    theta = math.log(2) / (DAYS_PER_YEAR / 2)
    kappa = math.log(2) / (9 * DAYS_PER_YEAR / 12)
    h, delta = 0.5, 28.0
    data = quiet_biology(tiny(), 0.0)
    nh = data["natural_history"]
    nh["esr1_emergence"] = {
        "probability": 1,
        "time": {"distribution": "exponential", "median": "6 months"},
    }
    nh["esr1_progression"] = {"distribution": "exponential", "median": "9 months"}
    data["time_horizon"] = "100 years"
    data["assays"]["blood_test"].update(sensitivity=1, specificity=1, turnaround="0 days")
    data["switch_therapies"]["new_drug"]["hazard_ratio"] = h
    monitoring = {"assay": "blood_test", "every": "4 weeks", "start": "0 weeks"}
    data["strategies"] = {
        "imaging_only": data["strategies"]["imaging_only"],
        "monitored": {**data["strategies"]["blood_test_q12w"], "monitoring": monitoring},
    }
    data["reference"] = "imaging_only"
    res = simulate(scenario_from_dict(data), patients=10_000, seed=606, progress=False)
    p = res.patients
    ref = p[p["strategy"] == "imaging_only"].set_index("patient")["true_progression_days"]
    mon = p[p["strategy"] == "monitored"].set_index("patient")["true_progression_days"]

    e_kg = (
        theta
        * math.exp(-kappa * delta)
        * math.expm1((kappa - theta) * delta)
        / ((kappa - theta) * -math.expm1(-theta * delta))
    )
    gain = e_kg * (1 / h - 1) / kappa
    assert_mc(ref, 1 / theta + 1 / kappa, "ESR1 progression, no switch (days)")
    assert_mc(mon, 1 / theta + 1 / kappa + gain, "ESR1 progression, switch HR 0.5 (days)")
    diff = mon - ref.loc[mon.index]
    assert (diff >= 0).all()  # switching never brings progression forward (HR < 1)
    assert_mc(diff, gain, "paired progression gain from switching (days)")


# --------------------------------------------------------------------------------------
# 6. ctDNA kinetics and the switch effect
# --------------------------------------------------------------------------------------
def kinetics(data: dict, doubling: str, shedding: float, sdlog: float = 0.0) -> dict:
    data["natural_history"]["ctdna"] = {
        "level_at_emergence": 0.01,
        "doubling_time": {"median": doubling, "sdlog": sdlog},
        "shedding_at_progression": shedding,
    }
    return data


def test_detection_when_the_level_reaches_the_limit_of_detection(tiny):
    """Mutant level 0.01% at emergence doubling every 30 days: an assay with limit of
    detection L first sees it 30·log2(L/0.01) days after emergence. Daily draws, perfect
    assay, same-day results: the first positive is the first draw at or after that day,
    for every patient; an assay 4× more sensitive detects each patient 60 days earlier."""
    data = kinetics(quiet_biology(tiny(), 0.0), "30 days", 1.0)
    data["natural_history"]["esr1_emergence"] = {"probability": 1, "time": exponential(2.0)}
    data["time_horizon"] = "10 years"
    days = {}
    for lod in (0.4, 0.1):
        data["assays"]["blood_test"].update(
            sensitivity=1, specificity=1, turnaround="0 days", limit_of_detection=lod
        )
        only(data, "blood_test_q12w",
             monitoring={"assay": "blood_test", "every": "1 days", "start": "0 days"})  # fmt: skip
        p = run(data, patients=2_000, seed=11)
        onset = p["emergence_days"] + 30 * math.log2(lod / 0.01)
        first = p["first_positive_days"]
        assert (first >= onset - 1e-9).all() and (first < onset + 1 + 1e-9).all()
        days[lod] = first.to_numpy()
    assert np.allclose(days[0.4] - days[0.1], 60.0, atol=1 + 1e-9)
    assert (days[0.1] <= days[0.4]).all()


def test_shedding_at_progression_reveals_a_present_mutation(tiny):
    """A clone too slow to be seen before progression (doubling time 1,000 years) becomes
    detectable at progression when the shedding factor lifts it over the limit
    (0.01% × 10 ≥ 0.1%): a perfect test at progression is positive exactly when the
    mutation had emerged by then; with no extra shedding it is never positive."""
    data = kinetics(quiet_biology(tiny(), 0.0), "1000 years", 10.0)
    nh = data["natural_history"]
    nh["esr1_emergence"] = {"probability": 0.5, "time": exponential(1.0)}
    nh["other_progression"] = exponential(1.0)
    data["assays"]["blood_test"].update(sensitivity=1, specificity=1, limit_of_detection=0.1)
    only(data, "imaging_only", test_at_progression={"assay": "blood_test"})
    p = run(data, patients=2_000, seed=12)
    seen = p["detected_progression_days"].notna()
    carrier = p["emergence_days"] <= p["detected_progression_days"]
    assert seen.sum() > 1000 and 0.2 < carrier[seen].mean() < 0.8
    assert ((p.loc[seen, "progression_test"] == "positive") == carrier[seen]).all()
    nh["ctdna"]["shedding_at_progression"] = 1.0
    p = run(data, patients=2_000, seed=12)
    assert (p.loc[seen, "progression_test"] == "negative").all()


@pytest.mark.parametrize(
    ("acts_on", "waning_years"),
    [("all_progression", None), ("all_progression", 0.5), ("esr1_progression", None)],  # fmt: skip
)
def test_switch_effect_on_progression_by_other_mechanisms(tiny, acts_on, waning_years):
    """Every patient carries the mutation from the start and switches on day 0 (perfect
    same-day test); only progression by other mechanisms (rate λ = 1 per year) can happen.
    With the hazard ratio h on all progression, lasting w years:
    E[T] = (1 − e^{−hλw})/(hλ) + e^{−hλw}/λ (w = ∞: 1/(hλ)); on ESR1-driven progression
    only, E[T] = 1/λ."""
    lam, h = 1.0, 0.5
    data = quiet_biology(tiny(), 0.0)
    data["natural_history"]["esr1_at_start"] = 1
    data["natural_history"]["other_progression"] = exponential(lam)
    data["time_horizon"] = "100 years"
    data["assays"]["blood_test"].update(sensitivity=1, specificity=1, turnaround="0 days")
    drug = data["switch_therapies"]["new_drug"]
    drug.update(hazard_ratio=h, acts_on=acts_on)
    if waning_years is not None:
        drug["effect_duration"] = {"value": waning_years, "unit": "years"}
    only(data, "blood_test_q12w",
         monitoring={"assay": "blood_test", "every": "12 weeks", "start": "0 days"},
         switch={"to": "new_drug", "switch_baseline_mutations": True})  # fmt: skip
    p = run(data, patients=20_000, seed=13)
    assert (p["switch_days"] == 0).all()
    if acts_on == "esr1_progression":
        expected = 1 / lam
    elif waning_years is None:
        expected = 1 / (h * lam)
    else:
        w = waning_years
        expected = -math.expm1(-h * lam * w) / (h * lam) + math.exp(-h * lam * w) / lam
    assert_mc(p["true_progression_days"] / DAYS_PER_YEAR, expected, "1L PFS (years)")
