"""The Excel workbook a model reviewer opens: numbers stored as numbers with number formats,
headers with units and currency, native charts on the right ranges, a manifest."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from openpyxl import load_workbook

from hemodel.analysis import cea
from hemodel.analysis.psa import run_psa
from hemodel.present import columns as look
from hemodel.present import workbook
from hemodel.present.psa_report import psa_tables
from hemodel.run.simulation import simulate
from hemodel.scenario.load import load_scenario, scenario_from_dict

from ..conftest import ROOT

PATIENTS, SAMPLES = 40, 12


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Tiny scenario with one uncertain parameter: base case, PSA and the workbook of both."""
    folder = tmp_path_factory.mktemp("workbook")
    path = folder / "s.yaml"
    path.write_text(
        f"extends: {ROOT / 'scenarios' / 'tiny.yaml'}\n"
        "assays:\n  blood_test:\n    sensitivity:\n      value: 0.9\n"
        "      psa: {dist: beta, mean: 0.9, sd: 0.04}\n      source: Smith 2024\n"
    )
    scenario = load_scenario(path)
    results = simulate(scenario, patients=PATIENTS, seed=1, progress=False)
    per, drawn = run_psa(scenario, SAMPLES, 10, seed=1)
    psa = psa_tables(scenario, per, drawn, 10, "array")
    sheets = {
        "inputs": workbook.numeric_inputs(scenario, path),
        "summary": results.summary(),
        "incremental": results.incremental(),
        "frontier": cea.incremental_analysis(results.ce_table()[["strategy", "cost", "qaly"]]),
        "psa_samples": per,
        "ce_plane": cea.ce_plane(per, scenario.reference),
        "ceac": psa["ceac"],
    }
    manifest = workbook.manifest_items(
        scenario, path, seed=1, patients=PATIENTS, engine="array", psa_samples=SAMPLES
    )
    out = workbook.write_workbook(folder / "report.xlsx", sheets, "USD", manifest)
    return {"book": load_workbook(out), "sheets": sheets, "scenario": scenario}


def columns(ws) -> dict[str, int]:
    """Header text → column number (1-based)."""
    return {c.value: c.column for c in ws[1]}


def values(ws, header: str) -> list:
    col = columns(ws)[header]
    return [row[0] for row in ws.iter_rows(min_row=2, min_col=col, max_col=col)]


def test_values_are_numbers_with_number_formats(run):
    ws = run["book"]["summary"]
    summary = run["sheets"]["summary"]
    for header, name, fmt in (
        ("Total cost (USD, discounted)", "cost_total", "#,##0"),
        ("QALYs (discounted)", "qalys", "#,##0.000"),
        ("Switched therapy", "switches", "0.0%"),
        ("True progression-free time (months)", "mean_progression_free_months", "#,##0.0"),
    ):
        cells = values(ws, header)
        assert all(c.data_type == "n" and c.number_format == fmt for c in cells), header
        assert [c.value for c in cells] == pytest.approx(summary[name].tolist()), header


def test_missing_values_are_empty_cells(run):
    """The reference's ICER on the frontier is NaN: an empty cell, not 'nan'."""
    ws = run["book"]["frontier"]
    icers = values(ws, "ICER (USD per QALY)")
    frontier = run["sheets"]["frontier"]
    assert [c.value is None for c in icers] == frontier["icer"].isna().tolist()
    assert any(c.value is None for c in icers) and any(c.data_type == "n" for c in icers)


def test_headers_name_units_and_currency(run):
    book = run["book"]
    incremental = columns(book["incremental"])
    for header in ("Incremental cost (USD, discounted)", "Incremental QALYs (discounted)",
                   "ICER (USD per QALY)", "Incremental net monetary benefit (USD)",
                   "Cost (USD, discounted), Monte Carlo SE"):  # fmt: skip
        assert header in incremental, header
    assert list(columns(book["ceac"])) == [
        "WTP (USD per QALY)",
        "Strategy",
        "Probability cost-effective",
    ]
    assert "Cost of first-line drugs (USD, discounted)" in columns(book["summary"])


def test_header_row_is_frozen_styled_and_wide_enough(run):
    ws = run["book"]["incremental"]
    assert ws.freeze_panes == "A2"
    assert all(c.font.bold and c.alignment.wrap_text for c in ws[1])
    assert all(ws.column_dimensions[c.column_letter].width >= 8 for c in ws[1])


