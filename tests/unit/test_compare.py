"""``hemodel compare``: scenarios side by side (hemodel.analysis.compare, its presentation and
the command)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from hemodel.analysis.compare import (
    decisions,
    differing_inputs,
    settings,
    simulate_cases,
    strategy_results,
)
from hemodel.commands.main import main
from hemodel.present.compare_report import console, input_label, results_display
from hemodel.scenario.load import load_scenario, scenario_from_dict

from ..conftest import ROOT

PATIENTS = 300
TINY = str(ROOT / "scenarios" / "tiny.yaml")


def cheaper_drug(folder) -> str:
    """A variant of the tiny scenario whose switch drug costs USD 1,000 a month, not 10,000."""
    path = folder / "cheaper_drug.yaml"
    path.write_text(
        f"extends: {TINY}\n"
        "name: cheaper switch drug\n"
        "switch_therapies:\n"
        "  new_drug:\n"
        "    cost: {value: 1000, per: month}\n"
    )
    return str(path)


@pytest.fixture(scope="module")
def variant_cases(tmp_path_factory):
    scenarios = {
        "tiny": load_scenario(TINY),
        "cheap": load_scenario(cheaper_drug(tmp_path_factory.mktemp("variant"))),
    }
    return simulate_cases(scenarios, PATIENTS, seed=3)


def test_a_scenario_compared_with_itself_differs_in_nothing():
    same = load_scenario(TINY)
    cases = simulate_cases({"a": same, "b": same}, PATIENTS, seed=3)
    assert differing_inputs(cases).empty
    results = strategy_results(cases)
    a, b = (results[results["scenario"] == k].drop(columns="scenario") for k in "ab")
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    chosen = decisions(cases, [300_000])
    a, b = (chosen[chosen["scenario"] == k].drop(columns="scenario") for k in "ab")
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    assert "(none: the inputs agree)" in console(differing_inputs(cases), results, chosen, "ab")


def test_one_changed_cost_is_the_only_differing_input(variant_cases):
    inputs = differing_inputs(variant_cases)
    assert inputs["input"].tolist() == ["switch_therapies.new_drug.cost"]
    row = inputs.iloc[0]
    assert (row["tiny"], row["cheap"]) == (10_000, 1_000)
    assert row["tiny unit"] == row["cheap unit"] == "USD per month"
    assert input_label(row["input"]) == "Switch therapy — New drug: cost"


def test_a_cheaper_switch_drug_moves_the_decision_towards_monitoring(variant_cases):
    results = strategy_results(variant_cases).set_index(["strategy", "scenario"])
    # common random numbers: strategies that never switch see identical patients and prices
    for strategy in ("imaging_only", "test_at_progression"):
        assert results.loc[(strategy, "tiny"), "cost"] == results.loc[(strategy, "cheap"), "cost"]
    monitored = ("blood_test_q12w", "tiny"), ("blood_test_q12w", "cheap")
    assert results.loc[monitored[1], "qalys"] == results.loc[monitored[0], "qalys"]
    assert results.loc[monitored[1], "icer"] < results.loc[monitored[0], "icer"]
    chosen = decisions(variant_cases, [300_000]).set_index(["scenario", "wtp"])
    assert chosen.loc[("tiny", 300_000), "optimal"] == "imaging_only"
    assert chosen.loc[("cheap", 300_000), "optimal"] == "blood_test_q12w"
    assert chosen.loc[("cheap", 300_000), "inmb"] > 0
    assert chosen.loc[("cheap", 300_000), "wtp_from"] == "common"
    # the tiny scenario's own WTP (USD 100,000 per QALY) is too low for either
    assert chosen.loc[("cheap", 100_000), "optimal"] == "imaging_only"
    assert chosen.loc[("cheap", 100_000), "wtp_from"] == "scenario"
    # the next frontier strategy's ICER is the WTP at which the decision would change
    tiny = chosen.loc[("tiny", 300_000)]
    assert tiny["next"] == "blood_test_q12w"
    assert tiny["next_icer"] == pytest.approx(results.loc[monitored[0], "icer"])


def test_strategies_align_by_name_and_money_keeps_its_currency(tiny):
    data = tiny(currency="GBP")
    data["strategies"].pop("test_at_progression")
    cases = simulate_cases(
        {"usd": load_scenario(TINY), "gbp": scenario_from_dict(data)}, 100, seed=1
    )
    inputs = differing_inputs(cases).set_index("input")
    assert inputs.loc["currency", "gbp"] == "GBP"
    assert "test_at_progression" not in inputs.loc["strategies", "gbp"]
    assert inputs.loc["costs.visit", "gbp unit"] == "GBP"
    results = strategy_results(cases).set_index(["strategy", "scenario"])
    missing = results.loc[("test_at_progression", "gbp")]
    assert math.isnan(missing["cost"]) and missing["note"] == "not in this scenario"
    assert results.loc[("imaging_only", "gbp"), "currency"] == "GBP"
    assert results.loc[("imaging_only", "usd"), "currency"] == "USD"
    shown = results_display(strategy_results(cases), ["usd", "gbp"]).set_index(("", "Strategy"))
    assert math.isnan(shown.loc["test_at_progression", ("gbp (GBP)", "Cost")])
    assert shown.loc["test_at_progression", ("usd (USD)", "Cost")] != ""


def test_settings_carry_units_and_leave_out_what_cannot_change_a_result():
    scenario = load_scenario("serena6_us")
    found = settings(scenario)
    turnaround = scenario.assays["guardant360"].turnaround
    assert found["assays.guardant360.turnaround.mean"] == (turnaround.mean.value, turnaround.unit)
    wtps = "; ".join(f"{w.value:g}" for w in scenario.willingness_to_pay)
    assert found["willingness_to_pay"] == (wtps, "USD per QALY")
    assert found["costs.visit"][1] == "USD"
    assert found["discount_rates.costs"][1] == "per year"
    assert not any(p.startswith(("trials.", "targets.", "sweeps.", "name")) for p in found)
    assert not any(p.endswith((".source", ".psa", ".description")) for p in found)


def test_us_and_uk_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare", "serena6_us", "serena6_uk", "--patients", "200", "--quiet"]
    assert main([*args, "--wtp", "50000", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "serena6_us (USD)" in printed and "serena6_uk (GBP)" in printed
    assert "Costs: imaging" in printed and "Costs — First line: CDK4/6 inhibitor" in printed
    for name in ("compare_inputs.csv", "compare_results.csv", "compare_decisions.csv"):
        assert (out / name).stat().st_size > 0
    results = pd.read_csv(out / "compare_results.csv")
    assert set(zip(results["scenario"], results["currency"], strict=True)) == {
        ("serena6_us", "USD"),
        ("serena6_uk", "GBP"),
    }
    chosen = pd.read_csv(out / "compare_decisions.csv")
    assert (chosen.groupby("scenario")["wtp"].size() == 3).all()  # two own WTPs + --wtp
    page = (out / "compare.html").read_text()
    assert "data:image/png;base64," in page and "Inputs that differ" in page
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"


def test_the_same_file_twice_warns_but_runs(capsys):
    assert main(["compare", "tiny", TINY, "--patients", "20", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "same file" in err and "identical" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give at least two scenarios"),
        (["tiny", "--wtp", "abc"], "--wtp must be numbers"),
        (["tiny", "--wtp=-1"], "--wtp must be numbers >= 0"),
        (["tiny", "--out", TINY], "is a file, not a folder"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(extra, message, capsys):
    assert main(["compare", "tiny", *extra, "--patients", "10", "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and message in captured.err
    assert captured.out == ""


def test_a_missing_file_exits_2_naming_it(capsys):
    assert main(["compare", "tiny", "no_such_scenario.yaml", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no_such_scenario.yaml" in err and "not found" in err and "Traceback" not in err
