"""Budget impact: hand-computed population arithmetic, simulated costs, plot and CLI."""

from __future__ import annotations

import matplotlib
import pandas as pd
import pytest

from hemodel.analysis import budget
from hemodel.commands.main import main
from hemodel.present.payer_plots import budget_plot
from hemodel.run.simulation import simulate
from hemodel.scenario.load import load_scenario
from tests.unit.test_cli import TINY

matplotlib.use("Agg")

#: Mean cost per patient by year since start (hand-made):
#:            drugs (y1, y2, y3)   tests (y1, y2, y3)
#:   ref      100,  80,  50        0,  0,  0
#:   new      120,  90,  40       30, 20, 10
PER_PATIENT = pd.DataFrame(
    [
        (s, y, c, v)
        for s, table in (
            ("ref", {"drugs": (100, 80, 50), "tests": (0, 0, 0)}),
            ("new", {"drugs": (120, 90, 40), "tests": (30, 20, 10)}),
        )
        for c, values in table.items()
        for y, v in enumerate(values, start=1)
    ],
    columns=["strategy", "year", "category", "cost"],
)


def test_budget_impact_by_hand():
    """Incident 10, 20, 30 patients in years 1-3; uptake 50%, 100%, 0%.

    Reference world, drugs: y1 10·100 = 1,000; y2 10·80 + 20·100 = 2,800;
    y3 10·50 + 20·80 + 30·100 = 5,100.  Tests: 0.
    Impact = Σ_e n_e·u_e·(new − ref)[t−e+1] with n·u = 5, 20, 0:
    drugs (differences 20, 10, −10): y1 5·20 = 100; y2 5·10 + 20·20 = 450;
    y3 5·(−10) + 20·10 + 0 = 150.
    tests (differences 30, 20, 10): y1 5·30 = 150; y2 5·20 + 20·30 = 700;
    y3 5·10 + 20·20 + 0 = 450.
    """
    t = budget.budget_impact(PER_PATIENT, "ref", [10, 20, 30], [0.5, 1.0, 0.0], 3, currency="USD")
    assert list(t.columns) == [
        "year", "strategy", "category", "reference_cost", "strategy_cost", "impact",
        "reference", "currency", "basis",
    ]  # fmt: skip
    assert (t["basis"] == "undiscounted").all() and (t["strategy"] == "new").all()
    g = t.set_index(["category", "year"])
    assert list(g.loc["drugs", "reference_cost"]) == pytest.approx([1000, 2800, 5100])
    assert list(g.loc["drugs", "impact"]) == pytest.approx([100, 450, 150])
    assert list(g.loc["drugs", "strategy_cost"]) == pytest.approx([1100, 3250, 5250])
    assert list(g.loc["tests", "reference_cost"]) == pytest.approx([0, 0, 0])
    assert list(g.loc["tests", "impact"]) == pytest.approx([150, 700, 450])
    tot = budget.totals(t)
    assert list(tot["impact"]) == pytest.approx([250, 1150, 600])
    assert list(tot["cumulative_impact"]) == pytest.approx([250, 1400, 2000])


def test_single_numbers_apply_to_every_year_and_zero_uptake_costs_nothing():
    t = budget.budget_impact(PER_PATIENT, "ref", 10, 0.0, 3)
    assert (t["impact"] == 0).all() and (t["strategy_cost"] == t["reference_cost"]).all()
    full = budget.budget_impact(PER_PATIENT, "ref", 10, 1.0, 2)
    # everyone on the new strategy, 10 a year: year 2 = 10·(y1 + y2 difference)
    drugs = full.set_index(["category", "year"]).loc[("drugs", 2), "impact"]
    assert drugs == pytest.approx(10 * (20 + 10))


@pytest.mark.parametrize(
    ("incident", "uptake", "years", "message"),
    [
        (10, 1.5, 3, "between 0 and 1"),
        (10, [0.1, 0.2], 3, "one per year"),
        (-1, 0.5, 3, ">= 0"),
        (10, 0.5, 4, "cover 3 years"),
    ],
)
def test_bad_population_inputs(incident, uptake, years, message):
    with pytest.raises(ValueError, match=message):
        budget.budget_impact(PER_PATIENT, "ref", incident, uptake, years)


def test_per_patient_costs_are_the_simulated_means():
    """Means of the cost_y<year>_<category> columns; summed over a horizon-long budget they
    give the undiscounted total cost per patient."""
    s = load_scenario(TINY)
    years = 10  # the tiny scenario's horizon
    r = simulate(s, patients=60, seed=5, budget_years=years)
    costs = budget.per_patient_costs(r.patients, years)
    assert set(costs["year"]) == set(range(1, years + 1))
    p = r.patients[r.patients["strategy"] == "blood_test_q12w"]
    c = costs[costs["strategy"] == "blood_test_q12w"].set_index(["year", "category"])["cost"]
    assert c[(2, "testing")] == pytest.approx(p["cost_y2_testing"].mean())
    assert c.sum() == pytest.approx(p["cost_total_undiscounted"].mean(), rel=1e-9)
    with pytest.raises(ValueError, match="budget_years=11"):
        budget.per_patient_costs(r.patients, 11)


def test_run_budget_impact_on_the_tiny_scenario():
    s = load_scenario(TINY)
    table, costs = budget.run_budget_impact(
        s, 1000, [0.5, 1.0], 2, strategies=["blood_test_q12w"], patients=80, seed=3
    )
    assert set(costs["strategy"]) == {"imaging_only", "blood_test_q12w"}
    assert set(table["strategy"]) == {"blood_test_q12w"}
    year1 = table[table["year"] == 1].set_index("category")
    m = costs.set_index(["strategy", "year", "category"])["cost"]
    # year 1: 1,000 patients, half on the strategy
    expected = 500 * (m[("blood_test_q12w", 1, "testing")] - m[("imaging_only", 1, "testing")])
    assert year1.loc["testing", "impact"] == pytest.approx(expected)
    assert year1.loc["testing", "impact"] > 0  # tests every 12 weeks cost money
    with pytest.raises(ValueError, match="unknown strategies"):
        budget.run_budget_impact(s, 1000, 0.5, 2, strategies=["nope"], patients=10)


def test_budget_plot(tmp_path):
    from hemodel.present.plots import save

    t = budget.budget_impact(PER_PATIENT, "ref", [10, 20, 30], [0.5, 1.0, 0.0], 3, currency="USD")
    ax = budget_plot(t, "new", "10-30 incident patients")
    assert "new vs ref" in ax.get_title() and "undiscounted" in ax.get_ylabel()
    assert "USD" in ax.get_ylabel()
    save(ax, tmp_path / "b.png")
    assert (tmp_path / "b.png").stat().st_size > 0


def test_cli_writes_tables_and_plots(tmp_path, capsys):
    out = tmp_path / "bud"
    code = main(
        ["budget", TINY, "--incident", "100", "--uptake", "0.5,1", "--years", "2",
         "--strategies", "blood_test_q12w", "--patients", "30", "--out", str(out), "--quiet"]
    )  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0 and "UNDISCOUNTED USD" in text and "Impact (USD)" in text
    for name in ("budget_impact.csv", "budget_totals.csv", "annual_costs.csv",
                 "budget_blood_test_q12w.png"):  # fmt: skip
        assert (out / name).exists()
    assert main(["budget", TINY, "--uptake", "2", "--out", str(out), "--quiet"]) == 2
