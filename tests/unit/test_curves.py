"""Survival curves and state occupancy (hemodel.analysis.curves) and their plots."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from hemodel import load_scenario, simulate
from hemodel.analysis import curves as cv
from hemodel.scenario.units import DAYS_PER_MONTH

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[2]
M = DAYS_PER_MONTH


def table(**columns) -> pd.DataFrame:
    """A patients table of one strategy; times in days, missing columns empty."""
    n = len(next(iter(columns.values())))
    names = ("true_progression_days", "second_progression_days", "death_days", "switch_days")
    base = {c: np.full(n, np.nan) for c in names}
    return pd.DataFrame({"strategy": "s", **base, **columns})


@pytest.fixture(scope="module")
def simulated():
    scenario = load_scenario(ROOT / "scenarios" / "serena6_us.yaml")
    res = simulate(scenario, patients=400, seed=3, progress=False)
    horizon = scenario.time_horizon.days()
    return res.patients, horizon


def test_hand_made_table_gives_known_shares():
    """Four patients, no censoring before the horizon (24 months): PFS events at 1, 2 and 3
    months (the third by death), one patient event-free to the horizon."""
    t = table(
        true_progression_days=[1 * M, 2 * M, np.nan, np.nan],
        death_days=[5 * M, np.nan, 3 * M, np.nan],
    )
    c = cv.survival_curves(t, 24 * M).set_index(["curve", "month"])["proportion"]
    assert c["PFS"].loc[[0, 1, 2, 3, 24]].tolist() == pytest.approx([1, 0.75, 0.5, 0.25, 0.25])
    assert c["OS"].loc[[0, 2, 3, 4, 5, 24]].tolist() == pytest.approx([1, 1, 0.75, 0.75, 0.5, 0.5])
    med = cv.medians(cv.survival_curves(t, 24 * M)).set_index("curve")["median_months"]
    assert (med["PFS"], med["PFS2"], med["OS"]) == (2, 5, 5)


def test_hand_made_states():
    """One patient through every state: switch at 1 month, progression at 2, second
    progression at 3, death at 4; another who stays progression-free on first line."""
    t = table(
        switch_days=[1 * M, np.nan],
        true_progression_days=[2 * M, np.nan],
        second_progression_days=[3 * M, np.nan],
        death_days=[4 * M, np.nan],
    )
    o = cv.state_occupancy(t, 6 * M).pivot(index="month", columns="state", values="proportion")
    assert o.loc[0, cv.STATES[0]] == 1.0
    for month in range(1, 5):  # the first patient enters state `month` at `month` months
        assert o.loc[month, cv.STATES[month]] == 0.5 and o.loc[month, cv.STATES[0]] == 0.5
    assert o.loc[6, "dead"] == 0.5 and o.loc[6, cv.STATES[0]] == 0.5


def test_exponential_times_give_exponential_survival():
    """Deaths Exp(λ) with λ = 1/20 per month, censored at a 60-month horizon: the OS curve is
    exp(−λt) within 4 binomial standard errors at every month."""
    rng = np.random.default_rng(7)
    n, rate = 20_000, 1 / 20
    t = table(death_days=rng.exponential(1 / rate, n) * M)
    t.loc[t["death_days"] > 60 * M, "death_days"] = np.nan  # alive at the horizon
    os_ = cv.survival_curves(t, 60 * M, curves=("OS",))
    expected = np.exp(-rate * os_["month"])
    se = np.sqrt(expected * (1 - expected) / n)
    assert (np.abs(os_["proportion"] - expected) <= 4 * se + 1e-12).all()


def test_curves_of_a_simulation_are_proper(simulated):
    patients, horizon = simulated
    c = cv.survival_curves(patients, horizon)
    assert c["proportion"].between(0, 1).all()
    wide = c.pivot_table(index=["strategy", "month"], columns="curve", values="proportion")
    assert (wide["OS"] >= wide["PFS2"] - 1e-12).all() and (wide["PFS2"] >= wide["PFS"]).all()
    for _, g in c.groupby(["strategy", "curve"]):
        assert (np.diff(g["proportion"].to_numpy()) <= 1e-12).all()
        assert g["proportion"].iloc[0] == 1.0


def test_occupancy_sums_to_one_and_matches_survival(simulated):
    patients, horizon = simulated
    o = cv.state_occupancy(patients, horizon)
    assert o["proportion"].between(0, 1).all()
    total = o.groupby(["strategy", "month"])["proportion"].sum()
    assert np.allclose(total, 1.0)
    c = cv.survival_curves(patients, horizon)
    dead = o[o["state"] == "dead"].set_index(["strategy", "month"])["proportion"]
    alive = c[c["curve"] == "OS"].set_index(["strategy", "month"])["proportion"]
    assert np.allclose(dead, 1 - alive.loc[dead.index])
    progression_free = o[o["state"].str.startswith("progression-free")]
    pf = progression_free.groupby(["strategy", "month"])["proportion"].sum()
    pfs = c[c["curve"] == "PFS"].set_index(["strategy", "month"])["proportion"]
    assert np.allclose(pf, pfs.loc[pf.index])


def test_median_from_curve_matches_the_patients(simulated):
    """Every patient's PFS and OS event falls within the horizon here, so the curve's median
    is the sample median (the smallest time with half the events by then), up to the 1-month
    grid."""
    patients, horizon = simulated
    med = cv.medians(cv.survival_curves(patients, horizon)).set_index(["strategy", "curve"])
    for name, g in patients.groupby("strategy", sort=False, observed=True):
        for curve in ("PFS", "OS"):
            days, events = cv.event_days(g, curve, horizon)
            assert events.all()
            sample = np.quantile(days, 0.5, method="inverted_cdf") / M
            assert 0 <= med.loc[(name, curve), "median_months"] - sample <= 1.0 + 1e-9


def test_plots_draw_one_line_per_strategy_and_a_panel_per_strategy(simulated):
    from hemodel.present.curve_plots import state_occupancy_plot, survival_plot

    patients, horizon = simulated
    names = list(dict.fromkeys(patients["strategy"]))
    ax = survival_plot(cv.survival_curves(patients, horizon), order=names)
    panels = [a for a in ax.figure.axes if a.get_visible()]
    assert [a.get_title() for a in panels] == ["Progression-free survival", "Overall survival"]
    labels = ax.get_legend_handles_labels()[1]
    assert len(labels) == len(names) and all("median" in t for t in labels)
    ax = state_occupancy_plot(cv.state_occupancy(patients, horizon), order=names)
    assert [a.get_title() for a in ax.figure.axes if a.get_visible()] == names