def test_inputs_are_numeric_with_range_and_source(run):
    ws = run["book"]["inputs"]
    rows = {r[0].value: r for r in ws.iter_rows(min_row=2)}
    cols = columns(ws)
    sensitivity = rows["assays.blood_test.sensitivity"]
    value, low, high = (sensitivity[cols[h] - 1] for h in ("Value", "Low value", "High value"))
    assert all(c.data_type == "n" for c in (value, low, high))
    assert low.value < value.value == 0.9 < high.value < 1
    assert sensitivity[cols["Source"] - 1].value == "Smith 2024"
    assert sensitivity[cols["PSA distribution"] - 1].value == "beta(mean 0.9, sd 0.04)"
    visit = rows["costs.visit"]
    assert visit[cols["Low value"] - 1].value is None
    assert visit[cols["Unit"] - 1].value == "USD"
    assert not any(name.startswith("strategies.") for name in rows)


def test_ce_plane_chart_draws_each_strategy_from_its_rows(run):
    ws = run["book"]["ce_plane"]
    (chart,) = ws._charts
    assert "USD" in _title(chart.y_axis) and "QALY" in _title(chart.x_axis)
    plane = run["sheets"]["ce_plane"]
    others = list(dict.fromkeys(plane["strategy"]))
    assert [s.tx.v for s in chart.series] == others
    strategy = [c.value for c in values(ws, "Strategy")]
    for series in chart.series:
        x_col, x_rows = _range(series.xVal.numRef.f)
        y_col, y_rows = _range(series.yVal.numRef.f)
        assert (x_col, y_col) == ("D", "C")  # incremental QALYs, incremental cost
        assert x_rows == y_rows and len(x_rows) == SAMPLES
        assert {strategy[r - 2] for r in x_rows} == {series.tx.v}
        assert series.marker.symbol == "circle" and series.spPr.ln.noFill  # markers only


def test_ceac_chart_is_a_line_per_strategy_over_wtp(run):
    ws = run["book"]["ceac"]
    (chart,) = ws._charts
    assert _title(chart.x_axis) == "WTP (USD per QALY)"
    assert _title(chart.y_axis) == "Probability cost-effective"
    assert (chart.y_axis.scaling.min, chart.y_axis.scaling.max) == (0, 1)
    ceac = run["sheets"]["ceac"]
    assert [s.tx.v for s in chart.series] == list(run["scenario"].strategies)
    strategy = [c.value for c in values(ws, "Strategy")]
    wtps = ceac["wtp"].nunique()
    for series in chart.series:
        assert not series.spPr.ln.noFill and series.marker.symbol is None  # lines, no markers
        assert _range(series.xVal.numRef.f)[0] == "A" and _range(series.yVal.numRef.f)[0] == "C"
        rows = _range(series.yVal.numRef.f)[1]
        assert len(rows) == wtps and {strategy[r - 2] for r in rows} == {series.tx.v}


def _title(axis) -> str:
    return "".join(r.t for p in axis.title.tx.rich.p for r in p.r)


def _range(ref: str) -> tuple[str, range]:
    """``'sheet'!$D$2:$D$13`` → ("D", range(2, 14)); ``'sheet'!$C$2`` → ("C", range(2, 3))."""
    first, _, last = ref.split("!")[1].replace("$", "").partition(":")
    last = last or first
    return first[0], range(int(first[1:]), int(last[1:]) + 1)


def test_base_case_plane_without_a_psa(run, tmp_path):
    """No PSA: the plane shows each strategy's discounted cost against its QALYs."""
    frontier = run["sheets"]["frontier"]
    out = workbook.write_workbook(tmp_path / "b.xlsx", {"frontier": frontier}, "USD", {})
    (chart,) = load_workbook(out)["frontier"]._charts
    assert _title(chart.y_axis) == "Cost (USD, discounted)"
    assert _title(chart.x_axis) == "QALYs (discounted)"
    assert len(chart.series) == len(frontier)
    assert [_range(s.xVal.numRef.f)[0] for s in chart.series] == ["C"] * len(frontier)


