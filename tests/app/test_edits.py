"""The app's server logic without a browser: the inputs it offers, the changes an analyst
makes, and the scenario file it writes (which must load, through the same loader as every
command, to exactly the scenario the app computed with)."""

from __future__ import annotations

import math

import pytest

from hemodel.app.edits import (
    MAX_UPLOAD_BYTES,
    Edits,
    bundled_source,
    changes,
    controls,
    edited_scenario,
    slider_step,
    strategy_settings,
    uploaded_source,
    variant_text,
)
from hemodel.scenario.load import check_scenario, parameters, scenario_hash
from hemodel.scenario.problems import ScenarioError


@pytest.fixture(scope="module")
def us():
    return bundled_source("serena6_us")


def _untouched(source) -> Edits:
    """What the app reads from inputs nobody has moved."""
    scenario = source.scenario
    values = {c.path: c.value for c in controls(scenario)}
    strategies = {
        s.name: {k: getattr(s, k) for k in ("every_weeks", "start_weeks", "assay", "when")}
        for s in strategy_settings(scenario)
    }
    return Edits(values, strategies, scenario.willingness_to_pay[0].value)


def test_every_ranged_parameter_is_an_input_with_its_unit(us):
    offered = {c.path: c for c in controls(us.scenario)}
    ranged = {
        path
        for path, p in parameters(us.scenario).items()
        if p.range is not None and not path.startswith(("trials.", "sweeps.", "strategies."))
    }
    assert set(offered) == ranged
    cost = offered["assays.guardant360.cost"]
    assert (cost.label, cost.unit, cost.section) == ("Guardant360: cost", "USD per test", "Assays")
    assert offered["costs.later_lines"].unit == "USD per month"
    assert offered["switch_therapies.camizestrant.hazard_ratio"].posterior  # calibrated
    assert not offered["switch_therapies.camizestrant.cost"].posterior
    # sections in reading order: costs first, natural history after the therapies
    sections = list(dict.fromkeys(c.section for c in controls(us.scenario)))
    assert sections.index("Costs") < sections.index("Assays") < sections.index("Natural history")


@pytest.mark.parametrize("name", ["serena6_us", "serena6_uk"])
def test_every_slider_shows_the_files_value_exactly(name):
    """An untouched slider must not count as a change: value and ends on the step grid."""
    for c in controls(bundled_source(name).scenario):
        for x in (c.value, c.high):
            steps = (x - c.low) / c.step
            assert abs(steps - round(steps)) < 1e-6, (c.path, x, c.step)
        assert (c.high - c.low) / c.step >= 50


def test_slider_step_by_hand():
    assert slider_step(5000, 3500, 5500) == 10  # 2000 / 50 = 40 -> 10
    assert math.isclose(slider_step(0.4598, 0.388, 0.521), 1e-4)  # value needs 4 decimals
    assert slider_step(130, 100, 160) == 1  # 60 / 50 = 1.2 -> 1


def test_untouched_inputs_are_no_change(us):
    edits = _untouched(us)
    assert changes(us, edits) == []
    assert edited_scenario(us, edits, folder=None) is us.checked  # nothing written or loaded
    noise = Edits({k: v * (1 + 1e-13) for k, v in edits.values.items()}, edits.strategies,
                  edits.wtp)  # fmt: skip
    assert changes(us, noise) == []


def _edits(us) -> Edits:
    edits = _untouched(us)
    edits.values["assays.guardant360.cost"] = 3500.0
    edits.values["switch_therapies.camizestrant.hazard_ratio"] = 0.5
    edits.values["natural_history.esr1_progression.median"] = 20.0
    edits.strategies["ctdna_q12w"].update(every_weeks=10.0, when="next_visit", assay="ddpcr")
    edits.strategies["test_at_progression"]["assay"] = "ddpcr"
    edits.wtp = 120000.0
    return edits


def test_changes_list_every_difference_readably(us):
    found = {c.field: c for c in changes(us, _edits(us))}
    assert set(found) == {
        "assays.guardant360.cost",
        "switch_therapies.camizestrant.hazard_ratio",
        "natural_history.esr1_progression.median",
        "strategies.ctdna_q12w.monitoring.every",
        "strategies.ctdna_q12w.monitoring.assay",
        "strategies.ctdna_q12w.switch.when",
        "strategies.test_at_progression.test_at_progression.assay",
        "willingness_to_pay",
    }
    cost = found["assays.guardant360.cost"]
    assert (cost.before, cost.after) == ("5,000 USD per test", "3,500 USD per test")
    assert found["strategies.ctdna_q12w.switch.when"].after == "at the next visit"
    assert found["willingness_to_pay"].after == "120,000 USD per QALY"


