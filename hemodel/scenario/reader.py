"""Reading one scenario file: bounded, safe YAML with the line of every key.

Whatever the file holds, reading ends quickly with data or one :class:`ScenarioError`
naming file and line: only regular files up to :data:`MAX_BYTES` are read (never a device,
pipe or folder), control characters are refused before parsing, nesting is limited to
:data:`MAX_DEPTH` levels and aliases to :data:`MAX_VALUES` values in all (an alias bomb or a
recursive alias is refused without being expanded), and only plain YAML tags are allowed.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from .problems import Loc, ScenarioError, fail, shorten
from .variants import Doc

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "NAME_PROBLEMS",
    "file_problem",
    "read_doc",
    "shown",
]

#: Largest scenario file read, in bytes (the bundled ones are under 20 kB).
MAX_BYTES = 5_000_000
#: Deepest nesting of mappings and lists, in levels (the bundled scenarios use 6).
MAX_DEPTH = 50
#: Most values (keys, items and scalars) a file may hold once its aliases are expanded
#: (the bundled scenarios hold about 1,000).
MAX_VALUES = 100_000

_SAFE_TAGS = {
    "tag:yaml.org,2002:" + t
    for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}


# --------------------------------------------------------------------------------------
# The file: a regular file of bounded size, decoded as UTF-8 without control characters
# --------------------------------------------------------------------------------------
def shown(path: Path) -> str:
    """A file name as the user would type it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except (ValueError, OSError, RuntimeError):  # outside the folder, a symlink loop, ...
        return str(path)


_KINDS = (  # stat test → what the path is instead of a file
    (stat.S_ISDIR, "a folder, not a scenario file"),
    (stat.S_ISFIFO, "a named pipe (FIFO), not a regular file"),
    (stat.S_ISSOCK, "a socket, not a regular file"),
    (stat.S_ISCHR, "a device (such as /dev/zero), not a regular file"),
    (stat.S_ISBLK, "a device (a disk), not a regular file"),
)
_ERRNOS = {
    errno.ENOENT: "file not found",
    errno.ENOTDIR: "file not found (a part of the path is not a folder)",
    errno.ELOOP: "a symbolic link loop (the link leads back to itself): point it at a file",
    errno.ENAMETOOLONG: "the name is too long for the file system",
    errno.EACCES: "permission denied: you may not read this file (check its permissions)",
    errno.EPERM: "permission denied: you may not read this file (check its permissions)",
}


_NUL = "the name contains a NUL character (\\0)"
#: What :func:`file_problem` says of a name no file can have: the path is not looked up.
NAME_PROBLEMS = frozenset((_NUL, _ERRNOS[errno.ELOOP], _ERRNOS[errno.ENAMETOOLONG]))


def _os_problem(exc: OSError) -> str:
    return _ERRNOS.get(exc.errno, f"cannot read the file: {exc.strerror or exc}")


def _kind_problem(mode: int, size: int) -> str | None:
    """Why a file of this ``st_mode`` and ``size`` (bytes) is not read, or None."""
    for test, what in _KINDS:
        if test(mode):
            return what
    if not stat.S_ISREG(mode):
        return "not a regular file"
    if size > MAX_BYTES:
        return (
            f"the file is {size:,} bytes, but a scenario file is at most {MAX_BYTES:,} bytes "
            "(the bundled ones are under 20,000): is it the right file?"
        )
    return None


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a scenario file (not found, a folder, a device, a
    symlink loop, too large, ...), or None when it is a readable-looking regular file."""
    if "\0" in str(path):
        return _NUL
    try:
        info = os.stat(path)
    except OSError as exc:
        return _os_problem(exc)
    return _kind_problem(info.st_mode, info.st_size)


def _read_bytes(path: Path, file: str) -> bytes:
    """At most :data:`MAX_BYTES` bytes of the regular file ``path``, or an error.

    Opened without blocking (a FIFO that nobody writes to must not hang) and checked with
    ``fstat`` on the open file, so that what is read is what was checked.
    """
    problem = file_problem(path)
    if problem is not None:
        raise fail(file, None, (), problem)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise fail(file, None, (), _os_problem(exc)) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        problem = _kind_problem(info.st_mode, info.st_size)
        if problem is not None:
            raise fail(file, None, (), problem)
        try:
            data = f.read(MAX_BYTES + 1)
        except OSError as exc:
            raise fail(file, None, (), _os_problem(exc)) from None
    if len(data) > MAX_BYTES:  # it grew after the check
        raise fail(file, None, (), _kind_problem(stat.S_IFREG, len(data)) or "")
    return data


# C0 controls but tab, newline and carriage return; DEL; C1 controls; a byte order mark
# after the start; and the two non-characters PyYAML refuses.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\ufffe\uffff]")
# fmt: off
_C0_NAMES = ("NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "HT", "LF", "VT",
             "FF", "CR", "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB",
             "CAN", "EM", "SUB", "ESC", "FS", "GS", "RS", "US")
_C1_NAMES = ("PAD", "HOP", "BPH", "NBH", "IND", "NEL", "SSA", "ESA", "HTS", "HTJ", "VTS", "PLD",
             "PLU", "RI", "SS2", "SS3", "DCS", "PU1", "PU2", "STS", "CCH", "MW", "SPA", "EPA",
             "SOS", "SGCI", "SCI", "CSI", "ST", "OSC", "PM", "APC")
# fmt: on


def _char_name(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return _C0_NAMES[code]
    if code == 0x7F:
        return "DEL"
    if code <= 0x9F:
        return _C1_NAMES[code - 0x80]
    return "BYTE ORDER MARK" if code == 0xFEFF else "NOT A CHARACTER"


def _text(data: bytes, file: str) -> str:
    """``data`` decoded as UTF-8 without its leading byte order mark; an error at the line
    and column of the first byte that is not UTF-8 or of the first control character."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 1].hex()
        msg = f"not UTF-8 text (byte 0x{bad}): save the file with UTF-8 encoding"
        raise fail(file, line, (), msg) from None
    text = text.removeprefix("\ufeff")
    found = _CONTROL.search(text)
    if found is not None:
        raise _control_error(text, found.start(), file)
    return text


