"""Proposed studies as data: the ``studies:`` section of a scenario, read by ``hemodel evsi``.

Each entry is a study a research funder could pay for before deciding. Its data are
simulated from the model itself at every PSA sample (:mod:`hemodel.analysis.studies`), and
the expected value of its information (EVSI) is estimated from them
(:mod:`hemodel.analysis.evsi`). Two designs:

- ``trial``: patients starting first-line therapy are randomised 1:1 between two of the
  scenario's strategies (``arms``: the control first), or, with ``screening:``, patients
  monitored as in that strategy are randomised when a test first finds a mutation before
  progression is detected, to ``continue`` first-line therapy or ``switch`` (SERENA-6's
  design). They are followed for ``endpoint`` (PFS or OS) from randomisation until the data
  cut-off (``follow_up``). It reports the Cox log hazard ratio of the second
  arm against the first (``log_hr``) and its standard error (``log_hr_se``), and per arm the
  Kaplan-Meier median in months (``median.<arm>``) and the share with an event
  (``events.<arm>``).
- ``accuracy``: ``n`` samples with a known answer are tested, e.g. mutation-positive plasma
  at or above the limit of detection for an assay's sensitivity. The number of correct results
  is binomial with the probability ``parameter``; the study reports their share
  (``proportion``).

Names of strategies and parameters are checked against the scenario in
:mod:`hemodel.scenario.load`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from .quantities import Strict, TimeOffset
from .text import shorten
from .trials import TRIAL_NAME, FollowUp

#: Largest study size (patients or samples): EVSI of larger studies is EVPPI in practice.
MAX_SIZE = 100_000
#: Default study sizes (patients randomised, or samples tested).
DEFAULT_SIZES = (100, 200, 400, 800)
#: At most this many summaries or informed parameters: the regression smoother's limit.
MAX_DIMENSIONS = 4


def _study_name(name: str) -> str:
    if not TRIAL_NAME.match(name):  # the same rule: lower-case letters, digits and _
        raise ValueError(
            f"study name {shorten(name)!r} is not allowed: start with a lower-case letter and "
            "use only lower-case letters, digits and _, at most 64 characters (it names output "
            "files and columns)"
        )
    return name


StudyName = Annotated[str, AfterValidator(_study_name)]


class StudyCost(Strict):
    """What the study costs the funder, in the scenario's currency (not discounted)."""

    fixed: float = Field(default=0.0, ge=0, le=1e12, allow_inf_nan=False,
                         description="set-up and analysis cost (currency)")  # fmt: skip
    per_patient: float = Field(default=0.0, ge=0, le=1e9, allow_inf_nan=False,
                               description="cost per patient or sample (currency)")  # fmt: skip

    def total(self, size: int | float) -> float:
        """Cost of a study of ``size`` patients (currency)."""
        return self.fixed + self.per_patient * size if size > 0 else 0.0


def trial_summaries(arms: list[str]) -> list[str]:
    """Every summary a ``trial`` between ``arms`` can report."""
    per_arm = [f"{kind}.{arm}" for kind in ("median", "events") for arm in arms]
    return ["log_hr", "log_hr_se", *per_arm]


