"""Loading scenario files: safe YAML with line numbers, ``extends:``, validation, hashing.

Errors never surface as tracebacks: :class:`ScenarioError` carries one line per problem,
each naming the file, line, dotted field path, the bad value and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from .bundled import bundled_names, bundled_path, default_scenario_path
from .consistency import Finding, findings
from .posterior import read_draws
from .problems import Loc, Problem, ScenarioError, _dotted, fail, line_of, problem_from_error
from .quantities import parameters
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
# YAML → plain data, with the line of every key
# --------------------------------------------------------------------------------------
_SAFE_TAGS = {
    "tag:yaml.org,2002:" + t
    for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}


def _to_data(node: yaml.Node, file: str, path: Loc, lines: dict, builder) -> Any:
    line = node.start_mark.line + 1
    if node.tag not in _SAFE_TAGS:
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        msg = f"YAML tag {tag!r} is not allowed: remove it (plain values only)"
        raise fail(file, line, path, msg)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _to_data(key_node, file, path, lines, builder)
            if not isinstance(key, str | int | float | bool) or key is None:
                raise fail(file, key_node.start_mark.line + 1, path, "keys must be plain text")
            key = str(key)
            key_line = key_node.start_mark.line + 1
            if key in out:
                msg = f"{key!r} appears twice (first on line {lines[path + (key,)][1]})"
                raise fail(file, key_line, path + (key,), msg + ": rename or remove one")
            lines[path + (key,)] = (file, key_line)
            out[key] = _to_data(value_node, file, path + (key,), lines, builder)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            lines[path + (i,)] = (file, item.start_mark.line + 1)
            items.append(_to_data(item, file, path + (i,), lines, builder))
        return items
    value = builder.construct_object(node)
    if node.tag.endswith(":timestamp"):
        value = str(node.value)
    return value


_YAML_HINTS = (  # clue in PyYAML's message → what to do
    ("'\\t'", "indent with spaces, not tabs"),
    ("<block", "the indentation does not line up with the lines above"),
    ("mapping values", "put text containing ': ' in quotes, or fix the indentation"),
    ("flow", "a [ or { is not closed, or a comma is missing between items"),
    ("quoted scalar", "a quote is not closed"),
    ("", "check the indentation, brackets and quotes"),
)


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    text = str(exc.problem or exc)
    start, end = exc.context_mark, exc.problem_mark
    if exc.context and start and end and start.line != end.line:
        text += f" ({exc.context} started on line {start.line + 1})"
    return f"malformed YAML: {text}; " + next(h for clue, h in _YAML_HINTS if clue in text)


def _shown(path: Path) -> str:
    """A file name as the user would type it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read(path: Path) -> Doc:
    file = _shown(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise fail(file, None, (), "file not found") from None
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        bad = exc.object[exc.start : exc.start + 1].hex()
        msg = f"not UTF-8 text (byte 0x{bad}): save the file with UTF-8 encoding"
        raise fail(file, line, (), msg) from None
    except OSError as exc:
        raise fail(file, None, (), f"cannot read file: {exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise fail(file, line, (), _yaml_message(exc)) from None
    except yaml.YAMLError as exc:
        raise fail(file, None, (), f"malformed YAML: {exc}") from None
    sections = "a mapping of sections (name: ..., currency: ..., strategies: ...)"
    if node is None:
        raise fail(file, None, (), f"file is empty: a scenario is {sections}")
    if not isinstance(node, yaml.MappingNode):
        kind = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
        msg = f"the file holds {kind}, but a scenario must be {sections}"
        raise fail(file, node.start_mark.line + 1, (), msg)
    doc = Doc(None)
    try:
        doc.data = _to_data(node, file, (), doc.lines, yaml.SafeLoader(""))
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise fail(file, line, (), f"invalid value: {exc.problem}") from None
    return doc


def _load_raw(path: Path, chain: tuple[Path, ...] = ()) -> Doc:
    path = path.resolve()
    doc = _read(path)
    parent = doc.data.pop("extends", None)
    if parent is None:
        return doc
    where = doc.lines.get(("extends",), (_shown(path), None))
    if not isinstance(parent, str) or not parent.strip():
        raise fail(*where, ("extends",), "must name another scenario file, e.g. tiny.yaml")
    parent_path = (path.parent / parent).resolve()
    if not parent_path.is_file():
        bundled = bundled_path(parent)
        if bundled is None:
            msg = f"{parent!r}: " + _not_found(path.parent / parent)
            msg += f"; looked for {parent_path} (relative to the folder of the file that extends)"
            raise fail(*where, ("extends",), msg)
        parent_path = bundled.resolve()
    if parent_path in chain + (path,):
        cycle = " -> ".join(p.name for p in chain + (path, parent_path))
        message = f"circular extends ({cycle}): a file cannot extend itself, even indirectly"
        raise fail(*where, ("extends",), message)
    return merge(_load_raw(parent_path, chain + (path,)), doc)


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
    if path.is_file():
        return path
    bundled = bundled_path(path)
    if bundled is not None:
        return bundled
    raise fail(_shown(path), None, (), _not_found(path))


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
