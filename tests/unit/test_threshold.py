"""Threshold price: exact cost lines, ICER(p*) = WTP, frontier intervals by hand, plot, CLI."""

from __future__ import annotations

import math

import matplotlib
import pandas as pd
import pytest

from hemodel.analysis import threshold as th
from hemodel.analysis.cea import incremental_analysis
from hemodel.commands.main import main
from hemodel.present.payer_plots import icer_price_plot
from hemodel.run.simulation import simulate
from hemodel.scenario.load import load_scenario, with_values
from tests.unit.test_cli import TINY

matplotlib.use("Agg")

PATIENTS, SEED = 150, 2
DRUG = "switch_therapies.new_drug.cost"


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(TINY)


@pytest.fixture(scope="module")
def lines(scenario):
    return th.price_lines(scenario, "new_drug", patients=PATIENTS, seed=SEED)


def test_price_parameter_names(scenario):
    assert th.price_parameter(scenario, "new_drug") == DRUG
    assert th.price_parameter(scenario, "blood_test") == "assays.blood_test.cost"
    assert th.price_parameter(scenario, "assays.blood_test.cost") == "assays.blood_test.cost"
    with pytest.raises(ValueError, match="no price called"):
        th.price_parameter(scenario, "costs.imaging")
    assert th.default_price_item(scenario) == "new_drug"
    assert th.price_unit(scenario, DRUG) == "USD per month"
    assert th.price_unit(scenario, "assays.blood_test.cost") == "USD per test"


@pytest.mark.parametrize("item", ["new_drug", "blood_test"])
def test_cost_is_exactly_linear_in_price(scenario, item):
    """A third price reproduces a + b·p to 1e-9 relative, and QALYs do not move."""
    lines = th.price_lines(scenario, item, patients=PATIENTS, seed=SEED)
    path = th.price_parameter(scenario, item)
    p3 = 2345.678
    third = th.cost_at_price(scenario, path, p3, PATIENTS, SEED)
    predicted = lines["cost_at_zero"] + lines["cost_per_price_unit"] * p3
    assert third["cost_total"].to_numpy() == pytest.approx(predicted.to_numpy(), rel=1e-9)
    assert (third["qalys"].to_numpy() == lines["qaly"].to_numpy()).all()
    slope = lines.set_index("strategy")["cost_per_price_unit"]
    assert slope["imaging_only"] == 0  # uses neither the drug nor the test
    assert (slope["test_at_progression"] > 0) == (item == "blood_test")


def test_icer_at_threshold_price_equals_wtp_in_a_new_run(scenario, lines):
    """Re-simulate at p*: the ordinary incremental table's ICER is the WTP (1e-9 relative)."""
    row = th.threshold_prices(lines, 1.0).set_index("strategy").loc["blood_test_q12w"]
    wtp = (row["icer_at_zero"] + row["icer_at_base"]) / 2  # so that 0 < p* < base price
    p_star = th.threshold_prices(lines, wtp).set_index("strategy").loc["blood_test_q12w"]
    p = p_star["threshold_price"]
    assert 0 < p < scenario.switch_therapies["new_drug"].cost.value and p_star["note"] == ""
    inc = simulate(with_values(scenario, {DRUG: p}), patients=PATIENTS, seed=SEED).incremental()
    icer = inc.set_index("strategy").loc["blood_test_q12w", "icer"]
    assert icer == pytest.approx(wtp, rel=1e-9)


def test_threshold_notes(lines):
    t = th.threshold_prices(lines, [100_000, 0]).set_index(["wtp", "strategy"])
    assert math.isnan(t.loc[(100_000, "test_at_progression"), "threshold_price"])
    assert t.loc[(100_000, "test_at_progression"), "note"].startswith("price does not change")
    # at WTP 0 a strategy that costs more even with a free drug has a negative threshold
    assert t.loc[(0, "blood_test_q12w"), "threshold_price"] < 0
    assert t.loc[(0, "blood_test_q12w"), "note"] == "not cost-effective at any price >= 0"


