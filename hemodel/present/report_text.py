"""The words and reference tables of a report: the inputs with readable names, the strategies,
the executive summary (the decision at each willingness to pay, in sentences with numbers)
and the CHEERS 2022 checklist that points each item to a section.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..scenario.schema import Scenario
from . import html
from .labels import section_of
from .tables import short_number


def inputs_display(inputs: pd.DataFrame) -> pd.DataFrame:
    """The inputs (:func:`hemodel.present.workbook.numeric_inputs`) for reading: grouped by
    section, readable names, values and ranges to 4 significant digits."""

    def number(x: float) -> str:
        return "" if pd.isna(x) else short_number(x, 4)

    return pd.DataFrame(
        {
            "Section": inputs["parameter"].map(section_of),
            "Parameter": inputs["label"],
            "Value": inputs["value"].map(number),
            "Unit": inputs["unit"],
            "Low (one-way)": inputs["low"].map(number),
            "High (one-way)": inputs["high"].map(number),
            "PSA distribution": inputs["psa"],
            "Source": inputs["source"],
        }
    )


def strategies_table(scenario: Scenario) -> pd.DataFrame:
    """One row per strategy: what it tests, how often, and what it does on a positive."""
    rows = []
    for name, st in scenario.strategies.items():
        mon = st.monitoring
        rows.append({
            "Strategy": name + (" (reference)" if name == scenario.reference else ""),
            "Description": st.description,
            "ctDNA testing": f"{mon.assay} every {mon.every.value:g} {mon.every.unit} from "
            f"{mon.start.value:g} {mon.start.unit}" if mon else "none",
            "Switch on a positive test": f"to {st.switch.to}, {st.switch.when.replace('_', ' ')}"
            if st.switch else "—",
            "Test at progression": st.test_at_progression.assay if st.test_at_progression
            else "—",
        })  # fmt: skip
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ executive summary
@dataclass
class Findings:
    """What the executive summary speaks of; each analysis that ran adds its part.

    ``frontier``: :func:`hemodel.analysis.cea.incremental_analysis` of the base case;
    ``ceac``: ``wtp, strategy, probability`` of the PSA; ``evpi``: ``wtp, evpi[,
    evpi_population]``; ``budget``: budget totals; ``targets``: the validation table."""

    scenario: Scenario
    frontier: pd.DataFrame
    patients: int
    ceac: pd.DataFrame | None = None
    evpi: pd.DataFrame | None = None
    population: float | None = None
    budget: pd.DataFrame | None = None
    targets: pd.DataFrame | None = None


def optimal_at(frontier: pd.DataFrame, wtp: float) -> str:
    """The strategy with the highest net monetary benefit at ``wtp`` (currency per QALY):
    the frontier strategy with the largest ICER not above ``wtp`` (the cheapest if none)."""
    front = frontier[frontier["status"] == "frontier"]
    nmb = wtp * front["qaly"] - front["cost"]
    return str(front.loc[nmb.idxmax(), "strategy"])


def decision_sentences(f: Findings) -> list[str]:
    """The decision at each of the scenario's WTPs, and what the other analyses add."""
    s, cur = f.scenario, f.scenario.currency
    front = f.frontier[f.frontier["status"] == "frontier"].reset_index(drop=True)
    out = [
        f"Of {len(f.frontier)} strategies, {len(front)} are on the efficiency frontier "
        f"(base case, {f.patients:,} simulated patients per strategy; costs in {cur} "
        f"{s.price_year}, costs and QALYs discounted)."
    ]
    for w in (w.value for w in s.willingness_to_pay):
        best = optimal_at(f.frontier, w)
        i = int(front.index[front["strategy"] == best][0])
        row = front.iloc[i]
        text = f"At {cur} {w:,.0f} per QALY, {best} is cost-effective"
        if i > 0:
            text += (
                f": it gains {row['inc_qaly']:.3f} QALYs over {row['compared_with']} for "
                f"{cur} {row['inc_cost']:,.0f} more (ICER {cur} {row['icer']:,.0f} per QALY)"
            )
        if i + 1 < len(front):
            nxt = front.iloc[i + 1]
            text += (
                f"; the next strategy on the frontier, {nxt['strategy']}, would cost "
                f"{cur} {nxt['icer']:,.0f} per QALY gained, above the threshold"
            )
        if f.ceac is not None:
            p = _probability(f.ceac, best, w)
            text += f". In the PSA it is cost-effective with probability {p:.0%}"
        out.append(text + ".")
    if f.evpi is not None:
        out.append(_evpi_sentence(f))
    if f.budget is not None:
        out.append(_budget_sentence(f))
    if f.targets is not None and len(f.targets):
        ok = int(f.targets["passed"].sum())
        out.append(
            f"Validation: {ok} of {len(f.targets)} calibration and validation targets are met "
            "by the simulated trials (section Validation)."
        )
    return out


