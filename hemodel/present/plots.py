"""Plots with one consistent style: readable fonts, stable strategy colours (Okabe-Ito,
colour-blind safe), currency with thousands separators, months/years on time axes.

Every function draws on ``ax`` (a new figure if ``None``) and returns the Axes. Use
:func:`save` to write a PNG.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import contextmanager

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator

#: Okabe & Ito (2008) colour-blind-safe palette, plus grey.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000", "#999999")  # fmt: skip

STYLE = {
    "figure.figsize": (7.5, 4.8),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10.5,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 10.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.fontsize": 9.5,
}


@contextmanager
def style():
    """The hemodel plot style, as a context manager."""
    with plt.rc_context(STYLE):
        yield


def strategy_colours(strategies: Iterable[str]) -> dict[str, str]:
    """A stable colour per strategy, by its position in the scenario's strategy order."""
    return {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(dict.fromkeys(strategies))}


def money(currency: str) -> FuncFormatter:
    """Axis formatter: thousands separators and the currency code (e.g. ``USD 150,000``)."""
    return FuncFormatter(
        lambda x, _: f"{currency} {x:,.0f}" if x >= 0 else f"−{currency} {-x:,.0f}"
    )


def money_short(currency: str) -> FuncFormatter:
    """Axis formatter for large amounts: ``USD 150k``, ``USD 1.2M`` (ticks of WTP axes)."""

    def short(x: float, _=None) -> str:
        sign, x = ("−" if x < 0 else ""), abs(x)
        if x >= 1e6:
            return f"{sign}{currency} {x / 1e6:,.3g}M"
        if x >= 1e3:
            return f"{sign}{currency} {x / 1e3:,.3g}k"
        return f"{sign}{currency} {x:,.0f}"

    return FuncFormatter(short)


#: Line styles of the scenario's willingness-to-pay thresholds, in order.
WTP_STYLES = ("--", "-.", ":", (0, (5, 1)))


def mark_wtps(ax: Axes, wtps: Sequence[float], currency: str) -> None:
    """Dashed vertical lines at the willingness-to-pay thresholds (currency per QALY) on a
    WTP axis, each labelled at the top; thresholds beyond the axis are left out."""
    lo, hi = ax.get_xlim()
    for w, ls in zip(wtps, WTP_STYLES * len(wtps), strict=False):
        if not lo <= w <= hi:
            continue
        ax.axvline(w, color="black", ls=ls, lw=1, alpha=0.75)
        ax.text(w, 0.98, f" WTP {money_short(currency)(w)}", transform=ax.get_xaxis_transform(),
                rotation=90, ha="right", va="top", fontsize=8.5)  # fmt: skip
    ax.set_xlim(lo, hi)


def _wtp_axis(ax: Axes, grid, currency: str, wtps: Sequence[float] | None) -> None:
    """WTP x-axis over ``grid`` (currency per QALY) with short money ticks and ``wtps``
    marked."""
    ax.set_xlim(float(min(grid)), float(max(grid)))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    ax.xaxis.set_major_formatter(money_short(currency))
    ax.set_xlabel(f"Willingness to pay ({currency} per QALY)")
    if wtps:
        mark_wtps(ax, wtps, currency)


def note(ax: Axes, text: str, x: float = 0.5, y: float = 0.5) -> None:
    """A boxed note at ``(x, y)`` in axes coordinates (what a plot shows at a glance)."""
    ax.text(x, y, text, transform=ax.transAxes, ha="center", va="center", fontsize=9.5,
            bbox=dict(facecolor="white", edgecolor="grey", alpha=0.9))  # fmt: skip


def axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    with style():
        return plt.figure().add_subplot()


def save(ax: Axes, path) -> None:
    """Write the figure holding ``ax`` as PNG and close it."""
    with style():
        ax.figure.savefig(path)
    plt.close(ax.figure)