#: Hand-made lines: cost(p) = a + b·p. At W = 100,000 the NMB lines are
#: A: 100,000;  B: 200,000 − 50,000 − 10p = 150,000 − 10p;
#: C: 250,000 − 60,000 − 30p = 190,000 − 30p.
#: C ≥ B for p ≤ 2,000; B ≥ A for p ≤ 5,000 (C meets A at 3,000, after B took over).
HAND = pd.DataFrame(
    {
        "strategy": ["A", "B", "C"],
        "qaly": [1.0, 2.0, 2.5],
        "cost_at_zero": [0.0, 50_000.0, 60_000.0],
        "cost_per_price_unit": [0.0, 10.0, 30.0],
        "base_price": 1000.0,
        "price_parameter": "switch_therapies.x.cost",
        "price_unit": "USD per month",
        "currency": "USD",
        "reference": "A",
    }
)


def test_threshold_prices_by_hand():
    """vs A: B at (100,000·1 − 50,000)/10 = 5,000; C at (100,000·1.5 − 60,000)/30 = 3,000."""
    t = th.threshold_prices(HAND, 100_000).set_index("strategy")["threshold_price"]
    assert t["B"] == pytest.approx(5000) and t["C"] == pytest.approx(3000)


def test_threshold_prices_need_the_reference_and_a_comparator():
    with pytest.raises(ValueError, match="reference strategy 'Z' is not among"):
        th.threshold_prices(HAND, 100_000, reference="Z")
    with pytest.raises(ValueError, match="no strategy to compare with 'A'"):
        th.threshold_prices(HAND[HAND["strategy"] == "A"], 100_000)


def test_frontier_intervals_by_hand():
    f = th.frontier_prices(HAND, 100_000)
    assert list(f["strategy"]) == ["C", "B", "A"]
    assert list(f["price_from"]) == pytest.approx([0, 2000, 5000])
    assert list(f["price_to"]) == pytest.approx([2000, 5000, math.inf])
    assert list(f["preferred_above"]) == ["B", "A", None]
    # at the midpoint of B's interval (p = 3,500) B follows A on the frontier: ICER
    # (50,000 + 10·3,500 − 0) / (2 − 1) = 85,000 <= WTP
    b = f.set_index("strategy").loc["B"]
    assert b["compared_with"] == "A" and b["frontier_icer"] == pytest.approx(85_000)
    # at each interval end the frontier ICER between the two neighbours is exactly the WTP
    for p, hi, lo in ((2000, "C", "B"), (5000, "B", "A")):
        inc = incremental_analysis(th.costs(HAND, p)).set_index("strategy")
        d = inc.loc[hi, ["cost", "qaly"]] - inc.loc[lo, ["cost", "qaly"]]
        assert d["cost"] / d["qaly"] == pytest.approx(100_000, rel=1e-12)
    # a WTP at which C is never preferred above price 0
    low = th.frontier_prices(HAND, 10_000)
    assert low.set_index("strategy").loc["C", "note"].startswith("not preferred")


def test_frontier_agrees_with_incremental_analysis_on_the_model(lines):
    """At a price inside every interval, the interval's strategy has the highest NMB and is on
    the frontier of hemodel.analysis.cea.incremental_analysis."""
    for w in (100_000, 400_000):
        f = th.frontier_prices(lines, w, min_price=-20_000).dropna(subset=["price_from"])
        for r in f.itertuples():
            p = r.price_from + 1 if math.isinf(r.price_to) else (r.price_from + r.price_to) / 2
            c = th.costs(lines, p)
            best = c["strategy"][(w * c["qaly"] - c["cost"]).idxmax()]
            assert best == r.strategy and r.frontier_status == "frontier"


def test_icer_price_plot(lines, tmp_path):
    from hemodel.present.plots import save

    ax = icer_price_plot(lines, [100_000, 400_000], label="new_drug")
    assert ax.get_xlabel() == "Price of new_drug (USD per month)"
    assert "USD per QALY" in ax.get_ylabel() and "new_drug" in ax.get_title()
    save(ax, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 0


def test_cli_writes_tables_and_plot(tmp_path, capsys):
    out = tmp_path / "thr"
    code = main(
        ["threshold", TINY, "--wtp", "100000,400000", "--patients", "40", "--out", str(out)]
    )
    text = capsys.readouterr().out
    assert code == 0 and "Threshold price (USD per month)" in text
    for name in ("price_lines.csv", "threshold_prices.csv", "threshold_frontier.csv",
                 "threshold_price.png"):  # fmt: skip
        assert (out / name).exists()
    assert main(["threshold", TINY, "--price", "nothing", "--out", str(out)]) == 2
