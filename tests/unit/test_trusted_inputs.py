"""Inputs an analyst can trust: the variant rule (a new value brings its own uncertainty),
consistency checks, units on every time, scenario names, refusing analyses that cannot run."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from hemodel.analysis.psa import draw_table, run_psa, uncertain_parameters
from hemodel.commands.main import main
from hemodel.run.simulation import simulate
from hemodel.scenario.bundled import bundled_names
from hemodel.scenario.distributions import (
    BetaDist,
    GammaDist,
    LogNormalDist,
    NormalDist,
    TriangularDist,
    UniformDist,
    recentred,
)
from hemodel.scenario.load import (
    ScenarioError,
    check_scenario,
    load_scenario,
    parameters,
    resolve_path,
    scenario_from_dict,
    with_strategies,
    with_values,
)

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


PARENT = """\
extends: tiny
costs:
  imaging: {value: 500, range: [400, 600], psa: {dist: gamma, mean: 500, sd: 100}, source: US}
natural_history:
  esr1_progression:
    distribution: weibull
    median: {value: 9, unit: months, range: [7, 11]}
    shape: 1.5
"""


@pytest.fixture
def parent(tmp_path):
    return write(tmp_path, "parent.yaml", PARENT)


# --------------------------------------------------------------------------------------
# 1. The variant rule
# --------------------------------------------------------------------------------------
def test_the_uk_scenario_draws_uk_costs_not_the_us_distributions():
    """The bug this rule fixes: the UK later-lines cost (£2,000) was drawn around $12,000."""
    uk, us = load_scenario("serena6_uk"), load_scenario("serena6_us")
    posterior = uk.uncertainty.posterior
    calibrated = set(posterior.parameters) if posterior is not None else set()
    for dotted, p in parameters(uk).items():
        if p.psa is None or p.psa.dist == "fixed" or dotted in calibrated:
            continue  # a calibrated parameter's psa: is its prior; the PSA draws the posterior
        assert abs(p.psa.centre() - p.value) <= 1e-9 * max(1.0, abs(p.value)), dotted
        if dotted.startswith(("costs.", "assays.", "switch_therapies.", "targeted_second_line.")):
            us_param = parameters(us)[dotted]
            assert p.value != us_param.value or p.psa == us_param.psa, dotted
    later = uk.costs.later_lines
    assert later.value == 2000 and later.psa.centre() == 2000 and later.range == (1000, 3500)


def test_a_new_value_drops_the_parents_psa_range_and_source(tmp_path, parent):
    variant = write(tmp_path, "v.yaml", "extends: parent.yaml\ncosts:\n  imaging: {value: 130}\n")
    imaging = load_scenario(variant).costs.imaging
    assert (imaging.value, imaging.psa, imaging.range, imaging.source) == (130, None, None, None)
    # what the variant does not mention is kept as the parent says it
    assert load_scenario(variant).natural_history.esr1_progression.median.range == (7, 11)


def test_a_restated_psa_and_range_are_the_variants(tmp_path, parent):
    text = (
        "extends: parent.yaml\ncosts:\n  imaging: {value: 130, range: [100, 200], "
        "psa: {dist: gamma, mean: 130, sd: 20}}\n"
    )
    imaging = load_scenario(write(tmp_path, "v.yaml", text)).costs.imaging
    assert imaging.range == (100, 200)
    assert (imaging.psa.centre(), imaging.psa.std()) == (130, 20)


def test_a_change_that_keeps_the_value_keeps_the_parents_uncertainty(tmp_path, parent):
    text = "extends: parent.yaml\ncosts:\n  imaging: {range: [300, 700]}\n"
    imaging = load_scenario(write(tmp_path, "v.yaml", text)).costs.imaging
    assert imaging.value == 500 and imaging.range == (300, 700) and imaging.psa.centre() == 500


def test_psa_inherit_recentres_the_parents_distribution_and_check_notes_it(
    tmp_path, parent, capsys
):
    variant = write(
        tmp_path, "v.yaml", "extends: parent.yaml\ncosts:\n  imaging: {value: 130, psa: inherit}\n"
    )
    checked = check_scenario(variant)
    psa = checked.scenario.costs.imaging.psa
    assert psa.centre() == pytest.approx(130) and psa.std() == pytest.approx(100 * 130 / 500)
    assert checked.scenario.costs.imaging.range is None  # only the psa is inherited
    [note] = checked.notes
    assert note.line == 3 and note.path == "costs.imaging.psa"
    assert "mean: 500" in note.message and "mean: 130" in note.message
    assert main(["check", str(variant)]) == 0
    assert "note: " in capsys.readouterr().out


@pytest.mark.parametrize(
    ("imaging", "expected"),
    [
        ("{value: 0, psa: inherit}", "non-zero"),
        ("{value: abc, psa: inherit}", "numeric value"),
    ],
)
def test_psa_inherit_refuses_what_it_cannot_recentre(tmp_path, parent, imaging, expected):
    variant = write(tmp_path, "v.yaml", f"extends: parent.yaml\ncosts:\n  imaging: {imaging}\n")
    with pytest.raises(ScenarioError, match=expected) as info:
        load_scenario(variant)
    assert info.value.problems[0].line == 3


def test_psa_inherit_where_the_parent_has_no_psa_is_an_error(tmp_path, parent):
    text = (
        "extends: parent.yaml\nassays:\n  blood_test:\n    sensitivity: {value: 0.8, psa: inherit}"
    )
    with pytest.raises(ScenarioError, match="psa: inherit") as info:
        load_scenario(write(tmp_path, "v.yaml", text))
    assert info.value.problems[0].line == 4


def test_a_new_value_must_restate_its_unit_and_period(tmp_path, parent):
    duration = (
        "extends: parent.yaml\nnatural_history:\n  esr1_progression:\n    median: {value: 12}\n"
    )
    with pytest.raises(ScenarioError, match="unit: 'months'") as info:
        load_scenario(write(tmp_path, "v1.yaml", duration))
    assert info.value.problems[0].line == 4
    rate = "extends: tiny\ncosts:\n  later_lines: {value: 2000}\n"
    with pytest.raises(ScenarioError, match="per: "):
        load_scenario(write(tmp_path, "v2.yaml", rate))
    fixed = duration.replace("{value: 12}", "{value: 12, unit: weeks}")
    median = load_scenario(write(tmp_path, "v3.yaml", fixed)).natural_history.esr1_progression
    assert median.median.days() == 84 and median.median.range is None


def test_a_new_target_value_drops_the_parents_interval(tmp_path):
    parent = (
        "extends: tiny\ntargets:\n  imaging_only.pfs_median_months: {value: 20, ci: [18, 22]}\n"
    )
    write(tmp_path, "p.yaml", parent)
    text = "extends: p.yaml\ntargets:\n  imaging_only.pfs_median_months: {value: 30}\n"
    target = load_scenario(write(tmp_path, "v.yaml", text)).targets[
        "imaging_only.pfs_median_months"
    ]
    assert (target.value, target.ci) == (30, None)


@pytest.mark.parametrize(
    "dist",
    [
        BetaDist(dist="beta", mean=0.3, sd=0.05),
        BetaDist(dist="beta", alpha=2, beta=3),
        GammaDist(dist="gamma", shape=2, scale=3),
        LogNormalDist(dist="lognormal", median=0.44, ci=(0.31, 0.60)),
        NormalDist(dist="normal", mean=-2, sd=1),
        UniformDist(dist="uniform", low=-0.06, high=0.0),
        TriangularDist(dist="triangular", low=1, mode=2, high=5),
    ],
    ids=lambda d: d.dist,
)
def test_recentring_moves_the_centre_and_keeps_the_relative_spread(dist):
    """Closed-form centre and sd agree with SciPy; re-centring scales both."""
    frozen = dist.frozen()
    centre = float(frozen.median() if dist.dist == "lognormal" else frozen.mean())
    if dist.dist == "triangular":
        centre = dist.mode
    assert dist.centre() == pytest.approx(centre, rel=1e-12)
    assert dist.std() == pytest.approx(float(frozen.std()), rel=1e-12)
    target = dist.centre() * 0.8
    moved = recentred(dist, target)
    assert moved.centre() == pytest.approx(target, rel=1e-12)
    assert moved.std() / abs(moved.centre()) == pytest.approx(dist.std() / abs(dist.centre()))


def test_recentring_a_beta_beyond_one_is_refused():
    with pytest.raises(ValueError, match="too large|less than 1"):
        recentred(BetaDist(dist="beta", mean=0.5, sd=0.2), 0.99)


# --------------------------------------------------------------------------------------
# 2. Consistency checks
# --------------------------------------------------------------------------------------
def _with_sensitivity(tmp_path: Path, sensitivity: str) -> Path:
    text = f"extends: tiny\nassays:\n  blood_test:\n    sensitivity: {sensitivity}\n"
    return write(tmp_path, "s.yaml", text)


def test_a_psa_mean_far_from_the_value_is_a_warning_and_an_error_under_strict(tmp_path, capsys):
    path = _with_sensitivity(tmp_path, "{value: 0.9, psa: {dist: beta, mean: 0.80, sd: 0.04}}")
    [warning] = check_scenario(path).warnings
    assert warning.line == 4 and warning.path == "assays.blood_test.sensitivity.psa"
    assert "mean 0.8 is 2.5 standard deviations" in warning.message
    assert main(["check", str(path)]) == 0
    assert "warning: " in capsys.readouterr().out
    assert main(["check", str(path), "--strict"]) == 2
    assert "error: " in capsys.readouterr().out
    close = _with_sensitivity(tmp_path, "{value: 0.9, psa: {dist: beta, mean: 0.87, sd: 0.04}}")
    assert check_scenario(close).warnings == []  # within one sd


@pytest.mark.parametrize(
    ("sensitivity", "expected"),
    [
        ("{value: 0.9, range: [0.92, 0.97]}", "range [0.92, 0.97] excludes the value 0.9"),
        ("{value: 0.9, psa: {dist: uniform, low: 0.92, high: 0.97}}", "excludes the value 0.9"),
    ],
)
def test_a_range_or_distribution_that_excludes_the_value_is_an_error(
    tmp_path, sensitivity, expected
):
    with pytest.raises(ScenarioError) as info:
        load_scenario(_with_sensitivity(tmp_path, sensitivity))
    [problem] = info.value.problems
    assert problem.line == 4 and expected in problem.message


def test_a_cost_range_that_excludes_the_value_is_an_error(tiny):
    data = tiny(**{"costs.imaging": {"value": 3000, "range": [3500, 4000]}})
    with pytest.raises(ScenarioError, match="excludes the value 3000"):
        scenario_from_dict(data)


def test_a_psa_draw_or_calibration_step_may_leave_the_range():
    """with_values is how PSA samples and calibration steps are built: no range check there."""
    scenario = load_scenario("serena6_us")
    moved = with_values(scenario, {"costs.later_lines": 30000.0})
    assert moved.costs.later_lines.value == 30000


@pytest.mark.parametrize("name", bundled_names())
def test_every_bundled_scenario_passes_check_strict(name, capsys):
    assert main(["check", name, "--strict"]) == 0, capsys.readouterr()


def test_check_defaults_to_the_default_scenario(capsys):
    assert main(["check"]) == 0
    assert "SERENA-6 ctDNA monitoring (US payer)" in capsys.readouterr().out


# --------------------------------------------------------------------------------------
# 3. Units on every time
# --------------------------------------------------------------------------------------
def test_a_delay_mapping_needs_a_unit(tmp_path):
    text = "extends: tiny\nassays:\n  blood_test:\n"
    text += "    turnaround: {distribution: gamma, mean: 10, sd: 3}"
    with pytest.raises(ScenarioError, match="unit") as info:
        load_scenario(write(tmp_path, "d.yaml", text))
    assert info.value.problems[0].line == 4
    fixed = text.replace("sd: 3}", "sd: 3, unit: days}")
    assert load_scenario(write(tmp_path, "d.yaml", fixed)).assays["blood_test"].turnaround


# --------------------------------------------------------------------------------------
# 4. Which file a name means
# --------------------------------------------------------------------------------------
def test_a_folder_is_never_a_scenario_and_bundled_names_win_over_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny").mkdir()  # e.g. left by `hemodel run tiny --out tiny`
    assert resolve_path("tiny").samefile(SCENARIOS / "tiny.yaml")
    assert main(["check", "tiny"]) == 0
    (tmp_path / "results").mkdir()
    with pytest.raises(ScenarioError, match="a folder, not a scenario file"):
        resolve_path("results")


def test_a_local_file_wins_over_a_bundled_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "tiny", "extends: tiny.yaml\nname: my local tiny\n")
    assert load_scenario("tiny").name == "my local tiny"


def test_an_unknown_name_suggests_the_closest_bundled_and_local_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "my_tiny.yaml", "extends: tiny\n")
    with pytest.raises(ScenarioError) as info:
        resolve_path("serena6-uk")
    assert "did you mean serena6_uk" in str(info.value) and "(bundled)" in str(info.value)
    with pytest.raises(ScenarioError) as info:
        resolve_path("my_tiyn.yaml")
    assert "my_tiny.yaml (in this folder)" in str(info.value)


def test_extends_naming_a_folder_takes_the_bundled_scenario(tmp_path):
    (tmp_path / "tiny").mkdir()
    assert load_scenario(write(tmp_path, "v.yaml", "extends: tiny\nname: v\n")).name == "v"


# --------------------------------------------------------------------------------------
# 5. Analyses that cannot run are refused at once
# --------------------------------------------------------------------------------------
def test_psa_on_a_scenario_without_distributions_is_refused_at_once(tmp_path, capsys):
    start = time.perf_counter()
    assert main(["psa", "tiny", "--samples", "100", "--out", str(tmp_path / "psa")]) == 2
    assert time.perf_counter() - start < 10
    err = capsys.readouterr().err
    assert "no parameter of 'Tiny teaching scenario' has a psa: distribution" in err
    assert not (tmp_path / "psa").exists()
    out = str(tmp_path / "report")
    assert main(["report", "tiny", "--psa-samples", "10", "--out", out]) == 2
    assert "has a psa: distribution" in capsys.readouterr().err
    assert not Path(out).exists()


def test_report_sweep_without_sweeps_gives_the_sweep_commands_error(tmp_path, capsys):
    assert main(["sweep", "tiny", "--out", str(tmp_path / "s")]) == 2
    sweep_error = capsys.readouterr().err
    assert "no sweeps: block" in sweep_error
    assert main(["report", "tiny", "--only", "sweep", "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == sweep_error
    assert not (tmp_path / "r").exists()


# --------------------------------------------------------------------------------------
# 7. PSA draws are centred on each bundled scenario's own base values
# --------------------------------------------------------------------------------------
DRAWS = 2000


WITH_PSA = [n for n in bundled_names() if uncertain_parameters(load_scenario(n))]


def test_the_bundled_payer_scenarios_have_psa_distributions():
    assert {"serena6_us", "serena6_uk"} <= set(WITH_PSA)


@pytest.mark.parametrize("name", WITH_PSA)
def test_psa_draws_are_centred_on_the_base_values(name):
    scenario = load_scenario(name)
    uncertain = uncertain_parameters(scenario)
    draws = draw_table(scenario, np.arange(1, DRAWS + 1), seed=11)  # what run_psa draws
    posterior = scenario.uncertainty.posterior
    calibrated = list(posterior.parameters) if posterior is not None else []
    for k, p in enumerate(calibrated):  # drawn from the calibration posterior, centred on it
        column = np.array([row[k] for row in posterior.table])
        se = column.std() / math.sqrt(DRAWS)
        assert abs(draws[p].mean() - column.mean()) < 4 * se, (p, draws[p].mean(), column.mean())
        assert abs(np.median(column) - parameters(scenario)[p].value) <= column.std(), p
    for p, param in uncertain.items():
        if p in calibrated:
            continue
        dist = param.psa
        mean, sd = dist.frozen().mean(), dist.std()
        se = sd / math.sqrt(DRAWS)
        assert abs(draws[p].mean() - mean) < 3 * se, (p, draws[p].mean(), mean)
        assert abs(dist.centre() - param.value) <= sd, (p, dist.centre(), param.value)
        assert abs(mean - param.value) <= sd, (p, mean, param.value)


def test_the_uk_psa_mean_cost_agrees_with_the_uk_base_case():
    """Done-when of the issue: imaging-only mean cost in the UK PSA (the same patients in every
    sample) within Monte Carlo error of the base case; before the fix it was 3.6× too high."""
    uk = load_scenario("serena6_uk")
    only = with_strategies(uk, ["imaging_only"], "imaging_only")
    patients, samples = 200, 60
    base = simulate(only, patients=patients, seed=3).summary().set_index("strategy")
    per, _ = run_psa(only, samples=samples, patients=patients, seed=3)
    costs = per.loc[per["strategy"] == "imaging_only", "cost"].to_numpy()
    se = costs.std(ddof=1) / math.sqrt(samples)
    assert abs(costs.mean() - base.loc["imaging_only", "cost_total"]) < 3 * se
