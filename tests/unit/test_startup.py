"""Commands that only read or write scenarios start at once: they load none of the heavy
libraries the simulation, analyses and plots need (docs/architecture.md)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Libraries that only simulating, analysing, plotting or reporting commands may load.
HEAVY = (
    "matplotlib",
    "dask",
    "distributed",
    "lifelines",
    "openpyxl",
    "scipy.stats",
    "pandas",
    "pandas.plotting",
    "simpy",
)

_PROBE = """
import contextlib, io, json, sys
from hemodel.commands.main import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        code = main(sys.argv[2:])
    except SystemExit as exc:
        code = exc.code
loaded = [m for m in json.loads(sys.argv[1]) if m in sys.modules]
print(json.dumps({"code": code, "loaded": loaded}))
"""


def loaded_by(*argv: str, cwd) -> dict:
    """Exit code and the heavy modules in ``sys.modules`` after ``hemodel ARGV`` in a fresh
    interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(HEAVY), *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=True,
    )
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    "argv",
    [
        ("--help",),
        ("check", "tiny"),
        ("check", "serena6_uk"),  # PSA distributions, extends:, targets
        ("schema",),
        ("init", "mine"),
        ("psa", "--help"),
    ],
    ids=" ".join,
)
def test_light_commands_load_no_heavy_library(argv, tmp_path):
    result = loaded_by(*argv, cwd=tmp_path)
    assert result["code"] == 0
    assert result["loaded"] == [], f"hemodel {' '.join(argv)} loaded {result['loaded']}"


def test_the_probe_sees_a_heavy_import(tmp_path):
    """The check can fail: ``hemodel run`` does simulate, and loads pandas and SimPy."""
    result = loaded_by("run", "tiny", "--patients", "2", "--quiet", cwd=tmp_path)
    assert result["code"] == 0
    assert {"pandas", "simpy"} <= set(result["loaded"])