def _probability(ceac: pd.DataFrame, strategy: str, wtp: float) -> float:
    g = ceac[ceac["strategy"] == strategy]
    return float(np.interp(wtp, g["wtp"], g["probability"]))


def _evpi_sentence(f: Findings) -> str:
    cur, w = f.scenario.currency, f.scenario.willingness_to_pay[0].value
    per = float(np.interp(w, f.evpi["wtp"], f.evpi["evpi"]))
    text = (
        f"The expected value of perfect information at {cur} {w:,.0f} per QALY is "
        f"{cur} {per:,.0f} per patient"
    )
    if f.population:
        text += (
            f", or {cur} {per * f.population:,.0f} for the decision population "
            f"({f.population:,.0f} discounted patients)"
        )
    return text + "."


def _budget_sentence(f: Findings) -> str:
    """The budget impact of the cost-effective strategy, or (when that is the reference) the
    range over the strategies."""
    cur, b = f.scenario.currency, f.budget
    years = int(b["year"].max())
    last = b[b["year"] == years].set_index("strategy")
    best = optimal_at(f.frontier, f.scenario.willingness_to_pay[0].value)
    if best in last.index:
        text = (
            f"Budget impact: adopting {best} would change the payer's spending by {cur} "
            f"{last.loc[best, 'cumulative_impact']:,.0f} over {years} years (undiscounted)"
        )
        if "impact_pmpm" in b:
            pmpm = b.loc[b["strategy"] == best, "impact_pmpm"]
            text += f", {cur} {pmpm.min():,.3f}–{pmpm.max():,.3f} per member per month"
        return text + "."
    low, high = last["cumulative_impact"].idxmin(), last["cumulative_impact"].idxmax()
    return (
        f"Budget impact over {years} years (undiscounted), against {best}: from {cur} "
        f"{last.loc[low, 'cumulative_impact']:,.0f} ({low}) to {cur} "
        f"{last.loc[high, 'cumulative_impact']:,.0f} ({high})."
    )


def summary_html(f: Findings) -> str:
    items = "".join(f"<li>{html.escape(t)}</li>" for t in decision_sentences(f))
    return f"<div class='summary'><ul>{items}</ul></div>"


# ------------------------------------------------------------------ CHEERS 2022
#: The 28 items of the CHEERS 2022 statement (Husereau et al., Value Health 2022;25:3-9):
#: number, topic, and the report section that answers it (``None``: the authors of a study
#: using hemodel must write it; the model cannot).
CHEERS_2022: tuple[tuple[int, str, str | None], ...] = (
    (1, "Title", None),
    (2, "Abstract", "Executive summary"),
    (3, "Background and objectives", "Decision problem"),
    (4, "Health economic analysis plan", None),
    (5, "Study population", "Decision problem"),
    (6, "Setting and location", "Decision problem"),
    (7, "Comparators", "Strategies"),
    (8, "Perspective", "Decision problem"),
    (9, "Time horizon", "Decision problem"),
    (10, "Discount rate", "Decision problem"),
    (11, "Selection of outcomes", "Base case"),
    (12, "Measurement of outcomes", "Model"),
    (13, "Valuation of outcomes", "Inputs and sources"),
    (14, "Measurement and valuation of resources and costs", "Inputs and sources"),
    (15, "Currency, price date, and conversion", "Decision problem"),
    (16, "Rationale and description of model", "Model"),
    (17, "Analytics and assumptions", "Model"),
    (18, "Characterising heterogeneity", "Model"),
    (19, "Characterising distributional effects", None),
    (20, "Characterising uncertainty", "Probabilistic sensitivity analysis"),
    (21, "Approach to engagement with patients and others affected by the study", None),
    (22, "Study parameters", "Inputs and sources"),
    (23, "Summary of main results", "Base case"),
    (24, "Effect of uncertainty", "Deterministic sensitivity analysis"),
    (25, "Effect of engagement with patients and others affected by the study", None),
    (26, "Study findings, limitations, generalisability, and current knowledge", "Validation"),
    (27, "Source of funding", None),
    (28, "Conflicts of interest", None),
)


def cheers_table(present: set[str], anchor) -> pd.DataFrame:
    """The checklist with, per item, the report section that answers it (an HTML link made
    by ``anchor(title)``), or what the authors must add. ``present``: section titles in the
    report (an analysis left out of the report is named as missing)."""
    rows = []
    for number, topic, title in CHEERS_2022:
        if title is None:
            where = "not produced by the model: the study's authors report it"
        elif title in present:
            where = anchor(title)
        else:
            where = f"{title}: not in this report (add that analysis)"
        rows.append({"Item": number, "Topic": topic, "Where reported": where})
    return pd.DataFrame(rows)
