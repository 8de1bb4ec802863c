"""The fuzz property, shared by the test and ``benchmarks/fuzz.py``: what happens to a mutant.

A mutant is written to an empty temporary folder and checked by
:func:`hemodel.scenario.load.check_scenario` in a child process (forked from a server that
has already imported hemodel) with a memory limit and a time limit; when the scenario is
accepted (and ``run``), 20 patients are simulated and the tables computed. The only
acceptable outcomes are a clean rejection (a :class:`ScenarioError` naming the file, in plain
words, under 5,000 characters) or an accepted scenario whose run finishes with finite costs
and QALYs, none negative. Anything else is ``other``, with a ``kind`` that groups alike
failures (exception type and where it was raised, hang, bad message, ...).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import resource
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hemodel.present.tables import sequential
from hemodel.run.simulation import simulate
from hemodel.scenario.load import ScenarioError, check_scenario
from hemodel.scenario.schema import Scenario

from .mutants import Mutant

#: Time limits (seconds, wall clock): ``check`` of one file, and a 20-patient run.
CHECK_SECONDS = 5.0
RUN_SECONDS = 60.0
#: Address space a child may add to what the fork server already holds (bytes).
MEMORY_BYTES = 2 * 2**30
#: Longest acceptable error message (characters): ten problems (the rest are counted), each
#: with its values cut, and a listing of what may be named (e.g. every measured quantity of
#: the scenario's trials, cut at 4,000 characters).
MESSAGE_CHARS = 5_000
PATIENTS = 20
#: pydantic's own wording, which must not reach the user.
PYDANTIC = ("Input should be", "valid tuple", "after validation", "pydantic", "Field required")
_INTERNALS = re.compile(r"\bposition \d+|<unicode string>|<byte string>")


@dataclass(frozen=True)
class Verdict:
    """``outcome``: ``accepted``, ``rejected`` (cleanly) or ``other``; ``kind``: what went
    wrong (empty unless ``other``); ``detail``: the message or exception, cut; ``seconds``:
    wall time of check and run."""

    outcome: str
    kind: str = ""
    detail: str = ""
    seconds: float = 0.0


def _cut(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def _where(exc: BaseException) -> str:
    """The innermost frame of hemodel's code in the traceback (``module.py:line function``)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/hemodel/" in f.filename]
    if not frames:
        return "outside hemodel"
    f = frames[-1]
    return f"{f.filename.split('/hemodel/')[-1]}:{f.lineno} {f.name}"


def _exception(exc: BaseException) -> tuple[str, str]:
    return f"{type(exc).__name__} at {_where(exc)}", _cut(f"{type(exc).__name__}: {exc}")


def _finite_problem(name: str, table: pd.DataFrame) -> str:
    """The first cost or QALY column of ``table`` with a non-finite value ('' if none); ICERs
    (and the sequential table's increments of its cheapest strategy) may be NaN, not ±inf."""
    for col in table.columns:
        if not any(word in col for word in ("cost", "qaly", "nmb", "icer")):
            continue
        values = pd.to_numeric(table[col], errors="coerce").to_numpy(float)
        may_be_nan = col == "icer" or (name == "sequential" and col.startswith("inc_"))
        bad = np.isinf(values) if may_be_nan else ~np.isfinite(values)
        if bad.any():
            return f"non-finite {name}.{col}"
    return ""


def run_problem(scenario: Scenario) -> str:
    """Run ``PATIENTS`` patients and compute the tables: what is wrong ('' if nothing)."""
    results = simulate(scenario, patients=PATIENTS, seed=1, progress=False)
    tables = {
        "patients": results.patients[["cost_total", "qalys"]],
        "summary": results.summary(),
        "incremental": results.incremental(),
        "sequential": sequential(results),
    }
    for name, table in tables.items():
        problem = _finite_problem(name, table)
        if problem:
            return problem
    if (results.patients["qalys"] < 0).any():
        return "negative QALYs"
    if (results.patients["cost_total"] < 0).any():
        return "negative costs"
    return ""


