"""TECH-VER replication: the SimPy engine against the array engine, patient by patient.

The array engine (:mod:`hemodel.engine.array`) shares only the model inputs, the cohort, the
keyed random streams and the column names with the SimPy engine (:mod:`hemodel.engine.des`),
so every patient's costs (by category and year), QALYs, life-years, events and test counts
must agree to floating-point precision (rtol 1e-9) on every bundled scenario and on variants
that exercise every feature.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hemodel import simulate
from hemodel.analysis.psa import run_psa, sample_scenario
from hemodel.engine import array
from hemodel.engine.choice import choose
from hemodel.model.inputs import build_inputs
from hemodel.scenario.load import load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))
SERENA = yaml.safe_load((ROOT / "scenarios" / "serena6_us.yaml").read_text())
del SERENA["uncertainty"]  # names a draws file relative to the scenario's folder; no PSA here
TINY = yaml.safe_load((ROOT / "scenarios" / "tiny.yaml").read_text())
KEY = ["patient", "strategy"]


def _with(data: dict, **changes) -> dict:
    data = copy.deepcopy(data)
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return data


def _pair(scenario, patients: int, seed: int = 1, **kwargs):
    simpy = simulate(scenario, patients=patients, seed=seed, engine="simpy", **kwargs)
    fast = simulate(scenario, patients=patients, seed=seed, engine="array", **kwargs)
    assert simpy.metadata["engine"] == "simpy" and fast.metadata["engine"] == "array"
    return simpy.patients, fast.patients


def mismatches(a: pd.DataFrame, b: pd.DataFrame, rtol: float = 1e-9) -> dict[str, int]:
    """Per column: patient-strategies whose values differ (NaN equals NaN)."""
    assert list(a.columns) == list(b.columns)
    assert a[KEY].astype(str).equals(b[KEY].astype(str))
    out = {}
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if x.dtype.kind in "fiub" and y.dtype.kind in "fiub":
            same = np.isclose(
                x.astype(float), y.astype(float), rtol=rtol, atol=1e-9, equal_nan=True
            )
        else:
            same = x.astype(str) == y.astype(str)
        out[col] = int((~same).sum())
    return out


def assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    bad = {c: n for c, n in mismatches(a, b).items() if n}
    assert not bad, f"columns that differ between engines (patient-strategies): {bad}"


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_bundled_scenario_agrees_per_patient(name):
    """Each bundled scenario (a finite lab made unlimited: the array engine has no queue)."""
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    unlimited = scenario.lab.model_copy(update={"capacity": "unlimited"})
    scenario = scenario.model_copy(update={"lab": unlimited})
    a, b = _pair(scenario, 400 if name.startswith("tiny") else 300, budget_years=3)
    assert a["switched"].sum() > 20 and (a["tests"] > 0).sum() > 100
    assert_same(a, b)
    # ... and so do the per-strategy means built on them
    mean_a = a.groupby("strategy", observed=True)[["cost_total", "qalys"]].mean()
    mean_b = b.groupby("strategy", observed=True)[["cost_total", "qalys"]].mean()
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
    "baseline mutations excluded, testing continued": {
        "natural_history.esr1_at_start": 0.3,
        "strategies.ctdna_q8w.switch": {
            "to": "camizestrant",
            "continue_testing_after_switch": True,
        },
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
    "switch HR 0.02 (ESR1 progression all but stopped)": {
        "switch_therapies.camizestrant.hazard_ratio": 0.02,
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
    "horizon on the imaging grid (84 weeks), results on the day of the draw": {
        "time_horizon": "84 weeks",
        "assays.guardant360.turnaround": {"distribution": "fixed", "value": 0, "unit": "days"},
        "strategies.ctdna_q12w.monitoring": {
            "assay": "guardant360",
            "every": "12 weeks",
            "start": "12 weeks",
        },
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
    "ctDNA kinetics, switch on all progression with waning, testing continued": {
        "natural_history.ctdna": {
            "level_at_emergence": 0.01,
            "doubling_time": {"median": "2 months", "sdlog": 0.7},
            "shedding_at_progression": 4,
        },
        "assays.guardant360.limit_of_detection": 0.2,
        "assays.ddpcr.limit_of_detection": 0.05,
        "switch_therapies.camizestrant.acts_on": "all_progression",
        "switch_therapies.camizestrant.effect_duration": "9 months",
        "strategies.ctdna_q8w.switch": {
            "to": "camizestrant",
            "continue_testing_after_switch": True,
        },
        "strategies.ctdna_q12w.monitoring": {"assay": "ddpcr", "every": "2 weeks"},
    },
    "ctDNA kinetics, poor specificity, HR > 1 on all progression, test at progression": {
        "natural_history.ctdna": {
            "level_at_emergence": 0.05,
            "doubling_time": {"median": "20 days", "sdlog": 1.5},
            "shedding_at_progression": 1,
        },
        "natural_history.esr1_at_start": 0.2,
        "assays.guardant360.limit_of_detection": 0.3,
        "assays.guardant360.specificity": 0.8,
        "assays.ddpcr.limit_of_detection": 0.01,  # below the level at emergence
        "switch_therapies.camizestrant.acts_on": "all_progression",
        "switch_therapies.camizestrant.hazard_ratio": 1.5,
        "strategies.ctdna_q8w.switch": {"to": "camizestrant", "switch_baseline_mutations": True},
    },
    "waning ESR1-only effect with HR 0 (no ESR1 progression while it lasts)": {
        "switch_therapies.camizestrant.hazard_ratio": 0.0001,
        "switch_therapies.camizestrant.effect_duration": "3 months",
        "switch_therapies.fulvestrant.effect_duration": "1 days",
        "strategies.ctdna_q12w.switch": {"to": "fulvestrant"},
    },
}


@pytest.mark.parametrize("name", VARIANTS)
def test_variants_agree_per_patient(name):
    """Switch rules, delays, laws and horizons the bundled scenarios do not exercise."""
    scenario = scenario_from_dict(_with(SERENA, **VARIANTS[name]))
    a, b = _pair(scenario, 150, seed=3, budget_years=2)
    assert a["switched"].sum() > 10
    assert_same(a, b)


def test_a_psa_sample_agrees_per_patient():
    """A PSA sample's parameter values and streams (sample 7 of the default scenario)."""
    scenario = sample_scenario(load_scenario(ROOT / "scenarios" / "serena6_us.yaml"), 7, seed=5)
    a, b = _pair(scenario, 150, seed=5, sample=7)
    assert_same(a, b)


