"""Loading scenario files: ``extends:`` (a parent in the file's own folder or bundled),
validation, hashing; each file is read by :mod:`hemodel.scenario.reader` (bounded, safe YAML
with line numbers).

Errors never surface as tracebacks: :class:`ScenarioError` carries one line per problem,
each naming the file, line, dotted field path, the bad value and what is allowed.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from .bundled import bundled_names, bundled_path, default_scenario_path
from .consistency import Finding, findings
from .posterior import read_draws
from .problems import (
    Loc,
    Problem,
    ScenarioError,
    _dotted,
    fail,
    line_of,
    problem_from_error,
    shorten,
)
from .quantities import parameters
from .reader import NAME_PROBLEMS, file_problem
from .reader import read_doc as _read
from .reader import shown as _shown
from .references import references, study_parameter_problems
from .schema import Scenario
from .variants import Doc, leftover_inherit, merge

__all__ = [
    "Problem",
    "ScenarioError",
    "Checked",
    "check_scenario",
    "load_scenario",
    "scenario_from_dict",
    "scenario_hash",
    "parameters",
    "with_values",
    "resolve_path",
    "default_scenario_path",
]


# --------------------------------------------------------------------------------------
# A file and the files it extends
# --------------------------------------------------------------------------------------
class _Unreadable(ScenarioError):
    """A file that a scenario ``extends:`` (directly or through others) cannot be read; its
    problems name the chain (``mine.yaml:1: extends: base.yaml:4: ...``)."""


def _load_raw(path: Path, chain: tuple[Path, ...] = ()) -> Doc:
    """The scenario file ``path`` merged onto the files it ``extends:`` (``chain``: the files
    that extend it, to catch loops)."""
    with contextlib.suppress(OSError, RuntimeError, ValueError):  # a loop: _read says so
        path = path.resolve()
    return _extend(path, _read(path), chain)


def _extend(path: Path, doc: Doc, chain: tuple[Path, ...]) -> Doc:
    parent = doc.data.pop("extends", None)
    if parent is None:
        return doc
    where = doc.lines.get(("extends",), (_shown(path), None))
    parent_path = _parent_path(parent, path, where)
    if parent_path in chain + (path,):
        cycle = " -> ".join(p.name for p in chain + (path, parent_path))
        message = f"circular extends ({cycle}): a file cannot extend itself, even indirectly"
        raise fail(*where, ("extends",), message)
    try:
        parent_doc = _read(parent_path)
    except ScenarioError as exc:
        raise _via(where, exc) from None
    try:
        base = _extend(parent_path, parent_doc, chain + (path,))
    except _Unreadable as exc:  # a file further up the chain
        raise _via(where, exc) from None
    return merge(base, doc)


def _via(where: tuple[str, int | None], exc: ScenarioError) -> _Unreadable:
    """``exc``'s problems, each as a problem of the ``extends:`` line at ``where``."""
    return _Unreadable([Problem(*where, "extends", str(p)) for p in exc.problems])


#: Longest path shown in a message, in characters.
_PATH_CHARS = 400


def _parent_path(parent: Any, path: Path, where: tuple[str, int | None]) -> Path:
    """The file that ``extends: parent`` in the (resolved) file ``path`` names: a file in
    the folder of ``path`` (or below it), else a bundled scenario.

    Refused: names that are not text, hold a NUL or are too long, symbolic link loops, and
    files outside that folder that are not bundled scenarios (absolute paths, ``../``,
    links leading out), whose contents must never be read or shown.
    """
    if not isinstance(parent, str) or not parent.strip():
        raise fail(*where, ("extends",), "must name another scenario file, e.g. tiny.yaml")

    def refuse(problem: str) -> ScenarioError:
        return fail(*where, ("extends",), f"{shorten(parent)!r}: {problem}")

    candidate = path.parent / parent
    problem = file_problem(candidate)
    if problem in NAME_PROBLEMS:  # a NUL, too long, a symbolic link loop
        raise refuse(problem)
    missing = problem is not None and problem.startswith("file not found")
    bundled = bundled_path(parent) if problem is not None else None
    if bundled is not None:
        return bundled.resolve()
    real = candidate.resolve()
    if not any(real.is_relative_to(folder) for folder in (path.parent, _bundled_folder())):
        raise refuse(
            f"is outside the folder of {path.name}: a scenario may extend only files in its "
            f"own folder (or below it) and the bundled scenarios ({', '.join(bundled_names())}"
            "); copy the file into this folder"
        )
    if missing:
        looked = shorten(real, _PATH_CHARS)
        raise refuse(
            f"{_not_found(candidate)}; looked for {looked} (relative to the folder of the file "
            "that extends)"
        )
    if problem is not None:
        raise refuse(problem)
    return real


