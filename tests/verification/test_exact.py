"""Exact verification tests (TECH-VER): properties that must hold to floating-point precision
under common random numbers, whatever the random draws. See DESIGN.md §8."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from hemodel.model import random as rnd
from hemodel.model.inputs import DelayLaw
from hemodel.run.simulation import simulate
from hemodel.scenario.load import scenario_from_dict, scenario_hash

from ..conftest import tiny_dict as tiny

N = 400
HEALTH = ["qalys", "qalys_undiscounted", "lys", "lys_undiscounted", "true_progression_days",
          "second_progression_days", "death_days"]  # fmt: skip


ENGINE = "auto"


@pytest.fixture(autouse=True, params=["simpy", "auto"])
def engine(request, monkeypatch):
    """Every property must hold in both engines ("auto": the array engine where the lab is
    unlimited and no trace is asked for, the SimPy engine otherwise)."""
    monkeypatch.setattr(f"{__name__}.ENGINE", request.param)
    return request.param


def run(data: dict, patients: int = N, seed: int = 11, **kw):
    return simulate(scenario_from_dict(data), patients=patients, seed=seed, engine=ENGINE, **kw)


def by(results, strategy: str) -> pd.DataFrame:
    p = results.patients
    return p[p["strategy"] == strategy].reset_index(drop=True)


def test_identical_strategies_give_exactly_zero_increments():
    """Two strategies with the same definition: every patient's cost and QALYs are equal."""
    data = tiny()
    data["strategies"]["copy"] = copy.deepcopy(data["strategies"]["blood_test_q12w"])
    data["reference"] = "blood_test_q12w"
    r = run(data)
    a, b = by(r, "blood_test_q12w"), by(r, "copy")
    pd.testing.assert_frame_equal(a.drop(columns="strategy"), b.drop(columns="strategy"))
    inc = r.incremental().set_index("strategy").loc["copy"]
    assert inc["inc_cost"] == 0.0 and inc["inc_qalys"] == 0.0 and inc["inmb"] == 0.0


def test_zero_costs_give_zero_cost():
    """Every price set to zero: every cost column of every patient is exactly zero."""
    data = tiny()
    zero_rate = {"value": 0, "per": "day"}
    data["costs"] = {
        "first_line": {"aromatase_inhibitor": zero_rate, "cdk46_inhibitor": zero_rate},
        "disease_management": {"progression_free": zero_rate, "progressed": zero_rate},
        "later_lines": zero_rate,
        **{k: 0 for k in ("visit", "imaging", "venipuncture", "phlebotomy_visit", "terminal_care")},
    }
    data["assays"]["blood_test"]["cost"] = 0
    data["switch_therapies"]["new_drug"]["cost"] = zero_rate
    data["targeted_second_line"]["cost"] = zero_rate
    p = run(data).patients
    costs = p.filter(like="cost_")
    assert costs.shape[1] == 20 and (costs.to_numpy() == 0.0).all()


def test_total_cost_is_the_sum_of_categories():
    """cost_total (discounted and not) equals the exactly rounded sum of its categories."""
    p = run(tiny()).patients
    for suffix in ("", "_undiscounted"):
        cats = p[
            [
                c
                for c in p.columns
                if c.startswith("cost_")
                and c.endswith(suffix)
                and not c.startswith("cost_total")
                and (suffix or "undiscounted" not in c)
            ]
        ]
        assert cats.shape[1] == 9
        total = [np.float64(sum(sorted(row))) for row in cats.to_numpy()]  # independent sum
        np.testing.assert_allclose(p[f"cost_total{suffix}"], total, rtol=1e-13, atol=0)


def test_utility_one_and_no_discounting_make_qalys_equal_life_years():
    """All utilities 1, no decrements, no discounting: QALYs = life-years for every patient."""
    data = tiny(
        **{
            "utilities.progression_free": 1.0,
            "utilities.progressed": 1.0,
            "utilities.molecular_progression_decrement": 0.0,
            "switch_therapies.new_drug.utility_decrement": 0.0,
            "discount_rates": {"costs": 0.0, "qalys": 0.0},
        }
    )
    p = run(data).patients
    np.testing.assert_allclose(p["qalys"], p["lys"], rtol=1e-12)
    np.testing.assert_allclose(p["qalys"], p["lys_undiscounted"], rtol=1e-12)


def test_zero_discount_rate_makes_discounted_equal_undiscounted():
    """Discount rates 0: each discounted column equals its undiscounted twin exactly."""
    p = run(tiny(discount_rates={"costs": 0.0, "qalys": 0.0})).patients
    for col in [c for c in p.columns if c.endswith("_undiscounted")]:
        assert (p[col] == p[col.removesuffix("_undiscounted")]).all(), col


