"""Scenarios side by side, for people: the tables of :mod:`hemodel.analysis.compare` with
readable labels and units, a cost-effectiveness plane per scenario and a self-contained
HTML page.

Money is shown in each scenario's own currency, named in the column headings (results) or in
a column of its own (decisions); nothing is converted between currencies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd

from ..analysis.cea import incremental_analysis
from . import html
from .labels import SECTIONS, parameter_label
from .plots import money, strategy_colours, style

_MISSING = float("nan")


def input_label(path: str) -> str:
    """A readable name for an input of :func:`~hemodel.analysis.compare.settings`:
    ``strategies.ctdna_q8w.monitoring.every`` → "Strategy ctdna_q8w — Monitoring: every",
    ``assays.ddpcr.cost`` → "Assays — ddPCR: cost" (a flat list needs the section names)."""
    parts = path.split(".")
    if parts[0] == "strategies" and len(parts) > 2:
        return f"Strategy {parts[1]} — {parameter_label('.'.join(parts[2:]))}"
    label = parameter_label(path)
    section = SECTIONS.get(parts[0])
    if section and not label.startswith(section):  # "Costs: visit" names its section already
        return f"{section} — {label}"
    return label


def _value(value: object, unit: str) -> object:
    """One input as text: ``2,950 GBP per 28 days``; NaN when the scenario lacks it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _MISSING
    text = _number(value) if isinstance(value, float) else str(value)
    return f"{text} {unit}".strip()


def _number(x: float) -> str:
    """``1000000.0`` → "1,000,000"; ``0.035`` → "0.035" (at most six significant digits)."""
    return f"{x:,.0f}" if x.is_integer() and abs(x) < 1e15 else f"{x:,.6g}"