def _bundled_folder() -> Path:
    return default_scenario_path().parent.resolve()


def extends_name(original: str | Path, folder: str | Path) -> str:
    """What a scenario file in ``folder`` writes as ``extends:`` to extend ``original``: the
    bundled name for a bundled scenario, else the path relative to ``folder``. Raises
    ValueError when ``original`` is outside ``folder`` (a scenario may extend only files in
    its own folder or below it)."""
    real = Path(original).resolve()
    if real.parent == _bundled_folder():
        return real.name
    relative = Path(os.path.relpath(real, Path(folder).resolve()))
    if relative.parts[:1] == ("..",):
        raise ValueError(
            f"{shorten(original)} is outside {shorten(folder)}, and a scenario may extend only "
            "files in its own folder (or below it): write the output in the scenario's folder "
            "or a folder above it"
        )
    return relative.as_posix()


def local_files(path: str | Path) -> list[Path]:
    """The files a scenario file reads besides the bundled ones: itself, the files it
    ``extends:`` and their posterior draws files, all in the folder of ``path`` or below it
    (resolved paths, ``path`` first). To copy a scenario somewhere else with everything it
    needs (``hemodel calibrate --method bayes`` does). Raises :class:`ScenarioError` as
    loading does."""
    current = resolve_path(path).resolve()
    files: list[Path] = []
    while current not in files and not current.is_relative_to(_bundled_folder()):
        files.append(current)
        data = _read(current).data
        draws = ((data.get("uncertainty") or {}).get("posterior") or {}).get("draws")
        if isinstance(draws, str):
            files.append((current.parent / draws).resolve())
        parent = data.get("extends")
        if parent is None:
            break
        current = _parent_path(parent, current, (_shown(current), None))
    return files


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------
def _validate(data: Any, lines: dict, file: str) -> Scenario:
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [problem_from_error(e, data, lines, file) for e in exc.errors()]
        raise ScenarioError(_unique(problems)) from None
    refs = references(scenario)
    if refs:
        problems = []
        for loc, msg in refs:
            fl = lines.get(loc, (file, None))
            problems.append(Problem(fl[0], fl[1], _dotted(loc), msg))
        raise ScenarioError(problems)
    return read_draws(scenario, parameters(scenario), lines, file)


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            out.append(p)
    return out


def _not_found(path: Path) -> str:
    """Why ``path`` is not a scenario file, with the closest bundled and local names."""
    what = "a folder, not a scenario file" if path.is_dir() else "file not found"
    if path.exists() and not path.is_dir():
        what = "not a regular file"
    bundled = bundled_names()
    folder = path.parent
    local = sorted(p.name for p in folder.glob("*.y*ml") if p.is_file()) if folder.is_dir() else []
    hints = []
    here = "in this folder" if folder.resolve() == Path.cwd() else f"in {_shown(folder)}"
    for kind, names in (("bundled", bundled), (here, local)):
        close = difflib.get_close_matches(path.name, names, n=2, cutoff=0.6)
        close += difflib.get_close_matches(path.stem, names, n=2, cutoff=0.6)
        if close:
            hints.append(f"{', '.join(dict.fromkeys(close))} ({kind})")
    hint = f"; did you mean {' or '.join(hints)}?" if hints else ""
    return f"{what}{hint} (bundled scenarios: {', '.join(bundled)})"


def resolve_path(path: str | Path | None) -> Path:
    """The file a user means: ``path`` when it is a file, else the bundled scenario of that
    name (``tiny``, ``tiny.yaml``, ``serena6_uk``); None means the default scenario.

    A folder is never taken for a scenario. Raises :class:`ScenarioError` naming the closest
    bundled and local names when there is no such file.
    """
    if path is None:
        return default_scenario_path()
    path = Path(path)
    problem = file_problem(path)
    if problem is None:
        return path
    bundled = bundled_path(path) if problem not in NAME_PROBLEMS else None
    if bundled is not None:
        return bundled
    file = shorten(_shown(path), _PATH_CHARS)
    hints = problem.startswith(("file not found", "a folder"))
    raise fail(file, None, (), _not_found(path) if hints else problem)


