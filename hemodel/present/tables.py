"""Human-readable tables: display names with currency and units, formatted numbers."""

from __future__ import annotations

import pandas as pd

from ..analysis import cea
from ..run.results import Results


def summary_table(results: Results) -> pd.DataFrame:
    """Per-strategy summary for display (discounted costs and QALYs; MC standard errors)."""
    cur = results.currency
    s = results.summary()
    out = pd.DataFrame({"Strategy": s["strategy"]})
    out[f"Cost ({cur}, disc.)"] = s["cost_total"].map(_money)
    out[f"± SE ({cur})"] = s["cost_total_se"].map(_money)
    out["QALYs (disc.)"] = s["qalys"].map("{:.3f}".format)
    out["± SE"] = s["qalys_se"].map("{:.3f}".format)
    out["LYs (undisc.)"] = s["lys_undiscounted"].map("{:.2f}".format)
    out["True PF time (months)"] = s["mean_progression_free_months"].map("{:.1f}".format)
    out["Progressed (%)"] = (100 * s["progressions"]).map("{:.1f}".format)
    out["Tests / patient"] = s["tests"].map("{:.2f}".format)
    out["Switched (%)"] = (100 * s["switches"]).map("{:.1f}".format)
    out["FP switches (%)"] = (100 * s["false_positive_switches"]).map("{:.1f}".format)
    out["Lead time (months)"] = s["mean_lead_time_months"].map(_maybe("{:.1f}"))
    out["Lab wait (days)"] = s["mean_lab_wait_days"].map(_maybe("{:.1f}"))
    return out


def incremental_table(results: Results) -> pd.DataFrame:
    """Each strategy against the reference, for display."""
    cur = results.currency
    inc = results.incremental()
    out = pd.DataFrame({"Strategy": inc["strategy"]})
    out[f"ΔCost ({cur})"] = inc["inc_cost"].map(_money)
    out[f"± SE ({cur})"] = inc["inc_cost_se"].map(_money)
    out["ΔQALYs"] = inc["inc_qalys"].map("{:.4f}".format)
    out["± SE"] = inc["inc_qalys_se"].map("{:.4f}".format)
    out[f"ICER ({cur}/QALY)"] = [
        _icer_text(v, note) for v, note in zip(inc["icer"], inc["note"], strict=True)
    ]
    out[f"INMB at {_money(results.wtp)}/QALY ({cur})"] = inc["inmb"].map(_money)
    return out


def sequential(results: Results) -> pd.DataFrame:
    """The sequential incremental analysis (efficiency frontier) of a run's mean costs and
    QALYs per strategy (:func:`hemodel.analysis.cea.incremental_analysis`)."""
    return cea.incremental_analysis(results.ce_table()[["strategy", "cost", "qaly"]])


def frontier_table(frontier: pd.DataFrame, currency: str) -> pd.DataFrame:
    """The sequential incremental analysis as a journal prints it
    (:func:`hemodel.analysis.cea.incremental_analysis`): strategies by cost, each with its
    cost and QALYs (discounted, per patient), the increments against the next cheaper
    strategy that is not dominated, and the ICER, or why there is none (dominated,
    extendedly dominated)."""
    f = frontier
    return pd.DataFrame(
        {
            "Strategy": f["strategy"],
            f"Cost ({currency}, disc.)": f["cost"].map(_money),
            "QALYs (disc.)": f["qaly"].map("{:.4f}".format),
            "Compared with": f["compared_with"].fillna("—"),
            f"Incremental cost ({currency})": f["inc_cost"].map(_maybe("{:,.0f}")),
            "Incremental QALYs": f["inc_qaly"].map(_maybe("{:.4f}")),
            f"ICER ({currency}/QALY)": [
                _maybe("{:,.0f}")(icer) if status == "frontier" else status
                for icer, status in zip(f["icer"], f["status"], strict=True)
            ],
        }
    )


def short_number(x: float, digits: int = 3) -> str:
    """``25,000``, ``12.5``, ``0.316``: thousands separators, ``digits`` significant digits
    below 100."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.{digits}g}"


def _icer_text(value: float, note: str) -> str:
    """The ICER with its note: a ratio, a ratio with a caveat, or only the note."""
    if note == "":
        return _money(value)
    return note if pd.isna(value) else f"{_money(value)} ({note})"


def _money(x: float) -> str:
    return "" if pd.isna(x) else f"{x:,.0f}"


def _maybe(fmt: str):
    return lambda x: "—" if pd.isna(x) else fmt.format(x)
