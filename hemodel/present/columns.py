"""How each column of hemodel's tables appears to a reviewer: a header that names its unit
and currency, and an Excel number format. Tables keep snake_case columns and numeric values;
:func:`column` and :func:`header_context` turn them into what a workbook shows."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..model.outcomes import COST_CATEGORIES
from .labels import parameter_label

GENERAL = "General"
MONEY = "#,##0"  # currency, whole units
QALY = "#,##0.000"  # QALYs and life-years per patient
INCREMENT = "#,##0.0000"  # differences in QALYs, which are small
SHARE = "0.0%"  # proportions 0-1 shown as percentages
ONE_DECIMAL = "#,##0.0"  # months, days
TWO_DECIMALS = "#,##0.00"  # counts per patient, prices
WHOLE = "0"  # years, seeds, sample numbers


@dataclass(frozen=True)
class Column:
    """A table column as a reviewer sees it: a header and an Excel number format.

    The header may name ``{currency}``, ``{basis}`` (``discounted`` unless the table has a
    single-valued ``basis`` column), ``{price_unit}`` (from a ``price_unit`` column) and
    ``{outcome}`` (the DSA outcome named by a ``measure`` column, with its unit)."""

    header: str
    number_format: str = GENERAL


def _money(header: str) -> Column:
    return Column(f"{header} ({{currency}}, {{basis}})", MONEY)


#: Every snake_case column hemodel's tables use, with its header and number format.
COLUMNS: dict[str, Column] = {
    # who and what
    "strategy": Column("Strategy"),
    "reference": Column("Reference strategy"),
    "comparison": Column("Comparison strategy"),
    "compared_with": Column("Compared with"),
    "status": Column("Frontier status"),
    "note": Column("Note"),
    "sample": Column("PSA sample", WHOLE),
    "patients": Column("Patients", MONEY),
    "seed": Column("Seed", WHOLE),
    "currency": Column("Currency"),
    "basis": Column("Cost basis"),
    # costs and effects (Results.summary, Results.incremental, frontier, PSA samples)
    "cost": _money("Cost"),
    "cost_total": _money("Total cost"),
    "cost_total_undiscounted": Column("Total cost ({currency}, undiscounted)", MONEY),
    "qaly": Column("QALYs (discounted)", QALY),
    "qalys": Column("QALYs (discounted)", QALY),
    "qalys_undiscounted": Column("QALYs (undiscounted)", QALY),
    "lys": Column("Life-years (discounted)", QALY),
    "lys_undiscounted": Column("Life-years (undiscounted)", QALY),
    "inc_cost": _money("Incremental cost"),
    "inc_qaly": Column("Incremental QALYs (discounted)", INCREMENT),
    "inc_qalys": Column("Incremental QALYs (discounted)", INCREMENT),
    "icer": Column("ICER ({currency} per QALY)", MONEY),
    "nmb": Column("Net monetary benefit ({currency})", MONEY),
    "inmb": Column("Incremental net monetary benefit ({currency})", MONEY),
    "tests": Column("ctDNA tests per patient", TWO_DECIMALS),
    "positives": Column("Positive tests per patient", TWO_DECIMALS),
    "false_positives": Column("False-positive tests per patient", TWO_DECIMALS),
    "progressions": Column("Progressed", SHARE),
    "progressions_detected": Column("Progression detected", SHARE),
    "switches": Column("Switched therapy", SHARE),
    "false_positive_switches": Column("False-positive switches", SHARE),
    "targeted_second_line": Column("Targeted second line", SHARE),
    "deaths": Column("Died within the horizon", SHARE),
    "mean_progression_free_months": Column("True progression-free time (months)", ONE_DECIMAL),
    "mean_lead_time_months": Column("Lead time (months)", ONE_DECIMAL),
    "mean_lab_wait_days": Column("Lab wait (days)", ONE_DECIMAL),
    # PSA: CEAC, CEAF, EVPI, EVPPI
    "wtp": Column("WTP ({currency} per QALY)", MONEY),
    "probability": Column("Probability cost-effective", SHARE),
    "expected_nmb": Column("Expected net monetary benefit ({currency})", MONEY),
    "evpi": Column("EVPI ({currency} per patient)", MONEY),
    "evppi": Column("EVPPI ({currency} per patient)", MONEY),
    "group": Column("Parameter group"),
    # inputs and DSA
    "parameter": Column("Parameter"),
    "label": Column("Name"),
    "value": Column("Value"),
    "unit": Column("Unit"),
    "psa": Column("PSA distribution"),
    "source": Column("Source"),
    "base_value": Column("Base-case value"),
    "low": Column("Low value"),
    "high": Column("High value"),
    "range_source": Column("Range from"),
    "inc_cost_low": _money("Incremental cost at low value"),
    "inc_qaly_low": Column("Incremental QALYs at low value (discounted)", INCREMENT),
    "inc_cost_high": _money("Incremental cost at high value"),
    "inc_qaly_high": Column("Incremental QALYs at high value (discounted)", INCREMENT),
    "outcome": Column("{outcome}", MONEY),
    "outcome_low": Column("{outcome} at low value", MONEY),
    "outcome_high": Column("{outcome} at high value", MONEY),
    "base": Column("{outcome}, base case", MONEY),
    "swing": Column("Swing in {outcome}", MONEY),
    "used": Column("Used by a strategy"),
    "measure": Column("Outcome measure"),
    "x_parameter": Column("Parameter on x"),
    "x_unit": Column("Unit on x"),
    "x_value": Column("Value on x"),
    "y_parameter": Column("Parameter on y"),
    "y_unit": Column("Unit on y"),
    "y_value": Column("Value on y"),
    # threshold prices
    "price_parameter": Column("Price parameter"),
    "price_unit": Column("Price unit"),
    "base_price": Column("Base price ({price_unit})", TWO_DECIMALS),
    "cost_at_zero": _money("Cost at a price of zero"),
    "cost_at_base": _money("Cost at the base price"),
    "cost_per_price_unit": Column("Cost per unit of price ({basis})", TWO_DECIMALS),
    "inc_cost_at_zero": _money("Incremental cost at a price of zero"),
    "inc_cost_per_price_unit": Column("Incremental cost per unit of price ({basis})", TWO_DECIMALS),
    "icer_at_base": Column("ICER at the base price ({currency} per QALY)", MONEY),
    "icer_at_zero": Column("ICER at a price of zero ({currency} per QALY)", MONEY),
    "threshold_price": Column("Threshold price ({price_unit})", TWO_DECIMALS),
    "price_from": Column("Price from ({price_unit})", TWO_DECIMALS),
    "price_to": Column("Price to ({price_unit})", TWO_DECIMALS),
    "evaluated_at_price": Column("Evaluated at price ({price_unit})", TWO_DECIMALS),
    "frontier_status": Column("Frontier status"),
    "frontier_icer": Column("ICER on the frontier ({currency} per QALY)", MONEY),
    "preferred_below": Column("Preferred just below"),
    "preferred_above": Column("Preferred just above"),
    # budget impact
    "year": Column("Year", WHOLE),
    "category": Column("Cost category"),
    "reference_cost": _money("Reference-world cost"),
    "strategy_cost": _money("Strategy-world cost"),
    "impact": _money("Budget impact"),
    "cumulative_impact": _money("Cumulative budget impact"),
    "impact_pmpm": Column("Budget impact per member per month ({currency}, {basis})", INCREMENT),
    # testing-interval sweep
    "every_weeks": Column("Testing interval (weeks)"),
    "start_weeks": Column("First test (week)"),
    "assay": Column("Assay"),
    "when": Column("Switch timing"),
    # validation targets
    "quantity": Column("Target quantity"),
    "target": Column("Target value"),
    "target_low": Column("Target range, low"),
    "target_high": Column("Target range, high"),
    "simulated": Column("Simulated value"),
    "mc_low": Column("Simulated, 95% Monte Carlo CI low"),
    "mc_high": Column("Simulated, 95% Monte Carlo CI high"),
    "n": Column("Patients measured", MONEY),
    "passed": Column("Within target"),
    # manifest items (see manifest_items)
    "scenario": Column("Scenario"),
    "scenario_file": Column("Scenario file"),
    "scenario_hash": Column("Scenario hash (SHA-256)"),
    "price_year": Column("Price year", WHOLE),
    "discount_rate_costs": Column("Discount rate, costs (% a year)", SHARE),
    "discount_rate_qalys": Column("Discount rate, QALYs (% a year)", SHARE),
    "time_horizon_years": Column("Time horizon (years)", "0.##"),
    "willingness_to_pay": Column("Willingness to pay ({currency} per QALY)", MONEY),
    "reference_strategy": Column("Reference strategy"),
    "patients_per_strategy": Column("Patients per strategy", MONEY),
    "psa_samples": Column("PSA samples", MONEY),
    "psa_patients": Column("Patients per PSA sample", MONEY),
    "engine": Column("Engine"),
    "hemodel_version": Column("hemodel version"),
    "created": Column("Created (UTC)"),
}
for _category in COST_CATEGORIES:
    _words = _category.replace("_line", "-line").replace("_", " ")
    COLUMNS[f"cost_{_category}"] = _money(f"Cost of {_words}")
    COLUMNS[f"cost_{_category}_undiscounted"] = Column(
        f"Cost of {_words} ({{currency}}, undiscounted)", MONEY
    )

#: Outcomes of a DSA table by its ``measure`` column.
_OUTCOMES = {"inmb": "INMB ({currency})", "icer": "ICER ({currency} per QALY)"}


def column(name: str) -> Column:
    """How column ``name`` appears: from :data:`COLUMNS`, a standard error (``<x>_se`` or
    ``<x>_mcse``) of a known column, a scenario parameter (a dotted path such as
    ``assays.blood_test.sensitivity``), or else ``name`` in words with the general format."""
    if name in COLUMNS:
        return COLUMNS[name]
    for suffix in ("_se", "_mcse"):
        base = name.removesuffix(suffix)
        if base != name and base in COLUMNS:
            known = COLUMNS[base]
            return Column(f"{known.header}, Monte Carlo SE", known.number_format)
    if "." in name:
        return Column(parameter_label(name))
    words = name.replace("_", " ").strip()
    return Column(words[:1].upper() + words[1:])


def header_context(table: pd.DataFrame, currency: str) -> dict[str, str]:
    """The words a table's headers are filled with (see :class:`Column`). Raises ValueError
    if the table's own ``currency`` column names another currency."""
    own = _single(table, "currency")
    if own is not None and own != currency:
        raise ValueError(f"the table is in {own}, the workbook in {currency}")
    measure = _single(table, "measure")
    outcome = _OUTCOMES.get(str(measure), "Outcome").format(currency=currency)
    basis = _single(table, "basis") or "discounted"
    price_unit = _single(table, "price_unit") or "price unit"
    return {"currency": currency, "basis": basis, "price_unit": price_unit, "outcome": outcome}


def _single(table: pd.DataFrame, name: str) -> str | None:
    """The one value of column ``name``, or None when it is absent or holds several."""
    if name not in table.columns:
        return None
    values = table[name].dropna().unique()
    return str(values[0]) if len(values) == 1 else None
