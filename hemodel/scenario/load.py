"""Loading scenario files: safe YAML with line numbers, ``extends:``, validation, hashing.

Errors never surface as tracebacks: :class:`ScenarioError` carries one line per problem,
each naming the file, line, dotted field path, the bad value and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .bundled import available_tables, bundled_names, bundled_path, default_scenario_path
from .problems import Loc, Problem, ScenarioError, _dotted, problem_from_error
from .quantities import Param
from .schema import Scenario
from .targets import available_quantities

__all__ = [
    "Problem",
    "ScenarioError",
    "load_scenario",
    "scenario_from_dict",
    "scenario_hash",
    "parameters",
    "with_values",
    "resolve_path",
    "default_scenario_path",
]


@dataclass
class _Doc:
    data: Any
    lines: dict[Loc, tuple[str, int]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# YAML → plain data, with the line of every key
# --------------------------------------------------------------------------------------
_SAFE_TAGS = {
    "tag:yaml.org,2002:" + t
    for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}


def _fail(file: str, line: int | None, path: Loc, message: str) -> ScenarioError:
    return ScenarioError([Problem(file, line, _dotted(path), message)])


def _to_data(node: yaml.Node, file: str, path: Loc, lines: dict, builder) -> Any:
    line = node.start_mark.line + 1
    if node.tag not in _SAFE_TAGS:
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        msg = f"YAML tag {tag!r} is not allowed: remove it (plain values only)"
        raise _fail(file, line, path, msg)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _to_data(key_node, file, path, lines, builder)
            if not isinstance(key, str | int | float | bool) or key is None:
                raise _fail(file, key_node.start_mark.line + 1, path, "keys must be plain text")
            key = str(key)
            key_line = key_node.start_mark.line + 1
            if key in out:
                msg = f"{key!r} appears twice (first on line {lines[path + (key,)][1]})"
                raise _fail(file, key_line, path + (key,), msg + ": rename or remove one")
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


def _read(path: Path) -> _Doc:
    file = _shown(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(file, None, (), "file not found") from None
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        bad = exc.object[exc.start : exc.start + 1].hex()
        msg = f"not UTF-8 text (byte 0x{bad}): save the file with UTF-8 encoding"
        raise _fail(file, line, (), msg) from None
    except OSError as exc:
        raise _fail(file, None, (), f"cannot read file: {exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise _fail(file, line, (), _yaml_message(exc)) from None
    except yaml.YAMLError as exc:
        raise _fail(file, None, (), f"malformed YAML: {exc}") from None
    sections = "a mapping of sections (name: ..., currency: ..., strategies: ...)"
    if node is None:
        raise _fail(file, None, (), f"file is empty: a scenario is {sections}")
    if not isinstance(node, yaml.MappingNode):
        kind = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
        msg = f"the file holds {kind}, but a scenario must be {sections}"
        raise _fail(file, node.start_mark.line + 1, (), msg)
    doc = _Doc(None)
    try:
        doc.data = _to_data(node, file, (), doc.lines, yaml.SafeLoader(""))
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise _fail(file, line, (), f"invalid value: {exc.problem}") from None
    return doc


def _merge(base: _Doc, over: _Doc) -> _Doc:
    """Deep-merge ``over`` into ``base``: mappings merge key by key, anything else replaces;
    ``key: null`` in ``over`` removes an inherited entry (e.g. a strategy a variant drops)."""

    def merge(a, b, path):
        if isinstance(a, dict) and isinstance(b, dict):
            out = dict(a)
            for k, v in b.items():
                if v is None and k in a:
                    del out[k]
                else:
                    out[k] = merge(a[k], v, path + (k,)) if k in a else v
            return out
        return b

    lines = dict(base.lines)
    lines.update(over.lines)
    return _Doc(merge(base.data, over.data, ()), lines)


def _load_raw(path: Path, chain: tuple[Path, ...] = ()) -> _Doc:
    path = path.resolve()
    doc = _read(path)
    parent = doc.data.pop("extends", None)
    if parent is None:
        return doc
    where = doc.lines.get(("extends",), (_shown(path), None))
    if not isinstance(parent, str) or not parent.strip():
        raise _fail(*where, ("extends",), "must name another scenario file, e.g. tiny.yaml")
    parent_path = (path.parent / parent).resolve()
    if not parent_path.exists():
        bundled = bundled_path(parent)
        if bundled is None:
            msg = f"file {parent!r} not found (looked for {parent_path}; paths are relative to "
            msg += "the folder of the file that extends; bundled scenarios: "
            raise _fail(*where, ("extends",), msg + ", ".join(bundled_names()) + ")")
        parent_path = bundled.resolve()
    if parent_path in chain + (path,):
        cycle = " -> ".join(p.name for p in chain + (path, parent_path))
        message = f"circular extends ({cycle}): a file cannot extend itself, even indirectly"
        raise _fail(*where, ("extends",), message)
    return _merge(_load_raw(parent_path, chain + (path,)), doc)


# --------------------------------------------------------------------------------------
# Cross-references
# --------------------------------------------------------------------------------------
def _references(s: Scenario) -> list[tuple[Loc, str]]:
    """Names that must match something defined elsewhere in the scenario."""
    out: list[tuple[Loc, str]] = []

    def need(loc: Loc, kind: str, name: str, names, where: str) -> None:
        names = list(names)
        if name not in names:
            guess = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
            hint = f"; did you mean {guess[0]!r}?" if guess else ""
            listing = f"{where}: {', '.join(names) or 'none'}"
            out.append((loc, f"{kind} {name!r} is not defined{hint} ({listing})"))

    need(("reference",), "strategy", s.reference, s.strategies, "defined under strategies")
    for name, st in s.strategies.items():
        at, assays = ("strategies", name), "defined under assays"
        if st.monitoring:
            need(at + ("monitoring", "assay"), "assay", st.monitoring.assay, s.assays, assays)
        if st.switch:
            therapies = s.switch_therapies, "defined under switch_therapies"
            need(at + ("switch", "to"), "switch therapy", st.switch.to, *therapies)
        if st.test_at_progression:
            loc = at + ("test_at_progression",)
            need(loc + ("assay",), "assay", st.test_at_progression.assay, s.assays, assays)
            if s.targeted_second_line is None:
                out.append((loc, "testing at progression needs a 'targeted_second_line' section"))
    table = s.cohort.background_mortality.life_table
    if table is not None:
        loc = ("cohort", "background_mortality", "life_table")
        need(loc, "life table", table, available_tables(), "bundled tables")
    if s.targets:
        known = available_quantities(s)
        for name in s.targets:
            need(("targets", name), "target quantity", name, known, "measured quantities")
    out += _joint_uncertainty(s, need)
    return out


def _joint_uncertainty(s: Scenario, need) -> list[tuple[Loc, str]]:
    """Parameters named in ``uncertainty:`` must exist; correlated ones need a ``psa:``
    marginal and Dirichlet ones must be probabilities."""
    params = parameters(s)
    out: list[tuple[Loc, str]] = []
    for i, corr in enumerate(s.uncertainty.correlations):
        for j, name in enumerate(corr.parameters):
            loc = ("uncertainty", "correlations", i, "parameters", j)
            if name not in params:
                need(loc, "parameter", name, params, "parameters")
            elif params[name].psa is None or params[name].psa.dist == "fixed":
                out.append((loc, f"parameter {name!r} has no psa: distribution to correlate"))
    for i, group in enumerate(s.uncertainty.dirichlet):
        for j, name in enumerate(group.parameters):
            loc = ("uncertainty", "dirichlet", i, "parameters", j)
            if name not in params:
                need(loc, "parameter", name, params, "parameters")
            elif type(params[name]).__name__ != "Probability":
                out.append((loc, f"parameter {name!r} is not a probability"))
    return out


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------
def _validate(data: Any, lines: dict, file: str) -> Scenario:
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [problem_from_error(e, data, lines, file) for e in exc.errors()]
        raise ScenarioError(_unique(problems)) from None
    refs = _references(scenario)
    if refs:
        problems = []
        for loc, msg in refs:
            fl = lines.get(loc, (file, None))
            problems.append(Problem(fl[0], fl[1], _dotted(loc), msg))
        raise ScenarioError(problems)
    return scenario


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            out.append(p)
    return out


def resolve_path(path: str | Path | None) -> Path:
    """The file a user means: the path itself, or a bundled scenario by name (``tiny``,
    ``tiny.yaml``, ``serena6_uk``) when no such file exists; None means the default."""
    if path is None:
        return default_scenario_path()
    path = Path(path)
    if not path.exists():
        return bundled_path(path) or path
    return path


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Load and validate a scenario file (default: the bundled SERENA-6 US scenario; bundled
    scenarios can also be named, e.g. ``load_scenario("tiny")``).

    Raises :class:`ScenarioError` with file, line and field for every problem found.
    """
    path = resolve_path(path)
    doc = _load_raw(path)
    return _validate(doc.data, doc.lines, _shown(path))


def scenario_from_dict(data: dict, name: str = "<dict>") -> Scenario:
    """Validate a scenario given as plain data (no file, so no line numbers)."""
    return _validate(copy.deepcopy(data), {}, name)


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the scenario's canonical JSON content (independent of file layout)."""
    text = json.dumps(scenario.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def parameters(scenario: Scenario) -> dict[str, Param]:
    """Every numeric parameter of the scenario by dotted path, e.g. ``assays.g360.sensitivity``."""
    found: dict[str, Param] = {}

    def walk(obj: Any, path: tuple[str, ...]) -> None:
        if isinstance(obj, Param):
            found[".".join(path)] = obj
        elif isinstance(obj, BaseModel):
            for name in type(obj).model_fields:
                walk(getattr(obj, name), path + (name,))
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, path + (str(k),))
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(v, path + (str(i),))

    walk(scenario, ())
    return found


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
    return scenario_from_dict(data, name=f"{scenario.name} (modified)")