@dataclass(frozen=True)
class Checked:
    """A valid scenario and what ``hemodel check`` reports besides errors: ``warnings``
    (probably wrong, errors under ``--strict``) and ``notes`` (what loading did on the user's
    behalf, e.g. ``psa: inherit`` re-centring a distribution)."""

    scenario: Scenario
    path: Path
    warnings: list[Problem]
    notes: list[Problem]


def check_scenario(path: str | Path | None = None) -> Checked:
    """Load and validate a scenario file and check its numbers for consistency
    (:mod:`hemodel.scenario.consistency`). Raises :class:`ScenarioError` for errors."""
    path = resolve_path(path)
    doc = _load_raw(path)
    file = _shown(path)
    leftover_inherit(doc.data, doc.lines, file)
    scenario = _validate(doc.data, doc.lines, file)
    warnings = _consistent(scenario, doc.lines, file)

    def at(loc: Loc, message: str) -> Problem:
        return Problem(*line_of(doc.lines, loc, file), _dotted(loc), message)

    return Checked(scenario, path, warnings, [at(loc, msg) for loc, msg in doc.notes])


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Load and validate a scenario file (default: the bundled SERENA-6 US scenario; bundled
    scenarios can also be named, e.g. ``load_scenario("tiny")``).

    Raises :class:`ScenarioError` with file, line and field for every problem found,
    including numbers that contradict one another (a range that excludes its value, ...).
    """
    return check_scenario(path).scenario


def scenario_from_dict(data: dict, name: str = "<dict>") -> Scenario:
    """Validate a scenario given as plain data (no file, so no line numbers), with the same
    consistency errors as a file."""
    scenario = _validate(copy.deepcopy(data), {}, name)
    _consistent(scenario, {}, name)
    return scenario


def _consistent(scenario: Scenario, lines: dict, file: str) -> list[Problem]:
    """Raise the consistency errors; return the warnings (among them a study's parameters that
    it cannot inform)."""
    found = findings(parameters(scenario))
    found += [Finding("warning", loc, msg) for loc, msg in study_parameter_problems(scenario)]
    problems = {"error": [], "warning": []}
    for f in found:
        where = line_of(lines, f.path, file)
        problems[f.severity].append(Problem(*where, _dotted(f.path), f.message))
    if problems["error"]:
        raise ScenarioError(problems["error"])
    return problems["warning"]


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the scenario's canonical JSON content (independent of file layout); the
    draws of a calibration posterior enter by the SHA-256 of their values (float64 bytes),
    which is much faster than writing thousands of numbers as JSON."""
    table = {"uncertainty": {"posterior": {"table"}}}
    data = scenario.model_dump(mode="json", by_alias=True, exclude=table)
    posterior = scenario.uncertainty.posterior
    if posterior is not None:
        draws = np.asarray(posterior.table, dtype=np.float64).tobytes()
        data["uncertainty"]["posterior"]["table"] = hashlib.sha256(draws).hexdigest()
    text = json.dumps(data, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def with_strategies(
    scenario: Scenario,
    strategies: Iterable[str] | Mapping[str, dict],
    reference: str,
    *,
    name: str | None = None,
    psa: bool = True,
    changes: Mapping[str, Any] | None = None,
) -> Scenario:
    """The scenario with only the named strategies (or these strategies, given as data) and
    ``reference``. What refers to the whole scenario's strategies or serves only its
    validation goes: ``sweeps``, ``trials`` and ``targets``; so does the PSA structure
    (``uncertainty``) unless ``psa``. ``changes``: other top-level sections replaced."""
    data = scenario.model_dump(mode="python", by_alias=True, exclude_none=True)
    if not isinstance(strategies, Mapping):
        strategies = {n: data["strategies"][n] for n in strategies}
    data.update(changes or {})
    data.update(strategies=dict(strategies), reference=reference, targets={})
    data.pop("sweeps", None)
    data.pop("trials", None)
    data.pop("studies", None)
    if not psa:
        data.pop("uncertainty", None)
    return scenario_from_dict(data, name=name or scenario.name)


def with_values(scenario: Scenario, values: dict[str, float]) -> Scenario:
    """A new scenario with the named parameters' base values replaced (re-validated)."""
    if not values:
        return scenario
    data = scenario.model_dump(mode="python", by_alias=True, exclude_none=True)
    known = parameters(scenario)
    for dotted, value in values.items():
        if dotted not in known:
            raise KeyError(f"unknown parameter {dotted!r}")
        node = data
        for part in dotted.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        node["value"] = float(value)
    # No consistency checks: a PSA draw or a calibration step may leave a parameter's range.
    return _validate(data, {}, f"{scenario.name} (modified)")