def ce_plane(
    plane: pd.DataFrame,
    currency: str,
    wtp: float | None = None,
    ax: Axes | None = None,
    order: Sequence[str] | None = None,
    wtps: Sequence[float] | None = None,
) -> Axes:
    """Cost-effectiveness plane: incremental QALYs (x) vs incremental cost (y, currency) per
    PSA sample, with a line through the reference (the origin) for each willingness to pay
    (``wtps``, or the single ``wtp``; currency per QALY). ``plane`` has columns strategy,
    inc_qaly, inc_cost."""
    with style():
        ax = axes(ax)
        colours = strategy_colours(order or plane["strategy"])
        for name, g in plane.groupby("strategy", sort=False, observed=True):
            ax.scatter(
                g["inc_qaly"],
                g["inc_cost"],
                s=8,
                alpha=0.45,
                color=colours[name],
                label=name,
                linewidths=0,
            )
            ax.scatter(
                g["inc_qaly"].mean(),
                g["inc_cost"].mean(),
                s=60,
                marker="D",
                color=colours[name],
                edgecolors="black",
                linewidths=0.8,
            )
        ax.axhline(0, color="grey", lw=0.8)
        ax.axvline(0, color="grey", lw=0.8)
        lines = list(wtps) if wtps is not None else [] if wtp is None else [wtp]
        lo, hi = ax.get_xlim()
        bottom, top = ax.get_ylim()
        for w, ls in zip(lines, WTP_STYLES * len(lines), strict=False):
            ax.plot([lo, hi], [w * lo, w * hi], color="black", ls=ls, lw=1,
                    label=f"WTP {currency} {w:,.0f}/QALY")  # fmt: skip
        ax.set_xlim(lo, hi)
        ax.set_ylim(bottom, top)
        ax.yaxis.set_major_formatter(money(currency))
        ax.set_xlabel("Incremental QALYs (discounted)")
        ax.set_ylabel(f"Incremental cost ({currency}, discounted)")
        ax.set_title("Cost-effectiveness plane (diamond: mean; below a WTP line: cost-effective)",
                     fontsize=11)  # fmt: skip
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), markerscale=2)
        return ax


def acceptability(
    curve: pd.DataFrame,
    currency: str,
    frontier: pd.DataFrame | None = None,
    ax: Axes | None = None,
    order: Sequence[str] | None = None,
    wtps: Sequence[float] | None = None,
) -> Axes:
    """CEAC (probability each strategy is cost-effective by WTP, currency per QALY) with the
    CEAF overlaid and the scenario's thresholds ``wtps`` marked."""
    with style():
        ax = axes(ax)
        colours = strategy_colours(order or curve["strategy"])
        for name, g in curve.groupby("strategy", sort=False, observed=True):
            ax.plot(g["wtp"], g["probability"], color=colours[name], lw=1.8, label=name)
        if frontier is not None:
            best = frontier["strategy"].unique()
            if len(best) == 1:
                note(ax, f"{best[0]} is the optimal choice at every WTP shown")
            ax.plot(
                frontier["wtp"],
                frontier["probability"],
                color="black",
                lw=3,
                alpha=0.35,
                label="acceptability frontier (CEAF)",
            )
        ax.set_ylim(-0.02, 1.02)
        _wtp_axis(ax, curve["wtp"], currency, wtps)
        ax.set_ylabel("Probability cost-effective")
        ax.set_title("Cost-effectiveness acceptability curves")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return ax


def evpi_curve(
    table: pd.DataFrame,
    currency: str,
    column: str = "evpi",
    ax: Axes | None = None,
    wtps: Sequence[float] | None = None,
) -> Axes:
    """Expected value of perfect information (currency) by willingness to pay (currency per
    QALY), with the scenario's thresholds ``wtps`` marked."""
    with style():
        ax = axes(ax)
        ax.plot(table["wtp"], table[column], color=PALETTE[0], lw=2)
        ax.set_ylim(bottom=0, top=max(float(table[column].max()) * 1.08, 1.0))
        _wtp_axis(ax, table["wtp"], currency, wtps)
        ax.yaxis.set_major_formatter(money(currency))
        per = "per patient" if column == "evpi" else "population"
        ax.set_ylabel(f"EVPI ({currency}, {per})")
        ax.set_title("Expected value of perfect information")
        return ax


