"""Unit tests of hemodel.model.random: keyed counter-based uniforms (DESIGN.md §4).

A uniform is a pure function of (seed, sample, purpose, patient, index): deterministic,
different for any change of key, prefix-stable (the first n of N equal a run of n), in the
open interval (0, 1), uniformly distributed and uncorrelated across purposes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from hemodel.model import random as rnd

PATIENTS = np.arange(1000)


def test_deterministic():
    """The same key gives bit-identical values on every call."""
    a = rnd.uniforms(7, 0, "emergence_time", PATIENTS, 5)
    b = rnd.uniforms(7, 0, "emergence_time", PATIENTS, 5)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (len(PATIENTS), 5)
    assert a.dtype == np.float64


@pytest.mark.parametrize(
    "changed",
    [
        {"seed": 8},
        {"sample": 1},
        {"purpose": "other_progression"},
        {"patients": PATIENTS + 1000},
        {"start": 5},
    ],
    ids=["seed", "sample", "purpose", "patient", "index"],
)
def test_keyed(changed):
    """Changing any one key component (seed, PSA sample, purpose, patient, draw index) gives
    different values (no coincidences among 5000 draws)."""
    key = {"seed": 7, "sample": 0, "purpose": "emergence_time", "patients": PATIENTS, "count": 5}
    a = rnd.uniforms(**key)
    b = rnd.uniforms(**(key | changed))
    assert not np.isin(a, b).any()


def test_index_columns_are_distinct_and_patients_rows_are_distinct():
    """Within one call, no two cells (patient, index) share a value."""
    u = rnd.uniforms(3, 0, "test_result", PATIENTS, 64)
    assert len(np.unique(u)) == u.size


def test_prefix_stability_patients_and_indices():
    """The first n patients of a run of N equal a run of n; any patient's row does not depend
    on who else is in the call (chunking / order); the first k indices of a run of K equal a
    run of k, and ``start`` continues the same sequence."""
    big = rnd.uniforms(11, 2, "age", np.arange(5000), 10)
    np.testing.assert_array_equal(rnd.uniforms(11, 2, "age", np.arange(300), 10), big[:300])
    order = np.array([4999, 17, 2500, 3])
    np.testing.assert_array_equal(rnd.uniforms(11, 2, "age", order, 10), big[order])
    np.testing.assert_array_equal(rnd.uniforms(11, 2, "age", np.arange(5000), 4), big[:, :4])
    np.testing.assert_array_equal(
        rnd.uniforms(11, 2, "age", np.arange(5000), 6, start=4), big[:, 4:]
    )


def test_scalar_uniform_equals_vector():
    """uniform(seed, sample, purpose, patient, index) is element [patient, index] of uniforms."""
    u = rnd.uniforms(5, 3, "turnaround", np.arange(20), 70)
    for patient, index in [(0, 0), (7, 3), (19, 69), (12, 64)]:
        assert rnd.uniform(5, 3, "turnaround", patient, index) == u[patient, index]


def test_exponentials_from_same_keys():
    """exponentials = −log(1 − u) of the same keyed uniforms (all finite and positive)."""
    u = rnd.uniforms(9, 0, "background_death", PATIENTS, 3)
    e = rnd.exponentials(9, 0, "background_death", PATIENTS, 3)
    np.testing.assert_array_equal(e, -np.log1p(-u))
    assert np.isfinite(e).all() and (e > 0).all()


def test_open_unit_interval_and_large_keys():
    """Values lie strictly in (0, 1), also for the largest seed and large patient numbers."""
    for seed in (0, 1, 2**62 + 5, rnd.MAX_SEED):
        u = rnd.uniforms(seed, 2**40, "psa", [0, 2**62, 2**64 - 1], 100)
        assert ((u > 0) & (u < 1)).all()


# Reference SplitMix64 (Steele, Lea & Flood 2014) in plain Python integers, and its inverse.
_M64 = (1 << 64) - 1
_G, _K1, _K2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def _mix(x: int) -> int:
    x = (x + _G) & _M64
    x = ((x ^ (x >> 30)) * _K1) & _M64
    x = ((x ^ (x >> 27)) * _K2) & _M64
    return x ^ (x >> 31)


def _unxorshift(y: int, s: int) -> int:
    x, shift = y, s
    while shift < 64:
        x ^= y >> shift
        shift += s
    return x


def _unmix(y: int) -> int:
    x = _unxorshift(y, 31)
    x = (x * pow(_K2, -1, 1 << 64)) & _M64
    x = _unxorshift(x, 27)
    x = (x * pow(_K1, -1, 1 << 64)) & _M64
    x = _unxorshift(x, 30)
    return (x - _G) & _M64


def _key_prefix(seed: int, sample: int, purpose: str, patient: int) -> int:
    h = _mix(seed)
    h = _mix(h ^ sample)
    h = _mix(h ^ rnd.purpose_id(purpose))
    return _mix(h ^ patient)


def test_matches_reference_splitmix64():
    """uniforms = ((top 53 bits of the chained SplitMix64 hash of the key) + 1/2) · 2^-53,
    checked against an independent pure-Python SplitMix64."""
    assert all(_unmix(_mix(x)) == x for x in (0, 1, 12345, _M64, 2**63))
    for seed, sample, purpose, patient, index in [
        (1, 0, "test_result", 0, 0),
        (99, 3, "age", 123_456, 17),
        (2**40, 7, "psa", 2**33, 1000),
    ]:
        h = _mix(_key_prefix(seed, sample, purpose, patient) ^ index)
        want = ((h >> 12) + 0.5) * 2.0**-52
        assert rnd.uniform(seed, sample, purpose, patient, index) == want


def test_top_hash_never_maps_to_one():
    """A key whose final hash is 2^64 − 1 (constructed by inverting SplitMix64 for the draw
    index) must still give a uniform strictly below 1."""
    seed, sample, purpose, patient = 1, 0, "test_result", 0
    index = _unmix(_M64) ^ _key_prefix(seed, sample, purpose, patient)
    assert _mix(_key_prefix(seed, sample, purpose, patient) ^ index) == _M64
    assert rnd.uniform(seed, sample, purpose, patient, index) < 1.0


def test_uniformity_ks():
    """100 000 uniforms (1000 patients × 100 indices) pass a Kolmogorov–Smirnov test against
    U(0, 1) (p > 1e-3), and their mean and variance are within 4 SE of 1/2 and 1/12."""
    u = rnd.uniforms(2024, 0, "test_result", PATIENTS, 100).ravel()
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    n = u.size
    assert abs(u.mean() - 0.5) < 4 * math.sqrt(1 / 12 / n)
    # Var((U − 1/2)²) = 1/80 − 1/144 = 1/180
    assert abs(((u - 0.5) ** 2).mean() - 1 / 12) < 4 * math.sqrt(1 / 180 / n)


def test_uniformity_across_patients_for_one_index():
    """The per-patient draws of one purpose (what the cohort uses) are uniform too:
    100 000 patients, index 0, KS p > 1e-3."""
    u = rnd.uniforms(1, 0, "emergence_time", np.arange(100_000))[:, 0]
    assert stats.kstest(u, "uniform").pvalue > 1e-3


def test_near_zero_correlation_between_purposes_and_neighbours():
    """Across 100 000 patients, the correlation between any two natural-history and strategy
    purposes, between neighbouring patients, and between neighbouring seeds is within
    4/√n of 0 (the SE of a correlation of independent variables is 1/√n)."""
    n = 100_000
    ids = np.arange(n)
    purposes = (*rnd.NATURAL_HISTORY, *rnd.STRATEGY)
    cols = np.column_stack([rnd.uniforms(1, 0, p, ids)[:, 0] for p in purposes])
    corr = np.corrcoef(cols, rowvar=False)
    off = corr[~np.eye(len(purposes), dtype=bool)]
    assert np.abs(off).max() < 4 / math.sqrt(n)
    u = cols[:, 0]
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 4 / math.sqrt(n)
    v = rnd.uniforms(2, 0, purposes[0], ids)[:, 0]
    assert abs(np.corrcoef(u, v)[0, 1]) < 4 / math.sqrt(n)


def test_purpose_ids_are_distinct():
    """Every purpose name maps to its own 32-bit identifier, and natural-history purposes
    never share a name with strategy-dependent ones."""
    names = (*rnd.NATURAL_HISTORY, *rnd.STRATEGY, *rnd.PSA)
    assert len({rnd.purpose_id(p) for p in names}) == len(names)
    assert not set(rnd.NATURAL_HISTORY) & set(rnd.STRATEGY)


def test_sample_uniforms_equal_one_uniform_per_sample():
    samples = np.array([1, 2, 3, 999, 2**40])
    got = rnd.sample_uniforms(7, samples, "psa:x", patient=5, index=2)
    assert got.tolist() == [rnd.uniform(7, int(k), "psa:x", 5, 2) for k in samples]


@pytest.mark.parametrize("seed", [2**63, 2**64, 2**70, -1, 1.5, True])
def test_seeds_outside_0_to_2_63_are_refused_rather_than_folded(seed):
    """2**64 would otherwise fold onto 0 and give seed 0's patients."""
    with pytest.raises(ValueError, match="a seed is a whole number"):
        rnd.uniforms(seed, 0, "esr1_emergence", [0])
    assert rnd.uniforms(rnd.MAX_SEED, 0, "esr1_emergence", [0]).shape == (1, 1)


def test_the_command_line_and_the_streams_agree_on_the_largest_seed():
    from hemodel.commands.arguments import MAX_SEED

    assert MAX_SEED == rnd.MAX_SEED
