"""Mutant ctDNA kinetics: when an assay can detect a patient's ESR1 mutation.

An emerged mutation's mutant allele fraction (MAF, %) doubles every ``Td`` days from
``m0`` at emergence: ``MAF(t) = m0 · 2^((t − e)/Td)``, with the doubling time ``Td`` drawn per
patient (lognormal). At first progression (any mechanism) the tumour sheds more DNA and the
level is multiplied by ``F`` (``shedding_at_progression``). An assay with limit of detection
``L`` therefore sees the mutation from

    min(e + Td·log2(L/m0),  max(t1, e + Td·log2(L/(F·m0))))

(``t1``: true first progression), and a mutation present at first-line start from day 0.
A more sensitive assay (lower ``L``) sees the same patient earlier.

The same ``Td`` sets the pace of ESR1-driven progression: its time-to-event law is that of a
patient with the median doubling time, and a patient's clock runs ``Td / median`` times as
long (``esr1_scale``), so fast-growing clones are found sooner *and* progress sooner. The
switch therapy multiplies the progression hazard (proportional hazards, as the trial measured);
it does not change the measurable level.
"""

from __future__ import annotations

import math

import numpy as np

from .inputs import Kinetics


def detection_delays(doubling_time, kinetics: Kinetics | None, lod: float | None):
    """Days from emergence until the level reaches ``lod`` (percent MAF) before progression,
    and after it (with the shedding factor), per patient; 0 when detectable at once (no
    kinetics or no limit of detection: the mutation is detectable from emergence)."""
    if kinetics is None or lod is None:
        zero = np.zeros(len(doubling_time))
        return zero, zero
    m0, shed = kinetics.level_at_emergence, kinetics.shedding_at_progression
    before = doubling_time * max(math.log2(lod / m0), 0.0)
    after = doubling_time * max(math.log2(lod / (shed * m0)), 0.0)
    return before, after


def detectable_from(emergence, t1, before, after):
    """First day (from 1L start) an assay with ``detection_delays`` ``before``/``after``
    detects the mutation, given true first progression at ``t1`` (arrays or floats)."""
    found = np.minimum(emergence + before, np.maximum(t1, emergence + after))
    return np.where(emergence == 0.0, 0.0, found)
