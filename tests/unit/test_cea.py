"""Unit tests for hemodel.analysis.cea; expected values are computed by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hemodel.analysis import cea, regression


def det(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["strategy", "cost", "qaly"])


def psa(data: dict[str, tuple[list[float], list[float]]]) -> pd.DataFrame:
    """{strategy: (costs per sample, qalys per sample)} -> tidy PSA table."""
    frames = [
        pd.DataFrame({"strategy": s, "sample": range(len(c)), "cost": c, "qaly": q})
        for s, (c, q) in data.items()
    ]
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------- incremental analysis
# QALYs are multiples of 1/8 so every ICER below is exact in binary floating point.
#   A 10000 5.000 | B 12000 5.125 | C 15000 5.500 | D 16000 5.250 | E 25000 6.000
# Sorted by cost: A, B, C, D, E.
# Dominance: D costs more than C (16000 > 15000) and has fewer QALYs (5.25 < 5.5).
# ICERs of the non-dominated A, B, C, E in sequence:
#   B vs A: (12000-10000)/(5.125-5) = 2000/0.125 = 16000
#   C vs B: (15000-12000)/(5.5-5.125) = 3000/0.375 = 8000  -> 16000 > 8000: B ext. dominated
#   after removing B: C vs A: 5000/0.5 = 10000; E vs C: 10000/0.5 = 20000 (increasing: stop)
# Non-frontier rows are compared with the frontier strategy of highest cost <= theirs:
#   B vs A: inc (2000, 0.125); D vs C: inc (1000, -0.25).
FIVE = det(
    [
        ("D", 16000, 5.25),
        ("E", 25000, 6.0),
        ("A", 10000, 5.0),
        ("C", 15000, 5.5),
        ("B", 12000, 5.125),
    ]
)


def test_incremental_analysis_hand_example():
    res = cea.incremental_analysis(FIVE).set_index("strategy")
    assert list(res.index) == ["A", "B", "C", "D", "E"]
    assert res["status"].to_dict() == {
        "A": "frontier",
        "B": "extendedly dominated",
        "C": "frontier",
        "D": "dominated",
        "E": "frontier",
    }
    assert res["compared_with"].to_dict() == {"A": None, "B": "A", "C": "A", "D": "C", "E": "C"}
    assert res.loc["C", "icer"] == 10000.0
    assert res.loc["E", "icer"] == 20000.0
    assert res["icer"][["A", "B", "D"]].isna().all()
    assert (res.loc["C", "inc_cost"], res.loc["C", "inc_qaly"]) == (5000.0, 0.5)
    assert (res.loc["E", "inc_cost"], res.loc["E", "inc_qaly"]) == (10000.0, 0.5)
    assert (res.loc["B", "inc_cost"], res.loc["B", "inc_qaly"]) == (2000.0, 0.125)
    assert (res.loc["D", "inc_cost"], res.loc["D", "inc_qaly"]) == (1000.0, -0.25)
    assert np.isnan(res.loc["A", "inc_cost"])
    # dominated rows keep their own cost and QALYs
    assert (res.loc["D", "cost"], res.loc["D", "qaly"]) == (16000.0, 5.25)
    assert list(cea.incremental_analysis(FIVE).columns) == [
        "strategy",
        "cost",
        "qaly",
        "inc_cost",
        "inc_qaly",
        "icer",
        "status",
        "compared_with",
    ]


def test_extended_dominance_needs_iteration():
    # P0 (0 QALY, 0) P1 (1, 10000) P2 (2, 25000) P3 (3, 45000) P4 (4, 50000)
    # pass 1 ICERs: P1 10000, P2 15000, P3 20000, P4 5000 -> only P3 flagged (20000 > 5000)
    # pass 2: P2 15000, P4 vs P2 (50000-25000)/2 = 12500 -> P2 flagged (15000 > 12500)
    # pass 3: P1 10000, P4 vs P1 40000/3 = 13333.3 -> increasing, stop.
    table = det(
        [
            (f"P{i}", c, q)
            for i, (c, q) in enumerate([(0, 0), (1e4, 1), (25e3, 2), (45e3, 3), (5e4, 4)])
        ]
    )
    res = cea.incremental_analysis(table).set_index("strategy")
    assert res["status"].to_dict() == {
        "P0": "frontier",
        "P1": "frontier",
        "P2": "extendedly dominated",
        "P3": "extendedly dominated",
        "P4": "frontier",
    }
    assert res.loc["P1", "icer"] == 10000.0
    assert res.loc["P4", "icer"] == 40000.0 / 3.0
    assert res.loc["P4", "compared_with"] == "P1"
    assert res.loc["P3", "compared_with"] == "P1"


def test_exact_ties_keep_first_listed_and_cost_ties_dominate():
    # Y and X are identical (100, 1.0): the first listed stays, the other is 'dominated'
    # with zero increments. W has the same cost but fewer QALYs: dominated.
    # Z (0, 0) is cheapest; ICER of the kept twin vs Z = 100 / 1 = 100.
    rows = [("Z", 0, 0.0), ("Y", 100, 1.0), ("X", 100, 1.0), ("W", 100, 0.5)]
    res = cea.incremental_analysis(det(rows)).set_index("strategy")
    assert res["status"].to_dict() == {
        "Z": "frontier",
        "Y": "frontier",
        "X": "dominated",
        "W": "dominated",
    }
    assert res.loc["Y", "icer"] == 100.0
    assert res.loc["X", "compared_with"] == "Y"
    assert (res.loc["X", "inc_cost"], res.loc["X", "inc_qaly"]) == (0.0, 0.0)
    assert (res.loc["W", "inc_cost"], res.loc["W", "inc_qaly"]) == (0.0, -0.5)
    # swapping the input order swaps the roles: deterministic by input order
    swapped = cea.incremental_analysis(det([rows[0], rows[2], rows[1], rows[3]]))
    assert swapped.set_index("strategy")["status"]["X"] == "frontier"
    assert swapped.set_index("strategy")["status"]["Y"] == "dominated"


def test_collinear_strategies_stay_on_frontier():
    # ICERs 10/1 = 10 and 10/1 = 10 are equal -> not extendedly dominated (strict rule)
    res = cea.incremental_analysis(det([("a", 0, 0.0), ("b", 10, 1.0), ("c", 20, 2.0)]))
    assert (res["status"] == "frontier").all()
    assert res["icer"].tolist()[1:] == [10.0, 10.0]


def test_incremental_analysis_uses_means_and_paired_mcse():
    # A costs 10,12,14,16 (mean 13); B costs 20,21,25,26 (mean 23): inc_cost 10.
    # paired differences 10, 9, 11, 10: mean 10, var (0+1+1+0)/3 = 2/3, MCSE sqrt(2/3)/2.
    # QALYs A 1,1,1,1; B 2,2.5,1.5,2 -> differences 1,1.5,0.5,1: var (0+.25+.25+0)/3 = 1/6.
    # ICER = 10 / 1 = 10.
    table = psa({"A": ([10, 12, 14, 16], [1, 1, 1, 1]), "B": ([20, 21, 25, 26], [2, 2.5, 1.5, 2])})
    res = cea.incremental_analysis(table, mcse=True).set_index("strategy")
    assert res.loc["B", "icer"] == pytest.approx(10.0, rel=1e-12)
    assert res.loc["B", "cost"] == 23.0
    assert res.loc["B", "inc_cost_mcse"] == pytest.approx(math.sqrt(2 / 3) / 2, rel=1e-12)
    assert res.loc["B", "inc_qaly_mcse"] == pytest.approx(math.sqrt(1 / 6) / 2, rel=1e-12)
    # unpaired MCSE of B's mean cost alone would be larger (sd of 20,21,25,26 = 2.94)
    assert res.loc["B", "inc_cost_mcse"] < np.std([20, 21, 25, 26], ddof=1) / 2
    assert np.isnan(res.loc["A", "inc_cost_mcse"])
    with pytest.raises(ValueError, match="mcse"):
        cea.incremental_analysis(FIVE, mcse=True)


def test_incremental_analysis_custom_column_names():
    renamed = FIVE.rename(columns={"strategy": "arm", "cost": "c", "qaly": "e"})
    res = cea.incremental_analysis(renamed, strategy="arm", cost="c", qaly="e")
    pd.testing.assert_frame_equal(res, cea.incremental_analysis(FIVE))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.integers(0, 20)), min_size=1, max_size=8, unique=False
    )
)
def test_frontier_contains_an_optimal_strategy_at_every_wtp(points):
    # Integer costs/QALYs keep NMB arithmetic exact. At any WTP the best NMB over the
    # frontier must equal the best NMB over all strategies, and frontier ICERs increase.
    table = det([(f"s{i}", c, q) for i, (c, q) in enumerate(points)])
    res = cea.incremental_analysis(table)
    front = res[res["status"] == "frontier"]
    for w in [0, 0.5, 1, 2, 3, 7, 1000]:
        assert (w * front["qaly"] - front["cost"]).max() == (w * res["qaly"] - res["cost"]).max()
    icers = front["icer"].to_numpy()[1:]
    assert np.all(np.diff(icers) >= 0) and np.all(icers > 0)
    assert res.loc[res["status"] != "frontier", "icer"].isna().all()


# ------------------------------------------------------------------------ net benefit
def test_net_benefit_hand_values():
    # A: 0*2 - 1000 = -1000; 20000*2 - 1000 = 39000
    # B: 0*2.5 - 3000 = -3000; 20000*2.5 - 3000 = 47000
    res = cea.net_benefit(det([("A", 1000, 2.0), ("B", 3000, 2.5)]), [0, 20000])
    assert res[["strategy", "wtp", "nmb"]].values.tolist() == [
        ["A", 0.0, -1000.0],
        ["B", 0.0, -3000.0],
        ["A", 20000.0, 39000.0],
        ["B", 20000.0, 47000.0],
    ]
    assert cea.net_benefit(det([("A", 1000, 2.0)]), 100)["nmb"].tolist() == [-800.0]


# ------------------------------------------------------------------------ CEAC / CEAF
# 5 samples x 3 strategies. A: cost 90, QALY 0. C: QALY 0.25.
#   NMB at WTP 100 (= 100*q - c):
#   sample  A     B                 C
#   0      -90   25-117 = -92      25-116   = -91     -> A
#   1      -90   25-117 = -92      25-115.5 = -90.5   -> A
#   2      -90   25-115 = -90      25-120   = -95     -> A and B tie: 1/2 each
#   3      -90   50-110 = -60      25-120   = -95     -> B
#   4      -90   25-117 = -92      25-113   = -88     -> C
#   CEAC(100): A (1+1+.5)/5 = 0.5, B (.5+1)/5 = 0.3, C 1/5 = 0.2
#   expected NMB: A -90, B (-92-92-90-60-92)/5 = -85.2, C (-91-90.5-95-95-88)/5 = -91.9
#   -> CEAF picks B (probability 0.3) although A is most often cost-effective (0.5).
#   EVPI(100) = E[max] - max E = (-90-90-90-60-88)/5 - (-85.2) = -83.6 + 85.2 = 1.6
#   At WTP 0, NMB = -cost and A (cost 90) is cheapest in every sample: CEAC A = 1, EVPI 0.
HAND = psa(
    {
        "A": ([90] * 5, [0] * 5),
        "B": ([117, 117, 115, 110, 117], [0.25, 0.25, 0.25, 0.5, 0.25]),
        "C": ([116, 115.5, 120, 120, 113], [0.25] * 5),
    }
)


def test_ceac_hand_counts():
    res = cea.ceac(HAND, [0, 100]).set_index(["wtp", "strategy"])["probability"]
    assert res[0.0].to_dict() == {"A": 1.0, "B": 0.0, "C": 0.0}
    assert res[100.0].to_dict() == pytest.approx({"A": 0.5, "B": 0.3, "C": 0.2}, abs=1e-15)
    assert list(cea.ceac(HAND, [0, 100]).columns) == ["wtp", "strategy", "probability"]


def test_ceaf_prefers_expected_nmb_over_most_often_cost_effective():
    res = cea.ceaf(HAND, [0, 100])
    assert res["strategy"].tolist() == ["A", "B"]
    assert res["probability"].tolist() == pytest.approx([1.0, 0.3], abs=1e-15)
    assert res["expected_nmb"].tolist() == pytest.approx([-90.0, -85.2], rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 4), st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_ceac_sums_to_one(n_strategies, n_samples, seed):
    rng = np.random.default_rng(seed)
    # rounding creates exact ties, which must still be split to sum to 1
    table = psa(
        {
            f"s{d}": (rng.integers(0, 5, n_samples) * 100.0, rng.integers(0, 3, n_samples) / 4)
            for d in range(n_strategies)
        }
    )
    res = cea.ceac(table, [0, 200, 400, 1e4])
    assert np.allclose(res.groupby("wtp")["probability"].sum(), 1.0, rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------- EVPI
def test_evpi_hand_example_and_population():
    res = cea.evpi(HAND, [0, 100], population=1000)
    assert res["evpi"].tolist() == [0.0, pytest.approx(1.6, rel=1e-12)]
    assert res["evpi_population"].tolist() == [0.0, pytest.approx(1600.0, rel=1e-12)]


def test_evpi_exactly_zero_when_one_strategy_always_wins():
    # B has more QALYs and lower cost in every sample -> wins at every WTP >= 0.
    rng = np.random.default_rng(3)
    q = rng.random(50)
    table = psa({"A": (q * 0 + 100.3, q * 0.7), "B": (q * 0 + 12.1, q * 0.7 + 0.013)})
    assert (cea.evpi(table, np.linspace(0, 1e5, 11))["evpi"] == 0.0).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 15), st.integers(0, 2**32 - 1))
def test_evpi_nonnegative_and_matches_definition(n_strategies, n_samples, seed):
    rng = np.random.default_rng(seed)
    cs = rng.lognormal(8, 1, (n_samples, n_strategies))
    qs = rng.normal(5, 1, (n_samples, n_strategies))
    table = psa({f"s{d}": (cs[:, d], qs[:, d]) for d in range(n_strategies)})
    wtps = np.array([0.0, 1e3, 3e4, 1e6])
    got = cea.evpi(table, wtps)["evpi"].to_numpy()
    assert (got >= 0).all()
    nmb = wtps[:, None, None] * qs - cs  # (W, S, D)
    direct = nmb.max(axis=2).mean(axis=1) - nmb.mean(axis=1).max(axis=1)
    assert np.allclose(got, direct, rtol=1e-9, atol=1e-9 * np.abs(nmb).max())


# ------------------------------------------------------------------------------ EVPPI
# Two strategies: A (cost 0, QALY 0) is the reference; B has QALY g(theta) and cost k, so
# at WTP w the incremental NMB is w*g - k. With n PSA samples, the Monte Carlo error of an
# EVPI(-like) estimate is sd(opportunity loss)/sqrt(n) plus at most sd(INMB)/sqrt(n) for the
# max-of-means term; regression noise adds at most sd(residual)*sqrt(p/n) with p the number
# of basis functions (the effective degrees of freedom of the smoother are <= p).
N = 3000
W = 1000.0


def two_arm(qaly: np.ndarray, cost: float) -> pd.DataFrame:
    return psa(
        {"A": (np.zeros(len(qaly)), np.zeros(len(qaly))), "B": (np.full(len(qaly), cost), qaly)}
    )


def mc_tolerance(inmb: np.ndarray, z: float = 4.0) -> float:
    loss = np.maximum(inmb, 0) - (inmb if inmb.mean() > 0 else 0)
    return (z * loss.std(ddof=1) + inmb.std(ddof=1)) / math.sqrt(len(inmb))


@pytest.mark.parametrize(
    ("name", "draw", "g", "cost", "exact"),
    [
        # INMB = 1000*(theta - 0.5), theta ~ U(0,1): EVPI = 1000 * int_.5^1 (t - .5) dt = 125
        ("linear", lambda r: r.random(N), lambda t: t, 500.0, 125.0),
        # INMB = 1000*sin(2 pi theta): mean 0, EVPI = 1000 * E[max(0, sin)] = 1000/pi
        ("sine", lambda r: r.random(N), lambda t: np.sin(2 * np.pi * t), 0.0, 1000 / np.pi),
        # INMB = 1000*(theta^2 - 1), theta ~ N(0,1): mean 0,
        # EVPI = 1000 * 2 int_1^inf (x^2-1) phi(x) dx = 2000 * phi(1) (integrate x*x*phi by parts)
        (
            "normal",
            lambda r: r.normal(size=N),
            lambda t: t**2,
            1000.0,
            2000 * math.exp(-0.5) / math.sqrt(2 * math.pi),
        ),
    ],
)
def test_evppi_equals_evpi_when_parameter_determines_inmb(name, draw, g, cost, exact):
    rng = np.random.default_rng(11)
    theta = draw(rng)
    table = two_arm(g(theta), cost)
    inmb = W * g(theta) - cost
    tol = mc_tolerance(inmb)  # no residual: theta determines INMB exactly
    value = cea.evppi(table, pd.DataFrame({"theta": theta}), W)["evppi"].item()
    total = cea.evpi(table, W)["evpi"].item()
    assert abs(total - exact) <= tol, name  # sanity of the analytic value
    assert abs(value - exact) <= tol, name
    # Regression error must be well inside the Monte Carlo error of EVPI itself. As max is
    # 1-Lipschitz, |unclipped EVPPI - sample EVPI| <= mean|fitted - INMB|.
    fitted = regression._smooth(theta[:, None], inmb[:, None])[:, 0]
    assert np.abs(fitted - inmb).mean() <= tol / 4, name
    assert 0 <= total - value <= tol / 4, name  # EVPPI <= EVPI enforced even when exact


def test_evppi_groups_and_independent_parameter():
    # INMB = w*a*b - 250 with a, b ~ U(0,1) independent; phi ~ N(0,1) is unrelated.
    # Write c = 250/w (c = 1/4 at w = 1000, 1/8 at w = 2000); E[ab] = 1/4.
    #   E[max(0, ab - c)] = int_c^1 int_{c/a}^1 (ab - c) db da = int_c^1 (a/2 - c + c^2/(2a)) da
    #                     = (1 - c^2)/4 - c(1 - c) - (c^2/2) ln c
    #   EVPI = w * (E[max(0, ab - c)] - max(0, 1/4 - c)):
    #     w = 1000: 1000 * (15/64 - 12/64 + ln(4)/32)                 = 90.197
    #     w = 2000: 2000 * (63/256 - 7/64 + ln(8)/128 - 1/8)            = 55.929
    #   E[INMB | a] = (w/2)(a - 2c), and E[max(0, a - s)] = (1 - s)^2 / 2, so
    #   EVPPI(a) = (w/2) * ((1 - 2c)^2 / 2 - max(0, 1/2 - 2c)):
    #     w = 1000: 500 * 1/8 = 62.5;   w = 2000: 1000 * (9/32 - 1/4) = 31.25   (same for b)
    #   EVPPI({a, b}) = EVPI;   EVPPI(phi) = 0.
    # At w = 2000 B is better on average, so the max-of-means term matters.
    rng = np.random.default_rng(5)
    a, b, phi = rng.random(N), rng.random(N), rng.normal(size=N)
    table = two_arm(a * b, 250.0)
    params = pd.DataFrame({"a": a, "b": b, "phi": phi}, index=pd.Index(range(N), name="sample"))
    groups = {"a": ["a"], "b": "b", "phi": ["phi"], "a+b": ["a", "b"]}
    res = cea.evppi(table, params, [0.0, 1000.0, 2000.0], groups=groups, population=10)
    res = res.set_index(["group", "wtp"])
    assert list(res.columns) == ["evppi", "evppi_population"]
    p = regression._K_1D  # basis functions for one parameter: upper bound on effective df
    for w in (1000.0, 2000.0):
        c = 250 / w
        exact = w * ((1 - c**2) / 4 - c * (1 - c) - c**2 / 2 * math.log(c) - max(0, 0.25 - c))
        inmb = w * a * b - 250
        assert abs(res.loc[("a+b", w), "evppi"] - exact) <= mc_tolerance(inmb), w
        # single parameters: residual INMB - E[INMB|a] = w a (b - 1/2) has sd w/6
        # (E[a^2] var(b) = 1/3 * 1/12 = 1/36), adding at most (w/6) sqrt(p/n).
        partial = w / 2 * ((1 - 2 * c) ** 2 / 2 - max(0, 0.5 - 2 * c))
        for name, x in (("a", a), ("b", b)):
            tol = mc_tolerance(w / 2 * (x - 2 * c)) + w / 6 * math.sqrt(p / N)
            assert abs(res.loc[(name, w), "evppi"] - partial) <= tol, (name, w)
        # independent parameter: fitted INMB f is noise around its mean, so
        # EVPPI <= mean|f - mean f| <= sqrt(mean (f - mean f)^2) ~ sd(INMB) sqrt((edf - 1)/n)
        assert res.loc[("phi", w), "evppi"] <= inmb.std() * math.sqrt(p / N), w
    # at WTP 0 A (cost 0) always wins: EVPI = EVPPI = 0
    assert (res.xs(0.0, level="wtp")["evppi"] == 0).all()
    assert res.loc[("a", 1000.0), "evppi_population"] == 10 * res.loc[("a", 1000.0), "evppi"]


def test_smoother_does_not_fit_pure_noise():
    # For a linear smoother, E[sum (f - mean f)^2] = sigma^2 (edf - 1). Interpolating with
    # all p = 20 basis functions gives about 19 (chi-square, 19 df); GCV should choose a far
    # smoother fit for pure noise, so the average over 5 data sets must stay below (p-1)/2.
    stats = []
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        x, y = rng.normal(size=(2, 1000))
        fitted = regression._smooth(x[:, None], y[:, None])[:, 0]
        stats.append(((fitted - y.mean()) ** 2).sum())
    assert np.mean(stats) < (regression._K_1D - 1) / 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_evppi_between_zero_and_evpi(seed):
    # three noisy strategies; parameters informative, weakly informative, and a pair
    rng = np.random.default_rng(seed)
    n = 1000
    x, y, z = rng.normal(size=(3, n))
    table = psa(
        {
            "A": (rng.normal(1000, 50, n), 1 + 0.05 * rng.normal(size=n)),
            "B": (
                1500 + 100 * x + rng.normal(0, 200, n),
                1.02 + 0.01 * y + 0.02 * rng.normal(size=n),
            ),
            "C": (2000 + 50 * z, 1.03 + 0.01 * x * z + 0.05 * rng.normal(size=n)),
        }
    )
    params = pd.DataFrame({"sample": range(n), "x": x, "y": y, "z": z})
    wtps = [0, 2e4, 5e4, 1e5]
    res = cea.evppi(table, params, wtps, groups={"x": "x", "y": "y", "xz": ["x", "z"]})
    limit = cea.evpi(table, wtps).set_index("wtp")["evpi"]
    assert (res["evppi"] >= 0).all()
    assert (res["evppi"].to_numpy() <= limit.loc[res["wtp"]].to_numpy()).all()
    assert res["evppi"].max() > 0  # not trivially zero


# ----------------------------------------------------------------- MCSE and CE plane
def test_summarise_mcse_hand_values():
    # A cost 1,2,3,4: mean 2.5, var (2.25+.25+.25+2.25)/3 = 5/3, MCSE sqrt(5/3)/2
    # A qaly 0,0,0,2: mean 0.5, var (.25*3 + 2.25)/3 = 1, MCSE 1/2
    # B single sample: MCSE NaN
    table = pd.DataFrame(
        {"strategy": ["A"] * 4 + ["B"], "cost": [1, 2, 3, 4, 7], "qaly": [0, 0, 0, 2, 1.0]}
    )
    res = cea.summarise(table).set_index("strategy")
    assert res.loc["A", "n"] == 4
    assert res.loc["A", "cost_mean"] == 2.5
    assert res.loc["A", "cost_mcse"] == pytest.approx(math.sqrt(5 / 3) / 2, rel=1e-12)
    assert res.loc["A", "qaly_mean"] == 0.5
    assert res.loc["A", "qaly_mcse"] == pytest.approx(0.5, rel=1e-12)
    assert np.isnan(res.loc["B", "cost_mcse"])


def test_ce_plane_hand_values():
    # B - A: costs 117-90 = 27, 27, 25, 20, 27; QALYs .25, .25, .25, .5, .25
    res = cea.ce_plane(HAND, reference="A")
    b = res[res["strategy"] == "B"]
    assert b["sample"].tolist() == [0, 1, 2, 3, 4]
    assert b["inc_cost"].tolist() == [27.0, 27.0, 25.0, 20.0, 27.0]
    assert b["inc_qaly"].tolist() == [0.25, 0.25, 0.25, 0.5, 0.25]
    assert set(res["strategy"]) == {"B", "C"}
    assert list(res.columns) == ["sample", "strategy", "inc_cost", "inc_qaly"]
    with pytest.raises(ValueError, match="reference"):
        cea.ce_plane(HAND, reference="Z")


# ------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pd.DataFrame({"strategy": ["A"], "cost": [1.0]}), "missing column"),
        (det([("A", 1.0, np.nan)]), "NaN"),
        (det([("A", 1.0, 1.0), ("A", 2.0, 1.0)]), "duplicate"),
        (HAND.iloc[1:], "not paired"),
        (pd.concat([HAND, HAND.iloc[:1]]), "duplicate"),
        (det([("A", np.inf, 1.0)]), "finite"),
    ],
)
def test_invalid_tables_raise(table, message):
    with pytest.raises(ValueError, match=message):
        cea.ceac(table, 100)


def test_invalid_wtp_and_parameters_raise():
    with pytest.raises(ValueError, match="wtp"):
        cea.net_benefit(FIVE, [-1, 100])
    with pytest.raises(ValueError, match="wtp"):
        cea.evpi(HAND, np.nan)
    with pytest.raises(ValueError, match="sample"):
        cea.evppi(FIVE, pd.DataFrame({"x": [1.0]}), 100)
    with pytest.raises(ValueError, match="lacks"):
        cea.evppi(HAND, pd.DataFrame({"x": [1.0, 2.0]}), 100)
    with pytest.raises(ValueError, match="unknown"):
        cea.evppi(HAND, pd.DataFrame({"x": np.arange(5.0)}), 100, groups={"g": ["nope"]})
