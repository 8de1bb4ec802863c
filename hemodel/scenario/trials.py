"""Virtual trials as data: the ``trials:`` section of a scenario.

Each entry describes a trial emulated inside the model by ``hemodel validate`` (see
:mod:`hemodel.credibility.trial` and docs/validation.md): the surveillance schedule, the index
test and drug, who could be randomised, and the data cut-off of the analysis. Its name
prefixes the target names measured in it (``<trial>.<quantity>``, e.g.
``serena6_dco3.pfs_at_24_months.switch``). Without a ``trials:`` section a scenario has one
trial, ``serena6``: the SERENA-6 primary analysis (the defaults below, median follow-up 12.6
months). The assay and therapy named here are checked against the scenario in
:mod:`hemodel.scenario.load`.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from .quantities import Duration, Strict, TimeOffset
from .text import shorten

#: What a trial name must look like: it prefixes target names.
TRIAL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # at most 64 characters


def _trial_name(name: str) -> str:
    if not TRIAL_NAME.match(name):
        raise ValueError(
            f"trial name {shorten(name)!r} is not allowed: trial names prefix target names "
            "(e.g. serena6.pfs_hazard_ratio), so they must start with a lower-case letter and "
            "use only lower-case letters, digits and _ (at most 64 characters)"
        )
    return name


TrialName = Annotated[str, AfterValidator(_trial_name)]


class FollowUp(Strict):
    """The data cut-off of the analysis: ``complete`` or ``{median: 12.6 months}``.

    ``complete``: everyone followed to the time horizon. ``{median: ...}``: each randomised
    patient's potential follow-up (randomisation to data cut-off) is uniform on
    [0, 2 × median], the same in both arms; PFS is censored there.
    """

    median: Duration | None = Field(
        default=None, description="median potential follow-up at the data cut-off"
    )
    complete: bool = Field(default=False, description="follow everyone to the time horizon")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data):
        if data == "complete":
            return {"complete": True}
        if not isinstance(data, dict):
            raise ValueError(
                "must be 'complete' or the median follow-up at the data cut-off, "
                "e.g. {median: 12.6 months}"
            )
        return data

    @model_validator(mode="after")
    def _one(self):
        if (self.median is None) == (not self.complete):
            raise ValueError("give exactly one of 'complete' and {median: <duration>}")
        return self

    def months(self) -> float | None:
        """Median follow-up in months, or None for complete follow-up."""
        from .units import DAYS_PER_MONTH

        return None if self.complete else self.median.days() / DAYS_PER_MONTH


class TrialSpec(Strict):
    """A virtual trial of ctDNA-guided switching (SERENA-6-like), run by ``hemodel validate``.

    Patients on first-line therapy are scanned and tested for ctDNA at the same visits,
    ``every`` from the first scan at or after ``start``; a positive result while no
    progression has been detected randomises the patient to switch to ``therapy`` or to
    continue (placebo). Every randomised patient is simulated in both arms on common random
    numbers.
    """

    title: str = Field(default="", description="shown in the funnel and plots (default: the name)")
    every: Duration = Field(
        default_factory=lambda: Duration(value=8, unit="weeks"),
        description="interval of the scans and ctDNA tests (at the same visits)",
    )
    start: TimeOffset = Field(
        default_factory=lambda: TimeOffset(value=6, unit="months"),
        description="first test: at the first scan at or after this time on first-line therapy",
    )
    assay: str | None = Field(
        default=None,
        description="ctDNA assay (default: that of the scenario's first monitoring strategy)",
    )
    therapy: str | None = Field(
        default=None,
        description="switch therapy of the switch arm (default: that of the scenario's first "
        "monitoring strategy)",
    )
    follow_up: FollowUp = Field(
        description="data cut-off: 'complete' or {median: 12.6 months} (PFS censored there)"
    )
    surveillance_window: Duration | None = Field(
        default=None,
        description="each patient's surveillance ends a time uniform on [0, window] after its "
        "first test (staggered entry, end of screening); a mutation found later is neither "
        "detected nor randomised (default: surveillance until progression or death)",
    )
    baseline_mutations_eligible: bool = Field(
        default=True,
        description="randomise mutations already present at first-line start (SERENA-6 could "
        "not tell them apart); false: such patients are detected but not randomised",
    )