def _address_space() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def _child(mutant: Mutant, folder: str, run: bool, conn: Connection) -> None:
    """In the child: check (and run) the mutant; send what happened at each step."""
    limit = _address_space() + MEMORY_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.chdir(folder)
    warnings.simplefilter("ignore")  # numpy's overflow warnings: the verdict says what matters
    try:
        checked = check_scenario(mutant.main)
    except ScenarioError as exc:
        text = str(exc)
        conn.send(("rejected", "", text[: 4 * MESSAGE_CHARS], len(text)))
        return
    except BaseException as exc:  # noqa: BLE001 - whatever escapes is the finding
        conn.send(("other", "check: " + _exception(exc)[0], _exception(exc)[1], 0))
        return
    conn.send(("accepted", "", "", 0))
    if not run:
        return
    try:
        problem = run_problem(checked.scenario)
    except BaseException as exc:  # noqa: BLE001
        conn.send(("other", "run: " + _exception(exc)[0], _exception(exc)[1], 0))
        return
    conn.send(("other", "run: " + problem, "", 0) if problem else ("ran", "", "", 0))


def message_problem(text: str, length: int, names: set[str]) -> str:
    """What is wrong with a rejection's message ('' if nothing)."""
    if not any(name in text for name in names):
        return "message: names no file"
    if any(phrase in text for phrase in PYDANTIC):
        return "message: pydantic wording"
    if length > MESSAGE_CHARS:
        return f"message: longer than {MESSAGE_CHARS:,} characters"
    if _INTERNALS.search(text):
        return "message: parser internals (position, <unicode string>)"
    if "YAML" in text and not re.search(r"\.ya?ml:\d+", text):
        return "message: a YAML problem without a line"
    return ""


tqdm.get_lock()  # made once in the fork server: children share it, none leaks a semaphore
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload([__name__])


def _receive(conn: Connection, proc: multiprocessing.Process, seconds: float) -> tuple | None:
    """The child's next report, or None when it died or ``seconds`` passed first."""
    if not conn.poll(seconds):
        return None
    try:
        return conn.recv()
    except EOFError:
        proc.join(1)
        return None


def evaluate(
    mutant: Mutant,
    run: bool = True,
    check_seconds: float = CHECK_SECONDS,
    run_seconds: float = RUN_SECONDS,
) -> Verdict:
    """Check ``mutant`` (and run it when accepted and ``run``) in a child process."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hemodel-fuzz-") as tmp:
        mutant.write(Path(tmp))
        receive, send = _CONTEXT.Pipe(duplex=False)
        proc = _CONTEXT.Process(target=_child, args=(mutant, tmp, run, send))
        proc.start()
        send.close()
        try:
            verdict = _verdict(mutant, receive, proc, run, check_seconds, run_seconds)
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join()
            receive.close()
        if (Path(tmp) / "PWNED").exists():
            verdict = Verdict("other", "code executed", mutant.describe())
    return Verdict(verdict.outcome, verdict.kind, verdict.detail, time.perf_counter() - start)


def _verdict(
    mutant: Mutant, conn: Connection, proc, run: bool, check_seconds: float, run_seconds: float
) -> Verdict:
    first = _receive(conn, proc, check_seconds)
    if first is None:
        if proc.is_alive():
            return Verdict("other", f"check: hang (over {check_seconds:g} s)")
        return Verdict("other", f"check: crash (exit code {proc.exitcode})")
    status, kind, text, length = first
    if status == "other":
        return Verdict("other", kind, text)
    if status == "rejected":
        names = {n for n, _ in mutant.files} | {mutant.main, Path(mutant.main).name} - {""}
        problem = message_problem(text, length, names)
        return Verdict("other", problem, _cut(text)) if problem else Verdict("rejected", "", text)
    if not run:
        return Verdict("accepted")
    second = _receive(conn, proc, run_seconds)
    if second is None:
        if proc.is_alive():
            return Verdict("other", f"run: hang (over {run_seconds:g} s)")
        return Verdict("other", f"run: crash (exit code {proc.exitcode})")
    status, kind, text, _ = second
    return Verdict("other", kind, text) if status == "other" else Verdict("accepted")
