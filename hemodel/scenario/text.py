"""Values echoed in messages, cut to a readable length (a 1,000,000-character value must not
become megabytes of stderr). The lowest module of the scenario package: every other may use it.
"""

from __future__ import annotations

#: Longest value echoed in a message; longer ones are cut.
SHOWN_CHARS = 80


def shorten(text: object, limit: int = SHOWN_CHARS) -> str:
    """``text`` as a string of at most ``limit`` characters: a longer one keeps its start and
    says how much was cut (``'aaaa… (5,000 characters)'``)."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 20]}… ({len(text):,} characters)"
