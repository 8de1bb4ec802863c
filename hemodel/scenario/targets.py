"""The quantities a scenario's ``targets:`` may name, so that a scenario can be checked
without running anything.

The virtual trial (:mod:`hemodel.credibility.trial`) and validation
(:mod:`hemodel.credibility.validate`) measure exactly these; a test keeps the two in step.
"""

from __future__ import annotations

#: Arms of the virtual SERENA-6 trial: switch on detection, or continue the aromatase inhibitor.
ARMS = ("switch", "continue")
#: Landmarks of Kaplan-Meier PFS reported per arm (months from randomisation).
LANDMARKS_MONTHS = (6.0, 12.0, 24.0)

TRIAL = "serena6"


def _trial_quantities() -> dict[str, str]:
    q: dict[str, str] = {}
    for arm in ARMS:
        q[f"pfs_median_months.{arm}"] = f"KM median PFS from randomisation, {arm} arm (months)"
    q["pfs_hazard_ratio"] = "Cox hazard ratio of PFS, switch vs continue (robust CI)"
    for t in LANDMARKS_MONTHS:
        for arm in ARMS:
            q[f"pfs_at_{t:g}_months.{arm}"] = f"KM PFS probability {t:g} months after "
            q[f"pfs_at_{t:g}_months.{arm}"] += f"randomisation, {arm} arm"
    for what in ("pfs2", "os"):
        for arm in ARMS:
            q[f"{what}_median_months.{arm}"] = f"KM median {what.upper()} from randomisation, "
            q[f"{what}_median_months.{arm}"] += f"{arm} arm (months, complete follow-up)"
    q["cumulative_detection"] = (
        "fraction of patients who completed surveillance with >= 1 positive ctDNA test"
    )
    q["detection_without_progression"] = (
        "fraction of patients who completed surveillance randomised (positive result while "
        "progression-free and alive)"
    )
    q["randomised_of_detected"] = "fraction of detected patients who were randomised"
    return {f"{TRIAL}.{k}": v for k, v in q.items()}


#: Quantities measured in the virtual trial: name → description.
TRIAL_QUANTITIES: dict[str, str] = _trial_quantities()
#: Quantities measured per strategy, named ``<strategy>.<quantity>``.
STRATEGY_QUANTITIES: dict[str, str] = {
    "pfs_median_months": "KM median first-line PFS (detected progression or death) from "
    "first-line start, whole cohort (months)",
    "os_median_months": "KM median overall survival from first-line start, whole cohort (months)",
}


def available_quantities(scenario=None) -> list[str]:
    """Names a scenario's ``targets:`` may use (strategy quantities for its strategies)."""
    names = list(TRIAL_QUANTITIES)
    for strategy in scenario.strategies if scenario is not None else ():
        names += [f"{strategy}.{q}" for q in STRATEGY_QUANTITIES]
    return names