def evppi_plot(
    table: pd.DataFrame,
    currency: str,
    wtp: float | None = None,
    evpi: float | None = None,
    top: int = 15,
    ax: Axes | None = None,
) -> Axes:
    """Bars of the expected value of partial perfect information (currency per patient) of the
    ``top`` parameter groups at one willingness to pay (default: the table's first), with the
    EVPI of all parameters (``evpi``) as a dashed line. ``table``: :func:`cea.evppi` output
    (group, wtp, evppi); groups named by parameter path get readable labels."""
    from .labels import parameter_label

    wtp = float(table["wtp"].iloc[0]) if wtp is None else wtp
    t = table[np.isclose(table["wtp"], wtp)].nlargest(top, "evppi").iloc[::-1]
    labels = [parameter_label(g) if "." in g else g for g in t["group"]]
    with style():
        if ax is None:
            ax = plt.figure(figsize=(8, 1.4 + 0.34 * max(len(t), 3))).add_subplot()
        ax.barh(range(len(t)), t["evppi"], color=PALETTE[0], height=0.65)
        if evpi is not None:
            ax.axvline(evpi, color="black", ls="--", lw=1, label="EVPI (all parameters)")
            ax.legend(loc="lower right")
        ax.set_yticks(range(len(t)), labels, fontsize=8.5)
        top = max(float(t["evppi"].max()), evpi or 0.0)
        ax.set_xlim(0, top * 1.08 or 1.0)
        if top < 10:  # whole currency units: a few ticks, never "USD 0, USD 0, USD 1"
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
        if not (t["evppi"] > 0).any():
            note(
                ax,
                "EVPPI is 0 for every parameter: the same strategy is optimal\n"
                "whatever the value of any one parameter",
            )
        ax.xaxis.set_major_formatter(money(currency))
        ax.set_xlabel(f"EVPPI ({currency} per patient)")
        ax.set_title(f"Partial value of information at WTP {currency} {wtp:,.0f}/QALY",
                     fontsize=11)  # fmt: skip
        ax.grid(axis="y", visible=False)
        return ax


_STATES = (  # (label, colour) of the timeline bars
    ("progression-free on AI", "#56B4E9"),
    ("ESR1 mutation, untreated", "#E69F00"),
    ("progression-free after switch", "#009E73"),
    ("progressed", "#D55E00"),
)


