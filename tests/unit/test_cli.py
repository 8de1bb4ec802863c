"""The command line as a user meets it: run, check, schema, exit codes, written files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from hemodel.commands.main import main
from hemodel.scenario.load import default_scenario_path, load_scenario

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "scenarios" / "tiny.yaml")


def test_run_prints_tables_with_currency_and_writes_outputs(tmp_path, capsys):
    """`hemodel run` prints summary and incremental tables naming the currency and units,
    and writes summary.csv (a strategy column), incremental.csv, patients.csv, manifest.json."""
    code = main(["run", TINY, "--patients", "60", "--seed", "3", "--out", str(tmp_path)])
    out = capsys.readouterr()
    assert code == 0
    assert "Cost (USD, disc.)" in out.out and "ICER (USD/QALY)" in out.out
    assert "PF time (months)" in out.out and "blood_test_q12w" in out.out
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert list(summary["strategy"]) == [
        "imaging_only",
        "test_at_progression",
        "blood_test_q12w",
        "blood_test_q12w_next_visit",
    ]
    assert (summary["currency"] == "USD").all()
    inc = pd.read_csv(tmp_path / "incremental.csv")
    assert inc.loc[inc["strategy"] == "imaging_only", "inc_cost"].item() == 0
    patients = pd.read_csv(tmp_path / "patients.csv")
    assert len(patients) == 60 * 4
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["patients"] == 60
    assert len(manifest["scenario_hash"]) == 64 and manifest["hemodel_version"]
    assert out.err == ""  # no progress bar when output is not a terminal
    assert "Sequential analysis" in out.out
    sequential = pd.read_csv(tmp_path / "sequential.csv")
    assert set(sequential["status"]) <= {"frontier", "dominated", "extendedly dominated"}
    first = sequential.iloc[0]  # the cheapest strategy has nothing to be compared with
    assert first["cost"] == sequential["cost"].min() and pd.isna(first["icer"])
    latex = (tmp_path / "sequential.tex").read_text()
    assert latex.startswith("\\begin{tabular}") and "imaging\\_only" in latex
    assert "ICER (USD/QALY)" in latex and latex.count("\\\\") == 1 + len(sequential)


def test_the_same_command_twice_writes_identical_tables(tmp_path):
    """Reproducible from the command line: same seed → byte-identical CSV tables."""
    for d in ("a", "b"):
        assert main(["run", TINY, "--patients", "30", "--out", str(tmp_path / d), "--quiet"]) == 0
    for name in ("summary.csv", "incremental.csv", "patients.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_check_accepts_every_shipped_scenario(capsys):
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        assert main(["check", str(path)]) == 0
        assert "OK" in capsys.readouterr().out


def test_schema_is_json_schema_of_the_scenario(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "Scenario"
    assert {"strategies", "assays", "natural_history", "reference"} <= set(schema["properties"])


def test_default_scenario_is_found_and_valid():
    """Without a SCENARIO argument the bundled SERENA-6 US scenario is used."""
    path = default_scenario_path()
    assert path.name == "serena6_us.yaml" and path.exists()
    assert load_scenario().currency == "USD"


def test_invalid_file_exits_2_without_traceback(tmp_path):
    """A real process: a bad value gives exit code 2, one message with file:line, no traceback."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {TINY}\nassays:\n  blood_test:\n    sensitivity: 1.5\n")
    proc = subprocess.run(
        [sys.executable, "-m", "hemodel", "check", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{bad}:4: assays.blood_test.sensitivity" in proc.stderr
    assert "between 0 and 1" in proc.stderr


@pytest.mark.parametrize(
    ("command", "value", "message"),
    [
        ("run", "0", "must be a whole number >= 1"),
        ("psa", "-5", "must be a whole number >= 1"),
        ("convergence", "1", "must be a whole number >= 2"),
        ("validate", "99", "must be a whole number >= 100"),
        ("dsa", "lots", "'lots' is not a whole number"),
    ],
)
def test_patient_counts_are_checked_by_every_command(command, value, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "tiny", "--patients", value])
    assert exc.value.code == 2
    assert f"argument --patients: {message}" in capsys.readouterr().err


SIMULATING = ("run", "psa", "dsa", "sweep", "threshold", "budget", "convergence", "validate",
              "calibrate", "report")  # fmt: skip


@pytest.mark.parametrize("command", SIMULATING)
def test_every_simulating_command_takes_engine(command, capsys):
    """`--engine auto|simpy|array` on every command that simulates."""
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "--engine {auto,simpy,array}" in capsys.readouterr().out.replace("\n", " ")


@pytest.mark.parametrize("command", ["run", "validate", "convergence"])
def test_the_array_engine_on_a_finite_lab_is_one_clear_message(command, capsys):
    """A finite lab needs the SimPy engine: asking for the array engine exits 2, no traceback."""
    code = main([command, "tiny_lab", "--engine", "array", "--patients", "100"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"hemodel {command}: --engine: the array engine models an unlimited lab only" in err


def test_the_manifest_names_the_engine(tmp_path):
    for engine in ("simpy", "array"):
        out = tmp_path / engine
        main(["run", TINY, "--patients", "20", "--engine", engine, "--out", str(out)])
        assert json.loads((out / "manifest.json").read_text())["engine"] == engine
