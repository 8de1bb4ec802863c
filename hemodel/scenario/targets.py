"""The quantities a scenario's ``targets:`` may name, so that a scenario can be checked
without running anything.

A target name is ``<trial>.<quantity>`` for a virtual trial of the scenario (its ``trials:``
section; without one, the single default trial ``serena6``) or ``<strategy>.<quantity>`` for
one of its strategies (whole cohort). Some quantities are families: ``<m>`` stands for any
number of months (``pfs_at_24_months.switch``, ``pfs_at_18.5_months.continue``), ``<k>`` for a
test number (``first_detection_test.share_1``), ``<arm>`` for ``switch`` or ``continue``.

The virtual trial (:mod:`hemodel.credibility.trial`) and validation
(:mod:`hemodel.credibility.validate`) measure exactly these; a test keeps the two in step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Arms of a virtual trial: switch on detection, or continue the aromatase inhibitor.
ARMS = ("switch", "continue")
#: Landmarks of Kaplan-Meier PFS always reported per arm (months from randomisation); any
#: other landmark is measured when a target names it.
LANDMARKS_MONTHS = (6.0, 12.0, 24.0)

#: Latest landmark a target may name (months): 100 years, the longest time horizon.
MAX_MONTHS = 1200.0

#: Name of the default trial (SERENA-6 primary analysis) of a scenario without ``trials:``.
TRIAL = "serena6"

_PLACEHOLDERS = {
    "<arm>": r"(?P<arm>switch|continue)",
    "<m>": r"(?P<m>\d+(?:\.\d+)?)",
    "<k>": r"(?P<k>[1-9]\d*)",
}

#: Quantities measured in a virtual trial (``<trial>.<quantity>``): template → description.
TRIAL_QUANTITIES: dict[str, str] = {
    "pfs_median_months.<arm>": "KM median PFS from randomisation, <arm> arm (months)",
    "pfs_hazard_ratio": "Cox hazard ratio of PFS, switch vs continue (robust CI)",
    "pfs_at_<m>_months.<arm>": "KM PFS probability <m> months after randomisation, <arm> arm",
    "pfs2_median_months.<arm>": "KM median PFS2 from randomisation, <arm> arm (months, "
    "complete follow-up)",
    "pfs2_at_<m>_months.<arm>": "KM PFS2 probability <m> months after randomisation, <arm> arm "
    "(complete follow-up)",
    "pfs2_hazard_ratio": "Cox hazard ratio of PFS2, switch vs continue (robust CI; complete "
    "follow-up)",
    "os_median_months.<arm>": "KM median OS from randomisation, <arm> arm (months, complete "
    "follow-up)",
    "os_at_<m>_months.<arm>": "KM OS probability <m> months after randomisation, <arm> arm "
    "(complete follow-up)",
    "os_hazard_ratio": "Cox hazard ratio of OS, switch vs continue (robust CI; complete follow-up)",
    "detected_of_tested": "fraction of patients with >= 1 ctDNA test who had >= 1 positive test "
    "within their surveillance",
    "cumulative_detection": "fraction of patients who completed surveillance with >= 1 positive "
    "ctDNA test",
    "detection_without_progression": "fraction of patients who completed surveillance "
    "randomised (positive result while progression-free and alive)",
    "randomised_of_detected": "fraction of detected patients who were randomised",
    "first_detection_test.median": "median number of the test that first found the mutation, "
    "among detected patients",
    "first_detection_test.share_<k>": "fraction of detected patients first found at their "
    "<k>-th test",
    "lead_time_median_months": "median time from the positive result to detected progression, "
    "randomised patients of the continue arm (months)",
}
#: Quantities measured per strategy, whole cohort (``<strategy>.<quantity>``).
STRATEGY_QUANTITIES: dict[str, str] = {
    "pfs_median_months": "KM median first-line PFS (detected progression or death) from "
    "first-line start, whole cohort (months)",
    "pfs_at_<m>_months": "KM first-line PFS probability <m> months after first-line start, "
    "whole cohort",
    "os_median_months": "KM median overall survival from first-line start, whole cohort (months)",
    "os_at_<m>_months": "KM overall survival probability <m> months after first-line start, "
    "whole cohort",
    "lead_time_median_months": "median lead time (first true-positive result to the scan that "
    "would have found progression without a switch) among patients with one (months)",
    "progressors_with_mutation": "fraction of patients with a detected first progression whose "
    "ESR1 mutation was present by then",
}


def _regex(template: str) -> re.Pattern:
    text = re.escape(template)
    for placeholder, group in _PLACEHOLDERS.items():
        text = text.replace(re.escape(placeholder), group)
    return re.compile(f"^{text}$")


_REGEX = {t: _regex(t) for t in (*TRIAL_QUANTITIES, *STRATEGY_QUANTITIES)}


@dataclass(frozen=True)
class Quantity:
    """A parsed target name: ``owner`` (trial or strategy), ``kind`` (``trial`` or
    ``strategy``), ``template`` (e.g. ``pfs_at_<m>_months.<arm>``) and its arguments."""

    name: str
    owner: str
    kind: str
    template: str
    arm: str | None = None
    months: float | None = None
    k: int | None = None

    @property
    def quantity(self) -> str:
        """The name without its owner, e.g. ``pfs_at_18.5_months.continue``."""
        return self.name[len(self.owner) + 1 :]


def trial_names(scenario=None) -> list[str]:
    """The scenario's virtual trials: those of its ``trials:`` section, else ``serena6``."""
    trials = getattr(scenario, "trials", None) or {}
    return list(trials) or [TRIAL]


