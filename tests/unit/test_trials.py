"""Virtual trials as data: the ``trials:`` section, target-name families, the new trial and
strategy quantities (by hand on tiny tables), follow-up and surveillance-window analyses."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hemodel.commands.main import main
from hemodel.credibility import trial as trial_module
from hemodel.credibility.trial import (
    TrialDesign,
    TrialRun,
    design_from_spec,
    run_trial,
    run_trials,
    trial_designs,
)
from hemodel.credibility.validate import (
    measure,
    measure_outcomes,
    measure_runs,
    measure_trial,
    sample_median,
)
from hemodel.scenario.load import ScenarioError, load_scenario, scenario_from_dict
from hemodel.scenario.targets import available_quantities, describe_quantities, parse_quantity
from hemodel.scenario.units import DAYS_PER_MONTH

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "scenarios" / "tiny.yaml"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TRIALS = {
    "dco1": {"title": "DCO1", "follow_up": {"median": "12.6 months"}},
    "dco3": {"title": "DCO3", "follow_up": "complete"},
}


# --------------------------------------------------------------------------------------
# Target names
# --------------------------------------------------------------------------------------
def test_month_and_test_number_families_parse_with_their_arguments():
    s = load_scenario(TINY)
    q = parse_quantity("serena6.pfs_at_18.5_months.continue", s)
    assert (q.owner, q.kind, q.template) == ("serena6", "trial", "pfs_at_<m>_months.<arm>")
    assert (q.months, q.arm, q.quantity) == (18.5, "continue", "pfs_at_18.5_months.continue")
    assert parse_quantity("serena6.os_at_24_months.switch", s).months == 24.0
    assert parse_quantity("serena6.first_detection_test.share_3", s).k == 3
    assert parse_quantity("imaging_only.pfs_at_12_months", s).kind == "strategy"
    for bad in (
        "serena6.pfs_at_x_months.switch",
        "serena6.pfs_at_24_months",  # no arm
        "serena6.pfs_at_24_months.placebo",
        "serena6.first_detection_test.share_0",
        "imaging_only.pfs_at_12_months.switch",  # a strategy has no arms
        "imaging_only.detected_of_tested",  # a trial quantity
        "dco1.pfs_hazard_ratio",  # no such trial
        "serena6",
    ):
        assert parse_quantity(bad, s) is None, bad


def test_available_quantities_describe_the_families_per_trial_and_strategy(tiny):
    s = scenario_from_dict(tiny(trials=TRIALS))
    names = available_quantities(s)
    for n in (
        "dco1.pfs_at_<m>_months.switch",
        "dco3.os_at_<m>_months.continue",
        "dco3.first_detection_test.share_<k>",
        "dco1.pfs2_hazard_ratio",
        "dco1.detected_of_tested",
        "imaging_only.pfs_at_<m>_months",
        "imaging_only.progressors_with_mutation",
        "blood_test_q12w.lead_time_median_months",
    ):
        assert n in names, n
    assert not any(n.startswith("serena6.") for n in names)  # trials: replaces the default
    assert "<m> months" in describe_quantities(s)["dco1.pfs_at_<m>_months.switch"]


# --------------------------------------------------------------------------------------
# Trial quantities on a hand-made trial table
# --------------------------------------------------------------------------------------
def _hand_trial() -> TrialRun:
    """8 patients, 7 tested, 5 detected (tests 1, 1, 2, 3, 1), 3 randomised (0, 1, 2).

    PFS from randomisation: continue 1, 3 (events), 5 (censored); switch 2, 4, 6 (censored).
    PFS2 and OS: patient 0 switch 2 / continue 1, patient 1 switch 4 / continue 3 (events),
    patient 2 censored at 0.5 in both arms (out of every risk set). Detected progression
    after randomisation (continue arm): 1.5, 3.5 and none.
    """
    n = 8
    base = pd.DataFrame(
        {
            "patient": np.arange(n),
            "arm": "not_randomised",
            "under_surveillance": [True] * 7 + [False],
            "completed_surveillance": [True] * 7 + [False],
            "tests": [1, 1, 2, 3, 1, 4, 5, 0],
            "detected": [True] * 5 + [False] * 3,
            "first_positive_test": [1, 1, 2, 3, 1, np.nan, np.nan, np.nan],
            "progression_at_same_visit": [False, False, False, True, False, False, False, False],
            "baseline_mutation": False,
            "randomised": [True] * 3 + [False] * 5,
            "false_positive": False,
        }
    )
    rows = [base[~base["randomised"]]]
    for arm, pfs, pfs_event, pfs2, to_progression in (
        ("continue", [1.0, 3.0, 5.0], [True, True, False], [1.0, 3.0, 0.5], [1.5, 3.5, np.nan]),
        ("switch", [2.0, 4.0, 6.0], [True, True, False], [2.0, 4.0, 0.5], [2.5, 4.5, np.nan]),
    ):
        part = base[base["randomised"]].reset_index(drop=True).assign(arm=arm)
        part["pfs_months"], part["pfs_event"] = pfs, pfs_event
        for what in ("pfs2", "os"):
            part[f"{what}_months"], part[f"{what}_event"] = pfs2, [True, True, False]
        part["to_progression_months"] = to_progression
        rows.append(part)
    table = pd.concat(rows, ignore_index=True)
    return TrialRun(TrialDesign(name="hand"), table, n, 1, "hand-made", 100.0)


def test_funnel_quantities_by_hand():
    ms = measure_trial(
        _hand_trial(),
        names=[
            "hand.detected_of_tested",
            "hand.cumulative_detection",
            "hand.randomised_of_detected",
            "hand.detection_without_progression",
        ],
    )
    assert ms["hand.detected_of_tested"].value == 5 / 7 and ms["hand.detected_of_tested"].n == 7
    assert ms["hand.cumulative_detection"].value == 5 / 7
    assert ms["hand.randomised_of_detected"].value == 3 / 5
    assert ms["hand.detection_without_progression"].value == 3 / 7
    m = ms["hand.detected_of_tested"]
    assert m.low < 5 / 7 < m.high and m.smooth == m.value  # Wilson CI; its own surrogate


def test_first_detection_test_by_hand():
    ms = measure_trial(
        _hand_trial(),
        names=[f"hand.first_detection_test.share_{k}" for k in (1, 2, 3, 4)]
        + ["hand.first_detection_test.median"],
    )
    shares = [ms[f"hand.first_detection_test.share_{k}"].value for k in (1, 2, 3, 4)]
    assert shares == [3 / 5, 1 / 5, 1 / 5, 0.0]
    median = ms["hand.first_detection_test.median"]
    assert median.value == 1.0 and median.n == 5
    # tests 1, 1, 1, 2, 3 spread over ±0.5: 3/5 of the mass lies in [0.5, 1.5], uniformly,
    # so the smoothed median is 0.5 + 0.5 / 0.6
    assert median.smooth == pytest.approx(0.5 + 0.5 / 0.6)


def test_landmarks_and_lead_time_by_hand():
    ms = measure_trial(
        _hand_trial(),
        names=[
            "hand.pfs_at_4_months.continue",
            "hand.pfs_at_2.5_months.switch",
            "hand.pfs_at_0.5_months.switch",
            "hand.os_at_3.5_months.continue",
            "hand.pfs2_at_1_months.continue",
            "hand.lead_time_median_months",
        ],
    )
    assert ms["hand.pfs_at_4_months.continue"].value == pytest.approx(1 / 3)
    assert ms["hand.pfs_at_2.5_months.switch"].value == pytest.approx(2 / 3)
    assert ms["hand.pfs_at_0.5_months.switch"].value == 1.0
    # OS: patient 2 censored at 0.5, then events at 1 and 3 among 2 at risk
    assert ms["hand.os_at_3.5_months.continue"].value == 0.0
    assert ms["hand.pfs2_at_1_months.continue"].value == pytest.approx(0.5)
    m = ms["hand.pfs_at_4_months.continue"]
    assert m.low <= m.value <= m.high and m.smooth == m.value and m.n == 3
    lead = ms["hand.lead_time_median_months"]  # continue arm: 1.5 and 3.5 (one without)
    assert (lead.value, lead.low, lead.high, lead.n) == (2.5, 1.5, 3.5, 2)


def test_pfs2_and_os_hazard_ratios_by_hand():
    """Events: continue at 1, switch at 2, continue at 3, switch at 4 (two per arm). The
    partial likelihood's score equation 2x/(x+1) + 2x/(2x+1) = 1 gives x = e^β the root of
    4x² + x − 1 = 0: HR = (√17 − 1)/8."""
    ms = measure_trial(_hand_trial(), names=["hand.pfs2_hazard_ratio", "hand.os_hazard_ratio"])
    for name in ("hand.pfs2_hazard_ratio", "hand.os_hazard_ratio"):
        m = ms[name]
        assert m.value == pytest.approx((math.sqrt(17) - 1) / 8, rel=1e-6)
        assert m.low < m.value < m.high and m.n == 3


def test_sample_median_ci_is_the_order_statistic_interval():
    x = np.arange(1.0, 101.0)  # n = 100: ranks floor((100 − 19.6)/2) = 40, ceil(1 + 59.8) = 61
    m = sample_median(x)
    assert (m.value, m.low, m.high, m.n) == (50.5, 40.0, 61.0, 100)
    assert math.isnan(sample_median([np.nan]).value)


# --------------------------------------------------------------------------------------
# Strategy quantities on a hand-made outcome table
# --------------------------------------------------------------------------------------
def test_strategy_quantities_by_hand():
    s = load_scenario(TINY)
    nan = np.nan
    table = pd.DataFrame(
        {
            "strategy": "imaging_only",
            "detected_progression_days": [100, 200, nan, nan, 300],
            "death_days": [400, nan, 300, nan, 500],
            "emergence_days": [50, nan, 10, nan, 300],
            "lead_time_days": [nan, 30, nan, 60, 90],
        }
    )
    names = [
        "imaging_only.progressors_with_mutation",
        "imaging_only.lead_time_median_months",
        "imaging_only.pfs_at_8_months",
        "imaging_only.os_at_14_months",
    ]
    ms = measure_outcomes(s, table, names)
    # progressed: 100 (mutation at 50), 200 (none), 300 (at 300: counts)
    assert ms["imaging_only.progressors_with_mutation"].value == pytest.approx(2 / 3)
    assert ms["imaging_only.progressors_with_mutation"].n == 3
    lead = ms["imaging_only.lead_time_median_months"]
    assert lead.value == pytest.approx(60 / DAYS_PER_MONTH) and lead.n == 3
    # PFS ends 100, 200, 300, 300 and one censored at the horizon: 3/5 beyond 8 months
    assert ms["imaging_only.pfs_at_8_months"].value == pytest.approx(0.6)
    # deaths 300, 400 by 14 months (426 days), 500 later, two alive
    assert ms["imaging_only.os_at_14_months"].value == pytest.approx(0.6)


# --------------------------------------------------------------------------------------
# trials: in scenario files
# --------------------------------------------------------------------------------------
def _write(tmp_path: Path, body: dict, name: str = "trials.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"extends": str(TINY), **body}, sort_keys=False))
    return path


def test_a_trials_section_round_trips_through_check(tmp_path, capsys):
    trials = {
        **TRIALS,
        "window": {
            "every": "12 weeks",
            "start": "3 months",
            "assay": "blood_test",
            "therapy": "new_drug",
            "follow_up": "complete",
            "surveillance_window": "2 years",
            "baseline_mutations_eligible": False,
        },
    }
    targets = {
        "dco3.pfs_at_24_months.switch": {"value": 0.349, "ci": [0.28, 0.42]},
        "dco1.pfs_hazard_ratio": {"value": 0.44, "ci": [0.31, 0.60]},
        "window.first_detection_test.share_1": {"value": 0.51, "tolerance": 0.05},
        "imaging_only.pfs_at_12.5_months": {"value": 0.6},
    }
    path = _write(tmp_path, {"trials": trials, "targets": targets})
    assert main(["check", str(path)]) == 0
    assert "OK" in capsys.readouterr().out
    s = load_scenario(path)
    assert list(s.trials) == ["dco1", "dco3", "window"] and s.trials["dco3"].follow_up.complete
    again = scenario_from_dict(s.model_dump(mode="json", by_alias=True, exclude_none=True))
    assert again == s
    d = trial_designs(s)
    assert d["dco1"] == TrialDesign(name="dco1", title="DCO1")  # the defaults: SERENA-6 DCO1
    assert d["dco3"].follow_up_months is None and d["dco3"].title == "DCO3"
    w = d["window"]
    assert (w.every_days, w.start_days, w.title) == (84.0, 168.0, "window")  # scan >= 3 months
    assert w.surveillance_window_months == pytest.approx(24.0)
    assert (w.assay, w.therapy, w.baseline_mutations_eligible) == ("blood_test", "new_drug", False)
    assert design_from_spec("x", s.trials["dco1"]).follow_up_months == pytest.approx(12.6)


@pytest.mark.parametrize(
    "trial, line, path, expected",
    [
        ({"follow_up": "complete", "assay": "blood_tset"}, 5, "trials.t.assay",
         "assay 'blood_tset' is not defined; did you mean 'blood_test'?"),
        ({"follow_up": "complete", "therapy": "old_drug"}, 5, "trials.t.therapy",
         "switch therapy 'old_drug' is not defined"),
        ({"follow_up": 12.6}, 4, "trials.t.follow_up",
         "must be 'complete' or the median follow-up at the data cut-off"),
        ({"follow_up": {"median": 12.6}}, 5, "trials.t.follow_up.median", "has no unit"),
        ({"follow_up": {"median": "12 months"}, "complete": True}, 6, "trials.t.complete",
         "unknown key 'complete'"),
        ({"follow_up": "complete", "every": "8"}, 5, "trials.t.every", "is not a duration"),
        ({"follow_up": "complete", "landmarks": [6, 12]}, 5, "trials.t.landmarks", "unknown key"),
        ({"title": "no cut-off"}, 3, "trials.t.follow_up", "is required but missing"),
    ],
)  # fmt: skip
def test_bad_trial_specs_give_file_line_messages(tmp_path, trial, line, path, expected):
    file = _write(tmp_path, {"trials": {"t": trial}})
    with pytest.raises(ScenarioError) as err:
        load_scenario(file)
    text = str(err.value)
    assert f"trials.yaml:{line}: {path}" in text and expected in text, text


def test_trial_names_must_suit_target_names_and_not_clash_with_strategies(tmp_path):
    bad = _write(tmp_path, {"trials": {"DCO-1": {"follow_up": "complete"}}})
    with pytest.raises(ScenarioError, match="must start with a lower-case letter"):
        load_scenario(bad)
    clash = _write(tmp_path, {"trials": {"imaging_only": {"follow_up": "complete"}}})
    with pytest.raises(ScenarioError, match=r"trials.yaml:3: trials.imaging_only: .*strategy"):
        load_scenario(clash)


def test_a_trial_without_a_monitoring_strategy_must_name_its_assay_and_therapy(tiny):
    data = tiny(trials={"t": {"follow_up": "complete", "assay": "blood_test"}})
    data["strategies"] = {"imaging_only": data["strategies"]["imaging_only"]}
    with pytest.raises(ScenarioError, match="give the trial's therapy"):
        scenario_from_dict(data)


def test_unknown_targets_are_rejected_with_the_patterns(tmp_path):
    path = _write(
        tmp_path,
        {"trials": TRIALS, "targets": {"dco3.pfs_at_24_month.switch": {"value": 0.3}}},
    )
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    text = str(err.value)
    assert "targets.dco3.pfs_at_24_month.switch" in text and "not defined" in text
    assert "dco3.pfs_at_<m>_months.switch" in text and "dco1.first_detection_test.share_<k>" in text
    old = _write(
        tmp_path, {"trials": TRIALS, "targets": {"serena6.pfs_hazard_ratio": {"value": 1}}}
    )
    with pytest.raises(ScenarioError, match="serena6.pfs_hazard_ratio"):
        load_scenario(old)  # with trials:, the default serena6 trial is gone


# --------------------------------------------------------------------------------------
# Analyses of one simulation: follow-up, surveillance window, eligibility
# --------------------------------------------------------------------------------------
PATIENTS = 1500


@pytest.fixture(scope="module")
def tiny_trials(tiny):
    data = tiny(
        {"natural_history.esr1_at_start": 0.2},
        trials={
            **TRIALS,
            "window": {"follow_up": "complete", "surveillance_window": "12 months"},
            "strict": {"follow_up": "complete", "baseline_mutations_eligible": False},
        },
    )
    return scenario_from_dict(data)


def test_trials_differing_only_in_follow_up_simulate_once_and_equal_separate_runs(
    tiny_trials, monkeypatch
):
    designs = trial_designs(tiny_trials)
    calls = []
    real = trial_module._simulate
    monkeypatch.setattr(trial_module, "_simulate", lambda *a: calls.append(a[1].name) or real(*a))
    both = run_trials(tiny_trials, {k: designs[k] for k in ("dco1", "dco3", "window")}, 600, 4)
    assert calls == ["dco1"]  # follow-up and window are analyses of one simulation
    for name in ("dco1", "dco3", "window"):
        alone = run_trial(tiny_trials, 600, 4, designs[name])
        pd.testing.assert_frame_equal(both[name].table, alone.table, check_exact=True)
    calls.clear()
    measure_runs(tiny_trials, ["dco1.pfs_hazard_ratio", "dco3.pfs_hazard_ratio"], 300, 4)
    assert calls == ["dco1"]


def test_complete_follow_up_never_censors_at_a_data_cut_off(tiny_trials):
    runs = run_trials(tiny_trials, trial_designs(tiny_trials), PATIENTS, 2)
    one, three = runs["dco1"].randomised, runs["dco3"].randomised
    assert np.isinf(three["follow_up_months"]).all()
    assert one["follow_up_months"].between(0, 2 * 12.6).all()
    assert one["follow_up_months"].median() == pytest.approx(12.6, rel=0.1)
    assert (three["pfs_months"] >= one["pfs_months"] - 1e-9).all()
    assert (three["pfs_event"] >= one["pfs_event"]).all()
    assert three["pfs_event"].sum() > one["pfs_event"].sum()
    cut = one["pfs_months"] < three["pfs_months"] - 1e-9  # censored at the cut-off
    assert (~one.loc[cut, "pfs_event"]).all()
    assert np.allclose(one.loc[cut, "pfs_months"], one.loc[cut, "follow_up_months"])
    pd.testing.assert_frame_equal(  # same patients, funnel, PFS2 and OS
        one.drop(columns=["follow_up_months", "pfs_months", "pfs_event"]),
        three.drop(columns=["follow_up_months", "pfs_months", "pfs_event"]),
    )


def test_a_surveillance_window_reduces_detection(tiny_trials):
    runs = run_trials(tiny_trials, trial_designs(tiny_trials), PATIENTS, 2)
    full, window = runs["dco3"], runs["window"]
    f, w = full.funnel(), window.funnel()
    assert w["under_surveillance"] == f["under_surveillance"]
    assert w["detected_of_tested"] < f["detected_of_tested"]
    assert w["randomised"] < f["randomised"] and w["window_ended"] > 0
    assert full.table["surveillance_end_months"].isna().all()  # no window, no end
    a, b = (r.patients_table.set_index("patient").sort_index() for r in (full, window))
    assert (b["detected"] <= a["detected"]).all() and (b["tests"] <= a["tests"]).all()
    assert (b["surveillance_end_months"] - 7 * 32 / DAYS_PER_MONTH).max() <= 12.0
    d = window.design
    drawn = (d.start_days + (a["first_positive_test"] - 1) * d.every_days) / DAYS_PER_MONTH
    assert b.loc[b["detected"], "first_positive_test"].equals(
        a.loc[b["detected"], "first_positive_test"]
    )
    assert (drawn[b["detected"]] <= b.loc[b["detected"], "surveillance_end_months"] + 1e-9).all()
    lost = a["detected"] & ~b["detected"]  # found after the window: not detected
    assert lost.any() and (drawn[lost] > b.loc[lost, "surveillance_end_months"]).all()
    ms, _ = measure(tiny_trials, ["dco3.detected_of_tested", "window.detected_of_tested"], 600, 2)
    assert ms["window.detected_of_tested"].value < ms["dco3.detected_of_tested"].value


def test_baseline_mutations_can_be_made_ineligible(tiny_trials):
    runs = run_trials(tiny_trials, trial_designs(tiny_trials), PATIENTS, 2)
    full, strict = runs["dco3"].patients_table, runs["strict"].patients_table
    baseline = full["baseline_mutation"] & full["randomised"] & ~full["false_positive"]
    assert baseline.sum() > 20  # eligible: randomised like any other detection
    assert not (
        strict["baseline_mutation"] & strict["randomised"] & ~strict["false_positive"]
    ).any()
    f = runs["strict"].funnel()
    assert f["baseline_excluded"] > 20 and f["randomised"] < runs["dco3"].funnel()["randomised"]


def test_a_design_replaces_the_trial_of_its_name_only(tiny_trials, tiny):
    d = trial_designs(tiny_trials, TrialDesign(name="dco3", every_weeks=12))
    assert d["dco3"].every_weeks == 12 and d["dco1"].every_weeks == 8
    with pytest.raises(ValueError, match="no virtual trial 'serena6'"):
        trial_designs(tiny_trials, TrialDesign())
    default = scenario_from_dict(tiny())
    assert trial_designs(default) == {"serena6": TrialDesign()}
    assert (
        trial_designs(default, replace(TrialDesign(), every_weeks=12))["serena6"].start_days == 252
    )
    ms, run = measure(default, ["serena6.pfs_hazard_ratio"], 200, 1, TrialDesign(every_weeks=12))
    assert run.design.every_weeks == 12 and not math.isnan(ms["serena6.pfs_hazard_ratio"].value)


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------
def test_cli_validate_writes_each_trial(tmp_path, capsys):
    path = _write(
        tmp_path,
        {
            "trials": TRIALS,
            "targets": {
                "dco3.pfs_at_24_months.switch": {"value": 0.5, "ci": [0.0, 1.0]},
                "dco1.detected_of_tested": {"value": 0.5, "ci": [0.0, 1.0]},
            },
        },
    )
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["validate", str(path), "--patients", "300", "--out", str(out),
                     "--engine", "array"])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0, text
    assert "virtual DCO1" in text and "virtual DCO3" in text and "of tested" in text
    for name in ("dco1", "dco3"):
        table = pd.read_csv(out / f"trial_{name}.csv")
        assert {"arm", "pfs_months", "to_progression_months", "surveillance_end_months"} <= set(
            table.columns
        )
        assert (out / f"trial_km_{name}.png").stat().st_size > 10_000
    assert (out / "trial.csv").read_bytes() == (out / "trial_dco1.csv").read_bytes()
    assert (out / "trial_km.png").exists()
    funnel = pd.read_csv(out / "funnel.csv")
    assert list(funnel["trial"]) == ["dco1", "dco3"] and "detected_of_tested" in funnel
    measures = pd.read_csv(out / "measures.csv").set_index("quantity")
    assert {"dco1.pfs_hazard_ratio", "dco3.os_hazard_ratio", "dco3.pfs_at_24_months.switch"} <= set(
        measures.index
    )