def test_psa_means_agree():
    """Per-sample means of a small PSA (exact sums of per-patient values) agree."""
    data = _with(TINY, **{"assays.blood_test.sensitivity": {"value": 0.8, "psa": {
        "dist": "beta", "mean": 0.8, "sd": 0.05}}})  # fmt: skip
    scenario = scenario_from_dict(data)
    simpy, _ = run_psa(scenario, 3, 200, seed=2, engine="simpy")
    fast, _ = run_psa(scenario, 3, 200, seed=2, engine="array")
    pd.testing.assert_frame_equal(simpy, fast, rtol=1e-9, atol=1e-9)


def test_the_check_is_not_trivially_equal():
    """A perturbed input (assay sensitivity) makes the two disagree where it should, and
    nowhere else: the comparison can fail."""
    engine = simulate(scenario_from_dict(TINY), patients=300, engine="simpy").patients
    changed = _with(TINY, **{"assays.blood_test.sensitivity": 0.6})
    other = simulate(scenario_from_dict(changed), patients=300, engine="array").patients
    differ = mismatches(engine, other)
    assert differ["tests"] > 0 and differ["switch_days"] > 0 and differ["qalys"] > 0
    unaffected = (engine["strategy"] == "imaging_only").to_numpy()
    assert not any(mismatches(engine[unaffected], other[unaffected]).values())


def test_engine_choice():
    """``auto`` takes the array engine for an unlimited lab without a trace; a finite lab or
    a trace needs the SimPy engine, and asking the array engine for either is refused."""
    tiny = build_inputs(load_scenario(ROOT / "scenarios" / "tiny.yaml"))
    lab = build_inputs(load_scenario(ROOT / "scenarios" / "tiny_lab.yaml"))
    assert choose("auto", tiny) == "array"
    assert choose("auto", tiny, trace=True) == choose("auto", lab) == "simpy"
    assert choose("simpy", tiny) == "simpy"
    with pytest.raises(ValueError, match="unlimited lab only.*capacity of 6"):
        choose("array", lab)
    with pytest.raises(ValueError, match="no event trace"):
        choose("array", tiny, trace=True)
    with pytest.raises(ValueError, match="engine must be one of auto, simpy, array"):
        choose("fast", tiny)
    with pytest.raises(ValueError, match="unlimited lab only"):
        simulate(ROOT / "scenarios" / "tiny_lab.yaml", patients=3, engine="array")
    traced = simulate(ROOT / "scenarios" / "tiny.yaml", patients=3, trace=True)
    assert traced.metadata["engine"] == "simpy" and len(traced.events) > 0


def test_batches_do_not_change_the_array_engine():
    """The array engine's results do not depend on how the cohort is cut into batches."""
    scenario = load_scenario(ROOT / "scenarios" / "serena6_us.yaml")
    whole = simulate(scenario, patients=700, engine="array").patients
    parts = simulate(scenario, patients=700, engine="array", batch_size=128).patients
    pd.testing.assert_frame_equal(whole, parts)


def test_event_time_closed_forms():
    """The array engine's hazard-ratio time against hand computation (Weibull, HR 0.5)."""
    from hemodel.scenario.hazards import Weibull

    law = Weibull(shape=2.0, scale=100.0)  # H(t) = (t/100)²
    budget = np.array([1.0, 0.04, 1.0])
    since = np.array([50.0, 50.0, np.inf])  # H(50) = 0.25
    t = array.event_time(law, budget, since, 0.5)
    # H(50) + 0.5·(H(t) − H(50)) = 1 ⇒ H(t) = 1.75; budget 0.04 < H(50): before the switch
    np.testing.assert_allclose(t, [100 * math.sqrt(1.75), 20.0, 100.0], rtol=1e-12)
    assert array.event_time(law, np.array([1.0]), np.array([50.0]), 0.0)[0] == math.inf
