"""Fuzzing the scenario loader and the model (issue 12): mutants of the bundled scenarios,
structural and textual (``mutants.py``), go through ``check`` in a child process with time
and memory limits, and through a 20-patient run when accepted (``verdict.py``). Each must be
rejected cleanly (a message naming the file, in plain words) or accepted and run with finite,
non-negative costs and QALYs: never a traceback, a hang, or code executed.

The fast profile runs in the default suite; the large one (5,000 mutants, about 10 minutes on
2 cores) only with ``HEMODEL_FUZZ=1``. ``python benchmarks/fuzz.py`` draws from the same
mutation functions with a seeded random generator, for runs of 10,000.
"""

from __future__ import annotations

import os
import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings

from .mutants import Mutant, alias_bomb, bases, mutant_number, mutants
from .verdict import MESSAGE_CHARS, evaluate, message_problem

#: Outcomes of the last profile run, printed at its end (``pytest -s`` shows them).
COUNTS: Counter = Counter()
_SETTINGS = {"deadline": None, "suppress_health_check": list(HealthCheck)}
#: Mutants of these bases run the model in the fast profile; the others are checked only.
_RUN_FAST = ("tiny", "variant of local tiny", "variant of bundled tiny")


def _holds(mutant: Mutant, run: bool) -> None:
    """The property: ``mutant`` is rejected cleanly, or accepted (and runs)."""
    verdict = evaluate(mutant, run=run)
    COUNTS[verdict.outcome] += 1
    event(verdict.outcome)
    assert verdict.outcome != "other", f"{verdict.kind}\n{mutant.describe(400)}\n{verdict.detail}"


@settings(max_examples=150, derandomize=True, phases=[Phase.explicit, Phase.generate], **_SETTINGS)
@given(mutants())
def _fast_profile(mutant: Mutant) -> None:
    _holds(mutant, run=mutant.base in _RUN_FAST)


@settings(max_examples=5_000, derandomize=False, **_SETTINGS)
@given(mutants())
def _large_profile(mutant: Mutant) -> None:
    _holds(mutant, run=True)


def _counted(profile) -> Counter:
    COUNTS.clear()
    try:
        profile()
    finally:
        print(f"\nfuzz outcomes: {dict(COUNTS)}")
    return Counter(COUNTS)


def test_fuzz_fast_profile():
    counts = _counted(_fast_profile)
    assert sum(counts.values()) >= 150  # hypothesis ran every example to its verdict
    assert counts["accepted"] >= 5 and counts["rejected"] >= 50, counts


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("HEMODEL_FUZZ") != "1", reason="set HEMODEL_FUZZ=1")
def test_fuzz_large_profile():
    counts = _counted(_large_profile)
    assert counts["accepted"] >= 250 and counts["rejected"] >= 2_500, counts


# --------------------------------------------------------------------------------------
# The harness itself
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(bases()))
def test_every_base_scenario_is_accepted_and_runs(name):
    assert evaluate(bases()[name]).outcome == "accepted"


def test_numbered_mutants_are_reproducible():
    drawn = [mutant_number(1, i) for i in range(40)]
    assert drawn == [mutant_number(1, i) for i in range(40)]
    assert len({m.describe() for m in drawn}) >= 35  # and mostly different
    assert {m.base for m in drawn} == set(bases())


def test_a_check_over_its_time_is_a_hang():
    verdict = evaluate(bases()["tiny"], check_seconds=1e-4)
    assert (verdict.outcome, verdict.kind) == ("other", "check: hang (over 0.0001 s)")


def test_a_run_over_its_time_is_a_hang():
    verdict = evaluate(bases()["serena6_us"], run_seconds=1e-4)
    assert (verdict.outcome, verdict.kind) == ("other", "run: hang (over 0.0001 s)")


@pytest.mark.parametrize(
    "message, length, problem",
    [
        ("x.yaml:3: cost: must be a number >= 0", 40, ""),
        ("other.yaml:3: cost: must be a number", 40, "message: names no file"),
        ("x.yaml:3: Input should be a valid tuple", 40, "message: pydantic wording"),
        ("x.yaml:3: " + "a" * 100, MESSAGE_CHARS + 1,
         f"message: longer than {MESSAGE_CHARS:,} characters"),
        ("x.yaml: malformed YAML at position 319", 40, "message: parser internals (position, "
         "<unicode string>)"),
        ("x.yaml: malformed YAML: a tab", 40, "message: a YAML problem without a line"),
    ],
)  # fmt: skip
def test_messages_are_judged(message, length, problem):
    assert message_problem(message, length, {"x.yaml"}) == problem


# --------------------------------------------------------------------------------------
# Known cases of issue 12: each must be rejected with file, line and field
# --------------------------------------------------------------------------------------
_TINY = bases()["tiny"].text("tiny.yaml")
_END = _TINY.count("\n") + 1  # the first line after tiny.yaml's last


def _tiny(old: str, new: str) -> Mutant:
    assert old in _TINY
    return Mutant("tiny", (("tiny.yaml", _TINY.replace(old, new, 1)),), "tiny.yaml", (new,))


_OTHER = "other_progression: {distribution: exponential, median: 30 months}"
_EVERY = "monitoring: {assay: blood_test, every: 12 weeks"
# (mutant, line or lines, what the message must name)
KNOWN = {
    "recursive alias": (_tiny("reference:", "loop: &loop [*loop]\nreference:"), 66, "alias"),
    "alias bomb eight deep": (
        Mutant("tiny", (("tiny.yaml", _TINY + alias_bomb(8)),), "tiny.yaml"),
        range(_END, _END + 9),
        "alias",
    ),
    "NUL byte": (_tiny("round numbers.", "round\x00 numbers."), 4, "control character"),
    "imaging every 1e-320 days": (
        _tiny("imaging_every: 12 weeks", "imaging_every: 1e-320 days"), 64, "imaging_every"
    ),
    "Weibull shape 1e-300": (
        _tiny(_OTHER, "other_progression: {distribution: weibull, median: 30 months, "
              "shape: 1e-300}"), 22, "shape"),
    "cost .inf": (_tiny("imaging: 500", "imaging: .inf"), 40, "costs.imaging"),
    "cost 1e308": (_tiny("imaging: 500", "imaging: 1e308"), 40, "costs.imaging"),
    "utility below 0": (_tiny("progressed: 0.5", "progressed: -0.5"), 28, "progressed"),
    "monitoring every 1e-4 days": (
        _tiny(_EVERY, "monitoring: {assay: blood_test, every: 1e-4 days"), 75, "every"
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(KNOWN))
def test_known_case_is_rejected_with_file_line_and_field(case):
    mutant, line, named = KNOWN[case]
    verdict = evaluate(mutant)
    assert verdict.outcome == "rejected", verdict
    lines = [int(n) for n in re.findall(r"tiny\.yaml:(\d+)", verdict.detail)]
    assert lines and lines[0] in (line if isinstance(line, range) else [line]), verdict.detail
    assert named in verdict.detail
