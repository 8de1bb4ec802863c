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