def parse_quantity(name: str, scenario=None) -> Quantity | None:
    """What ``name`` measures, or None when the scenario cannot measure it."""
    owner = name.partition(".")[0]
    if owner in trial_names(scenario):
        return parse_quantity_as(name, "trial")
    if scenario is not None and owner in scenario.strategies:
        return parse_quantity_as(name, "strategy")
    return None


def parse_quantity_as(name: str, kind: str) -> Quantity | None:
    """``name`` parsed as a ``trial`` or ``strategy`` quantity of whatever its owner (the
    part before the first dot) is; None if it matches no quantity of that kind."""
    owner, dot, rest = name.partition(".")
    if not dot:
        return None
    for template in TRIAL_QUANTITIES if kind == "trial" else STRATEGY_QUANTITIES:
        match = _REGEX[template].match(rest)
        if match:
            groups = match.groupdict()
            if groups.get("m") is not None and not float(groups["m"]) <= MAX_MONTHS:
                return None
            return Quantity(
                name=name,
                owner=owner,
                kind=kind,
                template=template,
                arm=groups.get("arm"),
                months=float(groups["m"]) if groups.get("m") is not None else None,
                k=int(groups["k"]) if groups.get("k") is not None else None,
            )
    return None


def is_quantity(name: str, scenario=None) -> bool:
    """Whether ``scenario``'s targets may name ``name``."""
    return parse_quantity(name, scenario) is not None


def _expand(template: str, description: str) -> dict[str, str]:
    if "<arm>" not in template:
        return {template: description}
    return {template.replace("<arm>", a): description.replace("<arm>", a) for a in ARMS}


def describe_quantities(scenario=None) -> dict[str, str]:
    """Every name or name pattern a scenario's targets may use, with its description; arms
    spelt out, ``<m>`` (any number of months) and ``<k>`` (a test number) left as patterns."""
    out: dict[str, str] = {}
    for trial in trial_names(scenario):
        for template, text in TRIAL_QUANTITIES.items():
            out.update({f"{trial}.{t}": d for t, d in _expand(template, text).items()})
    for strategy in scenario.strategies if scenario is not None else ():
        for template, text in STRATEGY_QUANTITIES.items():
            out[f"{strategy}.{template}"] = text
    return out


def available_quantities(scenario=None) -> list[str]:
    """Names and name patterns (with ``<m>``, ``<k>``) a scenario's ``targets:`` may use."""
    return list(describe_quantities(scenario))


def default_trial_quantities(trial: str = TRIAL) -> list[str]:
    """What ``hemodel validate`` always reports for a trial: medians, the default landmarks,
    hazard ratios, the funnel, the test of first detection and the lead time."""
    names = []
    for template in TRIAL_QUANTITIES:
        if "<k>" in template:
            names.append(template.replace("<k>", "1"))
            continue
        for t in _expand(template, ""):
            if "<m>" in t:
                names += [t.replace("<m>", f"{m:g}") for m in LANDMARKS_MONTHS]
            else:
                names.append(t)
    return [f"{trial}.{n}" for n in names]
