"""Testing-frequency sweeps: grid expansion, analysis, command."""

from __future__ import annotations

import pandas as pd
import pytest

from hemodel.analysis.sweep import analyse, expand
from hemodel.commands.main import main
from hemodel.scenario.load import ScenarioError, scenario_from_dict

from ..conftest import ROOT, tiny_dict

SWEEP = {
    "grid": {
        "base": "blood_test_q12w",
        "every": ["4 weeks", "12 weeks", "24 weeks"],
        "when": ["immediately", "next_visit"],
        "compare_with": ["test_at_progression"],
    }
}


def test_grid_expands_into_strategies_with_the_listed_settings():
    """3 intervals × 2 switch timings = 6 strategies, plus the reference and the comparator;
    each generated strategy carries its interval and timing, other settings from the base."""
    scenario = scenario_from_dict(tiny_dict(sweeps=SWEEP))
    expanded, grid = expand(scenario, "grid")
    assert len(grid) == 6
    assert list(expanded.strategies)[:2] == ["imaging_only", "test_at_progression"]
    for row in grid.itertuples():
        st = expanded.strategies[row.strategy]
        assert st.monitoring.every.days() == pytest.approx(7 * row.every_weeks)
        assert st.switch.when == row.when
        assert st.monitoring.assay == "blood_test" and st.monitoring.start.days() == 84
    assert expanded.reference == "imaging_only"


def test_a_sweep_naming_an_unknown_assay_is_a_clear_error():
    data = tiny_dict(sweeps={"grid": {"base": "blood_test_q12w", "assay": ["nope"]}})
    with pytest.raises(ScenarioError, match="sweeps.grid.assay: assay 'nope' is not defined"):
        expand(scenario_from_dict(data), "grid")
    data = tiny_dict(sweeps={"grid": {"base": "imaging_only"}})
    with pytest.raises(ScenarioError, match="must name a strategy with monitoring"):
        expand(scenario_from_dict(data), "grid")


def test_optimal_strategy_maximises_net_benefit_at_each_wtp():
    """Hand example: A (0, 1.0), B (1000, 1.1), C (5000, 1.15). NMB at 0 → A; at 20,000:
    A 20,000, B 21,000, C 18,000 → B; at 100,000: A 100,000, B 109,000, C 110,000 → C."""
    summary = pd.DataFrame(
        {"strategy": ["A", "B", "C"], "cost": [0.0, 1000.0, 5000.0], "qaly": [1.0, 1.1, 1.15]}
    )
    grid = pd.DataFrame({"strategy": ["B", "C"], "every_weeks": [12.0, 4.0]})
    out = analyse(summary, grid, [0, 20_000, 100_000])
    assert list(out["optimal"]["strategy"]) == ["A", "B", "C"]
    assert list(out["optimal"]["every_weeks"].fillna(-1)) == [-1, 12.0, 4.0]
    assert out["frontier"].set_index("strategy").loc["C", "icer"] == pytest.approx(80_000)


def test_sweep_command_writes_tables_and_plot(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(
        f"extends: {ROOT / 'scenarios' / 'tiny.yaml'}\nsweeps:\n  grid:\n"
        "    base: blood_test_q12w\n    every: [6 weeks, 12 weeks]\n"
    )
    assert main(["sweep", str(path), "--patients", "60", "--out", str(tmp_path), "--quiet"]) == 0
    table = pd.read_csv(tmp_path / "sweep.csv")
    assert list(table["every_weeks"]) == [6.0, 12.0] and (table["currency"] == "USD").all()
    assert len(pd.read_csv(tmp_path / "sweep_optimal.csv")) > 100
    assert (tmp_path / "sweep.png").stat().st_size > 10_000
    assert "Optimal strategy by willingness to pay" in capsys.readouterr().out
