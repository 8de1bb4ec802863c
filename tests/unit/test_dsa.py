"""Deterministic sensitivity analysis on the tiny scenario: base case, swings, grid, plots, CLI."""

from __future__ import annotations

import math

import matplotlib
import pytest

from hemodel.analysis import dsa
from hemodel.commands.main import main
from hemodel.present.sensitivity_plots import heatmap, tornado
from hemodel.run.simulation import simulate
from hemodel.scenario.load import scenario_from_dict

matplotlib.use("Agg")

PATIENTS, SEED, WTP = 150, 4, 100_000.0
COMPARISON = "blood_test_q12w"
#: Ranges added to tiny.yaml (which has none): a drug price, a scan price, a test accuracy,
#: and a therapy neither compared strategy uses (no testing at progression).
RANGES = {
    "switch_therapies.new_drug.cost": {"value": 10000, "per": "month", "range": [5000, 15000]},
    "costs.imaging": {"value": 500, "range": [400, 600]},
    "assays.blood_test.sensitivity": {
        "value": 0.9,
        "psa": {"dist": "beta", "mean": 0.9, "sd": 0.05},
    },
    "targeted_second_line.cost": {"value": 20000, "per": "month", "range": [10000, 30000]},
}


@pytest.fixture(scope="module")
def scenario():
    from tests.conftest import tiny_dict

    return scenario_from_dict(tiny_dict(RANGES))


@pytest.fixture(scope="module")
def table(scenario):
    return dsa.one_way(scenario, COMPARISON, patients=PATIENTS, seed=SEED, skip_unused=False)


def test_reduced_scenario_keeps_reference_and_comparison(scenario):
    small = dsa.reduced_scenario(scenario, COMPARISON)
    assert list(small.strategies) == ["imaging_only", COMPARISON]
    assert small.reference == "imaging_only"
    with pytest.raises(ValueError, match="unknown strategy"):
        dsa.reduced_scenario(scenario, "nope")


def test_every_ranged_parameter_is_included_with_its_range(scenario, table):
    """Explicit ranges are used as given; a psa: distribution gives its 2.5/97.5 percentiles."""
    assert set(table["parameter"]) == set(RANGES)
    row = table.set_index("parameter").loc["assays.blood_test.sensitivity"]
    lo, hi = scenario.assays["blood_test"].sensitivity.psa.interval(0.95)
    assert (row["low"], row["high"], row["range_source"]) == (lo, hi, "psa 95%")
    row = table.set_index("parameter").loc["costs.imaging"]
    assert (row["low"], row["high"], row["unit"]) == (400, 600, "USD")
    assert table.set_index("parameter").loc["switch_therapies.new_drug.cost", "unit"] == (
        "USD per month"
    )


def test_base_equals_the_deterministic_run_of_the_full_scenario(scenario, table):
    """The base outcome is the INMB of the ordinary run (all four strategies, same seed):
    common random numbers make the reduced scenario give the same patients."""
    inc = simulate(scenario, patients=PATIENTS, seed=SEED).incremental().set_index("strategy")
    assert (table["base"] == table["base"].iloc[0]).all()
    assert table["base"].iloc[0] == pytest.approx(inc.loc[COMPARISON, "inmb"], rel=1e-9)
    assert (table["wtp"] == WTP).all() and (table["currency"] == "USD").all()


def test_a_parameter_without_effect_has_zero_swing(scenario, table):
    """Neither strategy tests at progression, so the targeted therapy's price cannot matter:
    run anyway, the swing is exactly zero; with skip_unused it is not run and flagged."""
    row = table.set_index("parameter").loc["targeted_second_line.cost"]
    assert row["swing"] == 0.0 and row["outcome_low"] == row["outcome_high"] == row["base"]
    skipped = dsa.one_way(
        scenario, COMPARISON, patients=PATIENTS, seed=SEED, only=["targeted_second_line.cost"]
    )
    assert not skipped["used"].iloc[0] and skipped["swing"].iloc[0] == 0.0


def test_swings_are_sorted_and_sane(table):
    """Sorted by swing; a price moves only costs, so its swing is |Δ incremental cost| and the
    INMB falls as the drug price rises; a better test raises INMB."""
    assert list(table["swing"]) == sorted(table["swing"], reverse=True)
    t = table.set_index("parameter")
    drug = t.loc["switch_therapies.new_drug.cost"]
    assert drug["inc_qaly_low"] == drug["inc_qaly_high"]
    assert drug["swing"] == pytest.approx(abs(drug["inc_cost_high"] - drug["inc_cost_low"]))
    assert drug["outcome_high"] < drug["base"] < drug["outcome_low"]
    # cost is linear in the price: the base lies midway between the symmetric ends
    assert drug["base"] == pytest.approx((drug["outcome_low"] + drug["outcome_high"]) / 2)
    # the drug price (±50% of 10,000/month for switched patients) beats the scan (±100)
    assert t.index[0] == "switch_therapies.new_drug.cost"
    sens = t.loc["assays.blood_test.sensitivity"]
    assert sens["inc_qaly_high"] > sens["inc_qaly_low"]


