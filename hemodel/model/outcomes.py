"""The per-patient outcome table every engine returns: its columns, in order.

One row per patient and strategy. Times are days from the patient's start of first-line
therapy (NaN: did not happen within follow-up), costs in the scenario currency (discounted
unless the column ends in ``_undiscounted``), QALYs and life-years in years. The columns are
documented one by one in docs/reference.md.
"""

from __future__ import annotations

#: Cost categories reported per patient (columns ``cost_<category>``).
COST_CATEGORIES = (
    "testing",
    "phlebotomy",
    "visits",
    "imaging",
    "first_line_drugs",
    "switch_drugs",
    "later_line_drugs",
    "disease_management",
    "terminal_care",
)

OUTCOME_COLUMNS = (
    "age_years", "esr1_at_start", "emergence_days", "true_progression_days",
    "progression_free_days",
    "detected_progression_days", "second_progression_days", "death_days", "death_cause",
    "switched", "switch_days", "false_positive_switch", "tests", "positives",
    "false_positives", "first_positive_days", "detection_days", "lead_time_days",
    "lab_wait_days", "lab_queue_days", "progression_test", "targeted_second_line",
    "visits", "scans",
    *(f"cost_{c}" for c in COST_CATEGORIES), "cost_total",
    *(f"cost_{c}_undiscounted" for c in COST_CATEGORIES), "cost_total_undiscounted",
    "qalys", "qalys_undiscounted", "lys", "lys_undiscounted",
)  # fmt: skip


def budget_columns(years: int) -> list[str]:
    """Columns of undiscounted cost by year since start and category (``cost_y<year>_<cat>``):
    year ``y`` covers days ``[(y-1)·365.25, y·365.25)``; a one-off cost on a boundary day falls
    in the later year."""
    return [f"cost_y{y}_{c}" for y in range(1, years + 1) for c in COST_CATEGORIES]