def _control_error(text: str, index: int, file: str) -> ScenarioError:
    line = text.count("\n", 0, index) + 1
    column = index - text.rfind("\n", 0, index)
    char = text[index]
    msg = (
        f"control character U+{ord(char):04X} ({_char_name(char)}) on line {line}, "
        f"column {column}: remove it (a scenario is plain text)"
    )
    return fail(file, line, (), msg)


# --------------------------------------------------------------------------------------
# YAML → nodes, nesting at most MAX_DEPTH levels, each alias kept with its own position
# --------------------------------------------------------------------------------------
class _Alias:
    """Where an alias (``*name``) stands, and the node it names (shared, not copied)."""

    __slots__ = ("name", "target", "start_mark")

    def __init__(self, name: str, target: yaml.Node, start_mark: yaml.Mark):
        self.name, self.target, self.start_mark = name, target, start_mark


class _TooDeep(Exception):
    def __init__(self, mark: yaml.Mark):
        self.mark = mark


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader composing nodes only, refusing nesting beyond
    :data:`MAX_DEPTH` before its recursion gets deep, and keeping the position of aliases."""

    def __init__(self, text: str):
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = super().compose_node(parent, index)
            return _Alias(event.anchor, node, event.start_mark)
        if self._depth > MAX_DEPTH:
            raise _TooDeep(self.peek_event().start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_YAML_HINTS = (  # clue in PyYAML's message → what to do
    ("'\\t'", "indent with spaces, not tabs"),
    ("<block", "the indentation does not line up with the lines above"),
    ("mapping values", "put text containing ': ' in quotes, or fix the indentation"),
    ("flow", "a [ or { is not closed, or a comma is missing between items"),
    ("quoted scalar", "a quote is not closed"),
    ("", "check the indentation, brackets and quotes"),
)


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    text = shorten(str(exc.problem or exc), 200)  # PyYAML quotes the token: an alias name
    start, end = exc.context_mark, exc.problem_mark
    if exc.context and start and end and start.line != end.line:
        text += f" ({exc.context} started on line {start.line + 1})"
    return f"malformed YAML: {text}; " + next(h for clue, h in _YAML_HINTS if clue in text)


_TOO_DEEP = (
    f"nested more than {MAX_DEPTH} levels deep (a scenario needs fewer than 10): "
    "check the brackets and indentation"
)


def _compose(text: str, file: str) -> Any:
    loader = None
    try:
        loader = _Loader(text)
        return loader.get_single_node()
    except _TooDeep as exc:
        raise fail(file, exc.mark.line + 1, (), _TOO_DEEP) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise fail(file, line, (), _yaml_message(exc)) from None
    except yaml.reader.ReaderError as exc:  # a character _text lets through (none known)
        raise _control_error(text, exc.position, file) from None
    except yaml.YAMLError:
        raise fail(file, None, (), "malformed YAML: check the indentation and quotes") from None
    finally:
        if loader is not None:
            loader.dispose()


# --------------------------------------------------------------------------------------
# Nodes → plain data, with the line of every key; aliases expanded within bounds
# --------------------------------------------------------------------------------------
class _Walk:
    """One conversion of a node graph to data: counts the values made and measures each
    alias's value before expanding it."""

    def __init__(self, file: str, lines: dict):
        self.file, self.lines = file, lines
        self.builder = yaml.SafeLoader("")
        self.made = 0
        self.sizes: dict[int, tuple[int, int]] = {}  # id(node) → (values, levels below)

    def measure(self, node: Any, alias: _Alias, path: set[int]) -> tuple[int, int]:
        """How many values ``node`` expands to and how many levels it nests below itself;
        an error at ``alias`` for a node that contains itself or nests too deep."""
        if isinstance(node, _Alias):
            alias, node = node, node.target
        key = id(node)
        if key in self.sizes:
            return self.sizes[key]
        if key in path:
            msg = (
                f"recursive alias *{alias.name}: it names a value that contains the alias "
                "itself, so it would never end; write the value out instead"
            )
            raise fail(self.file, alias.start_mark.line + 1, (), msg)
        if len(path) > MAX_DEPTH:
            raise fail(self.file, alias.start_mark.line + 1, (), _TOO_DEEP)
        children = _children(node)
        path.add(key)
        sizes = [self.measure(child, alias, path) for child in children]
        path.discard(key)
        size = (1 + sum(s for s, _ in sizes), 1 + max((d for _, d in sizes), default=-1))
        self.sizes[key] = size
        return size

    def data(self, node: Any, path: Loc) -> Any:
        if isinstance(node, _Alias):
            values, levels = self.measure(node.target, node, set())
            line = node.start_mark.line + 1
            if len(path) + levels > MAX_DEPTH:
                raise fail(self.file, line, path, _TOO_DEEP)
            if self.made + values > MAX_VALUES:
                msg = (
                    f"aliases expand to more than {MAX_VALUES:,} values: *{node.name} "
                    f"repeats {values:,} values here; write the values out, with fewer aliases"
                )
                raise fail(self.file, line, path, msg)
            node = node.target
        self.made += 1
        if self.made > MAX_VALUES:
            msg = f"the file holds more than {MAX_VALUES:,} values: is it the right file?"
            raise fail(self.file, node.start_mark.line + 1, path, msg)
        if len(path) > MAX_DEPTH:
            raise fail(self.file, node.start_mark.line + 1, path, _TOO_DEEP)
        return self.convert(node, path)

    def convert(self, node: yaml.Node, path: Loc) -> Any:
        file, lines, line = self.file, self.lines, node.start_mark.line + 1
        if node.tag not in _SAFE_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            msg = f"YAML tag {shorten(tag)!r} is not allowed: remove it (plain values only)"
            if tag == "!!merge":
                msg = "merge keys (<<) are not allowed: write the keys out (plain values only)"
            raise fail(file, line, path, msg)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.data(key_node, path)
                if not isinstance(key, str | int | float | bool) or key is None:
                    raise fail(file, key_node.start_mark.line + 1, path, "keys must be plain text")
                key = str(key)
                key_line = key_node.start_mark.line + 1
                if key in out:
                    first = lines[path + (key,)][1]
                    msg = f"{shorten(key)!r} appears twice (first on line {first})"
                    raise fail(file, key_line, path + (key,), msg + ": rename or remove one")
                lines[path + (key,)] = (file, key_line)
                out[key] = self.data(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                lines[path + (i,)] = (file, item.start_mark.line + 1)
                items.append(self.data(item, path + (i,)))
            return items
        try:
            value = self.builder.construct_object(node)
        except (ValueError, OverflowError, yaml.YAMLError):
            # !!float on text, an impossible date, an integer of more than 4,300 digits
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            what = {
                "!!int": "a whole number (at most 4,300 digits)",
                "!!float": "a number",
                "!!timestamp": "a date (YYYY-MM-DD)",
            }.get(tag, f"a {shorten(tag)} value")
            got = shorten(repr(node.value), 60)
            raise fail(file, line, path, f"cannot read {got} as {what}") from None
        if node.tag.endswith(":timestamp"):
            value = str(node.value)
        return value


def _children(node: yaml.Node) -> list[Any]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def read_doc(path: Path) -> Doc:
    """The scenario file ``path`` as plain data with the file and line of every key.

    Raises :class:`ScenarioError` (file, line, plain message) for a file that cannot be
    read (see :func:`file_problem`), is not UTF-8, holds control characters, is not valid
    YAML, uses tags, nests or expands beyond the limits, or is not a mapping.
    """
    file = shown(path)
    text = _text(_read_bytes(path, file), file)
    node = _compose(text, file)
    sections = "a mapping of sections (name: ..., currency: ..., strategies: ...)"
    if node is None:
        raise fail(file, None, (), f"file is empty: a scenario is {sections}")
    if not isinstance(node, yaml.MappingNode):
        kind = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
        line = node.start_mark.line + 1
        raise fail(file, line, (), f"the file holds {kind}, but a scenario must be {sections}")
    doc = Doc(None)
    walk = _Walk(file, doc.lines)
    try:
        doc.data = walk.data(node, ())
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise fail(file, line, (), f"invalid value: {exc.problem}") from None
    return doc
