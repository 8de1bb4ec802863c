"""Virtual trial emulation, measured quantities, target checks and `hemodel validate`."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hemodel.commands.main import main
from hemodel.credibility.trial import TrialDesign, run_trial
from hemodel.credibility.validate import (
    Measure,
    km_median,
    measure,
    passes,
    proportion,
    spread_median,
    target_table,
    validate,
)
from hemodel.scenario.load import ScenarioError, load_scenario, scenario_from_dict
from hemodel.scenario.schema import Target
from hemodel.scenario.targets import available_quantities, is_quantity, trial_names
from hemodel.scenario.units import DAYS_PER_MONTH

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "scenarios" / "tiny.yaml"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def tiny_run():
    """A virtual trial on the tiny scenario (400 patients): arms, funnel, per-patient table."""
    return run_trial(load_scenario(TINY), patients=400, seed=3)


# --------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------
def _grid_survival(drops: list[float], every: float = 2.0) -> pd.Series:
    """A KM-like survival function dropping by ``drops`` at every, 2·every, …"""
    times = every * np.arange(len(drops) + 1)
    return pd.Series(1.0 - np.concatenate([[0.0], np.cumsum(drops)]), index=times)


def test_spread_median_equals_the_step_median_when_one_half_is_mid_drop():
    s = _grid_survival([0.2, 0.2, 0.2, 0.2, 0.2])  # drop at t=6 takes S from 0.6 to 0.4
    assert spread_median(s, 2.0) == pytest.approx(6.0, abs=1e-9)
    assert spread_median(s, 0.0) == 6.0  # width 0: the KM (step) median


def test_spread_median_is_continuous_and_within_half_a_width_of_the_step_median():
    """As the survival at one scan crosses 0.5, the KM median jumps a whole interval; the
    surrogate moves continuously and never strays more than width/2 from the step median."""
    previous = None
    for first in np.linspace(0.30, 0.45, 61):
        s = _grid_survival([first, 0.1, 0.1, 0.1, 0.1, 0.1])
        smooth, step = spread_median(s, 2.0), spread_median(s, 0.0)
        assert abs(smooth - step) <= 1.0 + 1e-9
        if previous is not None:
            assert abs(smooth - previous) <= 0.051  # slope width/drop = 20 × 0.0025; KM: jumps of 2
        previous = smooth


def test_spread_median_is_nan_when_the_median_is_not_reached():
    assert math.isnan(spread_median(_grid_survival([0.1, 0.1]), 2.0))


def test_km_median_agrees_with_lifelines_and_exact_small_sample():
    t = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    m = km_median(t, np.ones(5, bool))
    assert m.value == 3.0 and m.n == 5 and m.low <= 3.0 <= m.high


def test_wilson_interval():
    m = proportion(42, 100)
    assert m.value == 0.42
    # by hand: centre (0.42 + 1.96²/200) / (1 + 1.96²/100), half-width 0.09498
    assert m.low == pytest.approx(0.32798, abs=1e-5) and m.high == pytest.approx(0.51794, abs=1e-5)


def test_pass_rules_ci_tolerance_and_monte_carlo_interval():
    ci = Target(value=9.2, ci=(7.2, 9.5))
    assert passes(ci, Measure(9.5)) and passes(ci, Measure(7.2)) and not passes(ci, Measure(9.6))
    tol = Target(value=0.42, tolerance=0.03)
    assert passes(tol, Measure(0.449)) and not passes(tol, Measure(0.46))
    bare = Target(value=1.0)
    assert passes(bare, Measure(1.1, 0.9, 1.2)) and not passes(bare, Measure(1.3, 1.2, 1.4))
    assert not passes(ci, Measure(math.nan))


# --------------------------------------------------------------------------------------
# The virtual trial
# --------------------------------------------------------------------------------------
def test_design_starts_at_the_first_scan_after_month_six():
    assert TrialDesign().start_days == 32 * 7  # 8-weekly: weeks 8, 16, 24, 32 (>= 26.1 weeks)
    assert TrialDesign(every_weeks=12).start_days == 36 * 7


def test_both_arms_hold_the_same_randomised_patients_with_equal_randomisation_times(tiny_run):
    r = tiny_run.randomised
    sw, co = (r[r["arm"] == a].set_index("patient") for a in ("switch", "continue"))
    assert len(sw) > 20 and sw.index.equals(co.index)
    cols = ["randomisation_months", "first_positive_test", "tests", "follow_up_months"]
    pd.testing.assert_frame_equal(sw[cols], co[cols])


def test_switching_never_shortens_pfs_for_the_same_patient(tiny_run):
    """Common random numbers: HR < 1 from the switch on can only delay progression."""
    r = tiny_run.randomised
    sw, co = (r[r["arm"] == a].set_index("patient") for a in ("switch", "continue"))
    assert (sw["pfs_months"] >= co["pfs_months"] - 1e-9).all()
    assert (sw["pfs_months"] > co["pfs_months"] + 1e-9).any()


def test_identical_arms_give_a_hazard_ratio_of_exactly_one(tiny):
    scenario = scenario_from_dict(tiny({"switch_therapies.new_drug.hazard_ratio": 1.0}))
    ms, run = measure(scenario, ["serena6.pfs_hazard_ratio"], 300, 5)
    assert ms["serena6.pfs_hazard_ratio"].value == pytest.approx(1.0, abs=1e-9)
    r = run.randomised
    a, b = (r[r["arm"] == x].reset_index(drop=True) for x in ("switch", "continue"))
    pd.testing.assert_frame_equal(a.drop(columns="arm"), b.drop(columns="arm"))


def test_funnel_counts_are_nested_and_match_the_table(tiny_run):
    f = tiny_run.funnel()
    assert f["patients"] == 400
    assert f["randomised"] <= f["detected"] <= f["completed_surveillance"]
    assert f["completed_surveillance"] <= f["under_surveillance"] <= f["patients"]
    assert f["detected"] == f["randomised"] + f["progression_at_same_visit"] + (
        f["detected"] - f["randomised"] - f["progression_at_same_visit"]
    )
    one = tiny_run.table[tiny_run.table["arm"] != "switch"]
    assert len(one) == 400 and one["patient"].is_unique
    assert f["cumulative_detection"] == pytest.approx(f["detected"] / f["completed_surveillance"])
    sync = one[one["progression_at_same_visit"]]
    assert (sync["detected"] & ~sync["randomised"]).all()


def test_randomisation_follows_the_positive_test_within_one_interval(tiny_run):
    """The first positive test (number k) was drawn at start + (k-1)·every; its result, the
    moment of randomisation, comes back before the next draw."""
    d = tiny_run.design
    r = tiny_run.randomised
    drawn = d.start_days + (r["first_positive_test"] - 1) * d.every_days
    wait = r["randomisation_months"] * DAYS_PER_MONTH - drawn
    assert (wait >= -1e-6).all() and (wait < d.every_days).all()


def test_pfs_is_censored_at_the_data_cut_off(tiny_run):
    r = tiny_run.randomised
    assert (r["pfs_months"] <= r["follow_up_months"] + 1e-9).all()
    assert (~r.loc[r["pfs_months"] >= r["follow_up_months"] - 1e-9, "pfs_event"]).all()
    assert r["follow_up_months"].between(0, 2 * 12.6).all()


def test_perfect_assay_detects_every_mutation_present_during_surveillance(tiny):
    """Sensitivity 1, specificity 1, everyone's mutation emerges, no other progression and no
    other deaths: every patient who completes surveillance is detected, none falsely."""
    data = tiny(
        {
            "cohort.background_mortality.constant_rate_per_year": 0.0,
            "assays.blood_test.sensitivity": 1.0,
            "assays.blood_test.specificity": 1.0,
            "natural_history.esr1_emergence.probability": 1.0,
            "natural_history.other_progression": {"distribution": "never"},
        }
    )
    run = run_trial(scenario_from_dict(data), patients=200, seed=2)
    f = run.funnel()
    assert f["false_positive_randomised"] == 0
    assert f["cumulative_detection"] == 1.0 and f["completed_surveillance"] > 150


def test_trial_table_lets_reviewers_recompute_the_medians(tiny_run):
    ms = {}
    from hemodel.credibility.validate import measure_trial

    ms = measure_trial(tiny_run)
    r = tiny_run.randomised
    for arm in ("switch", "continue"):
        g = r[r["arm"] == arm]
        m = km_median(g["pfs_months"], g["pfs_event"])
        assert ms[f"serena6.pfs_median_months.{arm}"].value == m.value


def test_the_trial_measures_exactly_the_quantities_a_scenario_may_target(tiny_run):
    """``hemodel.scenario.targets`` names what scenario checking accepts without running;
    the virtual trial measures every one of them (each template, with example arguments)."""
    from hemodel.credibility.validate import measure_trial
    from hemodel.scenario.targets import TRIAL_QUANTITIES, default_trial_quantities

    examples = {"<arm>": "continue", "<m>": "18.5", "<k>": "2"}
    names = []
    for template in TRIAL_QUANTITIES:
        for placeholder, value in examples.items():
            template = template.replace(placeholder, value)
        names.append(f"serena6.{template}")
    assert sorted(measure_trial(tiny_run, names=names)) == sorted(names)
    assert sorted(measure_trial(tiny_run)) == sorted(default_trial_quantities("serena6"))
    assert all(is_quantity(n) for n in default_trial_quantities("serena6"))


# --------------------------------------------------------------------------------------
# Targets in scenario files
# --------------------------------------------------------------------------------------
def _with_targets(tmp_path: Path, targets: dict) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump({"extends": str(TINY), "targets": targets}))
    return path


def test_unknown_target_quantity_is_an_error_listing_the_available_ones(tmp_path):
    path = _with_targets(tmp_path, {"serena6.pfs_median.switch": {"value": 16.0}})
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    text = str(err.value)
    assert "targets.serena6.pfs_median.switch" in text and "not defined" in text
    assert "serena6.pfs_median_months.switch" in text and "imaging_only.pfs_median_months" in text


def test_strategy_quantities_exist_only_for_the_scenarios_strategies(tmp_path):
    ok = _with_targets(tmp_path, {"imaging_only.pfs_median_months": {"value": 20.0}})
    assert "imaging_only.pfs_median_months" in load_scenario(ok).targets
    bad = _with_targets(tmp_path, {"ctdna_q8w.pfs_median_months": {"value": 20.0}})
    with pytest.raises(ScenarioError, match="ctdna_q8w.pfs_median_months"):
        load_scenario(bad)
    names = available_quantities(load_scenario(TINY))
    assert "blood_test_q12w.os_median_months" in names and "serena6.pfs_hazard_ratio" in names


def test_default_scenario_targets_cover_the_domain_calibration_targets():
    """The SERENA-6 primary-analysis targets, in whichever virtual trial the scenario names."""
    scenario = load_scenario(ROOT / "scenarios" / "serena6_us.yaml")
    by_quantity: dict[str, list] = {}
    for name, target in scenario.targets.items():
        owner, _, quantity = name.partition(".")
        by_quantity.setdefault(quantity if owner in trial_names(scenario) else name, []).append(
            target
        )

    def cis(quantity: str) -> list:
        return [t.ci for t in by_quantity.get(quantity, [])]

    assert (12.7, 18.2) in cis("pfs_median_months.switch")
    assert (7.2, 9.5) in cis("pfs_median_months.continue")
    assert (0.31, 0.60) in cis("pfs_hazard_ratio")
    assert 0.42 in [t.value for t in by_quantity["cumulative_detection"]]
    assert cis("imaging_only.pfs_median_months") == [(24.0, 29.0)]


def test_target_table_has_one_row_per_target_with_pass_flags(tiny):
    data = tiny()
    data["targets"] = {
        "serena6.cumulative_detection": {"value": 0.5, "ci": [0.0, 1.0]},
        "imaging_only.pfs_median_months": {"value": 1.0, "tolerance": 0.5},
    }
    scenario = scenario_from_dict(data)
    ms, _ = measure(scenario, list(scenario.targets), 200, 1)
    table = target_table(scenario, ms)
    assert list(table["quantity"]) == list(scenario.targets)
    assert list(table["passed"]) == [True, False]
    assert table.loc[1, "target_low"] == 0.5 and table.loc[1, "target_high"] == 1.5


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------
def test_cli_validate_writes_tables_and_plot_and_exits_by_result(tmp_path, capsys):
    path = _with_targets(
        tmp_path,
        {
            "serena6.cumulative_detection": {"value": 0.5, "ci": [0.0, 1.0]},
            "serena6.pfs_hazard_ratio": {"value": 0.055, "ci": [0.05, 0.06]},
        },
    )
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["validate", str(path), "--patients", "300", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 1  # the hazard-ratio target cannot pass
    assert "serena6.cumulative_detection" in text and "PASS" in text and "FAIL" in text
    assert "Surveillance funnel" in text
    targets = pd.read_csv(out / "targets.csv")
    assert list(targets["passed"]) == [True, False]
    trial = pd.read_csv(out / "trial.csv")
    for col in ("arm", "pfs_months", "pfs_event", "pfs2_months", "os_months",
                "first_positive_test", "progression_at_same_visit"):  # fmt: skip
        assert col in trial.columns
    assert set(trial["arm"]) <= {"switch", "continue", "not_randomised"}
    assert (out / "trial_km.png").stat().st_size > 10_000
    assert (out / "measures.csv").exists() and (out / "funnel.csv").exists()


def test_cli_validate_without_targets_still_reports_the_trial(tmp_path, capsys):
    code = main(["validate", str(TINY), "--patients", "200", "--out", str(tmp_path)])
    assert code == 0
    assert "no targets" in capsys.readouterr().out


@pytest.mark.slow
def test_shipped_default_scenario_passes_every_target():
    """The acceptance criterion of the calibration (about 30 s)."""
    v = validate(load_scenario(ROOT / "scenarios" / "serena6_us.yaml"))
    assert v.passed, v.table.to_string()
