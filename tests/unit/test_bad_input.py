"""Bad scenario files: each gives one clear message (file, line, dotted field, bad value and
what is allowed) and exit code 2 from ``hemodel check``, never a Python traceback.

The files live in ``tests/data/bad/``; most extend ``scenarios/tiny.yaml`` and break one thing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hemodel.commands import main as cli
from hemodel.scenario.load import ScenarioError, load_scenario, scenario_hash

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "data" / "bad"

# (file, dotted field path or None, line or None, substrings the message must contain)
# fmt: off
CASES = [
    # wrong types
    ("string_for_number.yaml", "assays.blood_test.cost", 5, ["'a thousand'", "a number >= 0"]),
    ("bool_for_number.yaml", "utilities.progressed", 4, ["got true", "a utility <= 1"]),
    ("wtp_not_a_list.yaml", "willingness_to_pay", 3, ["'lots'", "must be a list"]),
    ("strategy_not_mapping.yaml", "strategies.watchful_waiting", 4, ["'scans only'", "mapping"]),
    ("bad_currency.yaml", "currency", 3, ["'dollars'", "three-letter", "USD"]),
    ("bad_strategy_name.yaml", "strategies.blood test q8w", 4, ["'blood test q8w'", "no spaces"]),
    ("unknown_switch_timing.yaml", "strategies.blood_test_q12w.switch.when", 5,
     ["'at_progression'", "'immediately' or 'next_visit'"]),
    # durations and units
    ("duration_without_unit.yaml", "strategies.blood_test_q12w.monitoring.every", 5,
     ["8 has no unit", "'8 weeks'", "days, weeks, months, years"]),
    ("unknown_time_unit.yaml", "strategies.blood_test_q12w.monitoring.every", 7,
     ["'8 fortnights'", "days, weeks, months, years"]),
    # out-of-range probabilities
    ("specificity_above_one.yaml", "assays.blood_test.specificity", 5, ["1.2", "between 0 and 1"]),
    ("sensitivity_negative.yaml", "assays.blood_test.sensitivity", 5, ["-0.1", "between 0 and 1"]),
    ("probability_percent.yaml", "natural_history.esr1_emergence.probability", 5,
     ["55", "between 0 and 1"]),
    # negative costs and times, zero intervals, capacity
    ("negative_cost.yaml", "costs.visit", 4, ["-100", ">= 0"]),
    ("negative_cost_rate.yaml", "costs.later_lines", 4, ["-10000", "a cost >= 0"]),
    ("negative_turnaround.yaml", "assays.blood_test.turnaround", 5, ["-7 days", ">= 0"]),
    ("negative_time_horizon.yaml", "time_horizon", 3, ["-10 years", "duration > 0"]),
    ("zero_imaging_interval.yaml", "schedule.imaging_every", 4, ["'0 weeks'", "duration > 0"]),
    ("zero_monitoring_interval.yaml", "strategies.blood_test_q12w.monitoring.every", 5,
     ["'0 weeks'", "duration > 0"]),
    ("lab_capacity_zero.yaml", "lab.capacity", 4, ["got 0", "whole number >= 1", "'unlimited'"]),
    # unknown keys, with did-you-mean
    ("unknown_key_typo.yaml", "assays.blood_test.sensitivty", 5,
     ["'sensitivty'", "did you mean 'sensitivity'?",
      "specificity, limit_of_detection, cost, turnaround"]),
    ("unknown_top_level_key.yaml", "discount_rate", 3,
     ["'discount_rate'", "did you mean 'discount_rates'?"]),
    # missing keys
    ("missing_assay_field.yaml", "strategies.monitor.monitoring.assay", 5, ["required"]),
    ("cost_rate_without_per.yaml", "switch_therapies.other_drug.cost.per", 5,
     ["required", "per: month"]),
    # cross-references and names
    ("reference_missing.yaml", "reference", 3,
     ["'imaging_onl'", "did you mean 'imaging_only'?", "defined under strategies"]),
    ("undefined_assay.yaml", "strategies.blood_test_q12w.monitoring.assay", 5,
     ["'guardant360'", "not defined", "defined under assays: blood_test"]),
    ("undefined_switch_therapy.yaml", "strategies.blood_test_q12w.switch.to", 5,
     ["'camizestrant'", "not defined", "defined under switch_therapies: new_drug"]),
    ("unknown_life_table.yaml", "cohort.background_mortality.life_table", 5,
     ["'us_female_2019'", "did you mean 'us_female_2018'?"]),
    ("test_at_progression_without_second_line.yaml",
     "strategies.test_at_progression.test_at_progression", 72, ["'targeted_second_line'"]),
    ("monitoring_without_switch.yaml", "strategies.monitor_only", 4, ["needs a switch rule"]),
    ("duplicate_strategy.yaml", "strategies.monitor", 7,
     ["'monitor' appears twice", "first on line 4"]),
    # cost rates
    ("cost_rate_bare_number.yaml", "targeted_second_line.cost", 4,
     ["needs its period", "{value: 20000, per: 28 days}"]),
    ("cost_rate_per_fortnight.yaml", "costs.first_line.cdk46_inhibitor.per", 5,
     ["'fortnight'", "'month'", "'28 days'"]),
    # PSA and time-to-event distributions
    ("psa_normal_on_probability.yaml", "assays.blood_test.sensitivity.psa", 7,
     ["'normal'", "between 0 and 1", "dist: beta"]),
    ("psa_normal_on_utility.yaml", "utilities.progression_free.psa", 6,
     ["'normal'", "utility <= 1", "dist: beta"]),
    ("psa_normal_on_cost.yaml", "costs.imaging.psa", 6, ["'normal'", ">= 0", "gamma or lognormal"]),
    ("psa_beta_sd_too_large.yaml", "assays.blood_test.specificity.psa", 7,
     ["sd 0.2 is too large", "below 0.0995"]),
    ("psa_lognormal_ci_reversed.yaml", "switch_therapies.new_drug.hazard_ratio.psa", 7,
     ["[0.8, 0.3]", "low < high"]),
    ("psa_unknown_dist.yaml", "utilities.progressed.psa.dist", 6,
     ["'betta'", "did you mean 'beta'?", "triangular"]),
    ("psa_missing_dist.yaml", "utilities.progressed.psa", 6, ["'dist:'", "beta, gamma"]),
    ("unknown_tte_distribution.yaml", "natural_history.other_progression.distribution", 4,
     ["'weibul'", "did you mean 'weibull'?", "exponential"]),
    # extends
    ("extends_missing.yaml", "extends", 2, ["no_such_file.yaml", "not found", "relative"]),
    ("extends_not_text.yaml", "extends", 2, ["must name another scenario file"]),
    ("circular_a.yaml", "extends", 2, ["circular extends", "circular_a.yaml -> circular_b.yaml"]),
    ("self_extends.yaml", "extends", 2, ["circular extends"]),
    # malformed or unusable files
    ("malformed.yaml", None, 5, ["malformed YAML", "started on line 4", "not closed"]),
    ("bad_indentation.yaml", None, 5, ["malformed YAML", "indentation"]),
    ("tab_indent.yaml", None, 4, ["malformed YAML", "spaces, not tabs"]),
    ("not_utf8.yaml", None, 3, ["not UTF-8", "save the file with UTF-8"]),
    ("empty.yaml", None, None, ["file is empty", "mapping of sections"]),
    ("only_comments.yaml", None, None, ["file is empty"]),
    ("list_document.yaml", None, 2, ["holds a list", "mapping of sections"]),
    ("scalar_document.yaml", None, 1, ["holds a single value", "mapping of sections"]),
    # unsafe YAML
    ("python_tag.yaml", "name", 2, ["'!!python/object/apply:os.system'", "not allowed"]),
    ("include_tag.yaml", "assays", 3, ["'!include'", "not allowed"]),
]
# fmt: on
IDS = [case[0].removesuffix(".yaml") for case in CASES]
# A problem is reported where it is: a cycle at the `extends:` line that closes it, an
# inherited strategy in the parent file.
REPORTED_IN = {
    "circular_a.yaml": "circular_b.yaml",
    "test_at_progression_without_second_line.yaml": "tiny.yaml",
}


def _problem_line(file: str, path: str | None, line: int | None) -> str:
    """The start of the expected problem line: ``file:line: dotted.path:``."""
    file = REPORTED_IN.get(file, file)
    where = f"{file}:{line}:" if line else f"{file}:"
    return f"{where} {path}:" if path else where


@pytest.mark.parametrize(("file", "path", "line", "expected"), CASES, ids=IDS)
def test_load_scenario_gives_one_clear_problem(file, path, line, expected):
    with pytest.raises(ScenarioError) as info:
        load_scenario(BAD / file)
    message = str(info.value)
    assert message.startswith("invalid scenario (1 problem):\n"), message
    assert len(info.value.problems) == 1, message
    assert _problem_line(file, path, line) in message
    problem = info.value.problems[0]
    assert Path(problem.file).name == REPORTED_IN.get(file, file)
    assert problem.line == line
    assert problem.path == (path or "")
    for text in expected:
        assert text in problem.message, f"{text!r} not in {problem.message!r}"


@pytest.mark.parametrize(("file", "path", "line", "expected"), CASES, ids=IDS)
def test_check_command_exits_2_with_message_on_stderr(file, path, line, expected, capsys):
    assert cli.main(["check", str(BAD / file)]) == cli.EXIT_INVALID == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("invalid scenario (1 problem):")
    assert _problem_line(file, path, line) in err
    assert "Traceback" not in err
    assert all(text in err for text in expected)


def test_every_bad_file_is_in_the_table():
    tested = {case[0] for case in CASES} | {"circular_b.yaml", "missing_section.yaml"}
    assert {p.name for p in BAD.glob("*.yaml")} == tested
    assert len(CASES) >= 24


def test_circular_extends_is_reported_from_either_end():
    with pytest.raises(ScenarioError, match=r"circular_a\.yaml:2: extends: circular extends"):
        load_scenario(BAD / "circular_b.yaml")


def test_missing_sections_are_all_listed_together():
    with pytest.raises(ScenarioError) as info:
        load_scenario(BAD / "missing_section.yaml")
    missing = {p.path for p in info.value.problems}
    assert {"time_horizon", "costs", "strategies", "reference"} <= missing
    assert all(p.message.startswith("is required but missing") for p in info.value.problems)
    assert all(Path(p.file).name == "missing_section.yaml" for p in info.value.problems)


def test_python_tag_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.yaml"
    bad.write_text(f"name: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ScenarioError, match="is not allowed"):
        load_scenario(bad)
    assert not marker.exists()


def test_missing_file_is_a_clear_error(capsys):
    assert cli.main(["check", str(BAD / "no_such_scenario.yaml")]) == 2
    assert "no_such_scenario.yaml: file not found" in capsys.readouterr().err


def test_valid_scenario_passes_check(capsys):
    assert cli.main(["check", str(ROOT / "scenarios" / "tiny_lab.yaml")]) == 0
    out, err = capsys.readouterr()
    assert "OK" in out and err == ""


def test_loading_is_repeatable_and_mutates_nothing():
    path = ROOT / "scenarios" / "tiny_lab.yaml"  # extends tiny.yaml
    before = {p: p.read_bytes() for p in (path, ROOT / "scenarios" / "tiny.yaml")}
    first, second = load_scenario(path), load_scenario(path)
    assert first == second
    assert scenario_hash(first) == scenario_hash(second)
    assert {p: p.read_bytes() for p in before} == before
    with pytest.raises(ScenarioError):  # a failed load leaves no state behind
        load_scenario(BAD / "specificity_above_one.yaml")
    assert scenario_hash(load_scenario(path)) == scenario_hash(first)


@pytest.mark.parametrize("file", ["unknown_key_typo.yaml", "malformed.yaml", "circular_a.yaml"])
def test_real_command_line_exits_2_without_traceback(file):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "hemodel", "check", str(BAD / file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    shown = REPORTED_IN.get(file, file)
    assert f"tests/data/bad/{shown}:" in done.stderr  # relative to the working folder
    assert "invalid scenario" in done.stderr
    assert "Traceback" not in done.stderr


def test_ctdna_kinetics_need_every_assays_limit_of_detection(tmp_path):
    """With ``natural_history.ctdna:`` an assay without a limit of detection would see every
    emerged mutation at once: one problem naming the assay's line."""
    variant = tmp_path / "no_limit.yaml"
    variant.write_text(
        f"extends: {ROOT / 'scenarios' / 'serena6_us.yaml'}\n"
        "name: no limit\n"
        "assays:\n"
        "  ddpcr:\n"
        "    limit_of_detection: null\n"
    )
    with pytest.raises(ScenarioError) as err:
        load_scenario(variant)
    [problem] = err.value.problems
    assert (problem.line, problem.path) == (4, "assays.ddpcr")
    assert "needs a limit_of_detection" in problem.message
