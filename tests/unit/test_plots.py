"""The plots' axes serve the decision: WTP axes around the scenario's thresholds with the
thresholds marked, threshold-price axes from 0 to a few times the price, tornado labels a
person can read, the KM plot's numbers at risk."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from hemodel import load_scenario
from hemodel.analysis import cea
from hemodel.present import plots
from hemodel.present.payer_plots import budget_overview_plot, icer_price_plot
from hemodel.present.psa_report import wtp_grid
from hemodel.present.sensitivity_plots import tornado

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[2]
WTPS = [100_000.0, 150_000.0]


@pytest.fixture(scope="module")
def scenario():
    s = load_scenario(ROOT / "scenarios" / "serena6_us.yaml")
    assert [w.value for w in s.willingness_to_pay] == WTPS
    return s


def psa_samples(icer: float, samples: int = 40) -> pd.DataFrame:
    """PSA-like samples of two strategies: B gains 0.1 QALY for 0.1 × ``icer`` more, with
    noise (currency, QALYs)."""
    rng = np.random.default_rng(1)
    dq = 0.1 + rng.normal(0, 0.02, samples)
    dc = 0.1 * icer + rng.normal(0, 0.02 * icer, samples)
    a = pd.DataFrame({"sample": range(samples), "strategy": "A", "cost": 1e5, "qaly": 2.0})
    b = pd.DataFrame({"sample": range(samples), "strategy": "B", "cost": 1e5 + dc,
                      "qaly": 2.0 + dq})  # fmt: skip
    return pd.concat([a, b], ignore_index=True)


def vertical_lines(ax) -> list[float]:
    return [
        float(line.get_xdata()[0])
        for line in ax.get_lines()
        if len(set(line.get_xdata())) == 1 and len(line.get_xdata()) == 2
    ]


def test_ceac_axis_is_centred_on_the_thresholds(scenario):
    """A frontier ICER near USD 900,000/QALY used to stretch the axis past 1.8M."""
    per = psa_samples(900_000)
    grid = wtp_grid(scenario, cea.incremental_analysis(per))
    ax = plots.acceptability(cea.ceac(per, grid), "USD", cea.ceaf(per, grid), wtps=WTPS)
    assert ax.get_xlim()[1] <= 500_000
    assert sorted(vertical_lines(ax)) == WTPS
    assert {t.get_text() for t in ax.texts} >= {" WTP USD 100k", " WTP USD 150k"}


def test_wtp_grid_widens_on_request(scenario):
    frontier = cea.incremental_analysis(psa_samples(900_000))
    assert wtp_grid(scenario, frontier)[-1] == 450_000
    assert wtp_grid(scenario, frontier, cover_frontier=True)[-1] > 1_500_000
    assert wtp_grid(scenario, frontier, wtp_max=2e6)[-1] == 2e6


def test_evpi_and_plane_mark_every_threshold(scenario):
    per = psa_samples(120_000)
    grid = wtp_grid(scenario, cea.incremental_analysis(per))
    ax = plots.evpi_curve(cea.evpi(per, grid), "USD", wtps=WTPS)
    assert sorted(vertical_lines(ax)) == WTPS
    plane = plots.ce_plane(cea.ce_plane(per, "A"), "USD", wtps=WTPS)
    labels = plane.get_legend_handles_labels()[1]
    assert [t for t in labels if t.startswith("WTP")] == [
        "WTP USD 100,000/QALY",
        "WTP USD 150,000/QALY",
    ]


def test_evppi_bars_have_readable_names():
    table = pd.DataFrame({"group": ["switch_therapies.camizestrant.hazard_ratio", "effect"],
                          "wtp": 100_000.0, "evppi": [120.0, 30.0]})  # fmt: skip
    ax = plots.evppi_plot(table, "USD", evpi=200.0)
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert names == ["effect", "Camizestrant: hazard ratio"]  # named groups keep their names
    assert ax.get_xlim()[1] >= 200


def price_lines(cost_at_zero: float) -> pd.DataFrame:
    """Reference A and strategy B, 0.1 QALY better, costing ``cost_at_zero`` + 10 × price
    more; base price 5,000 per test."""
    return pd.DataFrame(
        {
            "strategy": ["A", "B"],
            "qaly": [1.0, 1.1],
            "cost_at_zero": [0.0, cost_at_zero],
            "cost_per_price_unit": [0.0, 10.0],
            "base_price": 5000.0,
            "price_parameter": "assays.guardant360.cost",
            "price_unit": "USD per test",
            "currency": "USD",
            "reference": "A",
        }
    )


def test_threshold_plot_shows_prices_from_zero_when_no_price_reaches_the_wtp():
    """ICER at price 0 is USD 1M/QALY: the plot used to run to −USD 150,000 per test."""
    ax = icer_price_plot(price_lines(100_000.0), WTPS, label="guardant360")
    lo, hi = ax.get_xlim()
    assert lo == 0 and 5000 < hi <= 3 * 5000
    bottom, top = ax.get_ylim()
    assert bottom == 0 and top >= (100_000 + 10 * 5000) / 0.1  # ICER at the base price shown
    assert any("No price ≥ 0" in t.get_text() for t in ax.texts)


def test_threshold_plot_shows_the_crossings_when_a_price_reaches_the_wtp():
    ax = icer_price_plot(price_lines(5000.0), WTPS, label="guardant360")
    lo, hi = ax.get_xlim()
    assert lo == 0 and hi <= 3 * 5000
    assert ax.get_ylim()[1] == 3 * max(WTPS)  # the WTPs are not squashed at the bottom
    dots = ax.collections[0].get_offsets()
    assert sorted(dots[:, 0]) == pytest.approx([500.0, 1000.0])  # (W·0.1 − 5000) / 10


def one_way_table() -> pd.DataFrame:
    common = dict(measure="inmb", currency="USD", wtp=100_000.0, base=-140_000.0, used=True,
                  comparison="ctdna_q8w", reference="imaging_only", patients=500)  # fmt: skip
    rows = [
        ("natural_history.esr1_progression.median", 11.7, 28.7, "months", -200e3, -110e3),
        ("switch_therapies.camizestrant.cost", 8000, 25000, "USD per 28 days", -110e3, -190e3),
        ("assays.guardant360.limit_of_detection", 0.1, 0.5, "% mutant allele fraction",
         -160e3, -125e3),
    ]  # fmt: skip
    return pd.DataFrame(
        [
            dict(common, parameter=p, low=lo, high=hi, unit=u, outcome_low=a, outcome_high=b)
            for p, lo, hi, u, a, b in rows
        ]
    )


def test_tornado_labels_are_names_not_paths_and_axis_centres_on_base():
    ax = tornado(one_way_table())
    names = [t.get_text().split("\n")[0] for t in ax.get_yticklabels()]
    assert names == [
        "Guardant360: limit of detection",
        "Camizestrant: cost",
        "ESR1 progression: median",
    ]
    assert not any("." in n for n in names)
    lo, hi = ax.get_xlim()
    assert (lo + hi) / 2 == pytest.approx(-140_000) and hi < 0  # INMB = 0 is far off
    assert any("off the axis" in t for t in ax.get_legend_handles_labels()[1])


def test_budget_overview_has_a_bar_group_per_year_and_totals_in_the_legend():
    totals = pd.DataFrame({"strategy": ["B"] * 2 + ["C"] * 2, "year": [1, 2] * 2,
                           "impact": [1e6, 2e6, 3e6, 4e6], "reference": "A",
                           "currency": "USD"})  # fmt: skip
    ax = budget_overview_plot(totals, "USD", order=["A", "B", "C"])
    assert len(ax.patches) == 4
    assert ax.get_legend_handles_labels()[1] == [
        "B (2-year total USD 3M)",
        "C (2-year total USD 7M)",
    ]


@pytest.fixture(scope="module")
def validation():
    from hemodel.credibility.validate import validate

    scenario = load_scenario(ROOT / "scenarios" / "serena6_us.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scenario, validate(scenario, patients=600, seed=2)


def test_km_plot_has_numbers_at_risk_and_the_trials_hazard_ratio(validation):
    from hemodel.present.credibility_plots import km_axes

    scenario, v = validation
    name = next(iter(v.trials))
    ax = km_axes(v, scenario, trial=name)
    risk = [a for a in ax.figure.axes if a.get_title(loc="left") == "Number at risk"]
    assert len(risk) == 1
    randomised = v.trials[name].randomised
    switch = randomised[randomised["arm"] == "switch"]
    shown = {t.get_position()[0]: t.get_text() for t in risk[0].texts if t.get_position()[1] == 0}
    assert shown[0.0] == f"{len(switch):,}"
    assert shown[10.0] == f"{int((switch['pfs_months'] >= 10).sum()):,}"
    target = scenario.targets[f"{name}.pfs_hazard_ratio"]
    hr = next(t.get_text() for t in ax.texts if "HR" in t.get_text())
    assert "simulated" in hr and f"trial {target.value:.2f}" in hr


def test_an_all_zero_evppi_has_distinct_ticks():
    """EVPPI of 0 everywhere: whole-currency ticks, never "USD 0, USD 0, USD 1"."""
    t = pd.DataFrame({"group": ["a.b", "c.d"], "wtp": [1e5, 1e5], "evppi": [0.0, 0.0]})
    ax = plots.evppi_plot(t, "USD", wtp=1e5, evpi=0.0)
    ax.figure.canvas.draw()
    ticks = [label.get_text() for label in ax.get_xticklabels()]
    assert len(ticks) == len(set(ticks)), ticks
