"""Patient baselines and latent natural history, drawn once and shared by all strategies.

Every quantity comes from keyed uniforms (:mod:`hemodel.model.random`), so patient ``i`` has the
same biology in every strategy, every chunk and every worker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from . import random as rnd
from .inputs import ModelInputs
from .lifetable import sample_death_times


@dataclass(frozen=True)
class Cohort:
    """Latent natural history of patients ``ids`` (times in days from 1L start).

    ``emergence``: when an ESR1 mutation appears in ctDNA (0 if present at start, inf if never).
    ``esr1_budget``: Exp(1) cumulative-hazard budget for ESR1-driven progression after emergence.
    ``other_budget``: Exp(1) cumulative-hazard budget for progression by other mechanisms,
    whose time without any switch is ``other_progression``.
    ``doubling_time``: days for the mutant ctDNA level to double (NaN without kinetics).
    ``esr1_scale``: the patient's ESR1-progression clock relative to the law's
    (doubling time / median doubling time; 1 without kinetics).
    ``second_budget``: Exp(1) budget for second progression, clock starting at first progression.
    ``disease_death_after``: time from second progression to death from the disease.
    ``background_death``: time to death from other causes.
    ``entry``: time the patient starts in the shared simulation clock (enrolment).
    """

    ids: np.ndarray
    age: np.ndarray
    background_death: np.ndarray
    esr1_at_start: np.ndarray
    emergence: np.ndarray
    esr1_budget: np.ndarray
    other_budget: np.ndarray
    other_progression: np.ndarray
    doubling_time: np.ndarray
    esr1_scale: np.ndarray
    second_budget: np.ndarray
    disease_death_after: np.ndarray
    entry: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows) -> Cohort:
        """The patients at ``rows`` (a slice, a boolean mask or indices)."""
        return Cohort(**{f: getattr(self, f)[rows] for f in Cohort.__dataclass_fields__})


def _truncated_normal(u: np.ndarray, mean: float, sd: float, lo: float, hi: float) -> np.ndarray:
    """Inverse-CDF draw of a normal truncated to [lo, hi] (monotone in u)."""
    if sd == 0:
        return np.full_like(u, mean)
    a, b = special.ndtr((lo - mean) / sd), special.ndtr((hi - mean) / sd)
    return np.clip(mean + sd * special.ndtri(a + u * (b - a)), lo, hi)


def draw_cohort(inputs: ModelInputs, ids, seed: int, sample: int = 0) -> Cohort:
    """Draw the latent natural history of patients ``ids`` for PSA ``sample`` (0: base case)."""
    ids = np.asarray(ids, dtype=np.int64)
    nh = inputs.natural_history

    def u(purpose: str) -> np.ndarray:
        return rnd.uniforms(seed, sample, purpose, ids)[:, 0]

    def e(purpose: str) -> np.ndarray:
        return rnd.exponentials(seed, sample, purpose, ids)[:, 0]

    age = _truncated_normal(u("age"), nh.age_mean, nh.age_sd, nh.age_min, nh.age_max)
    if nh.life_table is not None:
        background = sample_death_times(nh.life_table, age, e("background_death"))
    elif nh.background_rate_per_day > 0:
        background = e("background_death") / nh.background_rate_per_day
    else:
        background = np.full(len(ids), np.inf)
    at_start = u("esr1_at_start") < nh.esr1_at_start
    emerges = u("esr1_emerges") < nh.emergence_probability
    emergence = np.where(
        at_start, 0.0, np.where(emerges, nh.emergence.sample(e("emergence_time")), np.inf)
    )
    other_budget = e("other_progression")
    kinetics = nh.kinetics
    if kinetics is None:
        doubling, scale = np.full(len(ids), np.nan), np.ones(len(ids))
    else:
        scale = np.exp(kinetics.doubling_time_sdlog * special.ndtri(u("doubling_time")))
        doubling = kinetics.doubling_time_median * scale
    return Cohort(
        ids=ids,
        age=age,
        background_death=background,
        esr1_at_start=at_start,
        emergence=emergence,
        esr1_budget=e("esr1_progression"),
        other_budget=other_budget,
        other_progression=nh.other_progression.sample(other_budget),
        doubling_time=doubling,
        esr1_scale=scale,
        second_budget=e("second_progression"),
        disease_death_after=nh.disease_death.sample(e("disease_death")),
        entry=ids.astype(float) * inputs.enrolment_interval,
    )
