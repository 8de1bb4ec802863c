"""Probabilistic sensitivity analysis: keyed draws, joint structure, degenerate PSA."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hemodel.analysis.psa import draw_parameters, draw_table, run_psa, uncertain_parameters
from hemodel.commands.main import main
from hemodel.run.simulation import simulate
from hemodel.scenario.load import scenario_from_dict

from ..conftest import ROOT, tiny_dict

SENS = "assays.blood_test.sensitivity"
HR = "switch_therapies.new_drug.hazard_ratio"


def with_psa(**extra) -> dict:
    return tiny_dict(**{
        SENS: {"value": 0.9, "psa": {"dist": "beta", "mean": 0.9, "sd": 0.04}},
        HR: {"value": 0.5, "psa": {"dist": "lognormal", "median": 0.5, "ci": [0.35, 0.7]}},
        **extra,
    })  # fmt: skip


def test_a_degenerate_psa_reproduces_the_deterministic_run_exactly():
    """No parameter has a distribution: every sample's means equal the base-case means."""
    scenario = scenario_from_dict(tiny_dict())
    assert uncertain_parameters(scenario) == {}
    per, drawn = run_psa(scenario, samples=3, patients=80, seed=4)
    base = simulate(scenario, patients=80, seed=4).summary().set_index("strategy")
    for _, g in per.groupby("sample"):
        g = g.set_index("strategy")  # same patients, same rows: equal up to summation order
        np.testing.assert_allclose(g["cost"], base["cost_total"], rtol=1e-13)
        np.testing.assert_allclose(g["qaly"], base["qalys"], rtol=1e-13)
    assert list(drawn.columns) == ["sample"]


def test_fixed_distributions_are_degenerate_too():
    """psa: {dist: fixed} keeps the base value in every sample."""
    scenario = scenario_from_dict(tiny_dict(**{SENS: {"value": 0.9, "psa": {"dist": "fixed"}}}))
    assert uncertain_parameters(scenario) == {}


def test_draws_are_keyed_by_sample_and_parameter():
    """Same (seed, sample) → same values; another parameter's distribution does not move them;
    the drawn values follow the marginal (beta mean within 4 SE over 400 samples)."""
    a = scenario_from_dict(with_psa())
    b = scenario_from_dict(
        with_psa(
            **{
                "utilities.progressed": {
                    "value": 0.5,
                    "psa": {"dist": "uniform", "low": 0.4, "high": 0.6},
                }
            }
        )
    )
    for k in (1, 2, 7):
        da, db = draw_parameters(a, k, 3), draw_parameters(b, k, 3)
        assert da == draw_parameters(a, k, 3)
        assert da[SENS] == db[SENS] and da[HR] == db[HR]
    sens = np.array([draw_parameters(a, k, 3)[SENS] for k in range(1, 401)])
    assert abs(sens.mean() - 0.9) < 4 * 0.04 / math.sqrt(400)
    with pytest.raises(ValueError):
        draw_parameters(a, 0, 3)


def test_gaussian_copula_correlates_draws():
    """Correlation 0.9 between the normals gives Spearman ρ = (6/π)·asin(0.45) ≈ 0.891 between
    the two parameters (within 4 standard errors, SE ≈ 0.6745/√(n−1) at this ρ is generous)."""
    data = with_psa(uncertainty={"correlations": [
        {"parameters": [SENS, HR], "matrix": [[1, 0.9], [0.9, 1]]}]})  # fmt: skip
    s = scenario_from_dict(data)
    d = pd.DataFrame([draw_parameters(s, k, 5) for k in range(1, 601)])
    rho = stats.spearmanr(d[SENS], d[HR]).statistic
    expected = 6 / math.pi * math.asin(0.45)
    assert abs(rho - expected) < 4 * (1 - expected**2) / math.sqrt(599) + 0.02


def test_dirichlet_group_sums_to_one():
    """Probabilities drawn from a Dirichlet(40, 60) group sum to 1 and average 0.4 / 0.6."""
    data = tiny_dict(**{"assays.blood_test.sensitivity": 0.4, "assays.blood_test.specificity": 0.6})
    data["uncertainty"] = {"dirichlet": [{
        "parameters": ["assays.blood_test.sensitivity", "assays.blood_test.specificity"],
        "concentrations": [40, 60]}]}  # fmt: skip
    s = scenario_from_dict(data)
    d = pd.DataFrame([draw_parameters(s, k, 5) for k in range(1, 301)])
    total = d["assays.blood_test.sensitivity"] + d["assays.blood_test.specificity"]
    np.testing.assert_allclose(total, 1.0, rtol=1e-12)
    sd = math.sqrt(0.4 * 0.6 / 101)
    assert abs(d["assays.blood_test.sensitivity"].mean() - 0.4) < 4 * sd / math.sqrt(300)


def test_drawing_all_samples_at_once_equals_drawing_them_one_by_one():
    """draw_table (what run_psa uses) is bit-identical to per-sample draws, with a copula and
    a Dirichlet group in play."""
    spec = "assays.blood_test.specificity"
    data = with_psa(**{"natural_history.esr1_emergence.probability": 0.7, spec: 0.3},
                    uncertainty={
        "correlations": [{"parameters": [SENS, HR], "matrix": [[1, 0.5], [0.5, 1]]}],
        "dirichlet": [{"parameters": ["natural_history.esr1_emergence.probability", spec],
                       "concentrations": [7, 3]}]})  # fmt: skip
    s = scenario_from_dict(data)
    table = draw_table(s, np.arange(1, 41), 9)
    assert set(table) == set(draw_parameters(s, 1, 9))
    for k in range(1, 41):
        assert {p: v[k - 1] for p, v in table.items()} == draw_parameters(s, k, 9)


def test_psa_command_writes_tables_and_plots(tmp_path, capsys):
    """`hemodel psa` writes psa_samples.csv (sample × strategy), ceac.csv summing to 1 per WTP,
    evpi.csv (≥ 0), evppi.csv and the three PNGs."""
    path = tmp_path / "s.yaml"
    path.write_text(
        f"extends: {ROOT / 'scenarios' / 'tiny.yaml'}\n"
        "assays:\n  blood_test:\n    sensitivity:\n      value: 0.9\n"
        "      psa: {dist: beta, mean: 0.9, sd: 0.04}\n"
    )
    code = main(["psa", str(path), "--samples", "60", "--patients", "30", "--out",
                 str(tmp_path / "o"), "--quiet"])  # fmt: skip
    assert code == 0
    out = tmp_path / "o"
    samples = pd.read_csv(out / "psa_samples.csv")
    assert len(samples) == 60 * 4 and {"sample", "strategy", "cost", "qaly"} <= set(samples)
    ceac = pd.read_csv(out / "ceac.csv")
    np.testing.assert_allclose(ceac.groupby("wtp")["probability"].sum(), 1.0)
    assert (pd.read_csv(out / "evpi.csv")["evpi"] >= 0).all()
    assert len(pd.read_csv(out / "evppi.csv")) > 0
    for png in ("ce_plane.png", "ceac.png", "evpi.png"):
        assert (out / png).stat().st_size > 10_000
    assert "P(cost-effective)" in capsys.readouterr().out
