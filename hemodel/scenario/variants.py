"""Variants: merging a scenario file that ``extends:`` another into its parent.

Mappings merge key by key, anything else replaces, ``key: null`` removes an inherited entry.
A new ``value:`` brings its own uncertainty (see :func:`merge`); ``psa: inherit`` keeps the
parent's distribution re-centred on the new value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .distributions import PSADistribution, recentred
from .problems import Loc, fail, line_of

__all__ = ["Doc", "merge", "leftover_inherit"]


@dataclass
class Doc:
    """A scenario file as plain data, the file and line of every key, and notes on what
    merging did on the user's behalf."""

    data: Any
    lines: dict[Loc, tuple[str, int]] = field(default_factory=dict)
    notes: list[tuple[Loc, str]] = field(default_factory=list)  # (field path, what was done)


#: Keys that belong to a parameter's value: its uncertainty and where the value comes from.
#: A variant that writes a new ``value:`` drops the parent's unless it restates them.
_OF_THE_VALUE = ("psa", "range", "source", "ci", "tolerance")


def merge(base: Doc, over: Doc) -> Doc:
    """Deep-merge ``over`` (a variant) into ``base`` (its parent): mappings merge key by key,
    anything else replaces; ``key: null`` in ``over`` removes an inherited entry (e.g. a
    strategy a variant drops).

    The variant rule: where ``over`` gives a parameter a new ``value:``, the parent's ``psa:``,
    ``range:`` and ``source:`` (a target's ``ci:`` and ``tolerance:``) describe the parent's
    value and are dropped unless ``over`` restates them; ``psa: inherit`` keeps the parent's
    distribution, re-centred on the new value (see :func:`_recentre`). The parent's
    ``unit:`` or ``per:`` must be restated, so that a new number never silently takes an
    old unit.
    """
    notes = list(base.notes)

    def merge(a, b, path):
        if not (isinstance(a, dict) and isinstance(b, dict)):
            return b
        if "value" in b:
            a, b = _revalue(a, b, path, over, notes)
        out = dict(a)
        for k, v in b.items():
            if v is None and k in a:
                del out[k]
            else:
                out[k] = merge(a[k], v, path + (k,)) if k in a else v
        return out

    lines = dict(base.lines)
    lines.update(over.lines)
    return Doc(merge(base.data, over.data, ()), lines, notes)


def _revalue(parent: dict, variant: dict, path: Loc, over: Doc, notes: list) -> tuple[dict, dict]:
    """The parent's entry without what belonged to its old value, and the variant's entry with
    ``inherit`` resolved (see :func:`merge`)."""
    file = over.lines.get(path + ("value",), ("", None))
    for unit in ("unit", "per"):
        if unit in parent and unit not in variant:
            msg = (
                f"a new value needs its {unit}: the parent gives {unit}: {parent[unit]!r}; "
                f"write e.g. {{value: {variant['value']}, {unit}: {parent[unit]}}}"
            )
            raise fail(*file, path + ("value",), msg)
    variant = dict(variant)
    if variant.get("psa") == "inherit":
        where = over.lines.get(path + ("psa",), file)
        variant["psa"], note = _recentre(parent, variant["value"], where, path + ("psa",))
        notes.append((path + ("psa",), note))
    kept = {k: v for k, v in parent.items() if k not in _OF_THE_VALUE}
    return kept, variant


def _recentre(parent: dict, value: Any, where, loc: Loc) -> tuple[Any, str]:
    """The parent's ``psa`` multiplied so that its centre is the new ``value`` (the relative
    spread is kept, see :func:`~hemodel.scenario.distributions.recentred`), and a note."""
    if "psa" not in parent:
        raise fail(*where, loc, "psa: inherit, but the parent gives no psa: write one out")
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise fail(*where, loc, f"psa: inherit needs a numeric value, got {value!r}")
    try:
        dist = TypeAdapter(PSADistribution).validate_python(parent["psa"])
    except ValidationError:
        return parent["psa"], "the parent's psa is invalid (reported separately)"
    try:
        scaled = recentred(dist, value).model_dump(by_alias=True, exclude_none=True)
    except ValueError as exc:
        msg = f"psa: inherit cannot re-centre the parent's {dist.dist} on {value}: {exc}"
        raise fail(*where, loc, msg + "; write a psa: for the new value") from None
    note = f"psa: inherit re-centred the parent's psa on the value {value}: "
    return scaled, note + f"{flow_text(parent['psa'])} → {flow_text(scaled)}"


def flow_text(data: dict, digits: int = 6) -> str:
    """A mapping as one line of YAML flow style, floats to ``digits`` significant digits."""
    return "{" + ", ".join(f"{k}: {v:.{digits}g}" if isinstance(v, float) else f"{k}: {v}"
                           for k, v in data.items()) + "}"  # fmt: skip


def leftover_inherit(data: Any, lines: dict, file: str, path: Loc = ()) -> None:
    """``inherit`` is resolved where a variant changes a value; anywhere else it is an error."""
    if isinstance(data, dict):
        for k, v in data.items():
            if k == "psa" and v == "inherit":
                msg = (
                    "psa: inherit keeps the parent's psa for a new value: it needs a file "
                    "that extends a parent giving this parameter a psa:, and a value: beside "
                    "it; otherwise write a psa: here"
                )
                raise fail(*line_of(lines, path + (k,), file), path + (k,), msg)
            leftover_inherit(v, lines, file, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            leftover_inherit(v, lines, file, path + (i,))
