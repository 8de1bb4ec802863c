"""Scenario problems: what is wrong, where (file, line, dotted field), and how to fix it.

Turns pydantic validation errors into plain-language messages for health economists: the
bad value, what is allowed, a did-you-mean for misspelt keys and distribution names.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from . import schema
from .distributions import PSADistribution
from .quantities import TimeToEventSpec
from .schema import Scenario
from .text import SHOWN_CHARS as SHOWN_CHARS
from .text import shorten as shorten

Loc = tuple[Any, ...]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        path = ".".join(shorten(part, 60) for part in self.path.split("."))  # a key of 1,000 a's
        return f"{where}: {path}: {self.message}" if self.path else f"{where}: {self.message}"


#: Problems a message lists; the rest are counted (a file mangled throughout would otherwise
#: print thousands of lines). ``ScenarioError.problems`` keeps them all.
SHOWN_PROBLEMS = 10


class ScenarioError(Exception):
    """An invalid scenario file; ``str()`` gives the user-facing message: the first
    :data:`SHOWN_PROBLEMS` problems and how many more there are."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        lines = [f"invalid scenario ({len(problems)} {noun}):"]
        lines += [f"  {p}" for p in problems[:SHOWN_PROBLEMS]]
        if len(problems) > SHOWN_PROBLEMS:
            lines.append(f"  … and {len(problems) - SHOWN_PROBLEMS} more: fix these first")
        super().__init__("\n".join(lines))


def fail(file: str, line: int | None, path: Loc, message: str) -> ScenarioError:
    """A one-problem :class:`ScenarioError`, to raise."""
    return ScenarioError([Problem(file, line, _dotted(path), message)])


def line_of(lines: dict, loc: Loc, file: str) -> tuple[str, int | None]:
    """File and line of ``loc``, or of its nearest ancestor the file names."""
    for n in range(len(loc), 0, -1):
        for key in (loc[:n], tuple(int(p) if str(p).isdigit() else p for p in loc[:n])):
            if key in lines:
                return lines[key]
    return file, None


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


_TAGS = {  # discriminator → distribution names allowed
    key: [
        typing.get_args(m.model_fields[key].annotation)[0]
        for m in typing.get_args(typing.get_args(tp)[0])
    ]
    for key, tp in (("dist", PSADistribution), ("distribution", TimeToEventSpec))
}
_PATTERNS = {
    "^[A-Z]{3}$": "must be a three-letter currency code in capitals, e.g. USD, GBP or EUR",
    schema._NAME: "names must start with a letter and use only letters, digits, _ and - "
    "(no spaces), at most 64 characters",
}
_MAPPING = "must be a mapping of keys to values (key: value, one per line)"
_NUMBER = "must be a number"
_WHOLE = "must be a whole number"
_PAIR = "must be a pair [low, high]"
#: Pydantic error types whose wording does not depend on the error's details.
_WORDING = {
    "dict_type": _MAPPING,
    "model_type": _MAPPING,
    "model_attributes_type": _MAPPING,
    "finite_number": "must be a finite number (not .inf or .nan, and not too large to represent)",
    "float_type": _NUMBER,
    "float_parsing": _NUMBER,
    "int_type": _WHOLE,
    "int_parsing": _WHOLE,
    "int_from_float": _WHOLE,
    "int_parsing_size": "must be a whole number of reasonable size",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list in square brackets, e.g. [1, 2]",
    "tuple_type": _PAIR,
    "set_type": "must be a list in square brackets, e.g. [1, 2]",
}
_COMPARE = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_SIZED = {"Tuple": "items", "List": "items", "Dictionary": "entries", "Value": "items"}


def _translated(kind: str, ctx: dict, msg: str) -> str:
    """Plain wording of a pydantic error of type ``kind``: never pydantic's own phrases."""
    if kind in _WORDING:
        return _WORDING[kind]
    for key, sign in _COMPARE.items():
        if key in ctx and kind.startswith(("greater", "less")):
            return f"must be {sign} {ctx[key]}"
    if kind in ("too_short", "too_long"):
        things = _SIZED.get(ctx.get("field_type"), "items")
        got = f" (got {ctx.get('actual_length')})" if "actual_length" in ctx else ""
        if ctx.get("field_type") == "Tuple":
            return f"{_PAIR}: two numbers{got}"
        if kind == "too_short":
            return f"needs at least {ctx.get('min_length')} {things}{got}"
        return f"takes at most {ctx.get('max_length')} {things}{got}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "literal_error":
        return f"must be one of: {shorten(ctx.get('expected', ''), 300)}"
    if kind in ("value_error", "assertion_error"):
        return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return "is not an allowed value here"


