"""Where each parameter comes from: its ``source:`` field or the comment on its YAML line.

Scenario files record sources as comments (``cost: 5000   # CMS ADLT rate 2021``). The
report's input table shows them next to each value, so reviewers see every value with its
evidence (or the word ASSUMPTION).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .load import _load_raw, parameters
from .schema import Scenario


@lru_cache(maxsize=32)
def _comments(file: str) -> dict[int, str]:
    """Comment text by line number (1-based) for lines with a ``#`` comment."""
    out = {}
    for number, line in enumerate(Path(file).read_text(encoding="utf-8").splitlines(), 1):
        code, sep, comment = _split_comment(line)
        if sep and comment.strip():
            out[number] = comment.strip()
    return out


def _split_comment(line: str) -> tuple[str, str, str]:
    """Split at the first ``#`` outside quotes that starts the line or follows a space."""
    quote = None
    for i, ch in enumerate(line):
        if ch in "'\"" and quote in (None, ch):
            quote = None if quote else ch
        elif ch == "#" and quote is None and (i == 0 or line[i - 1] in " \t"):
            return line[:i], "#", line[i + 1 :]
    return line, "", ""


def parameter_sources(path: str | Path, scenario: Scenario) -> dict[str, str]:
    """Source of every parameter of ``scenario`` (loaded from ``path``), by dotted path.

    The parameter's own ``source:`` wins; else the comment on its line; else the comment on
    the nearest enclosing key's line (e.g. a section-wide source); else an empty string.
    """
    doc = _load_raw(Path(path))
    out = {}
    for dotted, param in parameters(scenario).items():
        if param.source:
            out[dotted] = param.source
            continue
        loc = tuple(int(p) if p.isdigit() else p for p in dotted.split("."))
        text = ""
        while loc and not text:
            if loc in doc.lines:
                file, line = doc.lines[loc]
                text = _comments(file).get(line, "")
            loc = loc[:-1]
        out[dotted] = text
    return out
