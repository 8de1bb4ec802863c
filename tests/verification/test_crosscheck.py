"""TECH-VER replication: the SimPy engine against an independent NumPy re-implementation.

:mod:`hemodel.credibility.crosscheck` shares only the scenario, the parameter set and the
random streams with the engine, so every patient's costs (by category), QALYs, life-years,
events and test counts must agree to floating-point precision (rtol 1e-9).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hemodel import simulate
from hemodel.credibility.crosscheck import compare, crosscheck
from hemodel.scenario.load import load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[2]
SERENA = yaml.safe_load((ROOT / "scenarios" / "serena6_us.yaml").read_text())
KEY = ["patient", "strategy"]
NUMERIC_EXTRA = ("tests", "positives", "false_positives", "visits", "scans")


def _with(data: dict, **changes) -> dict:
    data = copy.deepcopy(data)
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return data


def _pair(scenario, patients: int, seed: int = 1):
    engine = simulate(scenario, patients=patients, seed=seed).patients
    check = crosscheck(scenario, patients=patients, seed=seed)
    a = engine.astype({"strategy": str}).set_index(KEY)
    b = check.astype({"strategy": str}).set_index(KEY).loc[a.index]
    return a, b


def _assert_same(a: pd.DataFrame, b: pd.DataFrame, skip=()) -> None:
    """Every cross-check column equals the engine's, patient by patient."""
    assert len(a) == len(b)
    for col in b.columns:
        if col in skip:
            continue
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if y.dtype.kind in "fiub":
            np.testing.assert_allclose(
                x.astype(float), y.astype(float), rtol=1e-9, atol=1e-9, err_msg=col
            )
        else:
            np.testing.assert_array_equal(x.astype(str), y.astype(str), err_msg=col)


def test_cross_check_covers_every_outcome():
    a, b = _pair(str(ROOT / "scenarios" / "tiny.yaml"), 5)
    money = [c for c in a.columns if c.startswith("cost_")]
    assert set(money) <= set(b.columns)
    wanted = {"qalys", "lys", "qalys_undiscounted", "lys_undiscounted", "switch_days"}
    wanted |= {"detected_progression_days", "true_progression_days", "death_days"}
    assert wanted | set(NUMERIC_EXTRA) <= set(b.columns)
    assert set(b.columns) <= set(a.columns)


def test_tiny_every_strategy_agrees_per_patient():
    a, b = _pair(str(ROOT / "scenarios" / "tiny.yaml"), 600)
    assert a["switched"].sum() > 20 and a["false_positive_switch"].sum() > 0
    assert (a["progression_test"] == "positive").sum() > 20
    _assert_same(a, b)


def test_default_scenario_every_strategy_agrees_per_patient():
    a, b = _pair(str(ROOT / "scenarios" / "serena6_us.yaml"), 500)
    assert a["switched"].sum() > 100 and a["esr1_at_start"].sum() > 0
    _assert_same(a, b)
    # ... and so do the per-strategy means and increments built on them
    mean_a = a.groupby(level="strategy")[["cost_total", "qalys"]].mean()
    mean_b = b.groupby(level="strategy")[["cost_total", "qalys"]].mean()
    pd.testing.assert_frame_equal(mean_a, mean_b, rtol=1e-12)


VARIANTS = {
    "continue testing, fulvestrant at next visit": {
        "strategies.ctdna_q8w.switch": {
            "to": "camizestrant",
            "continue_testing_after_switch": True,
        },
        "strategies.ctdna_q12w.switch": {
            "to": "fulvestrant",
            "when": "next_visit",
            "continue_testing_after_switch": True,
        },
    },
    "baseline mutations switched": {
        "natural_history.esr1_at_start": 0.3,
        "strategies.ctdna_q8w.switch": {"to": "camizestrant", "switch_baseline_mutations": True},
    },
    "transport, uniform turnaround, poor specificity": {
        "lab.transport": {"distribution": "gamma", "mean": 2, "sd": 1, "unit": "days"},
        "assays.guardant360.turnaround": {
            "distribution": "uniform",
            "low": 1,
            "high": 30,
            "unit": "days",
        },
        "assays.guardant360.specificity": 0.8,
    },
    "switch HR > 1, CDK4/6i stopped at switch": {
        "switch_therapies.camizestrant.continue_cdk46": False,
        "switch_therapies.camizestrant.hazard_ratio": 1.5,
    },
    "other laws, short horizon, constant mortality": {
        "natural_history.esr1_progression": {
            "distribution": "lognormal",
            "median": "9 months",
            "sdlog": 0.8,
        },
        "natural_history.second_line_progression": {
            "distribution": "piecewise_exponential",
            "unit": "months",
            "starts": [0, 3],
            "rates_per_year": [0.5, 1.5],
        },
        "cohort.background_mortality": {"constant_rate_per_year": 0.1},
        "time_horizon": "2 years",
    },
    "monitoring, visits, imaging and progression test together; no cost discounting": {
        "strategies.everything": {
            "monitoring": {"assay": "ddpcr", "every": "4 weeks", "start": "0 weeks"},
            "switch": {"to": "camizestrant", "when": "next_visit"},
            "test_at_progression": {"assay": "guardant360"},
            "imaging_every": "8 weeks",
            "visit_every": "3 weeks",
        },
        "discount_rates": {"costs": 0.0, "qalys": 0.05},
    },
}


@pytest.mark.parametrize("name", VARIANTS)
def test_variants_agree_per_patient(name):
    """Switch rules, delays and laws the two default scenarios do not exercise."""
    scenario = scenario_from_dict(_with(SERENA, **VARIANTS[name]))
    a, b = _pair(scenario, 150, seed=3)
    assert a["switched"].sum() > 10
    _assert_same(a, b)


def test_lead_time_is_measured_from_first_detection():
    """Regression for an engine bug the cross-check found: with continue_testing_after_switch
    every later true positive overwrote the lead time (baseline mutations, false-positive
    switches), so it no longer matched detection_days."""
    changes = VARIANTS["continue testing, fulvestrant at next visit"]
    scenario = scenario_from_dict(
        _with(SERENA, **{"natural_history.esr1_at_start": 0.3}, **changes)
    )
    a, b = _pair(scenario, 150, seed=3)
    assert (a["esr1_at_start"] & (a["positives"] > 1)).sum() > 5  # the case that was wrong
    np.testing.assert_allclose(a["lead_time_days"], b["lead_time_days"], rtol=1e-9)


def test_cross_check_is_not_trivially_equal():
    """A perturbed input (assay sensitivity) makes the two disagree, where it should."""
    data = yaml.safe_load((ROOT / "scenarios" / "tiny.yaml").read_text())
    engine = simulate(scenario_from_dict(data), patients=300).patients
    data["assays"]["blood_test"]["sensitivity"] = 0.6
    check = crosscheck(scenario_from_dict(data), patients=300)
    table = compare(engine, check).set_index("column")["mismatches"]
    assert table["tests"] > 0 and table["switch_days"] > 0 and table["qalys"] > 0
    # imaging only uses no assay at all
    unaffected = engine["strategy"] == "imaging_only"
    same = compare(engine[unaffected], check[unaffected.to_numpy()])
    assert same["mismatches"].sum() == 0


def test_finite_lab_capacity_is_refused():
    with pytest.raises(ValueError, match="unlimited lab"):
        crosscheck(load_scenario(ROOT / "scenarios" / "tiny_lab.yaml"), patients=3)
