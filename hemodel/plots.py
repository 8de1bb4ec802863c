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

#: Okabe & Ito (2008) colour-blind-safe palette.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")  # fmt: skip

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
