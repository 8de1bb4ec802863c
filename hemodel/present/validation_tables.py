"""Validation results as a reader sees them: the target table with units and PASS/FAIL, and
a virtual trial's surveillance funnel as text (``hemodel validate``, the report, notebook 04).
"""

from __future__ import annotations

import math

import pandas as pd

from ..credibility.trial import TrialRun


def target_unit(quantity: str) -> str:
    """The unit of a target quantity, from its name: medians in months, hazard ratios, and
    otherwise a proportion (landmark survival, detection and funnel shares)."""
    last = quantity.rsplit(".", 2)
    name = last[1] if len(last) == 3 and last[-1] in ("switch", "continue") else last[-1]
    if "median" in name:
        return "months"
    if "hazard_ratio" in name:
        return "hazard ratio"
    return "proportion"


def targets_display(table: pd.DataFrame) -> pd.DataFrame:
    """The target table for reading: 3 significant digits, ranges as "low–high", a unit per
    quantity, PASS/FAIL."""

    def num(x: float) -> str:
        return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"

    return pd.DataFrame(
        {
            "Quantity": table["quantity"],
            "Unit": table["quantity"].map(target_unit),
            "Target": table["target"].map(num),
            "Target CI / range": [
                f"{num(a)}–{num(b)}"
                for a, b in zip(table["target_low"], table["target_high"], strict=True)
            ],
            "Simulated": table["simulated"].map(num),
            "MC 95% CI": [
                f"{num(a)}–{num(b)}" for a, b in zip(table["mc_low"], table["mc_high"], strict=True)
            ],
            "n (patients)": table["n"],
            "Result": table["passed"].map({True: "PASS", False: "FAIL"}),
        }
    )


def format_targets(table: pd.DataFrame) -> str:
    """The target table as aligned text."""
    if table.empty:
        return "(the scenario has no targets:)"
    return targets_display(table).to_string(index=False)


def format_funnel(run: TrialRun) -> str:
    """The surveillance funnel of a trial run as text."""
    f, d = run.funnel(), run.design
    cut = "complete follow-up" if d.follow_up_months is None else (
        f"median follow-up {d.follow_up_months:g} months")  # fmt: skip
    lines = [
        f"Surveillance funnel (virtual {d.title}, {f['patients']:,} patients starting "
        f"first-line therapy; ctDNA and imaging every {d.every_weeks:g} weeks from "
        f"week {d.start_days / 7:g}; {cut}):",
        f"  under surveillance (>= 1 test)        {f['under_surveillance']:>8,}",
    ]
    if d.surveillance_window_months is not None:
        lines.append(
            f"  surveillance window ended first       {f['window_ended']:>8,}  "
            f"(window uniform on 0–{d.surveillance_window_months:g} months)"
        )
    lines += [
        f"  completed surveillance                {f['completed_surveillance']:>8,}",
        f"  >= 1 positive ctDNA test (detected)   {f['detected']:>8,}  "
        f"({f['detected_of_tested']:.1%} of tested, {f['cumulative_detection']:.1%} of "
        "completed)",
        f"  detected with progression same visit  {f['progression_at_same_visit']:>8,}",
    ]
    if not d.baseline_mutations_eligible:
        lines.append(
            f"  detected, mutation present at start   {f['baseline_excluded']:>8,}  (not eligible)"
        )
    lines.append(
        f"  randomised (no detected progression)  {f['randomised']:>8,}  "
        f"({f['randomised_of_detected']:.1%} of detected; "
        f"{f['false_positive_randomised']:,} on a false positive)"
    )
    return "\n".join(lines)