def patient_timelines(
    patients: pd.DataFrame,
    events: pd.DataFrame,
    strategy: str,
    ids: Sequence[int] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Gantt-style timelines of a few patients under one strategy (time in months).

    Bars show the health state; markers show blood draws, positive results, the switch,
    progression seen on a scan and death. ``patients``/``events``: ``Results.patients`` and
    ``Results.events`` of a run with ``trace=True``.
    """
    from ..scenario.units import DAYS_PER_MONTH

    rows = patients[patients["strategy"] == strategy]
    if ids is not None:
        rows = rows[rows["patient"].isin(ids)]
    rows = rows.head(12)
    ev = events[events["strategy"] == strategy]
    with style():
        ax = axes(ax)
        inf = float("inf")
        for y, row in enumerate(rows.itertuples()):
            end = row.death_days if pd.notna(row.death_days) else row.progression_free_days
            end = max(end, row.progression_free_days)
            t1 = row.true_progression_days if pd.notna(row.true_progression_days) else inf
            emerge = row.emergence_days if pd.notna(row.emergence_days) else inf
            switch = row.switch_days if pd.notna(row.switch_days) else inf
            cuts = [
                (0.0, min(emerge, switch, t1, end)),
                (emerge, min(switch, t1, end)),
                (switch, min(t1, end)),
                (t1, end),
            ]
            for (start, stop), (_, colour) in zip(cuts, _STATES, strict=True):
                if stop > start:
                    ax.barh(
                        y,
                        (stop - start) / DAYS_PER_MONTH,
                        left=start / DAYS_PER_MONTH,
                        color=colour,
                        height=0.55,
                    )
            mine = ev[ev["patient"] == row.patient]
            draws = mine[mine["event"] == "draw"]["day"] / DAYS_PER_MONTH
            ax.scatter(draws, [y + 0.38] * len(draws), marker="|", color="black", s=40)
            pos = mine[(mine["event"] == "result") & (mine["detail"] == "positive")]
            ax.scatter(
                pos["day"] / DAYS_PER_MONTH,
                [y + 0.38] * len(pos),
                marker="o",
                color="#CC79A7",
                s=30,
                zorder=3,
            )
            for event, marker in (("progression_detected", "v"), ("switch", "*")):
                t = mine[mine["event"] == event]["day"] / DAYS_PER_MONTH
                ax.scatter(t, [y] * len(t), marker=marker, color="black", s=60, zorder=3)
            if pd.notna(row.death_days):
                ax.scatter(row.death_days / DAYS_PER_MONTH, y, marker="X", color="black", s=60)
        ax.set_yticks(range(len(rows)), [f"patient {p}" for p in rows["patient"]])
        ax.invert_yaxis()
        ax.set_xlabel("Months since start of first-line therapy")
        ax.set_title(f"Patient timelines — {strategy}")
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        handles = [Patch(color=c, label=label) for label, c in _STATES] + [
            Line2D([], [], marker="|", ls="", color="black", label="blood draw"),
            Line2D([], [], marker="o", ls="", color="#CC79A7", label="positive result"),
            Line2D([], [], marker="*", ls="", color="black", label="switch"),
            Line2D([], [], marker="v", ls="", color="black", label="progression on scan"),
            Line2D([], [], marker="X", ls="", color="black", label="death"),
        ]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.grid(axis="y", visible=False)
        return ax


def cost_breakdown(summary: pd.DataFrame, currency: str, ax: Axes | None = None) -> Axes:
    """Stacked bars of mean discounted cost per patient by category, one bar per strategy.

    ``summary``: :meth:`Results.summary` (columns ``cost_<category>``)."""
    from ..model.outcomes import COST_CATEGORIES

    with style():
        ax = axes(ax)
        names = list(summary["strategy"])
        left = pd.Series(0.0, index=range(len(names)))
        for i, cat in enumerate(COST_CATEGORIES):
            values = summary[f"cost_{cat}"].reset_index(drop=True)
            ax.barh(
                range(len(names)),
                values,
                left=left,
                color=PALETTE[i % len(PALETTE)],
                label=cat.replace("_", " "),
                height=0.6,
            )
            left = left + values
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(money(currency))
        ax.set_xlabel(f"Mean cost per patient ({currency}, discounted)")
        ax.set_title("Costs by category")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.grid(axis="y", visible=False)
        for label in ax.get_xticklabels():
            label.set_rotation(20)
        return ax


def frontier_plane(frontier: pd.DataFrame, currency: str, ax: Axes | None = None) -> Axes:
    """Mean cost against mean QALYs per strategy, with the efficiency frontier joined.

    ``frontier``: :func:`hemodel.analysis.cea.incremental_analysis` output (strategy, cost, qaly,
    status)."""
    with style():
        ax = axes(ax)
        colours = strategy_colours(frontier["strategy"])
        on = frontier[frontier["status"] == "frontier"].sort_values("cost")
        ax.plot(on["qaly"], on["cost"], color="grey", lw=1.2, zorder=1, label="efficiency frontier")
        for row in frontier.itertuples():
            marker = "o" if row.status == "frontier" else "X"
            ax.scatter(
                row.qaly,
                row.cost,
                color=colours[row.strategy],
                marker=marker,
                s=70,
                label=f"{row.strategy} ({row.status})",
                zorder=2,
                edgecolors="black",
                linewidths=0.5,
            )
        ax.yaxis.set_major_formatter(money(currency))
        ax.set_xlabel("Mean QALYs per patient (discounted)")
        ax.set_ylabel(f"Mean cost per patient ({currency}, discounted)")
        ax.set_title("Strategies and the efficiency frontier")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return ax
