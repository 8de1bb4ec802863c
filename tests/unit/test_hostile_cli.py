"""Hostile command-line input (issue 12): one message and exit 2 (bad input) or 1 (the
environment), never a traceback; output folders written atomically, never mixing two runs."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from hemodel.commands import output
from hemodel.commands.arguments import MAX_SEED
from hemodel.commands.main import main


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _quick(out: Path, *more: str) -> list[str]:
    return ["run", "tiny", "--patients", "20", "--quiet", "--out", str(out), *more]


# -- flags ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, wanted",
    [
        (["run", "tiny", "--seed", str(2**70)], "a seed is a whole number from 0"),
        (["run", "tiny", "--seed", "-1"], "a seed is a whole number from 0"),
        (["run", "tiny", "--seed", "x" * 100_000], "characters)"),
        (["run", "tiny", "--engine", "x" * 100_000], "characters)"),
        (["psa", "tiny", "--samples", "9" * 100_000], "is far too large"),
        (["run", "tiny", "--workers", "0"], "--workers: must be a whole number >= 1"),
        (["run", "tiny", "--patients", "0"], "--patients: must be a whole number >= 1"),
        (["run", "tiny", "--patients", str(10**9)], "<= 10,000,000"),
        (["psa", "tiny", "--samples", "0"], "--samples: must be a whole number >= 2"),
        (["psa", "tiny", "--samples", "1"], "--samples: must be a whole number >= 2"),
        (["dsa", "tiny", "--top", "0"], "--top: must be a whole number >= 1"),
        (["report", "tiny", "--psa-samples", "0"], "--psa-samples: must be a whole number >= 2"),
    ],
)
def test_bad_flags_exit_2_with_one_short_message(capsys, argv, wanted):
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert wanted in err
    assert "Traceback" not in err
    assert len(err) < 2_000  # a long value is cut, never echoed whole


@pytest.mark.parametrize(
    "flags, wanted",
    [
        (["--workers", "1000"], "workers must be at most"),
        (["--scheduler", "foo"], "a Dask scheduler address looks like tcp://HOST:PORT"),
        (["--scheduler", "tcp://x:1", "--backend", "serial"], "needs backend 'dask'"),
    ],
)
def test_execution_flags_that_cannot_work_exit_2_before_running(capsys, flags, wanted):
    code, out, err = _run(capsys, "run", "tiny", "--patients", "20", "--quiet", *flags)
    assert code == 2
    assert wanted in err and "oversubscribe=True" not in err
    assert out == ""  # refused before anything ran


def test_an_unreachable_scheduler_fails_fast_even_for_a_small_run(capsys):
    import time

    start = time.perf_counter()
    code, _, err = _run(capsys, "run", "tiny", "--patients", "20", "--quiet",
                        "--scheduler", "tcp://127.0.0.1:9")  # fmt: skip
    assert code == 1
    assert err.startswith("hemodel run: cannot reach the Dask scheduler at tcp://127.0.0.1:9")
    assert time.perf_counter() - start < 20


def test_largest_seed_is_accepted_and_recorded_as_used(tmp_path, capsys):
    code, _, err = _run(capsys, *_quick(tmp_path / "out", "--seed", str(MAX_SEED)))
    assert code == 0, err
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["seed"] == MAX_SEED


# -- --out ---------------------------------------------------------------------------------
def test_out_naming_a_file_is_bad_input(tmp_path, capsys):
    file = tmp_path / "results.csv"
    file.write_text("mine")
    code, _, err = _run(capsys, *_quick(file))
    assert code == 2
    assert "is a file, not a folder" in err
    assert file.read_text() == "mine"


def test_out_that_cannot_be_created_is_an_environment_error(capsys):
    code, _, err = _run(capsys, *_quick(Path("/proc/hemodel-out")))
    assert code == 1
    assert err.startswith("hemodel run: cannot write --out /proc/hemodel-out")
    assert "Traceback" not in err and ".partial-" not in err


def test_out_is_written_with_a_complete_manifest_listing_its_files(tmp_path, capsys):
    out = tmp_path / "out"
    code, _, _ = _run(capsys, *_quick(out))
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["command"] == "run"
    assert sorted(manifest["files"]) == sorted(p.name for p in out.iterdir())
    assert manifest["seed"] == 1 and manifest["patients"] == 20  # the run's own entries kept
    assert not list(tmp_path.glob(".*partial*"))  # the staging folder is gone


def test_a_failed_rerun_leaves_the_previous_run_untouched(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert _run(capsys, *_quick(out))[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full_disk(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "patients.csv")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    code, _, err = _run(capsys, *_quick(out, "--seed", "2"))
    assert code == 1
    assert "the disk is full" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not list(tmp_path.glob(".*partial*"))


def test_a_rerun_replaces_every_file_of_the_previous_run(tmp_path):
    out = tmp_path / "out"
    with output.output_folder(out, "first") as folder:
        (folder / "a.csv").write_text("1")
        (folder / "old_only.csv").write_text("1")
        (folder / "figures").mkdir()
        (folder / "figures" / "plot.png").write_text("1")
    (out / "notes.txt").write_text("the user's own file")
    with output.output_folder(out, "second") as folder:
        (folder / "a.csv").write_text("2")
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert names == ["a.csv", "manifest.json", "notes.txt"]  # nothing of the first run left
    assert (out / "a.csv").read_text() == "2"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "second" and manifest["files"] == ["a.csv", "manifest.json"]


def test_an_interrupted_commit_is_marked_incomplete_and_cleaned_by_the_next_run(
    tmp_path, monkeypatch
):
    out = tmp_path / "out"
    with output.output_folder(out, "first") as folder:
        (folder / "a.csv").write_text("1")
    real_replace = os.replace
    moved = []

    def crash_after_one(src, dst):
        if moved and Path(dst).name != "manifest.json":
            raise KeyboardInterrupt  # killed in the middle of moving the files in
        moved.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_after_one)
    with pytest.raises(KeyboardInterrupt), output.output_folder(out, "second") as folder:
        (folder / "b.csv").write_text("2")
        (folder / "c.csv").write_text("2")
    monkeypatch.setattr(os, "replace", real_replace)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False
    assert {"a.csv", "b.csv", "c.csv"} <= set(manifest["files"])
    with output.output_folder(out, "third") as folder:
        (folder / "d.csv").write_text("3")
    assert sorted(p.name for p in out.iterdir()) == ["d.csv", "manifest.json"]


def test_a_manifest_cannot_make_hemodel_delete_outside_the_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    listed = ["../victim.txt", str(victim), "", "/etc/passwd"]
    (out / "manifest.json").write_text(json.dumps({"files": listed}))
    with output.output_folder(out, "run") as folder:
        (folder / "a.csv").write_text("1")
    assert victim.read_text() == "keep"


def test_staging_folders_of_dead_processes_are_removed(tmp_path):
    stale = tmp_path / ".out.partial-999999999-abc"  # no such process
    stale.mkdir()
    (stale / "half.csv").write_text("x")
    with output.output_folder(tmp_path / "out", "run") as folder:
        (folder / "a.csv").write_text("1")
    assert not stale.exists()


def test_psa_out_gets_a_completion_marker(tmp_path, capsys):
    out = tmp_path / "psa"
    argv = ["psa", "serena6_us", "--samples", "2", "--patients", "10", "--quiet", "--out", str(out)]
    code, _, err = _run(capsys, *argv)
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["command"] == "psa"
    assert "psa_samples.csv" in manifest["files"]


# -- failures of the environment and bugs --------------------------------------------------
def test_an_unexpected_error_is_one_message_and_exit_1(capsys, monkeypatch):
    import hemodel.run.simulation as simulation

    def broken(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(simulation, "simulate", broken)
    code, _, err = _run(capsys, "run", "tiny", "--patients", "5", "--quiet")
    assert code == 1
    assert "internal error (ZeroDivisionError: float division by zero)" in err
    assert "Traceback" not in err and "HEMODEL_DEBUG=1" in err


def test_resume_naming_a_file_or_a_foreign_folder_is_bad_input(tmp_path, capsys):
    file = tmp_path / "afile"
    file.write_text("x")
    code, _, err = _run(capsys, "run", "tiny", "--patients", "5", "--quiet", "--resume", str(file))
    assert code == 2 and "is a file: give a checkpoint folder" in err
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    argv = ["run", "tiny", "--patients", "5", "--quiet", "--resume", str(tmp_path / "foreign")]
    code, _, err = _run(capsys, *argv)
    assert code == 2 and "it is not a hemodel checkpoint" in err
    assert (tmp_path / "foreign" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("argv", [["init", ""], ["init", ".."], ["docs", "--out", "/tmp"]])
def test_names_of_files_to_write_that_cannot_be_files_exit_2(capsys, argv):
    code, _, err = _run(capsys, *argv)
    assert code == 2 and ("is not a file name" in err or "is a folder" in err)
