"""Mutants of the bundled scenarios: structural (on the parsed data, re-dumped) and textual
(on the YAML text), for the fuzz test and ``benchmarks/fuzz.py``.

Every mutation takes its decisions from a :class:`Draw`: :class:`HypothesisDraw` inside a
hypothesis strategy (so failures shrink), :class:`RandomDraw` from a seeded ``random.Random``
(so ``benchmarks/fuzz.py --seed 1`` is reproducible). One mutant is a base scenario (tiny.yaml,
serena6_us.yaml, or a variant that ``extends:`` one of them) after one to three mutations.
"""

from __future__ import annotations

import copy
import datetime
import difflib
import functools
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
T = TypeVar("T")
#: libyaml's parser and emitter when installed (ten times faster on serena6_us.yaml).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class Draw(Protocol):
    """Where a mutation takes its decisions from."""

    def choice(self, options: Sequence[T]) -> T: ...

    def integer(self, low: int, high: int) -> int: ...


class RandomDraw:
    """Decisions from a seeded ``random.Random``."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def choice(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)


class HypothesisDraw:
    """Decisions drawn inside a hypothesis strategy (``draw`` of ``st.composite``)."""

    def __init__(self, draw: Callable[[st.SearchStrategy], Any]):
        self.draw = draw

    def choice(self, options: Sequence[T]) -> T:
        return options[self.draw(st.integers(0, len(options) - 1))]

    def integer(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))


@dataclass(frozen=True)
class Mutant:
    """Scenario files to write into an empty folder, and the one to check.

    ``files``: (name, text); a lone surrogate (``"\\udcff"``) in a text is written as that raw
    byte (not UTF-8). ``main``: a name in ``files``, or any path (``/dev/zero``).
    ``links``: (name, target) symbolic links; ``fifos``: names of named pipes.
    """

    base: str
    files: tuple[tuple[str, str], ...]
    main: str
    ops: tuple[str, ...] = ()
    links: tuple[tuple[str, str], ...] = ()
    fifos: tuple[str, ...] = ()

    def write(self, folder: Path) -> Path:
        """Create the files in ``folder`` (a name taken twice: the first); the path to check."""
        for name, text in self.files:
            (folder / name).write_bytes(text.encode("utf-8", errors="surrogateescape"))
        taken = {name for name, _ in self.files}
        for name, target in self.links:
            if name not in taken:
                os.symlink(target, folder / name)
                taken.add(name)
        for name in self.fifos:
            if name not in taken:
                os.mkfifo(folder / name)
                taken.add(name)
        return folder / self.main

    def text(self, name: str) -> str:
        return dict(self.files)[name]

    def with_text(self, name: str, text: str, op: str) -> Mutant:
        files = tuple((n, text if n == name else t) for n, t in self.files)
        return replace(self, files=files, ops=self.ops + (f"{name}: {op}",))

    def __repr__(self) -> str:
        return f"Mutant({self.describe(80)!r}, main={self.main!r})"

    def diff(self, lines: int = 60) -> str:
        """How the files differ from the base's (a unified diff, cut to ``lines`` lines)."""
        base = dict(bases()[self.base].files) if self.base in bases() else {}
        out: list[str] = []
        for name, text in self.files:
            old = base.get(name, "").splitlines(keepends=True)
            new = text.splitlines(keepends=True)
            out += difflib.unified_diff(old, new, f"base/{name}", name, n=1)
        cut = [line if len(line) <= 200 else line[:200] + "…\n" for line in out[:lines]]
        return "".join(cut) + (f"… ({len(out) - lines} more lines)\n" if len(out) > lines else "")

    def describe(self, limit: int = 160) -> str:
        """The base and the mutations, each cut to ``limit`` characters (for reports)."""
        ops = "; ".join(op if len(op) <= limit else op[:limit] + "…" for op in self.ops)
        return f"{self.base}: {ops}"


# --------------------------------------------------------------------------------------
# Bases
# --------------------------------------------------------------------------------------
def _read(name: str) -> str:
    return (SCENARIOS / name).read_text(encoding="utf-8")


