"""Loading scenario files: safe YAML with line numbers, ``extends:``, validation, hashing.

Errors never surface as tracebacks: :class:`ScenarioError` carries one line per problem,
each naming the file, line, dotted field path, the bad value and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .schema import Param, Scenario

Loc = tuple[Any, ...]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(Exception):
    """An invalid scenario file; ``str()`` gives the full, user-facing message."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        lines = [f"invalid scenario ({len(problems)} {noun}):"] + [f"  {p}" for p in problems]
        super().__init__("\n".join(lines))


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
        raise _fail(file, line, path, f"YAML tag {node.tag!r} is not allowed in scenario files")
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _to_data(key_node, file, path, lines, builder)
            if not isinstance(key, str | int | float | bool) or key is None:
                raise _fail(file, key_node.start_mark.line + 1, path, "keys must be plain text")
            key = str(key)
            key_line = key_node.start_mark.line + 1
            if key in out:
                first = lines[path + (key,)][1]
                raise _fail(
                    file,
                    key_line,
                    path + (key,),
                    f"duplicate key {key!r} (first defined at line {first}); names must be unique",
                )
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


def _read(path: Path) -> _Doc:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(file, None, (), "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(file, None, (), f"cannot read file: {exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise _fail(file, line, (), f"malformed YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise _fail(file, None, (), f"malformed YAML: {exc}") from None
    if node is None:
        raise _fail(
            file,
            None,
            (),
            "file is empty: a scenario is a mapping of sections (name, currency, strategies, ...)",
        )
    if not isinstance(node, yaml.MappingNode):
        raise _fail(
            file,
            node.start_mark.line + 1,
            (),
            "the document must be a mapping of sections (key: value), "
            f"not a {'list' if isinstance(node, yaml.SequenceNode) else 'single value'}",
        )
    doc = _Doc(None)
    try:
        doc.data = _to_data(node, file, (), doc.lines, yaml.SafeLoader(""))
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise _fail(file, line, (), f"invalid value: {exc.problem}") from None
    return doc


def _merge(base: _Doc, over: _Doc) -> _Doc:
    """Deep-merge ``over`` into ``base``: mappings merge key by key, anything else replaces."""

    def merge(a, b, path):
        if isinstance(a, dict) and isinstance(b, dict):
            out = dict(a)
            for k, v in b.items():
                out[k] = merge(a[k], v, path + (k,)) if k in a else v
            return out
        return b

    lines = dict(base.lines)
    lines.update(over.lines)
    return _Doc(merge(base.data, over.data, ()), lines)


def _load_raw(path: Path, chain: tuple[Path, ...] = ()) -> _Doc:
    path = path.resolve()
    if path in chain:
        cycle = " -> ".join(p.name for p in chain + (path,))
        raise _fail(str(chain[-1]), None, ("extends",), f"circular extends: {cycle}")
    doc = _read(path)
    parent = doc.data.pop("extends", None)
    if parent is None:
        return doc
    where = doc.lines.get(("extends",), (str(path), None))
    if not isinstance(parent, str) or not parent.strip():
        raise _fail(where[0], where[1], ("extends",), "must name another scenario file")
    parent_path = (path.parent / parent).resolve()
    if not parent_path.exists():
        raise _fail(
            where[0],
            where[1],
            ("extends",),
            f"file {parent!r} not found (looked for {parent_path})",
        )
    return _merge(_load_raw(parent_path, chain + (path,)), doc)


# --------------------------------------------------------------------------------------
# Validation errors → problems
# --------------------------------------------------------------------------------------
def _dotted(loc: Loc) -> str:
    return ".".join(str(p) for p in loc)


def _data_path(data: Any, loc: Loc) -> tuple[Loc, Any]:
    """The part of a pydantic error ``loc`` that exists in the data, and the value there.

    Components absent from the data are skipped: union tags (``weibull``) and the ``value``
    field of a shorthand scalar (``0.85`` for ``{value: 0.85}``).
    """
    path: list[Any] = []
    cur = data
    for part in loc:
        in_dict = isinstance(cur, dict) and part in cur
        in_list = isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)
        if in_dict or in_list:
            path.append(part)
            cur = cur[part]
    return tuple(path), cur


def _model_at(loc: Loc, data: Any) -> type[BaseModel] | None:
    """The pydantic model class that validates the mapping at data path ``loc``."""
    tp: Any = Scenario
    cur = data
    for part in loc:
        tp = _pick(tp, cur)
        if tp is None:
            return None
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fld = next((f for n, f in tp.model_fields.items() if (f.alias or n) == part), None)
            if fld is None:
                return None
            tp = fld.annotation
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        elif origin is list:
            tp = typing.get_args(tp)[0]
        else:
            return None
        cur = cur.get(part) if isinstance(cur, dict) else None
    tp = _pick(tp, cur)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _pick(tp: Any, data: Any) -> Any:
    """Unwrap Annotated/Optional/unions, choosing a union member by its discriminator."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            chosen = None
            if isinstance(data, dict):
                for m in models:
                    tag = m.model_fields.get("distribution") or m.model_fields.get("dist")
                    if tag is not None:
                        allowed = typing.get_args(tag.annotation)
                        if data.get("distribution", data.get("dist")) in allowed:
                            chosen = m
            tp = chosen or (models[0] if models else members[0])
            continue
        return tp


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def _problem(err: dict, data: Any, lines: dict, file: str) -> Problem:
    loc = tuple(err["loc"])
    path, value = _data_path(data, loc)
    kind = err["type"]
    line_loc = path
    while line_loc and line_loc not in lines:
        line_loc = line_loc[:-1]
    where_file, line = lines.get(line_loc, (file, None))
    if kind == "extra_forbidden":
        key = loc[-1]
        model = _model_at(path[:-1] if path and path[-1] == key else path, data)
        allowed = _keys_of(model) if model else []
        guess = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        hint = f"; did you mean {guess[0]!r}?" if guess else ""
        listing = f" Allowed keys here: {', '.join(allowed)}." if allowed else ""
        return Problem(where_file, line, _dotted(path), f"unknown key {key!r}{hint}{listing}")
    if kind == "missing":
        return Problem(where_file, line, _dotted(path + (loc[-1],)), "is required but missing")
    msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    shown = value if not isinstance(value, dict | list) else None
    got = f" (got {shown!r})" if shown is not None and repr(shown) not in msg else ""
    return Problem(where_file, line, _dotted(path), f"{msg}{got}")


# --------------------------------------------------------------------------------------
# Cross-references
# --------------------------------------------------------------------------------------
def _references(s: Scenario) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []

    def choose(kind: str, name: str, names) -> str:
        names = list(names)
        guess = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        hint = f"; did you mean {guess[0]!r}?" if guess else ""
        available = ", ".join(names) or "none defined"
        return f"{kind} {name!r} is not defined{hint} (defined: {available})"

    if s.reference not in s.strategies:
        out.append((("reference",), choose("strategy", s.reference, s.strategies)))
    for name, st in s.strategies.items():
        base = ("strategies", name)
        if st.monitoring and st.monitoring.assay not in s.assays:
            out.append(
                (base + ("monitoring", "assay"), choose("assay", st.monitoring.assay, s.assays))
            )
        if st.switch and st.switch.to not in s.switch_therapies:
            out.append(
                (
                    base + ("switch", "to"),
                    choose("switch therapy", st.switch.to, s.switch_therapies),
                )
            )
        if st.test_at_progression:
            if st.test_at_progression.assay not in s.assays:
                out.append(
                    (
                        base + ("test_at_progression", "assay"),
                        choose("assay", st.test_at_progression.assay, s.assays),
                    )
                )
            if s.targeted_second_line is None:
                out.append(
                    (
                        base + ("test_at_progression",),
                        "testing at progression needs a 'targeted_second_line' section",
                    )
                )
    if s.cohort.background_mortality.life_table is not None:
        from .lifetable import available_tables

        table = s.cohort.background_mortality.life_table
        if table not in available_tables():
            out.append(
                (
                    ("cohort", "background_mortality", "life_table"),
                    choose("life table", table, available_tables()),
                )
            )
    return out


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------
DEFAULT_SCENARIO = "serena6_us.yaml"


def default_scenario_path() -> Path:
    """Path of the default scenario, from an installed wheel or a source checkout."""
    try:
        return Path(str(resources.files("hemodel.scenarios") / DEFAULT_SCENARIO))
    except ModuleNotFoundError:  # running from a checkout without installing
        return Path(__file__).resolve().parent.parent / "scenarios" / DEFAULT_SCENARIO


def _validate(data: Any, lines: dict, file: str) -> Scenario:
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(e, data, lines, file) for e in exc.errors()]
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


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Load and validate a scenario file (default: the bundled SERENA-6 US scenario).

    Raises :class:`ScenarioError` with file, line and field for every problem found.
    """
    path = Path(path) if path is not None else default_scenario_path()
    doc = _load_raw(path)
    return _validate(doc.data, doc.lines, str(path))


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
