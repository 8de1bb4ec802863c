"""Keyed random streams: every uniform is a pure function of its key.

A uniform is identified by ``(seed, sample, purpose, patient, index)``: the PSA sample
(0 for the base case), a named purpose (e.g. ``"emergence_time"``), the patient number and
the index of the draw within that purpose (e.g. the k-th blood test). It is computed by
hashing the key with the SplitMix64 finaliser (Steele, Lea & Flood, "Fast splittable
pseudorandom number generators", OOPSLA 2014), a bijective 64-bit mixer, applied once per
key component. This makes results independent of the number of workers, of chunking and of
the order in which patients run, and the first n patients of a run of N identical to a run
of n. Natural-history purposes and strategy-dependent purposes have distinct names, so a
strategy can never move a patient's biology. There is no global random state.
"""

from __future__ import annotations

import zlib

import numpy as np

_MASK = (1 << 64) - 1
#: Seeds are whole numbers from 0 to 2**63 - 1; a larger one would be folded onto a smaller
#: one (2**64 onto 0), so two different seeds would give the same patients.
MAX_SEED = 2**63 - 1


def _seed(seed: int) -> np.ndarray:
    """``seed`` as one uint64, after checking it is a seed (ValueError otherwise)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"a seed is a whole number, not {type(seed).__name__}")
    if not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"a seed is a whole number from 0 to 2**63 - 1, not {int(seed):.3g}")
    return np.full(1, int(seed), dtype=np.uint64)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S12 = (np.uint64(s) for s in (30, 27, 31, 12))
_TO_UNIT = 2.0**-52  # (k + 0.5)·2⁻⁵² with k < 2⁵² is exact and lies strictly in (0, 1)

#: Purposes drawn once per patient and shared by every strategy (the patient's biology).
NATURAL_HISTORY = (
    "age",
    "background_death",
    "esr1_at_start",
    "esr1_emerges",
    "emergence_time",
    "esr1_progression",
    "other_progression",
    "doubling_time",
    "second_progression",
    "disease_death",
)
#: Purposes that depend on what a strategy does (indexed by test number).
STRATEGY = ("test_result", "turnaround", "transport", "progression_test", "progression_tat")
#: Purposes of the probabilistic sensitivity analysis (indexed by parameter); ``psa_posterior``
#: picks the row of a calibration posterior's draws (``uncertainty.posterior``).
PSA = ("psa", "psa_posterior")


def purpose_id(name: str) -> int:
    """Stable 32-bit identifier of a purpose name (CRC-32)."""
    return zlib.crc32(name.encode())


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64: add the golden gamma, then the finaliser (wrapping uint64 arithmetic)."""
    x = x + _GOLDEN
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


def _keyed(seed: int, sample, purpose: str, patient, index) -> np.ndarray:
    """Uniforms for the keys ``(seed, sample, purpose, patient, index)``; ``sample``,
    ``patient`` and ``index`` are uint64 arrays (or scalars) broadcast against each other."""
    with np.errstate(over="ignore"):
        h = _mix(_seed(seed))
        h = _mix(h ^ sample)
        h = _mix(h ^ np.uint64(purpose_id(purpose)))
        h = _mix(h ^ patient)
        h = _mix(h ^ index)
    return ((h >> _S12).astype(np.float64) + 0.5) * _TO_UNIT


def uniforms(
    seed: int, sample: int, purpose: str, patients, count: int = 1, start: int = 0
) -> np.ndarray:
    """Uniforms in (0, 1), shape ``(len(patients), count)``; column j is draw index start + j."""
    patients = np.asarray(patients, dtype=np.uint64).reshape(-1, 1)
    index = np.arange(start, start + count, dtype=np.uint64).reshape(1, -1)
    return _keyed(seed, np.uint64(sample & _MASK), purpose, patients, index)


def sample_uniforms(seed: int, samples, purpose: str, patient: int = 0, index: int = 0):
    """One uniform per PSA sample: element i equals ``uniform(seed, samples[i], purpose,
    patient, index)``, computed for all samples at once."""
    samples = np.asarray(samples, dtype=np.uint64)
    return _keyed(seed, samples, purpose, np.uint64(patient & _MASK), np.uint64(index & _MASK))


def uniform(seed: int, sample: int, purpose: str, patient: int, index: int = 0) -> float:
    """One uniform, equal to ``uniforms(seed, sample, purpose, [patient], index + 1)[0, index]``."""
    return float(uniforms(seed, sample, purpose, [patient], 1, start=index)[0, 0])


def exponentials(seed: int, sample: int, purpose: str, patients, count: int = 1) -> np.ndarray:
    """``Exp(1)`` hazard budgets from the same keys (``-log(1 - u)``)."""
    return -np.log1p(-uniforms(seed, sample, purpose, patients, count))


def derived_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed for a family of streams independent of ``seed``'s own (e.g. the patients of
    a proposed study, who must not be the PSA's patients): the hash of ``(seed, purpose)``."""
    with np.errstate(over="ignore"):
        h = _mix(_seed(seed))
        h = _mix(h ^ np.uint64(purpose_id(purpose)))
    return int(h[0] >> np.uint64(1))