class Study(Strict):
    """A proposed study whose expected value of sample information ``hemodel evsi`` estimates."""

    title: str = Field(default="", description="shown in tables and plots (default: the name)")
    design: Literal["trial", "accuracy"] = Field(
        description="trial: randomise patients between two strategies; accuracy: test samples "
        "of known status to estimate a probability (e.g. an assay's sensitivity)"
    )
    arms: list[str] = Field(
        default_factory=list,
        description="trial: the two strategies randomised 1:1 at first-line start, the control "
        "first",
    )
    screening: str | None = Field(
        default=None,
        description="trial instead of arms: a strategy with monitoring and a switch; patients "
        "monitored as in it whose test is positive before progression is detected are "
        "randomised 1:1 to continue (control) or to switch (as SERENA-6)",
    )
    endpoint: Literal["pfs", "os"] = Field(
        default="pfs",
        description="trial: progression-free (detected progression or death) "
        "or overall survival, from randomisation",
    )
    follow_up: FollowUp = Field(
        default_factory=lambda: FollowUp(complete=True),
        description="trial: data cut-off, 'complete' or {median: 24 months} (each patient's "
        "potential follow-up uniform on [0, 2 x median])",
    )
    parameter: str | None = Field(
        default=None, description="accuracy: the probability the study measures (dotted path)"
    )
    summaries: list[str] = Field(
        default_factory=list,
        description="what the study reports and EVSI conditions on (at most 4; default: "
        "log_hr for a trial, proportion for an accuracy study)",
    )
    informs: list[str] = Field(
        default_factory=list,
        description="uncertain parameters the study informs, for the EVPPI it is compared with "
        "(at most 4; default for an accuracy study: its parameter)",
    )
    sizes: list[int] = Field(
        default_factory=lambda: list(DEFAULT_SIZES),
        min_length=1,
        description="study sizes to evaluate (patients randomised or samples tested)",
    )
    cost: StudyCost = Field(default_factory=StudyCost, description="cost to the funder")
    duration: TimeOffset = Field(
        default_factory=lambda: TimeOffset(value=0, unit="years"),
        description="time until the results are known; patients who start before then do not "
        "benefit (the decision population counts from then)",
    )

    @model_validator(mode="after")
    def _design(self):
        if self.design == "trial":
            if self.screening is not None and self.arms:
                raise ValueError("give 'arms' (randomised at first-line start) or 'screening' "
                                 "(randomised on detection), not both")  # fmt: skip
            if self.screening is None and (len(self.arms) != 2 or self.arms[0] == self.arms[1]):
                raise ValueError("a trial needs 'arms': two different strategies, the control "
                                 "first, e.g. arms: [ctdna_q12w, ctdna_q8w] (or 'screening': "
                                 "a monitoring strategy, to randomise on detection)")  # fmt: skip
            if self.parameter is not None:
                raise ValueError("'parameter' belongs to an accuracy study; a trial has 'arms'")
            if not self.informs:
                raise ValueError("give 'informs': the (at most 4) uncertain parameters the trial "
                                 "informs, for the EVPPI its EVSI is compared with")  # fmt: skip
            allowed = trial_summaries(self.arm_names)
        else:
            if self.parameter is None:
                raise ValueError("an accuracy study needs 'parameter': the probability it "
                                 "measures, e.g. assays.guardant360.sensitivity")  # fmt: skip
            if self.arms or self.screening:
                raise ValueError("'arms' and 'screening' belong to a trial; an accuracy study "
                                 "has 'parameter'")  # fmt: skip
            allowed = ["proportion"]
        bad = [s for s in self.summaries if s not in allowed]
        if bad:
            kind = "a trial" if self.design == "trial" else "an accuracy study"
            raise ValueError(f"unknown summary {bad[0]!r}: {kind} reports "
                             f"{', '.join(allowed)}")  # fmt: skip
        for field in ("summaries", "informs"):
            values = getattr(self, field)
            if len(values) > MAX_DIMENSIONS or len(set(values)) != len(values):
                limit = f"at most {MAX_DIMENSIONS} different names"
                raise ValueError(f"'{field}' must list {limit} (the regression smoother's "
                                 f"limit), got {len(values)}")  # fmt: skip
        if any(n < 0 or n > MAX_SIZE for n in self.sizes) or len(set(self.sizes)) != len(
            self.sizes
        ):
            raise ValueError(f"'sizes' must be different whole numbers from 0 to {MAX_SIZE:,}")
        return self

    @property
    def arm_names(self) -> list[str]:
        """The trial's arms as its summaries name them, the control first."""
        return ["continue", "switch"] if self.screening else list(self.arms)

    @property
    def reported(self) -> list[str]:
        """The summaries EVSI conditions on (the design's default when none are given)."""
        if self.summaries:
            return list(self.summaries)
        return ["log_hr"] if self.design == "trial" else ["proportion"]

    @property
    def informed(self) -> list[str]:
        """The parameters whose EVPPI bounds this study's EVSI."""
        return list(self.informs) or ([self.parameter] if self.parameter else [])


#: Largest count of persons (incident, prevalent, plan members): more than live on Earth.
MAX_PERSONS = 1e10


class Population(Strict):
    """The decision population: the patients a payer's budget and the value of further research
    concern. Counts are persons; they are not model parameters (no ``psa:`` or ``range:``)."""

    budget_years: int = Field(default=5, ge=1, le=50, description="years of budget impact")
    incident: float | list[float] = Field(
        description="new patients starting first-line therapy per year: one number, or one "
        "per budget year"
    )
    prevalent: float = Field(
        default=0,
        ge=0,
        le=MAX_PERSONS,
        description="patients already on first-line therapy at the start of year 1",
    )
    uptake: float | list[float] = Field(
        default=1.0,
        description="share (0-1) of each year's new patients on the new strategy: one number, "
        "or one per budget year; prevalent patients take the first year's",
    )
    plan_members: float | None = Field(
        default=None,
        gt=0,
        le=MAX_PERSONS,
        description="members of the health plan whose budget it is, for per-member-per-month "
        "(PMPM) figures",
    )
    decision_horizon: float = Field(
        default=10,
        gt=0,
        le=100,
        description="years over which new patients benefit from today's decision (population EVPI)",
    )
    source: str = ""

    @field_validator("incident", "uptake")
    @classmethod
    def _per_year(cls, v, info):
        values = v if isinstance(v, list) else [v]
        years = info.data.get("budget_years", 1)
        if len(values) not in (1, years):
            raise ValueError(
                f"has {len(values)} values: give one, or one per budget year "
                f"(budget_years: {years})"
            )
        for x in values:
            if not 0 <= x <= MAX_PERSONS:
                raise ValueError(f"must be >= 0 and <= {MAX_PERSONS:g}, got {x:g}")
            if info.field_name == "uptake" and x > 1:
                raise ValueError(f"uptake is a share between 0 and 1, got {x}")
        return v