def test_doubling_the_test_price_changes_only_test_costs():
    """Assay price ×2: cost_testing doubles; every other column is unchanged."""
    base = run(tiny()).patients
    doubled = run(tiny(**{"assays.blood_test.cost": 2000})).patients
    changed = ["cost_testing", "cost_testing_undiscounted", "cost_total",
               "cost_total_undiscounted"]  # fmt: skip
    pd.testing.assert_frame_equal(base.drop(columns=changed), doubled.drop(columns=changed))
    np.testing.assert_allclose(doubled["cost_testing"], 2 * base["cost_testing"], rtol=1e-14)
    assert (base["cost_testing"] > 0).any()
    np.testing.assert_allclose(
        doubled["cost_total"] - base["cost_total"], base["cost_testing"], rtol=1e-9, atol=1e-6
    )


def test_a_blind_test_leaves_health_as_imaging_only():
    """Sensitivity 0 and specificity 1: nobody switches; health outcomes equal imaging-only."""
    data = tiny(**{"assays.blood_test.sensitivity": 0.0, "assays.blood_test.specificity": 1.0})
    r = run(data)
    ref = by(r, "imaging_only")
    for name in ("blood_test_q12w", "blood_test_q12w_next_visit"):
        s = by(r, name)
        assert not s["switched"].any() and (s["tests"] > 0).any()
        pd.testing.assert_frame_equal(ref[HEALTH], s[HEALTH])


def test_perfect_daily_test_switches_within_a_day_of_emergence():
    """Perfect assay drawn daily from day 0 with zero turnaround: switch ≤ 1 day after emergence.

    Mutations emerge early and often (median 3 months, 90%) so that most patients stop
    their daily draws at the switch: the same property, at a tenth of the SimPy events."""
    data = tiny(
        **{
            "assays.blood_test.sensitivity": 1.0,
            "assays.blood_test.specificity": 1.0,
            "assays.blood_test.turnaround": "0 days",
            "natural_history.esr1_emergence": {
                "probability": 0.9,
                "time": {"distribution": "exponential", "median": "3 months"},
            },
        }
    )
    data["strategies"]["blood_test_q12w"]["monitoring"] = {
        "assay": "blood_test",
        "every": "1 days",
        "start": "0 days",
    }
    s = by(run(data), "blood_test_q12w")
    emerged = s["emergence_days"].notna() & (s["emergence_days"] < s["true_progression_days"])
    gap = (s["switch_days"] - s["emergence_days"])[emerged & s["switched"]]
    assert len(gap) > 50
    assert ((gap >= 0) & (gap <= 1.0)).all()
    # nobody whose mutation emerged before a detected progression is left unswitched
    missed = emerged & ~s["switched"] & (s["emergence_days"] + 1 < s["detected_progression_days"])
    assert not missed.any()


def test_unlimited_lab_wait_equals_sampled_turnaround():
    """Unlimited lab: each patient's mean lab wait equals the mean of their sampled delays."""
    data = tiny(
        **{
            "assays.blood_test.turnaround": {
                "distribution": "uniform",
                "low": 2,
                "high": 12,
                "unit": "days",
            }
        }
    )
    r = run(data, patients=200, seed=5)
    s = by(r, "blood_test_q12w")
    law = DelayLaw("uniform", 2.0, 12.0)
    for _, row in s[s["tests"] > 0].iterrows():
        k = int(row["tests"])
        u = rnd.uniforms(5, 0, "turnaround", [int(row["patient"])], k)[0]
        assert row["lab_wait_days"] == pytest.approx(float(np.mean(law.ppf(u))), rel=1e-12)
        assert row["lab_queue_days"] == 0.0


def test_a_finite_lab_too_big_to_queue_equals_the_unlimited_lab():
    """Capacity ≥ patients: the SimPy Resource path gives the same outcomes as unlimited."""
    data = tiny(**{"lab": {"capacity": 1000, "transport": "1 days"}})
    finite = run(data, patients=300).patients
    unlimited = run(
        tiny(**{"lab": {"capacity": "unlimited", "transport": "1 days"}}), patients=300
    ).patients
    pd.testing.assert_frame_equal(finite, unlimited, rtol=1e-9)
    assert (finite["lab_queue_days"].dropna() == 0).all()


def test_a_busy_lab_makes_patients_wait():
    """Capacity 1 with patients arriving together: queueing adds to the lab wait."""
    data = tiny(**{"lab": {"capacity": 1}})
    p = by(run(data, patients=60), "blood_test_q12w")
    assert (p["lab_queue_days"] > 0).any()
    waits = p["lab_wait_days"].dropna()
    assert len(waits) > 0 and (waits >= 7.0 - 1e-9).all()  # never faster than processing


CAUSAL_BEFORE = [
    ("start_first_line", "draw"), ("draw", "result"), ("result", "switch"),
    ("true_progression", "progression_detected"), ("progression_detected", "progression_test"),
    ("true_progression", "second_progression"), ("esr1_emerges", "switch"),
]  # fmt: skip


