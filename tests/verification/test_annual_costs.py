"""Costs by year since start (for budget impact) add up to the undiscounted totals."""

import numpy as np
import pytest

from hemodel import load_scenario, simulate
from hemodel.model.outcomes import COST_CATEGORIES, budget_columns


@pytest.mark.parametrize("name", ["tiny", "tiny_lab", "serena6_us"])
def test_annual_costs_sum_to_undiscounted_totals(name):
    """Σ_years cost_y<y>_<category> = cost_<category>_undiscounted for every patient, when the
    years cover the whole horizon; visits and scans on a year boundary are counted once."""
    scenario = load_scenario(f"scenarios/{name}.yaml")
    years = int(np.ceil(scenario.time_horizon.days() / 365.25)) + 1
    p = simulate(scenario, patients=150, seed=9, budget_years=years).patients
    assert set(budget_columns(years)) <= set(p.columns)
    for cat in COST_CATEGORIES:
        by_year = p[[f"cost_y{y}_{cat}" for y in range(1, years + 1)]].sum(axis=1)
        np.testing.assert_allclose(by_year, p[f"cost_{cat}_undiscounted"], rtol=1e-12, atol=1e-6)


def test_first_year_holds_only_first_year_costs():
    """Year 1 of a patient alive all year on first line: 13 visits at 4-weekly intervals
    (days 28…364) and 4 scans at 12-weekly intervals (days 84…336)."""
    p = simulate(
        load_scenario("scenarios/tiny.yaml"), patients=300, seed=9, budget_years=2
    ).patients
    p = p[(p["strategy"] == "imaging_only") & (p["detected_progression_days"].isna()
          | (p["detected_progression_days"] > 365.25)) & (p["death_days"].isna()
          | (p["death_days"] > 365.25))]  # fmt: skip
    assert len(p) > 20
    assert (p["cost_y1_visits"] == 13 * 100).all()
    assert (p["cost_y1_imaging"] == 4 * 500).all()