def test_the_downloaded_file_is_the_scenario_the_app_computed(us, tmp_path):
    edits = _edits(us)
    in_app = edited_scenario(us, edits, tmp_path / "app").scenario
    download = tmp_path / "user" / "serena6_us_edited.yaml"
    download.parent.mkdir()
    download.write_text(variant_text(us, edits))  # extends: serena6_us.yaml, found by name
    loaded = check_scenario(download).scenario
    assert scenario_hash(loaded) == scenario_hash(in_app)
    assert loaded.name.endswith("(edited)")
    assert loaded.assays["guardant360"].cost.value == 3500
    hr = loaded.switch_therapies["camizestrant"].hazard_ratio
    assert hr.value == 0.5 and hr.range == (0.388, 0.521)  # the range stays for the DSA
    assert hr.psa.median == 0.5  # psa: inherit re-centred the distribution on the new value
    q12 = loaded.strategies["ctdna_q12w"]
    assert q12.monitoring.every.days() == 70 and q12.monitoring.assay == "ddpcr"
    assert q12.switch.when == "next_visit"
    assert loaded.strategies["test_at_progression"].test_at_progression.assay == "ddpcr"
    assert [w.value for w in loaded.willingness_to_pay] == [120000, 150000]
    # only the changes: everything else is inherited from the original
    assert loaded.costs.imaging.value == us.scenario.costs.imaging.value
    text = download.read_text()
    assert text.count("value:") == 4  # three parameters and one interval
    assert "Guardant360: cost: 5,000 USD per test -> 3,500 USD per test" in text


def test_a_wtp_equal_to_another_threshold_is_not_listed_twice(us, tmp_path):
    edits = _untouched(us)
    edits.wtp = 150000.0
    scenario = edited_scenario(us, edits, tmp_path).scenario
    assert [w.value for w in scenario.willingness_to_pay] == [150000]


def test_an_impossible_strategy_setting_is_reported_with_its_field(us, tmp_path):
    edits = _untouched(us)
    edits.strategies["ctdna_q8w"]["every_weeks"] = 0.0
    with pytest.raises(ScenarioError) as err:
        edited_scenario(us, edits, tmp_path)
    message = str(err.value)
    assert "serena6_us_edited.yaml:" in message  # as the user downloads it
    assert "strategies.ctdna_q8w.monitoring.every" in message
    assert str(tmp_path) not in message


def test_a_broken_upload_names_the_users_file_and_line(tmp_path):
    upload = tmp_path / "server-side-name"
    upload.write_text("extends: serena6_us.yaml\nassays:\n  guardant360:\n    sensitivity: 1.7\n")
    with pytest.raises(ScenarioError) as err:
        uploaded_source("C:\\Users\\me\\broken.yaml", upload, tmp_path / "session")
    message = str(err.value)
    assert "broken.yaml:4: assays.guardant360.sensitivity" in message
    assert str(tmp_path) not in message


def test_an_upload_must_be_a_small_yaml_file(tmp_path):
    upload = tmp_path / "up"
    upload.write_bytes(b"name: x\n")
    with pytest.raises(ScenarioError, match="must end in .yaml or .yml"):
        uploaded_source("scenario.txt", upload, tmp_path / "s")
    upload.write_bytes(b"#" * (MAX_UPLOAD_BYTES + 1))
    with pytest.raises(ScenarioError, match=r"the file is 1\.0 MB; the app takes .* up to 1 MB"):
        uploaded_source("big.yaml", upload, tmp_path / "s")


def test_a_valid_upload_becomes_the_source(tmp_path):
    upload = tmp_path / "up"
    upload.write_text("extends: tiny.yaml\nname: my variant\n")
    source = uploaded_source("mine.yml", upload, tmp_path / "session")
    assert source.name == "mine.yml" and source.scenario.name == "my variant"
    edits = _untouched(source)
    edits.strategies["blood_test_q12w"]["every_weeks"] = 6.0
    assert "extends: mine.yml" in variant_text(source, edits)
    edited = edited_scenario(source, edits, tmp_path / "edited").scenario
    assert edited.strategies["blood_test_q12w"].monitoring.every.days() == 42