_MISSING = {
    "per": ": add the billing period, e.g. per: month (or day, week, year, '28 days')",
    "unit": ": add unit: days, weeks, months or years",
}
#: A check of the whole scenario names its field: ``"at utilities.progressed: ..."``.
_AT = re.compile(r"^at ([A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)+): (.*)$", re.DOTALL)
_PSA_HINTS = (  # clue in the parameter's allowed range → distribution to suggest
    ("probability", "use dist: beta, e.g. {dist: beta, mean: 0.9, sd: 0.05}"),
    ("utility <=", "use dist: beta (values between 0 and 1)"),
    (">", "use dist: gamma or lognormal, which never go below 0"),
    ("", "use dist: uniform or triangular with low and high inside that range"),
)


def _message(err: dict, path: Loc, value: Any) -> tuple[Loc, str]:
    """A health economist's wording of a pydantic error, and the data path it belongs to."""
    kind, ctx, loc = err["type"], err.get("ctx") or {}, tuple(err["loc"])
    msg = _translated(kind, ctx, err["msg"])
    located = _AT.match(msg) if kind == "value_error" else None
    if located:  # a check of the whole scenario names the field it is about
        return tuple(located.group(1).split(".")), located.group(2)
    if kind == "missing":
        return path + (loc[-1],), "is required but missing" + _MISSING.get(loc[-1], "")
    if kind.startswith("union_tag"):
        key = ctx["discriminator"].strip("'")
        allowed = ", ".join(_TAGS.get(key, []))
        if kind == "union_tag_not_found":
            return path, f"needs '{key}:' naming a distribution, one of: {allowed}"
        tag = shorten(repr(str(ctx["tag"])))
        guess = difflib.get_close_matches(str(ctx["tag"])[:100], _TAGS.get(key, []), n=1)
        hint = f"; did you mean {guess[0]!r}?" if guess else ""
        return path + (key,), f"unknown distribution {tag}{hint} (allowed: {allowed})"
    if kind == "string_pattern_mismatch":
        rule = _PATTERNS.get(ctx.get("pattern"), f"must match the pattern {ctx.get('pattern')}")
        name = shorten(repr(loc[-2])) if len(loc) > 1 else ""
        return path, f"name {name} is not allowed: {rule}" if loc[-1] == "[key]" else rule
    if isinstance(value, dict) and msg.startswith(("psa ", "range ")):
        path += (msg.split()[0],)
        if msg.startswith("psa "):
            msg += "; " + next(h for clue, h in _PSA_HINTS if clue in msg.split("must be")[-1])
    return path, msg


def problem_from_error(err: dict, data: Any, lines: dict, file: str) -> Problem:
    """One pydantic error as a :class:`Problem` located in the scenario file(s)."""
    loc = tuple(err["loc"])
    path, value = _data_path(data, loc)
    if err["type"] == "extra_forbidden":
        key = loc[-1]
        model = _model_at(path[:-1] if path and path[-1] == key else path, data)
        allowed = _keys_of(model) if model else []
        guess = difflib.get_close_matches(str(key)[:100], allowed, n=1, cutoff=0.6)
        hint = f"; did you mean {guess[0]!r}?" if guess else ""
        listing = f" Allowed keys here: {', '.join(allowed)}." if allowed else ""
        msg = f"unknown key {shorten(repr(key))}{hint}{listing}"
    else:
        path, msg = _message(err, path, value)
    line_loc = path
    while line_loc and line_loc not in lines:
        line_loc = line_loc[:-1]
    where_file, line = lines.get(line_loc, (file, None))
    if err["type"] in ("extra_forbidden", "missing") or isinstance(value, dict | list):
        got = ""
    elif isinstance(value, bool):
        got = f" (got {str(value).lower()}; YAML reads yes/no/on/off as true/false)"
    elif value is None:
        got = " (the value is empty)"
    else:
        got = f" (got {shorten(repr(value))})" if repr(value) not in msg else ""
    return Problem(where_file, line, shorten(_dotted(path), 200), shorten(f"{msg}{got}", 800))