def test_icer_measure(scenario):
    t = dsa.one_way(
        scenario, COMPARISON, measure="icer", patients=PATIENTS, seed=SEED, only=["costs.imaging"]
    )
    row = t.iloc[0]
    assert row["outcome_low"] == pytest.approx(row["inc_cost_low"] / row["inc_qaly_low"])
    assert math.isnan(dsa.outcome(1.0, 0.0, "icer", WTP))
    with pytest.raises(ValueError, match="measure"):
        dsa.one_way(scenario, COMPARISON, measure="nmb")


def test_two_way_grid_matches_one_way_on_the_base_row(scenario, table):
    """A 3×3 grid over symmetric ranges has the base values in its middle: the middle row is the
    one-way analysis of x, and the centre cell is the base case."""
    x, y = "switch_therapies.new_drug.cost", "costs.imaging"
    grid = dsa.two_way(scenario, COMPARISON, x, y, steps=3, patients=PATIENTS, seed=SEED)
    assert len(grid) == 9 and sorted(grid["x_value"].unique()) == [5000, 10000, 15000]
    cell = grid.set_index(["x_value", "y_value"])["outcome"]
    one = table.set_index("parameter").loc[x]
    assert cell[(5000, 500)] == pytest.approx(one["outcome_low"], rel=1e-12)
    assert cell[(15000, 500)] == pytest.approx(one["outcome_high"], rel=1e-12)
    assert cell[(10000, 500)] == pytest.approx(one["base"], rel=1e-12)
    assert grid["x_unit"].iloc[0] == "USD per month" and grid["y_unit"].iloc[0] == "USD"


def test_plots_return_axes_with_units(scenario, table, tmp_path):
    from hemodel.present.plots import save

    ax = tornado(table, top=3)
    assert "blood_test_q12w vs imaging_only" in ax.get_title()
    assert "USD" in ax.get_xlabel() and len(ax.get_yticklabels()) == 3
    save(ax, tmp_path / "t.png")
    grid = dsa.two_way(
        scenario, COMPARISON, "switch_therapies.new_drug.cost", "costs.imaging", steps=2,
        patients=50, seed=SEED,
    )  # fmt: skip
    ax = heatmap(grid)
    assert ax.get_xlabel() == "switch_therapies.new_drug.cost (USD per month)"
    assert ax.get_ylabel() == "costs.imaging (USD)"
    save(ax, tmp_path / "h.png")
    assert (tmp_path / "t.png").stat().st_size > 0 and (tmp_path / "h.png").stat().st_size > 0


def test_cli_writes_tables_and_plots(tmp_path, capsys):
    import pandas as pd
    import yaml

    from tests.conftest import tiny_dict

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(tiny_dict(RANGES)))
    out = tmp_path / "out"
    code = main(
        ["dsa", str(path), "--comparison", COMPARISON, "--patients", "40", "--out", str(out),
         "--two-way", "switch_therapies.new_drug.cost", "assays.blood_test.sensitivity",
         "--steps", "2", "--quiet"]
    )  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0 and "Swing (USD)" in text and "INMB at USD 100,000/QALY" in text
    # the two-way table's row labels are the sensitivities themselves, not rounded to 0 or 1
    low, high = pd.read_csv(out / "dsa_two_way.csv")["y_value"].agg(["min", "max"])
    rows = text.split("Two-way:")[1].splitlines()
    assert any(r.split()[:1] == [f"{low:.4g}"] for r in rows), rows
    assert any(r.split()[:1] == [f"{high:.4g}"] for r in rows), rows
    for name in ("dsa.csv", "tornado.png", "dsa_two_way.csv", "two_way.png"):
        assert (out / name).exists()
    assert len(pd.read_csv(out / "dsa.csv")) == len(RANGES)


def test_cli_without_ranges_exits_2(tmp_path, capsys):
    from tests.unit.test_cli import TINY

    assert main(["dsa", TINY, "--patients", "10", "--out", str(tmp_path), "--quiet"]) == 2
    assert "no parameter has a range" in capsys.readouterr().err