def inputs_display(inputs: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """The differing inputs (:func:`~hemodel.analysis.compare.differing_inputs`) with labels,
    one column per scenario holding value and unit."""
    shown = pd.DataFrame({"Input": inputs["input"].map(input_label)})
    for key in keys:
        shown[key] = [_value(v, u) for v, u in zip(inputs[key], inputs[f"{key} unit"], strict=True)]
    return shown


def _money(x: float) -> object:
    return _MISSING if pd.isna(x) else f"{x:,.0f}"


def _years(x: float) -> object:
    return _MISSING if pd.isna(x) else f"{x:.3f}"


def _icer(icer: float, note: object) -> object:
    """An ICER (currency per QALY) or the reason it has none (dominated, reference, ...)."""
    if pd.isna(icer):
        return note or _MISSING
    return f"{icer:,.0f}" + (f" ({note})" if note else "")


def _by_scenario(results: pd.DataFrame, keys: Sequence[str], columns: dict) -> pd.DataFrame:
    """Strategies as rows and, per scenario, ``columns`` (heading → function of a row); blank
    where a scenario lacks the strategy."""
    currency = results.dropna(subset=["currency"]).groupby("scenario")["currency"].first()
    strategies = list(dict.fromkeys(results["strategy"]))
    table = results.set_index(["strategy", "scenario"])
    data: dict = {("", "Strategy"): strategies}
    for key in keys:
        group = f"{key} ({currency[key]})"
        for heading, cell in columns.items():
            rows = [table.loc[(s, key)] for s in strategies]
            data[(group, heading)] = [cell(r) if pd.notna(r["cost"]) else _MISSING for r in rows]
    return pd.DataFrame(data)


def results_display(results: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Mean discounted cost, QALYs and life-years per patient, strategies × scenarios, each
    scenario's currency in its heading (:func:`~hemodel.analysis.compare.strategy_results`)."""
    return _by_scenario(
        results,
        keys,
        {
            "Cost": lambda r: _money(r["cost"]),
            "QALYs": lambda r: _years(r["qalys"]),
            "LYs": lambda r: _years(r["lys"]),
        },
    )


def incremental_display(results: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Each strategy against its scenario's reference: Δ cost, Δ QALYs, Δ LYs and the ICER
    (currency per QALY, or why there is none)."""
    return _by_scenario(
        results,
        keys,
        {
            "Δ cost": lambda r: _money(r["inc_cost"]),
            "Δ QALYs": lambda r: _years(r["inc_qalys"]),
            "Δ LYs": lambda r: _years(r["inc_lys"]),
            "ICER per QALY": lambda r: _icer(r["icer"], r["note"]),
        },
    )


def decisions_display(decisions: pd.DataFrame) -> pd.DataFrame:
    """The optimal strategy per scenario and WTP (:func:`~hemodel.analysis.compare.decisions`),
    money in the currency of its row."""
    d = decisions
    return pd.DataFrame(
        {
            "Scenario": d["scenario"],
            "Currency": d["currency"],
            "WTP per QALY": [
                f"{w:,.0f}" + (" (common)" if src == "common" else "")
                for w, src in zip(d["wtp"], d["wtp_from"], strict=True)
            ],
            "Optimal strategy": d["optimal"],
            "NMB per patient": d["nmb"].map(_money),
            "INMB vs reference": d["inmb"].map(_money),
            "ICER on frontier": [
                _MISSING if pd.isna(i) else f"{i:,.0f} vs {c}"
                for i, c in zip(d["icer"], d["compared_with"], strict=True)
            ],
            "Next on frontier (above WTP)": [
                _MISSING if not isinstance(n, str) else f"{n} ({i:,.0f})"
                for n, i in zip(d["next"], d["next_icer"], strict=True)
            ],
        }
    )


def _text(df: pd.DataFrame) -> str:
    """The table with its first column (labels, strategies) aligned left."""
    first = df.columns[0]
    head = first[-1] if isinstance(first, tuple) else first
    width = max(len(head), int(df[first].astype(str).str.len().max()))
    cells = df[first].astype(str).str.ljust(width)
    df = df.drop(columns=[first])
    df.insert(
        0,
        (*first[:-1], head.ljust(width)) if isinstance(first, tuple) else head.ljust(width),
        cells,
    )
    return df.to_string(index=False, na_rep="")


def console(
    inputs: pd.DataFrame, results: pd.DataFrame, decisions: pd.DataFrame, keys: Sequence[str]
) -> str:
    """The three tables as text for the console, each with a heading that states units."""

    shown = _text(inputs_display(inputs, keys)) if len(inputs) else "(none: the inputs agree)"
    return "\n\n".join(
        [
            f"Inputs that differ ({len(inputs)})\n{shown}",
            "Results: mean per patient, costs and QALYs discounted, money in each scenario's "
            f"currency\n{_text(results_display(results, keys))}",
            f"Against each scenario's reference\n{_text(incremental_display(results, keys))}",
            "Decision at each willingness-to-pay (highest net monetary benefit; money in the "
            f"row's currency)\n{_text(decisions_display(decisions))}",
        ]
    )


def ce_planes(results: pd.DataFrame, decisions: pd.DataFrame, keys: Sequence[str]):
    """One cost-effectiveness plane per scenario: each strategy's mean incremental QALYs and
    cost against the scenario's reference, the efficiency frontier and a line per WTP of the
    scenario (its currency per QALY). Returns the figure."""
    colours = strategy_colours(results["strategy"])
    with style():
        fig, panels = plt.subplots(
            1, len(keys), figsize=(4.6 * len(keys) + 1.6, 4.4), squeeze=False
        )
        for key, ax in zip(keys, panels[0], strict=True):
            rows = results[(results["scenario"] == key) & results["cost"].notna()]
            wtps = decisions[(decisions["scenario"] == key) & (decisions["wtp_from"] == "scenario")]
            _plane(ax, rows, wtps["wtp"], colours)
            ax.set_title(f"{key}: against {rows['reference'].iloc[0]}", fontsize=11)
        fig.legend(*_legend(panels[0], colours), loc="center left", bbox_to_anchor=(1.0, 0.5))
        fig.suptitle("Each strategy against its scenario's reference (means per patient)")
        fig.tight_layout()
    return fig


def _legend(panels, colours: dict) -> tuple[list, list[str]]:
    """One legend for all panels: strategies in their colour order, then lines (frontier,
    WTPs) in the order drawn; each label once."""
    found: dict = {}
    for ax in panels:
        found.update(zip(*ax.get_legend_handles_labels()[::-1], strict=True))
    labels = [s for s in colours if s in found] + [k for k in found if k not in colours]
    return [found[k] for k in labels], labels


def _plane(ax, rows: pd.DataFrame, wtps: pd.Series, colours: dict) -> None:
    """One scenario's plane: points, frontier and WTP lines on ``ax``."""
    currency, reference = rows["currency"].iloc[0], rows["reference"].iloc[0]
    ref = rows[rows["strategy"] == reference].iloc[0]
    dq, dc = rows["qalys"] - ref["qalys"], rows["cost"] - ref["cost"]
    for strategy, x, y in zip(rows["strategy"], dq, dc, strict=True):
        ax.scatter(
            x,
            y,
            s=55,
            color=colours[strategy],
            edgecolors="black",
            linewidths=0.5,
            label=strategy,
            zorder=3,
        )
    table = pd.DataFrame({"strategy": rows["strategy"], "cost": dc, "qaly": dq})
    front = incremental_analysis(table)
    front = front[front["status"] == "frontier"]
    ax.plot(front["qaly"], front["cost"], color="grey", lw=1, zorder=2, label="frontier")
    lo, hi = ax.get_xlim()
    for wtp, dash in zip(wtps, ("--", ":", "-.", (0, (5, 5))), strict=False):
        ax.plot(
            [lo, hi],
            [wtp * lo, wtp * hi],
            color="black",
            ls=dash,
            lw=0.8,
            label=f"WTP {currency} {wtp:,.0f}/QALY",
        )
    ax.set_xlim(lo, hi)
    ax.axhline(0, color="grey", lw=0.6)
    ax.axvline(0, color="grey", lw=0.6)
    ax.yaxis.set_major_formatter(money(currency))
    ax.set_xlabel("Incremental QALYs (discounted)")
    ax.set_ylabel(f"Incremental cost ({currency}, discounted)")


def page(
    inputs: pd.DataFrame,
    results: pd.DataFrame,
    decisions: pd.DataFrame,
    keys: Sequence[str],
    about: str,
    figure,
) -> str:
    """The comparison as one self-contained HTML page; ``about`` (plain text) says what was
    compared and how (files, patients, seed); ``figure``: :func:`ce_planes`, embedded and
    closed."""
    shown = inputs_display(inputs, keys)
    sections = [
        html.Section(
            "Inputs that differ",
            html.table(shown) if len(shown) else html.paragraph("None: the inputs agree."),
        ),
        html.Section(
            "Results",
            html.paragraph(
                "Mean per patient; costs and QALYs discounted; money in each "
                "scenario's currency (never added across currencies).",
                "note",
            )
            + html.table(results_display(results, keys)),
        ),
        html.Section("Against each reference", html.table(incremental_display(results, keys))),
        html.Section(
            "Decisions",
            html.paragraph(
                "The strategy with the highest net monetary benefit at each "
                "willingness-to-pay, in the row's currency per QALY.",
                "note",
            )
            + html.table(decisions_display(decisions)),
        ),
        html.Section(
            "Cost-effectiveness planes", html.png(figure.axes[0], "cost-effectiveness planes")
        ),
    ]
    return html.page("Scenario comparison", html.paragraph(about, "summary"), sections)