_VARIANT = (
    "extends: {parent}\nname: A variant\nschedule:\n  visit_every: 2 weeks\n"
    "  imaging_every: 8 weeks\n"
)


def bases() -> dict[str, Mutant]:
    """The unmutated scenarios, by name: each is accepted by ``check`` and runs."""
    return dict(_bases())


@functools.cache
def _bases() -> dict[str, Mutant]:
    tiny, serena = _read("tiny.yaml"), _read("serena6_us.yaml")
    posterior = ("serena6_us_posterior.csv", _read("serena6_us_posterior.csv"))  # a copy: draws
    # outside the scenario's folder (a symbolic link to them too) are not read
    variant = "variant.yaml"
    return {
        "tiny": Mutant("tiny", (("tiny.yaml", tiny),), "tiny.yaml"),
        "serena6_us": Mutant(
            "serena6_us", (("serena6_us.yaml", serena), posterior), "serena6_us.yaml"
        ),
        "variant of bundled tiny": Mutant(
            "variant of bundled tiny", ((variant, _VARIANT.format(parent="tiny.yaml")),), variant
        ),
        "variant of local tiny": Mutant(
            "variant of local tiny",
            (("base.yaml", tiny), (variant, _VARIANT.format(parent="base.yaml"))),
            variant,
        ),
        "variant of bundled serena6_us": Mutant(
            "variant of bundled serena6_us",
            ((variant, _VARIANT.format(parent="serena6_us.yaml")),),
            variant,
        ),
    }


# --------------------------------------------------------------------------------------
# Structural mutations (parsed data → YAML by the safe dumper)
# --------------------------------------------------------------------------------------
#: Extreme and wrong-typed values for any field.
VALUES: tuple[Any, ...] = (
    0, -1, 1, 1e-320, 1e-300, 1e308, -1e308, float("inf"), float("-inf"), float("nan"),
    10**30, 2**63, -(2**70), "", "x" * 5000, "ten", [], [1, 2, 3], {}, {"value": 1}, None,
    True, False, datetime.date(2020, 1, 1), "1e-4 days", "1e-320 days", "0 days", "-4 weeks",
    "1e308 years", "nan months", ".inf days", "4 fortnights", "12 weeks", "0.5",
)  # fmt: skip
#: Numbers that replace the number of a leaf (``12 weeks`` → ``1e-4 weeks``; ``0.8`` → ``-0.8``).
NUMBERS = ("0", "-1", "1e-4", "1e-320", "1e-300", "1e308", "1e300", "nan", "inf", "-0.5", "2")
#: Deep nesting: placeholder → flow YAML put in its place after dumping.
DEEP = {
    f"__deep_{kind}_{n}__": ("[" * n + "]" * n) if kind == "list" else ("{a: " * n + "1" + "}" * n)
    for kind in ("list", "map")
    for n in (30, 200, 5000)
}
_RENAMES = (
    lambda k: k + "s", lambda k: k.upper(), lambda k: k[:-1], lambda k: "x_" + k,
    lambda k: k.replace("_", " "), lambda k: "", lambda k: "k" * 5000, lambda k: "<<",
)  # fmt: skip


def _paths(data: Any, limit: int = 20_000) -> list[tuple] | None:
    """Every node's path in ``data``, parents before children (the root is ``()``); None when
    a list or mapping appears twice (YAML aliases) or there are more than ``limit`` nodes."""
    out: list[tuple] = []
    seen: set[int] = set()
    todo: list[tuple[tuple, Any]] = [((), data)]
    while todo:
        path, node = todo.pop()
        out.append(path)
        if isinstance(node, dict | list):
            if id(node) in seen or len(out) > limit:
                return None
            seen.add(id(node))
            items = node.items() if isinstance(node, dict) else enumerate(node)
            todo += [(path + (key,), value) for key, value in reversed(list(items))]
    return out


def _parent(data: Any, path: tuple) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def _get(data: Any, path: tuple) -> Any:
    return _parent(data, path)[path[-1]] if path else data


