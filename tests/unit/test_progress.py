"""Progress on a terminal: a tqdm bar on stderr for long runs, none when piped or --quiet,
and the PSA's estimate of its duration before it starts."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time

import pytest

from hemodel.commands.main import main
from hemodel.run.progress import about, elapsed_bar, progress_enabled

BAR = re.compile(r"\d+%\|")  # tqdm's "42%|████" (the bar itself)
COMMAND = [sys.executable, "-m", "hemodel"]


def _environment() -> dict:
    """This environment without ``CI`` (progress bars are off under CI)."""
    return {k: v for k, v in os.environ.items() if k != "CI"}


def _on_terminal(args: list[str], columns: int = 100) -> str:
    """Run ``hemodel args`` with stderr on a pseudo-terminal of ``columns`` columns (0: one
    that reports no size); what it wrote there."""
    reader, writer = pty.openpty()
    fcntl.ioctl(writer, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen(
        COMMAND + args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=writer,
        env=_environment(),
    )
    os.close(writer)
    out = b""
    while True:
        try:
            chunk = os.read(reader, 4096)
        except OSError:  # the child closed the terminal (EIO on Linux)
            break
        if not chunk:
            break
        out += chunk
    os.close(reader)
    assert proc.wait(timeout=60) == 0
    return out.decode(errors="replace")


def test_run_shows_a_bar_on_a_terminal():
    assert BAR.search(_on_terminal(["run", "tiny"]))


def test_run_shows_a_bar_on_a_terminal_that_reports_no_size():
    assert BAR.search(_on_terminal(["run", "tiny"], columns=0))


def test_run_quiet_shows_no_bar_on_a_terminal():
    assert not BAR.search(_on_terminal(["run", "tiny", "--quiet"]))


def test_run_piped_shows_no_bar():
    done = subprocess.run(
        COMMAND + ["run", "tiny"], capture_output=True, text=True, env=_environment(), check=True
    )
    assert "Summary by strategy" in done.stdout
    assert not BAR.search(done.stderr)
    assert "patient-strategy" not in done.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("ci", "shown"),
    [(None, True), ("true", False), ("1", False), ("0", True), ("false", True), ("", True)],
)
def test_bars_show_on_a_terminal_unless_under_ci(monkeypatch, ci, shown):
    monkeypatch.setattr(sys, "stderr", _Terminal())
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    assert progress_enabled(None) is shown
    assert progress_enabled(False) is False
    assert progress_enabled(True) is True


def test_bars_are_off_when_stderr_is_not_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.delenv("CI", raising=False)
    assert progress_enabled(None) is False


def test_the_elapsed_bar_redraws_itself_while_the_work_runs(capsys):
    with elapsed_bar("checking", True, every=0.05):
        time.sleep(0.5)
    err = capsys.readouterr().err
    assert err.count("elapsed") >= 4  # drawn at the start, then redrawn by its thread


def test_the_elapsed_bar_is_silent_when_off(capsys):
    with elapsed_bar("checking", False, every=0.05):
        time.sleep(0.2)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "about 1 s"), (40, "about 40 s"), (240, "about 4 min"), (5400, "about 1.5 h")],
)
def test_durations_are_rounded_for_people(seconds, text):
    assert about(seconds) == text


def test_psa_says_how_long_it_expects_to_take(tmp_path, capsys):
    args = ["psa", "--samples", "3", "--patients", "40", "--workers", "1"]
    assert main(args + ["--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    message = re.search(
        r"PSA: 3 samples × 40 patients × (\d+) strategies; expected about \d+ (s|min) on 1 worker",
        err,
    )
    assert message, err
    assert int(message.group(1)) >= 2


def test_psa_quiet_gives_no_estimate(tmp_path, capsys):
    args = ["psa", "--samples", "3", "--patients", "40", "--workers", "1", "--quiet"]
    assert main(args + ["--out", str(tmp_path)]) == 0
    assert "expected about" not in capsys.readouterr().err
