"""Plots with one consistent style: readable fonts, stable strategy colours (Okabe-Ito,
colour-blind safe), currency with thousands separators, months/years on time axes.

Every function draws on ``ax`` (a new figure if ``None``) and returns the Axes. Use
:func:`save` to write a PNG.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import contextmanager

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

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
) -> Axes:
    """Cost-effectiveness plane: incremental QALYs (x) vs incremental cost (y) per PSA sample,
    with the willingness-to-pay line. ``plane`` has columns strategy, inc_qaly, inc_cost."""
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
        if wtp is not None:
            lo, hi = ax.get_xlim()
            ax.plot(
                [lo, hi],
                [wtp * lo, wtp * hi],
                color="black",
                ls="--",
                lw=1,
                label=f"WTP {currency} {wtp:,.0f}/QALY",
            )
            ax.set_xlim(lo, hi)
        ax.yaxis.set_major_formatter(money(currency))
        ax.set_xlabel("Incremental QALYs (discounted)")
        ax.set_ylabel(f"Incremental cost ({currency}, discounted)")
        ax.set_title("Cost-effectiveness plane (diamond: mean)")
        ax.legend(loc="best", markerscale=2)
        return ax


def acceptability(
    curve: pd.DataFrame,
    currency: str,
    frontier: pd.DataFrame | None = None,
    ax: Axes | None = None,
    order: Sequence[str] | None = None,
) -> Axes:
    """CEAC (probability each strategy is cost-effective by WTP) with the CEAF overlaid."""
    with style():
        ax = axes(ax)
        colours = strategy_colours(order or curve["strategy"])
        for name, g in curve.groupby("strategy", sort=False, observed=True):
            ax.plot(g["wtp"], g["probability"], color=colours[name], lw=1.8, label=name)
        if frontier is not None:
            ax.plot(
                frontier["wtp"],
                frontier["probability"],
                color="black",
                lw=3,
                alpha=0.35,
                label="acceptability frontier (CEAF)",
            )
        ax.set_ylim(-0.02, 1.02)
        ax.xaxis.set_major_formatter(money(currency))
        ax.set_xlabel(f"Willingness to pay ({currency} per QALY)")
        ax.set_ylabel("Probability cost-effective")
        ax.set_title("Cost-effectiveness acceptability curves")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        for label in ax.get_xticklabels():
            label.set_rotation(20)
        return ax


def evpi_curve(
    table: pd.DataFrame, currency: str, column: str = "evpi", ax: Axes | None = None
) -> Axes:
    """Expected value of perfect information by willingness to pay."""
    with style():
        ax = axes(ax)
        ax.plot(table["wtp"], table[column], color=PALETTE[0], lw=2)
        ax.xaxis.set_major_formatter(money(currency))
        ax.yaxis.set_major_formatter(money(currency))
        ax.set_xlabel(f"Willingness to pay ({currency} per QALY)")
        per = "per patient" if column == "evpi" else "population"
        ax.set_ylabel(f"EVPI ({currency}, {per})")
        ax.set_title("Expected value of perfect information")
        for label in ax.get_xticklabels():
            label.set_rotation(20)
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