def _set(data: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    _parent(data, path)[path[-1]] = value
    return data


def _replace_number(value: Any, number: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return number
    if isinstance(value, str):
        head, _, unit = value.partition(" ")
        return f"{number} {unit}" if unit and head.replace(".", "").isdigit() else number
    return float(number) if isinstance(value, float) or "." in number or "e" in number else number


def _structural(draw: Draw, data: Any, paths: list[tuple]) -> tuple[Any, str]:
    """One structural mutation of ``data`` (changed in place), whose nodes are at ``paths``:
    the data and what was done."""
    kind = draw.choice(
        ("delete", "set", "number", "swap", "rename", "duplicate", "share", "deep", "unknown")
    )
    path = draw.choice(paths)
    where = ".".join(map(str, path)) or "<root>"
    if kind == "set" or (kind in ("delete", "rename") and not path):
        value = draw.choice(VALUES)
        return _set(data, path, copy.deepcopy(value)), f"set {where} = {value!r:.60}"
    if kind == "number":
        number = draw.choice(NUMBERS)
        value = _replace_number(_get(data, path), number)
        return _set(data, path, value), f"set {where} = {value!r:.60}"
    if kind == "deep":
        placeholder = draw.choice(sorted(DEEP))
        return _set(data, path, placeholder), f"set {where} = {placeholder}"
    if kind == "delete":
        parent = _parent(data, path)
        del parent[path[-1]]
        return data, f"delete {where}"
    if kind == "rename":
        parent = _parent(data, path)
        if not isinstance(parent, dict):
            return data, "rename nothing (a list item)"
        new = draw.choice(_RENAMES)(path[-1])
        items = [(new if k == path[-1] else k, v) for k, v in parent.items()]
        parent.clear()
        parent.update(items)
        return data, f"rename {where} to {new:.60}"
    if kind == "unknown":
        node = _get(data, path)
        value = draw.choice(VALUES)
        if isinstance(node, dict):
            node[draw.choice(("extra", "Name", "notes", "strategies2"))] = value
        elif isinstance(node, list):
            node.append(value)
        else:
            return _set(data, path, {"value": node, "extra": value}), f"wrap {where}"
        return data, f"add an unknown entry to {where} ({value!r:.60})"
    other = draw.choice(paths)
    if other[: len(path)] == path or path[: len(other)] == other:
        return data, f"{kind} {where} with itself: nothing"
    there = ".".join(map(str, other)) or "<root>"
    a, b = _get(data, path), _get(data, other)
    if kind == "swap":
        _set(data, path, b)
        return _set(data, other, a), f"swap {where} and {there}"
    if kind == "share":  # the same object twice: the dumper writes an anchor and an alias
        return _set(data, other, a), f"share {where} as {there} (anchor and alias)"
    parent = _parent(data, path)  # duplicate
    if isinstance(parent, list):
        parent.append(copy.deepcopy(a))
    else:
        parent[f"{path[-1]}_copy"] = copy.deepcopy(a)
    return data, f"duplicate {where}"


def _dump(data: Any) -> str:
    text = yaml.dump(data, Dumper=_DUMPER, sort_keys=False, allow_unicode=True)
    for placeholder, deep in DEEP.items():
        text = text.replace(placeholder, deep)
    return text


# --------------------------------------------------------------------------------------
# Textual mutations
# --------------------------------------------------------------------------------------
#: Characters to insert: control characters, YAML punctuation, a raw byte that is not UTF-8.
CHARS = (
    "\x00", "\x1b", "\x0c", "\x7f", "\x85", "\ufeff", "\t", "\x01", "\x0b", "\u2028", "\r",
    "\n", " ", ":", "-", "#", "'", '"', "[", "]", "{", "}", "&", "*", "!", "|", ">", "%", "@",
    "`", ",", "?", "é", "\udcff",
)  # fmt: skip
_PWNED = "touch PWNED"  # a tag that ran code would leave this file in the mutant's folder


def alias_bomb(depth: int, width: int = 9) -> str:
    """Top-level keys ``a0 … a<depth>``, each a list of ``width`` aliases of the one before
    (``width ** depth`` values once expanded)."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, depth + 1)]
    return "\n".join(lines) + "\n"


#: Whole lines added at the top or the end of a file.
SNIPPETS = (
    "loop: &loop [*loop]\n",
    "loop: &m {self: *m}\n",
    alias_bomb(3),
    alias_bomb(8),
    f"tag: !!python/object/apply:os.system ['{_PWNED}']\n",
    f"tag: !!python/object/new:os.system ['{_PWNED}']\n",
    "tag: !!python/name:os.system\n",
    "tag: !!binary aGVsbG8=\n",
    "tag: !!set {a, b}\n",
    "tag: !foo bar\n",
    "merged:\n  <<: {visit_every: 4 weeks}\n",
    "%YAML 1.1\n---\n",
    "---\nname: a second document\n",
    "...\n",
    "? [complex, key]\n: value\n",
    "extra: |\n  block\n\ttabbed\n",
)
#: Text put after the first ': ' of a line (in front of its value).
VALUE_PREFIXES = (
    f"!!python/object/apply:os.system ['{_PWNED}'] ", "!!binary ", "!!set ", "!foo ", "!!str ",
    "!!float ", "!!int ", "!!python/tuple ", "!!omap ", "&x ", "*undefined ", "*x ", "[", "{",
    "'", '"', "<<: ", "|\n", "- ", "? ",
)  # fmt: skip


def _textual(draw: Draw, text: str) -> tuple[str, str]:
    """One textual mutation of ``text``: the new text and what was done."""
    kind = draw.choice(("insert", "delete", "duplicate", "line", "indent", "long", "snippet",
                        "value"))  # fmt: skip
    lines = text.splitlines(keepends=True) or [""]
    n = draw.integer(0, len(lines) - 1)
    if kind in ("insert", "delete", "duplicate"):
        at = draw.integer(0, len(text))
        if kind == "insert":
            char = draw.choice(CHARS)
            return text[:at] + char + text[at:], f"insert {char!r} at offset {at}"
        size = draw.choice((1, 2, 5, 40))
        if kind == "delete":
            return text[:at] + text[at + size :], f"delete {size} characters at offset {at}"
        return text[:at] + text[at : at + size] * 2 + text[at + size :], f"duplicate at {at}"
    if kind == "line":
        how = draw.choice(("delete", "duplicate", "swap"))
        if how == "delete":
            lines[n : n + 1] = []
        elif how == "duplicate":
            lines.insert(n, lines[n])
        else:
            lines[n : n + 2] = lines[n : n + 2][::-1]
        return "".join(lines), f"{how} line {n + 1}"
    if kind == "indent":
        change = draw.choice((" ", "  ", "\t", "-1", "-2"))
        if change.startswith("-"):
            lines[n] = lines[n][min(int(change[1:]), len(lines[n]) - len(lines[n].lstrip(" "))) :]
        else:
            lines[n] = change + lines[n]
        return "".join(lines), f"indent line {n + 1} by {change!r}"
    if kind == "long":
        size = draw.choice((1_000, 100_000))
        lines[n] = lines[n].rstrip("\n") + "x" * size + "\n"
        return "".join(lines), f"append {size} characters to line {n + 1}"
    if kind == "snippet":
        snippet = draw.choice(SNIPPETS)
        end = draw.choice((True, False))
        new = (text.rstrip("\n") + "\n" + snippet) if end else snippet + text
        return new, f"{'append' if end else 'prepend'} {snippet!r}"
    prefix = draw.choice(VALUE_PREFIXES)
    cut = lines[n].find(": ")
    if cut < 0:
        return text, f"value prefix {prefix!r}: line {n + 1} has no value"
    lines[n] = lines[n][: cut + 2] + prefix + lines[n][cut + 2 :]
    return "".join(lines), f"put {prefix!r} before the value on line {n + 1}"


# --------------------------------------------------------------------------------------
# extends: targets and odd files to check
# --------------------------------------------------------------------------------------
SELF = "<itself>"
#: Values for ``extends:`` (as YAML text); loop.yaml is a symlink loop, fifo.yaml a named pipe.
EXTENDS = (
    "/dev/zero", "/dev/urandom", "/etc/passwd", "../tiny.yaml", "../../../../../../etc/passwd",
    str(SCENARIOS / "tiny.yaml"), "tiny", "tiny.yaml", "serena6_us", '"tiny\\0.yaml"',
    "a" * 5000 + ".yaml", SELF, "loop.yaml", "fifo.yaml", ".", "/", "''", "~/x.yaml",
    "[tiny.yaml]", "{a: 1}", "3", "null", "https://example.com/x.yaml", "missing.yaml",
    "/proc/self/mem", "ring_a.yaml",
)  # fmt: skip
#: Odd things to check instead of the scenario.
MAINS = ("/dev/zero", "fifo.yaml", "loop.yaml", ".", "missing.yaml", "link.yaml", "ring_a.yaml")
_ODD_FILES: dict[str, dict] = {
    "loop.yaml": {"links": (("loop.yaml", "loop.yaml"),)},
    "ring_a.yaml": {"links": (("ring_a.yaml", "ring_b.yaml"), ("ring_b.yaml", "ring_a.yaml"))},
    "fifo.yaml": {"fifos": ("fifo.yaml",)},
}


def _with_odd_file(m: Mutant, name: str) -> Mutant:
    odd = _ODD_FILES.get(name, {})
    return replace(m, links=m.links + odd.get("links", ()), fifos=m.fifos + odd.get("fifos", ()))


def _extends(draw: Draw, m: Mutant, name: str) -> Mutant:
    target = draw.choice(EXTENDS)
    target = name if target == SELF else target
    lines = [x for x in m.text(name).splitlines(keepends=True) if not x.startswith("extends:")]
    m = m.with_text(name, f"extends: {target}\n" + "".join(lines), f"extends: {target:.60}")
    return _with_odd_file(m, target)


def _main(draw: Draw, m: Mutant) -> Mutant:
    main = draw.choice(MAINS)
    changed = replace(m, main=main, ops=m.ops + (f"check {main} instead",))
    if main == "link.yaml":  # a symbolic link to the scenario
        return replace(changed, links=m.links + (("link.yaml", m.main),))
    return _with_odd_file(changed, main)


# --------------------------------------------------------------------------------------
# Mutants
# --------------------------------------------------------------------------------------
def mutate(draw: Draw, m: Mutant) -> Mutant:
    """``m`` after one mutation of one of its files (or of what is checked)."""
    name = draw.choice([n for n, _ in m.files if n.endswith(".yaml")])
    kind = draw.choice(("structural", "structural", "textual", "textual", "extends", "main"))
    if kind == "main" and draw.integer(0, 3) > 0:  # rarer: most of these stop at the path
        kind = "textual"
    if kind == "extends":
        return _extends(draw, m, name)
    if kind == "main":
        return _main(draw, m)
    text = m.text(name)
    if kind == "structural":
        try:
            data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
        except Exception:  # broken, too deep, a bad tag (ValueError ...): mutate the text
            data = None
        paths = _paths(data) if isinstance(data, dict) else None
        if paths is not None:
            data, op = _structural(draw, data, paths)
            return m.with_text(name, _dump(data), op)
    text, op = _textual(draw, text)
    return m.with_text(name, text, op)


def build(draw: Draw) -> Mutant:
    """A base scenario after one to three mutations."""
    found = bases()
    m = found[draw.choice(list(found))]
    for _ in range(draw.choice((1, 1, 2, 3))):
        m = mutate(draw, m)
    return m


@st.composite
def mutants(draw: Callable[[st.SearchStrategy], Any]) -> Mutant:
    """Hypothesis strategy of mutants (shrinks to fewer, earlier, simpler mutations)."""
    return build(HypothesisDraw(draw))


def mutant_number(seed: int, i: int) -> Mutant:
    """Mutant ``i`` of the seeded sequence (each reproducible on its own)."""
    return build(RandomDraw(random.Random(f"{seed}-{i}")))
