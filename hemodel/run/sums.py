"""Exact sums that combine identically anywhere: the means and standard errors of a run do
not depend on how its patients were split into chunks, nor on the order chunks finish.

:class:`Moments` holds **exact** sums (a float expansion, as in Shewchuk's algorithm,
computed with ``math.fsum``) and exact sums of squares, so combining chunk results gives the
same bits in any order, for any chunk size and on any back-end (:mod:`hemodel.run.parallel`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np


def exact_parts(values: Iterable[float]) -> tuple[float, ...]:
    """Non-overlapping floats whose exact (real) sum is the exact sum of ``values``.

    Each step takes the correctly rounded remainder with ``math.fsum``; the remainder
    shrinks by at least 53 bits a step, so a few floats suffice for ordinary data.
    Non-finite input gives a single non-finite part.
    """
    values = list(values)
    total = math.fsum(values)
    if not math.isfinite(total):
        return (total,)
    parts: list[float] = []
    while total != 0.0:
        parts.append(total)
        total = math.fsum(values + [-p for p in parts])
    return tuple(parts)


def exact_array_parts(x: np.ndarray) -> tuple[float, ...]:
    """:func:`exact_parts` of a float array, vectorised (the same parts, about 20× faster).

    Each ``x = q·2^(e−53)`` with an integer ``|q| < 2^53`` (``np.frexp``); ``q`` is split into
    26- and 27-bit halves whose sums per exponent are exact in float64 (``np.bincount``) for
    fewer than 2^26 values, and the few per-exponent sums are added as Python integers. The
    parts are then the correctly rounded total and remainders, as :func:`exact_parts` gives.
    """
    x = np.asarray(x, dtype=float).ravel()
    if not np.isfinite(x).all():
        return (float(np.sum(x)),)
    if x.size == 0:
        return ()
    mantissa, exponent = np.frexp(x)
    q = (mantissa * 2.0**53).astype(np.int64)  # exact: the 53-bit significand
    low = exponent.min()
    total = 0
    block = 1 << 25  # per-exponent sums stay below 2^53
    for a in range(0, x.size, block):
        e, qq = exponent[a : a + block] - low, q[a : a + block]
        high_sums = np.bincount(e, weights=qq >> 26)
        low_sums = np.bincount(e, weights=qq & ((1 << 26) - 1))
        for j in np.flatnonzero((high_sums != 0) | (low_sums != 0)):
            total += ((int(high_sums[j]) << 26) + int(low_sums[j])) << int(j)
    rest = Fraction(total) * Fraction(2) ** (int(low) - 53)  # the exact sum
    parts: list[float] = []
    while rest != 0:
        try:
            part = float(rest)  # correctly rounded
        except OverflowError:
            return (math.inf if rest > 0 else -math.inf,)
        parts.append(part)
        rest -= Fraction(part)
    return tuple(parts)


def _exact_squares(x: np.ndarray) -> np.ndarray:
    """Pairs ``(p, e)`` with ``x·x = p + e`` exactly (Dekker's product; no overflow here)."""
    p = x * x
    c = 134217729.0 * x  # 2**27 + 1: splits x into two 26-bit halves
    hi = c - (c - x)
    lo = x - hi
    e = ((hi * hi - p) + 2.0 * hi * lo) + lo * lo
    return np.concatenate([p, e])


@dataclass(frozen=True)
class Moments:
    """Exact count, sum and (for some columns) sum of squares of table columns.

    Sums are kept as float expansions (:func:`exact_parts`), so :meth:`combine` is exact
    and the means and standard errors derived from it are correctly rounded: the same bits
    for any split of the rows into chunks and any order of combination. NaNs are skipped,
    as pandas does.
    """

    count: dict[str, int]
    sums: dict[str, tuple[float, ...]]
    squares: dict[str, tuple[float, ...]]

    @classmethod
    def of(cls, frame, columns: Sequence[str], squares: Sequence[str] = ()) -> Moments:
        count, sums, sq = {}, {}, {}
        for col in columns:
            x = np.asarray(frame[col], dtype=float)
            nan = np.isnan(x)
            x = x[~nan] if nan.any() else x
            count[col] = len(x)
            sums[col] = exact_array_parts(x)
            if col in squares:
                sq[col] = exact_array_parts(_exact_squares(x))
        return cls(count, sums, sq)

    @staticmethod
    def combine(parts: Sequence[Moments]) -> Moments:
        first = parts[0]
        return Moments(
            {c: sum(p.count[c] for p in parts) for c in first.count},
            {c: exact_parts(x for p in parts for x in p.sums[c]) for c in first.sums},
            {c: exact_parts(x for p in parts for x in p.squares[c]) for c in first.squares},
        )

    def mean(self, col: str) -> float:
        """Correctly rounded mean (NaN without values)."""
        n = self.count[col]
        if n == 0:
            return math.nan
        parts = self.sums[col]
        if not all(math.isfinite(x) for x in parts):
            return math.fsum(parts)
        total, scale = _dyadic(parts)
        return total / (n << scale)  # int / int: correctly rounded

    def sem(self, col: str) -> float:
        """Standard error of the mean, ``sd / sqrt(n)`` with the ``n - 1`` variance."""
        n = self.count[col]
        if n < 2:
            return math.nan
        s, q = self.sums[col], self.squares[col]
        if not all(math.isfinite(x) for x in s + q):
            return math.nan
        (total, a), (total_sq, b) = _dyadic(s), _dyadic(q)
        # var / n = (n·Q − S²) / (n²(n − 1)), over the common denominator 2**(2a + b)
        numerator = max(0, n * (total_sq << 2 * a) - (total * total << b))
        return math.sqrt(numerator / (n * n * (n - 1) << 2 * a + b))


def _dyadic(parts: Sequence[float]) -> tuple[int, int]:
    """``(m, k)`` with ``sum(parts) == m / 2**k`` exactly (finite parts)."""
    ratios = [x.as_integer_ratio() for x in parts]  # denominators are powers of two
    k = max((d.bit_length() - 1 for _, d in ratios), default=0)
    return sum(m << (k - d.bit_length() + 1) for m, d in ratios), k
