"""Calibration: scales, residuals, recovery of known parameters, the written scenario, the CLI."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import pytest
import yaml

from hemodel.commands.main import main
from hemodel.credibility.calibrate import (
    _from_free,
    _scale,
    _to_free,
    calibrate,
    residual,
    residuals_of,
    write_calibrated,
)
from hemodel.credibility.validate import Measure, measure
from hemodel.scenario.load import load_scenario, parameters, scenario_from_dict, with_values
from hemodel.scenario.schema import Target

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "scenarios" / "tiny.yaml"
SERENA6 = ROOT / "scenarios" / "serena6_us.yaml"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

NH = "natural_history."
PROGRESSION = NH + "esr1_progression.median"
EMERGENCE = NH + "esr1_emergence.probability"


def test_parameters_are_fitted_on_unbounded_scales():
    params = parameters(load_scenario(SERENA6))
    assert _scale(params[EMERGENCE]) == "logit"
    assert _scale(params[NH + "esr1_progression.shape"]) == "log"
    assert _scale(params["utilities.molecular_progression_decrement"]) == "identity"
    for x, s in ((0.42, "logit"), (9.2, "log"), (-0.03, "identity")):
        assert _from_free(_to_free(x, s), s) == pytest.approx(x, rel=1e-12)


def test_residuals_are_standardised_by_the_ci_and_hazard_ratios_by_log():
    median = Target(value=9.2, ci=(7.2, 9.5))
    assert residual("x.median", median, Measure(9.2, smooth=9.2 + 2.3 / 3.92)) == pytest.approx(1)
    hr = Target(value=0.44, ci=(0.31, 0.60))
    se = (math.log(0.60) - math.log(0.31)) / 3.92
    r = residual("serena6.pfs_hazard_ratio", hr, Measure(0.5, smooth=0.5))
    assert r == pytest.approx((math.log(0.5) - math.log(0.44)) / se)
    tol = Target(value=0.42, tolerance=0.03)
    assert residual("d", tol, Measure(0.45, smooth=0.45)) == pytest.approx(2.0)
    assert residual("d", tol, Measure(math.nan)) > 10  # not measurable: a large residual


def test_walls_are_zero_inside_the_ci_and_steep_outside(tiny):
    data = tiny()
    data["targets"] = {"serena6.pfs_median_months.continue": {"value": 9.2, "ci": [7.2, 9.5]}}
    s = scenario_from_dict(data)
    name = "serena6.pfs_median_months.continue"
    inside = residuals_of(s, {name: Measure(9.4, smooth=9.4)}, wall=5.0)
    assert inside[1] == 0.0
    outside = residuals_of(s, {name: Measure(9.7, smooth=9.7)}, wall=5.0)
    assert outside[1] == pytest.approx(5.0 * 0.2 / (2.3 / 3.92))


TINY_PATIENTS = 1500


@pytest.fixture(scope="module")
def tiny_truth():
    """tiny.yaml with targets set to what the model measures at its own parameter values
    (esr1_progression median 9 months, emergence probability 0.5) on the same patients.
    Narrow target ranges: with wide ones the objective is too flat for the fit to settle
    within 3% on 1,500 patients."""
    base = load_scenario(TINY)
    names = ["serena6.pfs_median_months.continue", "serena6.cumulative_detection"]
    ms, _ = measure(base, names, TINY_PATIENTS, 1, robust=False)
    median, detection = ms[names[0]].smooth, ms[names[1]].smooth
    data = base.model_dump(mode="python", by_alias=True, exclude_none=True)
    data["targets"] = {
        names[0]: {"value": median, "ci": [median - 0.5, median + 0.5]},
        names[1]: {"value": detection, "tolerance": 0.01},
    }
    return scenario_from_dict(data), {PROGRESSION: 9.0, EMERGENCE: 0.5}


def test_calibration_recovers_a_known_value_from_a_perturbed_start(tiny_truth):
    """Fast variant (tiny.yaml, one free parameter): targets measured at the truth, start 17%
    off; common random numbers make the fit land back on the truth."""
    scenario, truth = tiny_truth
    fit = calibrate(scenario, [PROGRESSION], patients=TINY_PATIENTS, seed=1,
                    start={PROGRESSION: 10.5}, max_evaluations=12)  # fmt: skip
    assert fit.values[PROGRESSION] == pytest.approx(truth[PROGRESSION], rel=0.03)
    assert fit.objective < 1.0  # targets are the smooth surrogates at the truth: ~0 there
    assert fit.evaluations <= 12


@pytest.mark.slow
def test_calibration_recovers_two_known_values_from_a_perturbed_start(tiny_truth):
    scenario, truth = tiny_truth
    start = {PROGRESSION: 10.5, EMERGENCE: 0.42}
    fit = calibrate(scenario, list(truth), patients=TINY_PATIENTS, seed=1, start=start)
    for p, v in truth.items():
        assert fit.values[p] == pytest.approx(v, rel=0.03), (p, fit.values[p])
    assert fit.objective < 1.0


def test_written_scenario_extends_the_original_and_reproduces_the_fit(tiny_truth, tmp_path):
    scenario, truth = tiny_truth
    original = tmp_path / "models" / "original.yaml"
    original.parent.mkdir()
    original.write_text(
        yaml.safe_dump(scenario.model_dump(mode="json", by_alias=True, exclude_none=True))
    )
    fit = calibrate(scenario, [PROGRESSION], patients=300, seed=2, max_evaluations=8)
    with pytest.raises(ValueError, match="a scenario may extend only files in its own folder"):
        write_calibrated(fit, original, tmp_path / "sub" / "fitted.yaml")  # ../models: refused
    out = write_calibrated(fit, original, tmp_path / "fitted.yaml")
    text = out.read_text()
    assert "extends: models/original.yaml" in text
    assert re.search(r"# Calibrated with `hemodel calibrate` on \d{4}-\d\d-\d\d", text)
    assert "Seed 2, 300 patients" in text and "Objective" in text
    assert "serena6.pfs_median_months.continue" in text  # the targets, in the comment
    loaded = load_scenario(out)
    assert parameters(loaded)[PROGRESSION].value == fit.values[PROGRESSION]
    assert loaded.natural_history.esr1_progression.median.unit == "months"
    assert loaded == with_values(scenario, fit.values).model_copy(update={"name": loaded.name})


def test_unknown_free_parameter_is_refused(tiny_truth):
    with pytest.raises(KeyError, match="unknown parameters"):
        calibrate(tiny_truth[0], ["natural_history.nonsense"], patients=50)


def _cli(path: Path, out: Path, *options: str) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return main(["calibrate", str(path), "--free", PROGRESSION, "--quiet", "--out", str(out),
                     *options])  # fmt: skip


def test_cli_calibrate_prints_the_fit_and_writes_the_scenario(tiny_truth, tmp_path, capsys):
    scenario, truth = tiny_truth
    data = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    median = data["targets"]["serena6.pfs_median_months.continue"]  # the reported KM median
    median["ci"] = [median["value"] - 2, median["value"] + 2]  # is a staircase: a wider range
    path = tmp_path / "with_targets.yaml"
    path.write_text(yaml.safe_dump(data))
    out = tmp_path / "fitted.yaml"
    start = f"{PROGRESSION}={truth[PROGRESSION]}"
    code = _cli(path, out, "--patients", str(TINY_PATIENTS), "--max-evaluations", "1",
                "--start", start)  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Fit per target" in captured.out and "9 → 9" in captured.out
    assert "PASS" in captured.out and "FAIL" not in captured.out
    assert load_scenario(out).name.endswith("(calibrated)")


def test_cli_calibrate_exits_non_zero_when_the_best_point_fails_a_target(
    tiny_truth, tmp_path, capsys
):
    """200 patients cannot meet targets measured on 1,500 within 4 evaluations: the scenario
    is written for inspection, the failing targets are named and the exit code is 1."""
    scenario, _ = tiny_truth
    path = tmp_path / "with_targets.yaml"
    path.write_text(
        yaml.safe_dump(scenario.model_dump(mode="json", by_alias=True, exclude_none=True))
    )
    out = tmp_path / "fitted.yaml"
    code = _cli(path, out, "--patients", "200", "--max-evaluations", "4",
                "--start", f"{PROGRESSION}=10")  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1
    assert "FAIL" in captured.out
    assert "the best point fails" in captured.err and "serena6." in captured.err
    assert out.exists()


def test_the_reported_objective_is_the_one_of_the_values_written(tiny_truth, tmp_path):
    """The fit keeps the best point evaluated, unrounded: its objective is the smallest one
    evaluated, and the written scenario reproduces it."""
    scenario, _ = tiny_truth
    fit = calibrate(scenario, [PROGRESSION], patients=300, seed=2, max_evaluations=6,
                    start={PROGRESSION: 10.0})  # fmt: skip
    assert fit.objective == min(objective for _, objective in fit.history)
    [best] = [v for v, o in fit.history if o == fit.objective][:1]
    assert fit.values == best


# --------------------------------------------------------------------------------------
# The shipped default scenario
# --------------------------------------------------------------------------------------
#: How the shipped posterior was sampled (recorded in serena6_us.yaml's comment).
SHIPPED_SETTINGS = {"patients": 10000, "seed": 1}


def test_the_shipped_posterior_is_this_models_posterior():
    """The calibration posterior shipped with serena6_us.yaml (``uncertainty.posterior``) was
    produced by this model and code: re-simulating three of its draws on the calibration's
    patients gives the log-likelihood recorded beside them, and each calibrated value of the
    scenario is the median of its draws (a few seconds)."""
    import pandas as pd

    from hemodel.credibility.bayes import SimulatedTargets, _unranged, log_likelihood

    scenario = load_scenario(SERENA6)
    posterior = scenario.uncertainty.posterior
    draws = pd.read_csv(SERENA6.parent / posterior.draws)
    free = [c for c in draws.columns if c not in ("log_likelihood", "log_prior", "step", "walker")]
    assert set(posterior.parameters) <= set(free)
    known = parameters(scenario)
    for p in free:
        assert known[p].value == pytest.approx(draws[p].median(), rel=1e-3), p
    model = SimulatedTargets(_unranged(scenario, free), tuple(scenario.targets),
                             **SHIPPED_SETTINGS)  # fmt: skip
    for _, row in draws.iloc[[0, len(draws) // 2, -1]].iterrows():
        values = {p: float(row[p]) for p in free}
        ll = log_likelihood(scenario.targets, model(values))
        assert ll == pytest.approx(row["log_likelihood"], rel=1e-9, abs=1e-9)