def test_event_order_per_patient_is_causal():
    """Trace: start first, death last; draws precede results; results precede switches;
    true progression precedes its detection and the second progression; times never exceed death."""
    r = run(tiny(**{"assays.blood_test.specificity": 1.0}), patients=150, trace=True)
    ev = r.events
    assert len(ev) > 1000
    for (_, _), g in ev.groupby(["patient", "strategy"]):
        g = g.sort_values("day", kind="stable")
        assert g["event"].iloc[0] == "start_first_line"
        first = g.groupby("event")["day"].min()
        for a, b in CAUSAL_BEFORE:
            if a in first and b in first:
                assert first[a] <= first[b], (a, b, g)
        if "death" in first:
            assert g["day"].max() <= first["death"] + 1e-9
        assert (g[g.event == "switch"].shape[0]) <= 1


def test_same_seed_gives_identical_frames_and_other_seeds_differ():
    """Reproducibility from the seed: same seed → identical frames; another seed → different."""
    a, b = run(tiny(), seed=3).patients, run(tiny(), seed=3).patients
    pd.testing.assert_frame_equal(a, b)
    c = run(tiny(), seed=4).patients
    assert not np.allclose(a["cost_total"], c["cost_total"])


def test_first_n_patients_of_a_larger_run_equal_a_run_of_n():
    """Keyed streams: patients 0..n-1 of a run of N equal a run of n, row for row."""
    big = run(tiny(), patients=300).patients
    small = run(tiny(), patients=100).patients
    head = big[big["patient"] < 100].reset_index(drop=True)
    pd.testing.assert_frame_equal(head, small)


def test_with_a_finite_lab_the_first_n_patients_depend_on_the_rest_of_the_cohort():
    """The prefix property does not hold with a finite lab (README, background.md): patients
    queue together, so adding patients delays the blood results of those already there."""
    data = tiny(**{"lab": {"capacity": 1}})
    big = by(run(data, patients=120), "blood_test_q12w")
    small = by(run(data, patients=40), "blood_test_q12w")
    head = big[big["patient"] < 40].reset_index(drop=True)
    assert head["patient"].tolist() == small["patient"].tolist()
    assert head["lab_queue_days"].sum() > small["lab_queue_days"].sum()  # longer queues
    # their biology is the same (keyed streams); only what the queue touches differs
    pd.testing.assert_series_equal(head["emergence_days"], small["emergence_days"])


def test_chunks_and_batch_sizes_do_not_change_results():
    """Running the cohort in parts (first_patient) or in other batch sizes changes nothing."""
    whole = run(tiny(), patients=120, batch_size=1000).patients
    batched = run(tiny(), patients=120, batch_size=7).patients
    pd.testing.assert_frame_equal(whole, batched)
    parts = [run(tiny(), patients=40, first_patient=k).patients for k in (80, 0, 40)]
    joined = pd.concat(parts).sort_values(["strategy", "patient"], kind="stable")
    expected = whole.sort_values(["strategy", "patient"], kind="stable")
    pd.testing.assert_frame_equal(joined.reset_index(drop=True), expected.reset_index(drop=True))


def test_a_run_never_mutates_its_scenario():
    """simulate() leaves the Scenario object (frozen) with the same content hash."""
    scenario = scenario_from_dict(tiny())
    before, dump = scenario_hash(scenario), scenario.model_dump()
    simulate(scenario, patients=50, seed=1, engine=ENGINE)
    assert scenario_hash(scenario) == before and scenario.model_dump() == dump
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError on frozen
        scenario.reference = "x"


def test_strategy_changes_cannot_move_biology():
    """Changing an assay's sensitivity leaves every patient's latent natural history untouched
    in the imaging-only strategy (natural-history streams are separate from test streams)."""
    a = by(run(tiny()), "imaging_only")
    b = by(run(tiny(**{"assays.blood_test.sensitivity": 0.3})), "imaging_only")
    pd.testing.assert_frame_equal(a, b)


def test_a_more_sensitive_assay_never_switches_later():
    """Monotone coupling: with the same uniforms, sensitivity 0.95 switches no later than 0.6."""
    lo = by(
        run(tiny(**{"assays.blood_test.sensitivity": 0.6, "assays.blood_test.specificity": 1.0})),
        "blood_test_q12w",
    )
    hi = by(
        run(tiny(**{"assays.blood_test.sensitivity": 0.95, "assays.blood_test.specificity": 1.0})),
        "blood_test_q12w",
    )
    both = lo["switched"] & hi["switched"]
    assert (hi.loc[both, "switch_days"] <= lo.loc[both, "switch_days"]).all()
    assert (hi["switched"] >= lo["switched"]).all()
