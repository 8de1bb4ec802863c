"""Values in a scenario (issue 12): finite numbers only, physically sensible bounds shown with
the allowed range, utilities that cannot make QALYs negative without an opt-in, messages in
plain words (never pydantic's) with long values cut, and whatever ``check`` accepts runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hemodel.commands import main as cli
from hemodel.scenario.load import ScenarioError, check_scenario
from hemodel.scenario.quantities import Cost, HazardRatio

TINY = Path(__file__).parents[2] / "scenarios" / "tiny.yaml"


def scenario(tmp_path: Path, text: str, name: str = "mine.yaml") -> Path:
    """A scenario file extending a copy of tiny.yaml with ``text`` (its line 2 on)."""
    shutil.copy(TINY, tmp_path / "tiny.yaml")
    path = tmp_path / name
    path.write_text("extends: tiny.yaml\n" + text)
    return path


def problem(tmp_path: Path, text: str):
    """The single problem ``check_scenario`` reports for ``text``."""
    with pytest.raises(ScenarioError) as info:
        check_scenario(scenario(tmp_path, text))
    assert len(info.value.problems) == 1, str(info.value)
    return info.value.problems[0]


# --------------------------------------------------------------------------------------
# Finite numbers and bounds: rejected by check with file:line, field and allowed range
# --------------------------------------------------------------------------------------
REJECTED = [
    # (YAML from line 2, line, field path, words of the message)
    ("costs: {imaging: .inf}\n", 2, "costs.imaging", ["finite"]),
    ("costs: {imaging: .nan}\n", 2, "costs.imaging", ["finite"]),
    ("costs: {imaging: 1e300}\n", 2, "costs.imaging", ["1e+300", ">= 0 and <= 1e9"]),
    ("costs: {imaging: 1e308}\n", 2, "costs.imaging", ["1e+308", "<= 1e9"]),
    ("costs: {imaging: 1e999}\n", 2, "costs.imaging", ["finite"]),
    ("costs:\n  later_lines: {value: 1e300, per: month}\n", 3, "costs.later_lines", ["<= 1e9"]),
    (
        "costs:\n  later_lines: {value: 5, per: 0.0001 days}\n",
        3,
        "costs.later_lines.per",
        ["1 day"],
    ),
    ("time_horizon: 1e308 years\n", 2, "time_horizon", ["at most 100 years"]),
    ("time_horizon: 101 years\n", 2, "time_horizon", ["at most 100 years"]),
    (
        "schedule: {imaging_every: 1e-320 days}\n",
        2,
        "schedule.imaging_every",
        ["from 1 day to 100 years"],
    ),
    ("schedule: {visit_every: 0.5 days}\n", 2, "schedule.visit_every", ["from 1 day"]),
    (
        "strategies:\n  blood_test_q12w:\n    monitoring: {every: 0.0001 days}\n",
        4,
        "strategies.blood_test_q12w.monitoring.every",
        ["from 1 day"],
    ),
    (
        "natural_history:\n  esr1_progression: {distribution: weibull, median: 9 months, "
        "shape: 1e-300}\n",
        3,
        "natural_history.esr1_progression.shape",
        [">= 0.01 and <= 100"],
    ),
    (
        "natural_history:\n  esr1_progression: {distribution: loglogistic, median: 9 months, "
        "shape: 101}\n",
        3,
        "natural_history.esr1_progression.shape",
        ["<= 100"],
    ),
    (
        "natural_history:\n  esr1_progression: {distribution: exponential, median: 1e-9 days}\n",
        3,
        "natural_history.esr1_progression.median",
        ["from 0.01 days"],
    ),
    (
        "natural_history:\n  esr1_progression: {distribution: gompertz, median: 900 years, "
        "gamma_per_year: 5}\n",
        3,
        "natural_history.esr1_progression",
        ["below about 700"],
    ),
    (
        "switch_therapies:\n  new_drug: {hazard_ratio: 0}\n",
        3,
        "switch_therapies.new_drug.hazard_ratio",
        ["> 0 and <= 100"],
    ),
    (
        "switch_therapies:\n  new_drug: {hazard_ratio: 1000}\n",
        3,
        "switch_therapies.new_drug.hazard_ratio",
        ["<= 100"],
    ),
    ("discount_rates: {costs: 1.5}\n", 2, "discount_rates.costs", ["from 0 to 1 "]),
    ("cohort:\n  age: {mean: 150}\n", 3, "cohort.age.mean", ["<= 119"]),
    (
        "cohort:\n  background_mortality: {constant_rate_per_year: 1e300}\n",
        3,
        "cohort.background_mortality.constant_rate_per_year",
        ["<= 1000"],
    ),
    (
        "assays:\n  blood_test: {turnaround: 2 years}\n",
        3,
        "assays.blood_test.turnaround",
        ["at most 1 year"],
    ),
    ("lab: {capacity: 100000000000}\n", 2, "lab.capacity", ["<= 1,000,000"]),
    (
        "costs:\n  imaging: {value: 500, psa: {dist: gamma, mean: 1e300, sd: 10}}\n",
        3,
        "costs.imaging.psa",
        ["centre at 1e+300", "<= 1e9"],
    ),
    (
        "costs:\n  imaging: {value: 500, psa: {dist: uniform, low: 0, high: 1e300}}\n",
        3,
        "costs.imaging.psa",
        ["1e+300", "<= 1e9"],
    ),
    (
        "costs:\n  imaging: {value: 500, psa: {dist: gamma, mean: .inf, sd: 10}}\n",
        3,
        "costs.imaging.psa.mean",
        ["finite"],
    ),
    (
        "costs:\n  imaging: {value: 500, range: [0, 1e300]}\n",
        3,
        "costs.imaging.range",
        ["<= 1e9"],
    ),
    (
        "uncertainty:\n  dirichlet: [{parameters: [a, b], concentrations: [1e-300, 1]}]\n",
        3,
        "uncertainty.dirichlet.0",
        [">= 0.1"],
    ),
]


@pytest.mark.parametrize(("text", "line", "path", "words"), REJECTED)
def test_check_rejects_a_value_out_of_bounds_naming_line_field_and_range(
    tmp_path, text, line, path, words
):
    p = problem(tmp_path, text)
    assert (Path(p.file).name, p.line, p.path) == ("mine.yaml", line, path), str(p)
    for word in words:
        assert word in p.message, str(p)


def test_check_command_exits_2_for_a_huge_cost(tmp_path, capsys):
    path = scenario(tmp_path, "costs: {imaging: 1e308}\n")
    assert cli.main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "mine.yaml:2: costs.imaging: value 1e+308 is not allowed" in err
    assert "Traceback" not in err


def test_bounds_are_in_days_whatever_the_unit(tmp_path):
    check_scenario(
        scenario(tmp_path, "schedule: {visit_every: 1 days}\ntime_horizon: 1200 months\n")
    )
    p = problem(tmp_path, "schedule: {visit_every: 0.1 weeks}\n")
    assert p.path == "schedule.visit_every"


# --------------------------------------------------------------------------------------
# Utilities: QALYs cannot go negative without allow_negative_utilities
# --------------------------------------------------------------------------------------
def test_a_negative_utility_needs_the_opt_in(tmp_path):
    p = problem(tmp_path, "utilities: {progressed: -0.2}\n")
    assert (p.line, p.path) == (2, "utilities.progressed")
    assert "allow_negative_utilities: true" in p.message
    ok = check_scenario(
        scenario(tmp_path, "allow_negative_utilities: true\nutilities: {progressed: -0.2}\n")
    )
    assert ok.scenario.utilities.progressed.value == -0.2


def test_a_utility_below_the_uk_floor_is_rejected_even_with_the_opt_in(tmp_path):
    p = problem(tmp_path, "allow_negative_utilities: true\nutilities: {progressed: -0.6}\n")
    assert (p.line, p.path) == (3, "utilities.progressed")
    assert "-0.594" in p.message


def test_a_psa_reaching_below_zero_needs_the_opt_in(tmp_path):
    text = "utilities:\n  progressed: {value: 0.1, psa: {dist: uniform, low: -0.1, high: 0.3}}\n"
    p = problem(tmp_path, text)
    assert p.path == "utilities.progressed"
    assert "-0.1 is below 0" in p.message


@pytest.mark.parametrize(
    ("text", "line", "path"),
    [
        (
            "utilities: {progression_free: 0.1, molecular_progression_decrement: -0.3}\n",
            2,
            "utilities.molecular_progression_decrement",
        ),
        (
            "utilities: {progression_free: 0.1}\nswitch_therapies:\n  new_drug: "
            "{utility_decrement: -0.2}\n",
            4,
            "switch_therapies.new_drug.utility_decrement",
        ),
        (
            "utilities:\n  progression_free: {value: 0.3, range: [0.05, 0.5]}\n"
            "  molecular_progression_decrement: -0.1\n",
            4,
            "utilities.molecular_progression_decrement",
        ),
    ],
)
def test_utility_plus_decrement_must_stay_at_or_above_zero(tmp_path, text, line, path):
    p = problem(tmp_path, text)
    assert (p.line, p.path) == (line, path), str(p)
    assert "below 0" in p.message and "allow_negative_utilities" in p.message


def test_the_model_floors_a_psa_sample_of_utility_plus_decrement(tmp_path):
    from hemodel.model.inputs import build_inputs
    from hemodel.scenario.load import with_values

    text = (
        "utilities:\n  progression_free: {value: 0.5, psa: {dist: uniform, low: 0, high: 1}}\n"
        "  molecular_progression_decrement: -0.3\n"
    )
    s = check_scenario(scenario(tmp_path, text)).scenario
    drawn = with_values(s, {"utilities.progression_free": 0.1})
    inputs = build_inputs(drawn)
    assert inputs.u_progression_free + inputs.molecular_decrement == pytest.approx(0.0)
    assert build_inputs(s).molecular_decrement == -0.3


# --------------------------------------------------------------------------------------
# PSA draws stay inside the parameter's bounds
# --------------------------------------------------------------------------------------
def test_psa_draws_are_clipped_to_the_parameters_bounds():
    u = np.array([1e-16, 0.5, 1 - 1e-16])
    cost = Cost.model_validate({"value": 1e8, "psa": {"dist": "gamma", "mean": 1e8, "sd": 1e9}})
    drawn = cost.draw(u)
    assert drawn.max() == 1e9 and drawn.min() >= 0
    hr = HazardRatio.model_validate(
        {"value": 1, "psa": {"dist": "lognormal", "median": 1, "sdlog": 10}}
    )
    drawn = hr.draw(u)
    assert drawn.min() > 0 and drawn.max() == 100


# --------------------------------------------------------------------------------------
# Plain words: none of pydantic's phrases reaches the user
# --------------------------------------------------------------------------------------
PYDANTIC = (
    "valid tuple",
    "Tuple should",
    "after validation",
    "Input should",
    "should have at",
    "Field required",
    "Extra inputs",
    "union",
    "Value error",
    "valid dictionary",
    "valid number",
    "valid integer",
    "valid string",
    "valid list",
    "finite number,",
    "Unable to",
    "literal_error",
    "should be",
)
WRONG = [None, [], {}, "x", [1, 2, 3], [[1]], True, 1e400, -1e300, "é" * 3, {"a": 1}]
FIELDS = [
    ("time_horizon",),
    ("price_year",),
    ("currency",),
    ("discount_rates", "costs"),
    ("willingness_to_pay",),
    ("cohort", "age", "mean"),
    ("cohort", "age", "min"),
    ("utilities", "progressed"),
    ("costs", "later_lines"),
    ("costs", "imaging"),
    ("assays", "blood_test", "turnaround"),
    ("assays", "blood_test", "sensitivity"),
    ("lab",),
    ("lab", "capacity"),
    ("natural_history", "esr1_progression"),
    ("natural_history", "esr1_progression", "median"),
    ("strategies", "blood_test_q12w", "monitoring", "every"),
    ("strategies", "blood_test_q12w", "switch", "when"),
    ("switch_therapies", "new_drug", "hazard_ratio"),
    ("targets",),
    ("population",),
]


def _set(data: dict, path: tuple, value) -> dict:
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return data


@pytest.mark.parametrize("path", FIELDS, ids=[".".join(p) for p in FIELDS])
def test_no_pydantic_wording_for_wrong_values(tmp_path, path):
    base = yaml.safe_load(TINY.read_text())
    extra = {
        ("costs", "imaging"): [{"value": 1, "range": [1, 2, 3]}, {"value": 1, "range": "ab"}],
        ("targets",): [{"imaging_only.os_median_months": {"value": 1, "ci": [1, 2, 3]}}],
        ("population",): [{"incident": "many"}, {"incident": 1, "uptake": [1, 2, 3, 4]}],
    }
    for i, value in enumerate(WRONG + extra.get(path, [])):
        file = tmp_path / f"wrong{i}.yaml"
        file.write_text(yaml.safe_dump(_set(yaml.safe_load(TINY.read_text()), path, value)))
        try:
            check_scenario(file)
        except ScenarioError as exc:
            text = str(exc)
            assert all(p.line for p in exc.problems), text
            for phrase in PYDANTIC:
                assert phrase not in text, f"{phrase!r} in {text}"
    assert base  # the base scenario was read


def test_pydantic_types_are_translated():
    from hemodel.scenario.problems import _translated

    pair = _translated("too_long", {"field_type": "Tuple", "max_length": 2, "actual_length": 3}, "")
    assert pair == "must be a pair [low, high]: two numbers (got 3)"
    assert _translated("tuple_type", {}, "Input should be a valid tuple") == (
        "must be a pair [low, high]"
    )
    assert _translated("greater_than_equal", {"ge": 1900}, "") == "must be >= 1900"
    assert _translated("some_future_type", {}, "Input should be x") == (
        "is not an allowed value here"
    )


# --------------------------------------------------------------------------------------
# Long values are cut
# --------------------------------------------------------------------------------------
HUGE = "9" * 1_000_000


@pytest.mark.parametrize(
    "text",
    [
        f"costs: {{imaging: '{HUGE}x'}}\n",
        f"costs: {{imaging: '{HUGE}'}}\n",
        f"time_horizon: '{HUGE} years'\n",
        f"time_horizon: '{HUGE}'\n",
        f"? {'k' * 1_000_000}\n: 1\n",
        f"natural_history:\n  esr1_progression: {{distribution: {'w' * 1_000_000}}}\n",
        f"lab: {{capacity: '{HUGE}'}}\n",
        f"strategies:\n  ? {'s' * 1_000_000} x\n  : {{description: x}}\n",
        f"description: '{HUGE}'\nname: ['{HUGE}']\n",
    ],
    ids=[
        "text-cost",
        "number-cost",
        "duration",
        "no-unit",
        "key",
        "tag",
        "capacity",
        "name",
        "list",
    ],  # fmt: skip
)
def test_a_million_character_value_gives_a_short_message(tmp_path, text):
    with pytest.raises(ScenarioError) as info:
        check_scenario(scenario(tmp_path, text))
    assert len(str(info.value)) < 1000, str(info.value)[:2000]
    assert "9" * 250 not in str(info.value) and "kkkkk" * 50 not in str(info.value)


# --------------------------------------------------------------------------------------
# What check accepts runs to completion, also at the bounds
# --------------------------------------------------------------------------------------
EXTREMES = {
    "daily": "time_horizon: 100 years\nschedule: {visit_every: 1 days, imaging_every: 1 days}\n"
    "strategies:\n  blood_test_q12w:\n    monitoring: {every: 1 days, start: 0 days}\n",
    "shapes": "natural_history:\n"
    "  esr1_progression: {distribution: weibull, median: 0.01 days, shape: 0.01}\n"
    "  other_progression: {distribution: weibull, median: 1000 years, shape: 100}\n"
    "  second_line_progression: {distribution: loglogistic, median: 1 days, shape: 0.01}\n"
    "  post_progression_survival: {distribution: gompertz, median: 100 years, "
    "gamma_per_year: -10}\n",
    "costs": "costs:\n  imaging: 1e9\n  later_lines: {value: 1e9, per: day}\n"
    "switch_therapies:\n  new_drug: {hazard_ratio: 100, cost: {value: 1e9, per: day}}\n"
    "targeted_second_line: {hazard_ratio: 1e-300}\nwillingness_to_pay: [1e9]\n",
    "equal": "switch_therapies:\n  new_drug: {hazard_ratio: 1}\n"
    "assays:\n  blood_test: {cost: 0, specificity: 1}\ncosts: {venipuncture: 0, "
    "phlebotomy_visit: 0}\n",
}


@pytest.mark.parametrize("engine", ["array", "simpy"])
@pytest.mark.parametrize("case", list(EXTREMES))
def test_extreme_allowed_scenarios_run_with_finite_results(tmp_path, case, engine):
    path = scenario(tmp_path, EXTREMES[case])
    check_scenario(path)
    out = tmp_path / "out"
    argv = ["run", str(path), "--patients", "20", "--engine", engine, "--quiet", "--out", str(out)]
    assert cli.main(argv) == 0
    summary = pd.read_csv(out / "summary.csv")
    numbers = summary.select_dtypes("number").to_numpy()
    assert np.isfinite(numbers[~np.isnan(numbers)]).all()
    assert (summary["qalys"] >= 0).all()
    incremental = pd.read_csv(out / "incremental.csv")
    icers = incremental.select_dtypes("number").to_numpy()
    assert not np.isinf(icers).any()
