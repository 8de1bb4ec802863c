"""The decision population of population EVPI, against hand-computed sums."""

from __future__ import annotations

import pytest

from hemodel.analysis.population import decision_population
from hemodel.scenario.load import load_scenario, scenario_from_dict


def _with(population: dict | None, rate: float = 0.03):
    s = load_scenario("serena6_us")
    data = s.model_dump(by_alias=True, exclude={"population"})
    data["discount_rates"] = {"costs": rate, "qalys": rate}
    if population is not None:
        data["population"] = population
    return scenario_from_dict(data)


def test_discounted_sum_by_hand():
    # 100 a year for 3 years at 3%: 100 + 100/1.03 + 100/1.03^2
    s = _with({"incident": 100, "decision_horizon": 3})
    assert decision_population(s) == pytest.approx(100 + 100 / 1.03 + 100 / 1.03**2)


def test_per_year_list_continues_with_its_last_value_and_partial_years_count_in_part():
    s = _with({"incident": [10, 20], "budget_years": 2, "decision_horizon": 3.5}, rate=0.0)
    assert decision_population(s) == pytest.approx(10 + 20 + 20 + 0.5 * 20)


def test_no_block_no_population():
    assert decision_population(_with(None)) is None


def test_psa_tables_give_population_evpi(tmp_path):
    from hemodel.analysis.psa import run_psa
    from hemodel.present.psa_report import psa_tables
    from tests.unit.test_cli import TINY

    path = tmp_path / "s.yaml"
    path.write_text(
        f"extends: {TINY}\n"
        "switch_therapies:\n  new_drug:\n    cost:\n      value: 500\n      per: month\n"
        "      psa: {dist: uniform, low: 0, high: 20000}\n"
        "population:\n  incident: 1000\n  decision_horizon: 2\n",
        encoding="utf-8",
    )
    s = load_scenario(path)
    per, drawn = run_psa(s, 6, 30, 1)
    t = psa_tables(s, per, drawn, 30, "array", wtp_max=1e6)
    population = decision_population(s)
    assert population == pytest.approx(1000 + 1000 / (1 + s.discount_rates.costs.value))
    evpi = t["evpi"]
    assert (evpi["evpi"] > 0).any()  # the drug's price decides between strategies
    assert list(evpi["evpi_population"]) == pytest.approx(list(evpi["evpi"] * population))
    assert any(line.startswith("Population EVPI (1,") for line in t["notes"])


def test_a_study_reporting_after_half_a_year_leaves_out_the_first_half_year():
    s = _with({"incident": 100, "decision_horizon": 3}, rate=0.0)
    assert decision_population(s, start=0.5) == pytest.approx(50 + 100 + 100)
    assert decision_population(s, start=3.0) == 0.0
