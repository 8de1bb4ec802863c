"""Mutant ctDNA kinetics: when an assay can detect a patient's ESR1 mutation.

The latent mutant allele fraction (MAF, %) of an emerged mutation rises on the log scale in
proportion to the ESR1-driven cumulative hazard ``Λ`` accrued since emergence:
``log MAF = log m0 + log(m_p / m0) · Λ / B``, where ``m0`` is the level at emergence, ``m_p``
the patient's level at progression and ``B`` the patient's Exp(1) hazard budget, so the level
reaches ``m_p`` exactly at ESR1-driven progression (``Λ = B``). With an exponential law this
is exponential growth with a constant doubling time, ``B·ln 2 / (rate · ln(m_p/m0))``; a
therapy that multiplies the hazard by HR slows the clone's growth by the same factor.

An assay with limit of detection ``L`` therefore sees the mutation from the moment ``Λ``
reaches ``φ·B`` with ``φ = log(L/m0) / log(m_p/m0)``: the *detection budget* returned here.
Both engines turn it into a time with the same hazard-ratio arithmetic as progression, so
detectability and progression stay on one latent burden under any switch.
"""

from __future__ import annotations

import numpy as np

from .cohort import Cohort
from .inputs import Kinetics


def detection_budget(cohort: Cohort, kinetics: Kinetics | None, lod: float | None) -> np.ndarray:
    """ESR1 cumulative hazard since emergence at which the mutant level reaches ``lod``
    (percent MAF), per patient: 0 when detectable from emergence (no kinetics, no limit of
    detection, a limit at or below the level at emergence, or a mutation present at
    first-line start), inf when the level never reaches it."""
    n = len(cohort)
    if kinetics is None or lod is None or lod <= kinetics.level_at_emergence:
        return np.zeros(n)
    m0 = kinetics.level_at_emergence
    rise = np.log(cohort.esr1_level / m0)  # log-distance from emergence to progression
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(rise > 0, np.log(lod / m0) / rise, np.inf)
    return np.where(cohort.emergence == 0.0, 0.0, phi * cohort.esr1_budget)
