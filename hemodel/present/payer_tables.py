"""Payer analyses as a reader sees them: the optimal testing interval by WTP, threshold prices
and budget totals, with currency and units in every header (the app, the report and the
commands show the same tables)."""

from __future__ import annotations

import pandas as pd


def _money(x: float) -> str:
    if pd.isna(x):
        return "—"
    return f"{x:,.0f}" if abs(x) != float("inf") else ("∞" if x > 0 else "−∞")


def optimal_table(optimal: pd.DataFrame, currency: str) -> pd.DataFrame:
    """The sweep's optimal strategy per WTP (:func:`hemodel.analysis.sweep.analyse`)."""
    out = pd.DataFrame({f"WTP ({currency}/QALY)": optimal["wtp"].map(_money)})
    out["Optimal strategy"] = optimal["strategy"]
    out["Testing interval (weeks)"] = optimal["every_weeks"].map(
        lambda x: "—" if pd.isna(x) else f"{x:g}"
    )
    out["Assay"] = optimal["assay"].fillna("—")
    out[f"Net benefit ({currency} per patient)"] = optimal["nmb"].map(_money)
    return out


def sweep_table(table: pd.DataFrame, currency: str) -> pd.DataFrame:
    """Every strategy of a sweep: its settings, cost and QALYs (discounted, per patient)."""
    return pd.DataFrame(
        {
            "Strategy": table["strategy"],
            "Testing interval (weeks)": table["every_weeks"].map("{:g}".format),
            "Assay": table["assay"],
            "First test (weeks)": table["start_weeks"].map("{:g}".format),
            "Switch": table["when"].str.replace("_", " "),
            f"Cost ({currency}, disc.)": table["cost"].map(_money),
            "QALYs (disc.)": table["qaly"].map("{:.3f}".format),
        }
    )


def threshold_table(prices: pd.DataFrame, unit: str, currency: str) -> pd.DataFrame:
    """Threshold prices (:func:`hemodel.analysis.threshold.threshold_prices`) in ``unit``
    (e.g. ``USD per test``): the price at which each ICER equals each WTP."""
    return pd.DataFrame(
        {
            f"WTP ({currency}/QALY)": prices["wtp"].map(_money),
            "Strategy": prices["strategy"],
            "ΔQALYs": prices["inc_qaly"].map("{:.4f}".format),
            f"ICER at base price ({currency}/QALY)": prices["icer_at_base"].map(_money),
            f"Threshold price ({unit})": prices["threshold_price"].map(_money),
            "Note": prices["note"].fillna(""),
        }
    )


def budget_table(totals: pd.DataFrame) -> pd.DataFrame:
    """Budget totals by strategy and year (:func:`hemodel.analysis.budget.totals`),
    undiscounted, with the impact per member per month when there is a plan."""
    cur = totals["currency"].iloc[0]
    out = pd.DataFrame(
        {
            "Strategy": totals["strategy"],
            "Year": totals["year"],
            f"Reference world ({cur}, undisc.)": totals["reference_cost"].map(_money),
            f"Strategy world ({cur}, undisc.)": totals["strategy_cost"].map(_money),
            f"Impact ({cur})": totals["impact"].map(_money),
            f"Cumulative impact ({cur})": totals["cumulative_impact"].map(_money),
        }
    )
    if "impact_pmpm" in totals:
        out[f"Impact per member per month ({cur})"] = totals["impact_pmpm"].map("{:,.4f}".format)
    return out