def test_manifest_states_currency_price_year_and_discount_rates(run):
    ws = run["book"]["manifest"]
    assert run["book"].sheetnames[0] == "manifest"
    items = {r[0].value: r[1:] for r in ws.iter_rows(min_row=2)}
    assert items["Currency"][0].value == "USD"
    assert items["Price year"][0].value == 2025 and items["Price year"][0].data_type == "n"
    for name in ("Discount rate, costs (% a year)", "Discount rate, QALYs (% a year)"):
        cell = items[name][0]
        assert (cell.value, cell.data_type, cell.number_format) == (0.03, "n", "0.0%")
    assert items["Willingness to pay (USD per QALY)"][0].value == 100000
    assert items["Time horizon (years)"][0].value == 10
    assert items["PSA samples"][0].value == SAMPLES
    assert len(items["Scenario hash (SHA-256)"][0].value) == 64


def test_sheet_names_are_valid_unique_and_short():
    long = "incremental analysis of every strategy against the reference"
    names = workbook.sheet_names([long, long + " again", "Summary", "summary", "a[1]:b/c?"])
    titles = list(names.values())
    assert all(len(t) <= 31 for t in titles)
    assert len({t.lower() for t in titles}) == len(titles)
    assert names["a[1]:b/c?"] == "a_1__b_c_"


def test_long_sheet_names_in_a_workbook(tmp_path):
    table = pd.DataFrame({"wtp": [0.0, 1.0]})
    long = "cost-effectiveness acceptability frontier"
    sheets = {long: table, long + " (sampled)": table}
    out = workbook.write_workbook(tmp_path / "n.xlsx", sheets, "GBP", {}, charts=[])
    names = load_workbook(out).sheetnames
    assert len(names) == 3 and len(set(names)) == 3 and all(len(n) <= 31 for n in names)
    assert load_workbook(out)[names[1]]["A1"].value == "WTP (GBP per QALY)"


def test_headers_follow_what_the_table_says():
    """DSA outcomes take their measure's unit, budget costs their basis, threshold prices
    their price unit; unknown columns read as words and parameters by their names."""
    words = {"currency": "EUR"}
    dsa = pd.DataFrame({"measure": ["icer"], "outcome_low": [1.0]})
    context = workbook.header_context(dsa, "EUR")
    assert look.column("outcome_low").header.format(**context) == (
        "ICER (EUR per QALY) at low value"
    )
    budget = workbook.header_context(pd.DataFrame({"basis": ["undiscounted"]}), "EUR")
    assert look.column("impact").header.format(**budget) == "Budget impact (EUR, undiscounted)"
    prices = workbook.header_context(pd.DataFrame({"price_unit": ["EUR per test"]}), "EUR")
    assert look.column("threshold_price").header.format(**prices) == (
        "Threshold price (EUR per test)"
    )
    assert look.column("mean_lead_time_months_se").header == "Lead time (months), Monte Carlo SE"
    assert look.column("frobnicate_count") == look.Column("Frobnicate count", "General")
    assert look.column("assays.blood_test.cost").header == "Blood test: cost"
    assert look.column("wtp").header.format(**words) == "WTP (EUR per QALY)"


def test_a_table_in_another_currency_is_refused(tmp_path):
    table = pd.DataFrame({"impact": [1.0], "currency": ["GBP"]})
    with pytest.raises(ValueError, match="GBP"):
        workbook.write_workbook(tmp_path / "c.xlsx", {"budget": table}, "USD", {})


def test_cells_store_numbers_booleans_and_open_intervals():
    assert workbook.cell_value(math.nan) is None
    assert workbook.cell_value(pd.NA) is None
    assert workbook.cell_value(math.inf) == "∞"
    assert isinstance(workbook.cell_value(pd.Series([3]).iloc[0]), int)
    assert workbook.cell_value(pd.Series([True]).iloc[0]) is True


def test_charts_and_manifest_are_checked(tmp_path):
    table = pd.DataFrame({"wtp": [0.0], "strategy": ["a"]})
    bad = workbook.Chart("ceac", "wtp", "probability", "CEAC", "line")
    with pytest.raises(ValueError, match="probability"):
        workbook.write_workbook(tmp_path / "x.xlsx", {"ceac": table}, "USD", {}, charts=[bad])
    with pytest.raises(ValueError, match="manifest"):
        workbook.write_workbook(tmp_path / "y.xlsx", {"manifest": table}, "USD", {})


def test_manifest_time_horizon_is_in_years(tiny):
    scenario = scenario_from_dict(tiny(time_horizon="18 months"))
    items = workbook.manifest_items(scenario, "s.yaml", seed=3, patients=10, engine="simpy")
    assert items["time_horizon_years"] == pytest.approx(1.5)
    assert "psa_patients" not in items and items["seed"] == 3
