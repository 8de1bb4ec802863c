"""Readable parameter names: every parameter of the bundled scenarios gets a distinct label."""

from __future__ import annotations

import pytest

from hemodel.present.labels import parameter_label, section_of
from hemodel.scenario.load import load_scenario, parameters


@pytest.mark.parametrize(
    ("path", "label", "section"),
    [
        ("assays.guardant360.cost", "Guardant360: cost", "Assays"),
        ("utilities.progression_free", "Utilities: progression free", "Utilities"),
        ("natural_history.esr1_emergence.time.median", "ESR1 emergence time: median",
         "Natural history"),
        ("willingness_to_pay.1", "Willingness to pay #2", "Settings"),
        ("time_horizon", "Time horizon", "Settings"),
        ("costs.first_line.cdk46_inhibitor", "First line: CDK4/6 inhibitor", "Costs"),
    ],
)  # fmt: skip
def test_labels(path, label, section):
    assert parameter_label(path) == label
    assert section_of(path) == section


@pytest.mark.parametrize("name", ["serena6_us", "serena6_uk"])
def test_every_label_is_distinct_and_has_no_dotted_path(name):
    paths = [p for p in parameters(load_scenario(name)) if not p.startswith("strategies.")]
    labels = [parameter_label(p) for p in paths]
    assert len(set(labels)) == len(labels), [x for x in labels if labels.count(x) > 1]
    assert not any("." in x and "_" in x for x in labels)
