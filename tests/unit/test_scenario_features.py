"""Scenario features beyond plain validation: variants dropping entries, joint uncertainty
names, bundled scenarios by name, and ICER notes."""

from __future__ import annotations

import math

import pytest

from hemodel.run.results import icer
from hemodel.scenario.load import ScenarioError, load_scenario, resolve_path, scenario_from_dict

from ..conftest import ROOT, tiny_dict

TINY = ROOT / "scenarios" / "tiny.yaml"


def test_a_variant_drops_an_inherited_strategy_with_null(tmp_path):
    variant = tmp_path / "v.yaml"
    variant.write_text(f"extends: {TINY}\nstrategies:\n  blood_test_q12w_next_visit: null\n")
    scenario = load_scenario(variant)
    assert list(scenario.strategies) == ["imaging_only", "test_at_progression",
                                         "blood_test_q12w"]  # fmt: skip


@pytest.mark.parametrize(
    ("uncertainty", "message"),
    [
        ({"correlations": [{"parameters": ["utilities.progresed", "utilities.progressed"],
                            "matrix": [[1, 0.5], [0.5, 1]]}]},
         "uncertainty.correlations.0.parameters.0: parameter 'utilities.progresed' is not "
         "defined; did you mean 'utilities.progressed'?"),
        ({"correlations": [{"parameters": ["costs.visit", "utilities.progressed"],
                            "matrix": [[1, 0.5], [0.5, 1]]}]},
         "parameter 'costs.visit' has no psa: distribution to correlate"),
        ({"dirichlet": [{"parameters": ["costs.visit", "utilities.progressed"],
                         "concentrations": [1, 2]}]},
         "parameter 'costs.visit' is not a probability"),
    ],
)  # fmt: skip
def test_joint_uncertainty_names_are_checked(uncertainty, message):
    data = tiny_dict(**{"utilities.progressed": {"value": 0.5, "psa": {
        "dist": "beta", "mean": 0.5, "sd": 0.05}}}, uncertainty=uncertainty)  # fmt: skip
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(data)
    assert message in str(err.value)


def test_bundled_scenarios_can_be_named(tmp_path, monkeypatch):
    """From any folder, `tiny` or `serena6_uk.yaml` means the bundled file; a real file of
    that name in the folder wins."""
    monkeypatch.chdir(tmp_path)
    assert resolve_path("tiny").name == "tiny.yaml"
    assert load_scenario("serena6_uk.yaml").currency == "GBP"
    (tmp_path / "tiny.yaml").write_text(f"extends: {TINY}\nname: mine\n")
    assert load_scenario("tiny.yaml").name == "mine"


def test_extends_can_name_a_bundled_scenario(tmp_path):
    """`extends: tiny.yaml` (or `tiny`) in a user's folder means the bundled file when the
    folder has no file of that name; a local file of that name wins."""
    variant = tmp_path / "v.yaml"
    variant.write_text("extends: tiny\ndiscount_rates: {costs: 0.05}\n")
    scenario = load_scenario(variant)
    assert scenario.name == load_scenario(TINY).name
    rates = scenario.discount_rates
    assert rates.costs.value == 0.05 and rates.qalys.value == 0.03
    (tmp_path / "tiny.yaml").write_text(f"extends: {TINY}\nname: local\n")
    variant.write_text("extends: tiny.yaml\n")
    assert load_scenario(variant).name == "local"
    variant.write_text("extends: nothing_like_this.yaml\n")
    with pytest.raises(ScenarioError, match="bundled scenarios: serena6_uk, serena6_us, tiny"):
        load_scenario(variant)


def test_icer_notes_by_quadrant():
    """NE: ratio; SW (cheaper, worse): ratio = savings per QALY forgone, with a note;
    dominated / dominant quadrants: no ratio."""
    assert icer(1000, 0.1) == (pytest.approx(10_000), "")
    ratio, note = icer(-1000, -0.1)
    assert ratio == pytest.approx(10_000) and note == "less costly, less effective"
    assert math.isnan(icer(1000, -0.1)[0]) and icer(1000, -0.1)[1] == "dominated"
    assert math.isnan(icer(-1000, 0.1)[0]) and icer(-1000, 0.1)[1] == "dominant"
