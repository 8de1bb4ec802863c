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
    who = budget.resolve_population(s, incident=1000, uptake=[0.5, 1.0], years=2)
    table, costs = budget.run_budget_impact(
        s, who, strategies=["blood_test_q12w"], patients=80, seed=3
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
        budget.run_budget_impact(s, who, strategies=["nope"], patients=10)


def test_prevalent_patients_by_hand():
    """200 prevalent patients at the start of year 1, survivors of cohorts that started 1 and
    2 years before, of which 60% and 40% are alive: n_p = 200 / (0.6 + 0.4) = 200 per past
    cohort. Costs cover 4 years since start: drugs ref 100, 80, 50, 20; new 120, 90, 40, 10.
    Year 1, reference drugs: incident 10·100 + prevalent 200·(80 + 50) = 27,000;
    year 2: 10·80 + 10·100 + 200·(50 + 20) = 15,800.
    Impact, drugs (differences 20, 10, −10, −10), uptake 50% for all:
    year 1: 5·20 + 100·(10 − 10) = 100; year 2: 5·10 + 5·20 + 100·(−10 + −10) = −1,850.
    """
    four = pd.DataFrame(
        [("ref", y, "drugs", v) for y, v in enumerate((100, 80, 50, 20), 1)]
        + [("new", y, "drugs", v) for y, v in enumerate((120, 90, 40, 10), 1)],
        columns=["strategy", "year", "category", "cost"],
    )
    t = budget.budget_impact(four, "ref", 10, 0.5, 2, prevalent=200, alive=[0.6, 0.4])
    assert list(t["reference_cost"]) == pytest.approx([27_000, 15_800])
    assert list(t["impact"]) == pytest.approx([100, -1_850])
    with pytest.raises(ValueError, match="need 5"):  # 3 budget years + 2 past years
        budget.budget_impact(four, "ref", 10, 0.5, 3, prevalent=200, alive=[0.6, 0.4])


def test_per_member_per_month():
    t = budget.budget_impact(PER_PATIENT, "ref", [10, 20, 30], [0.5, 1.0, 0.0], 3, currency="USD")
    tot = budget.totals(t, plan_members=1_000)
    # impact 250, 1,150, 600 over 1,000 members × 12 months
    assert list(tot["impact_pmpm"]) == pytest.approx([250 / 12_000, 1150 / 12_000, 0.05])
    assert "impact_pmpm" not in budget.totals(t).columns


def test_population_from_the_scenario_and_flags_override():
    s = load_scenario("serena6_us")
    block = s.population
    who = budget.resolve_population(s)
    assert list(who.incident) == pytest.approx(
        [block.incident] * block.budget_years
        if not isinstance(block.incident, list)
        else block.incident
    )
    assert who.prevalent == block.prevalent and who.plan_members == block.plan_members
    assert who.origin == "scenario population: block"
    flagged = budget.resolve_population(s, incident=50, years=3, plan_members=10)
    assert list(flagged.incident) == [50, 50, 50] and flagged.plan_members == 10
    assert len(flagged.uptake) == 3 and "overridden" in flagged.origin
    with pytest.raises(ValueError, match="--incident"):
        budget.resolve_population(load_scenario(TINY))


def test_population_block_is_checked_with_its_line(tmp_path):
    from hemodel.scenario.load import ScenarioError

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        f"extends: {TINY}\npopulation:\n  incident: [100, 200]\n  budget_years: 3\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError, match=r"bad.yaml:3.*population.incident.*one per budget"):
        load_scenario(bad)


def test_prevalent_patients_raise_the_simulated_budget():
    s = load_scenario(TINY)
    base = budget.resolve_population(s, incident=100, uptake=1.0, years=2)
    more = budget.resolve_population(s, incident=100, uptake=1.0, years=2, prevalent=100)
    t0, _ = budget.run_budget_impact(s, base, patients=60, seed=2)
    t1, _ = budget.run_budget_impact(s, more, patients=60, seed=2)
    assert t1["reference_cost"].sum() > t0["reference_cost"].sum()


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
                 "budget_blood_test_q12w.png", "budget_overview.png"):  # fmt: skip
        assert (out / name).exists()
    assert main(["budget", TINY, "--uptake", "2", "--out", str(out), "--quiet"]) == 2
