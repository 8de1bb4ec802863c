"""Generated documentation stays in sync with the code; help texts show examples."""

from __future__ import annotations

import pytest

from hemodel.commands.main import COMMANDS, _parser, main
from hemodel.model.outcomes import OUTCOME_COLUMNS
from hemodel.present.reference import PATIENT_COLUMNS, scenario_reference
from hemodel.scenario.schema import Scenario

from ..conftest import ROOT


def test_reference_file_is_up_to_date():
    """docs/reference.md equals what `hemodel docs` generates from the current schema."""
    assert (ROOT / "docs" / "reference.md").read_text() == scenario_reference(), (
        "docs/reference.md is stale: run `hemodel docs`"
    )


def test_reference_names_every_top_level_field_and_output_column():
    text = scenario_reference()
    for name, f in Scenario.model_fields.items():
        assert f"| `{f.alias or name}` |" in text
    documented = set(PATIENT_COLUMNS)
    for column in OUTCOME_COLUMNS:
        generic = column.startswith("cost_") and column not in documented
        assert column in documented or generic, f"undocumented output column {column}"


@pytest.mark.parametrize("command", ["run", "check", "schema", *COMMANDS])
def test_every_subcommand_help_shows_an_example(command, capsys):
    """`hemodel <command> --help` prints an example invocation."""
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "example" in out and f"hemodel {command}" in out


def test_top_level_help_shows_examples():
    assert "examples:" in _parser().format_help()


def test_init_writes_a_valid_starter_scenario(tmp_path, capsys):
    from hemodel.scenario.load import load_scenario

    target = tmp_path / "mine"
    assert main(["init", str(target)]) == 0
    scenario = load_scenario(target.with_suffix(".yaml"))
    assert scenario.name == "mine"
    assert main(["init", str(target)]) == 2  # never overwrites: bad input
