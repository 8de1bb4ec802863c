"""Time units. The engine works in days; scenario files state their units explicitly.

A year is 365.25 days and a month is a twelfth of a year (30.4375 days), the usual
convention for converting trial medians reported in months.
"""

from __future__ import annotations

import re

from .text import shorten

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0

#: Days in one of each accepted time unit (singular and plural spellings).
DAYS_PER_UNIT: dict[str, float] = {
    "day": 1.0,
    "days": 1.0,
    "week": 7.0,
    "weeks": 7.0,
    "month": DAYS_PER_MONTH,
    "months": DAYS_PER_MONTH,
    "year": DAYS_PER_YEAR,
    "years": DAYS_PER_YEAR,
}

TIME_UNITS = ("days", "weeks", "months", "years")

#: Shortest and longest billing period of a cost rate (days).
MIN_PERIOD_DAYS, MAX_PERIOD_DAYS = 1.0, 100 * DAYS_PER_YEAR

_PERIOD = re.compile(r"^\s*(?:(\d+(?:\.\d*)?)\s+)?([a-z]+)\s*$")


def to_days(value: float, unit: str) -> float:
    """Convert ``value`` expressed in ``unit`` (days/weeks/months/years) to days."""
    try:
        return value * DAYS_PER_UNIT[unit]
    except KeyError:
        raise ValueError(
            f"unknown time unit {unit!r}; use one of {', '.join(TIME_UNITS)}"
        ) from None


def period_days(period: str) -> float:
    """Length in days of a billing period such as ``"28 days"``, ``"month"`` or ``"2 weeks"``."""
    match = _PERIOD.match(str(period).lower())
    if not match or match.group(2) not in DAYS_PER_UNIT:
        raise ValueError(
            f"period {shorten(repr(str(period)))} is not understood; write e.g. 'day', 'week', "
            "'month', 'year' or '28 days'"
        )
    days = (float(match.group(1)) if match.group(1) else 1.0) * DAYS_PER_UNIT[match.group(2)]
    if not MIN_PERIOD_DAYS <= days <= MAX_PERIOD_DAYS:
        raise ValueError(f"period {shorten(repr(str(period)))} must be from 1 day to 100 years")
    return days
