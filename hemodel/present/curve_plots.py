"""Plots of survival curves and state occupancy over time per strategy
(:mod:`hemodel.analysis.curves`): what a reader of a cohort model expects to see beside the
cost-effectiveness results. Time axes are in months from the start of first-line therapy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..analysis.curves import STATES, medians
from .plots import strategy_colours, style

#: One colour per state of :data:`hemodel.analysis.curves.STATES` (as the timelines).
STATE_COLOURS = ("#56B4E9", "#009E73", "#D55E00", "#CC79A7", "#999999")

#: Full names of the curves, for panel titles.
CURVE_TITLES = {
    "PFS": "Progression-free survival",
    "PFS2": "Survival free of second progression (PFS2)",
    "OS": "Overall survival",
}


def shown_months(curves: pd.DataFrame, curve: str = "OS", level: float = 0.02) -> float:
    """The months worth showing: until every strategy's ``curve`` is at most ``level``,
    rounded up to a whole year (the whole grid if it never gets there)."""
    g = curves[curves["curve"] == curve] if "curve" in curves else curves
    whole = float(curves["month"].max())
    first = g[g["proportion"] <= level].groupby("strategy", sort=False)["month"].min()
    if first.size < g["strategy"].nunique():
        return whole
    return min(whole, 12.0 * math.ceil(float(first.max()) / 12.0))


def survival_plot(
    curves: pd.DataFrame,
    order: Sequence[str] | None = None,
    panels: Sequence[str] = ("PFS", "OS"),
    max_months: float | None = None,
) -> Axes:
    """One panel per curve of ``panels`` (:func:`hemodel.analysis.curves.survival_curves`),
    one line per strategy in its colour, each median marked (dotted drop line and in the
    legend). ``order``: the scenario's strategies (keeps colours). Returns the first panel's
    Axes (the figure holds all)."""
    colours = strategy_colours(order or curves["strategy"])
    mids = medians(curves).set_index(["strategy", "curve"])["median_months"]
    end = max_months or shown_months(curves)
    with style():
        fig, axs = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.6), squeeze=False)
        for ax, curve in zip(axs[0], panels, strict=True):
            for name, g in curves[curves["curve"] == curve].groupby("strategy", sort=False):
                m = mids[(name, curve)]
                text = "not reached" if math.isnan(m) else f"{m:g} months"
                ax.step(g["month"], g["proportion"], where="post", color=colours[name], lw=1.6,
                        label=f"{name} (median {text})")  # fmt: skip
                if not math.isnan(m):
                    ax.plot([m, m], [0, 0.5], color=colours[name], ls=":", lw=1.2)
            ax.axhline(0.5, color="grey", lw=0.8, ls="--")
            ax.set_xlim(0, end)
            ax.set_ylim(0, 1.02)
            ax.set_xticks(np.arange(0, end + 1, 12 if end <= 120 else 24))
            ax.set_xlabel("Months from start of first-line therapy")
            ax.set_ylabel("Proportion of patients event-free")
            ax.set_title(CURVE_TITLES.get(curve, curve), fontsize=11)
            ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
    return axs[0][0]


def state_occupancy_plot(
    trace: pd.DataFrame,
    order: Sequence[str] | None = None,
    max_months: float | None = None,
    columns: int = 3,
) -> Axes:
    """Stacked areas of the share of patients in each health state over time, one panel per
    strategy (``columns`` panels a row). ``trace``:
    :func:`hemodel.analysis.curves.state_occupancy`. Returns the first panel's Axes (the
    figure holds all)."""
    names = list(order or dict.fromkeys(trace["strategy"]))
    names = [n for n in names if n in set(trace["strategy"])]
    end = max_months or shown_months(trace[trace["state"] == "dead"].assign(
        proportion=lambda d: 1 - d["proportion"]))  # fmt: skip
    rows = math.ceil(len(names) / columns)
    with style():
        fig, axs = plt.subplots(rows, columns, figsize=(4.4 * columns, 1.2 + 3.0 * rows),
                                sharex=True, sharey=True, squeeze=False)  # fmt: skip
        for ax in axs.ravel()[len(names) :]:
            ax.set_visible(False)
        for ax, name in zip(axs.ravel(), names, strict=False):
            wide = trace[trace["strategy"] == name].pivot(
                index="month", columns="state", values="proportion"
            )[list(STATES)]
            ax.stackplot(wide.index, wide.to_numpy().T, colors=STATE_COLOURS, labels=STATES,
                         step="post", lw=0)  # fmt: skip
            ax.set_xlim(0, end)
            ax.set_ylim(0, 1)
            ax.set_title(name, fontsize=10.5)
            ax.grid(alpha=0.2)
        for ax in axs[:, 0]:
            ax.set_ylabel("Proportion of patients")
        for ax in axs[-1, :]:
            ax.set_xlabel("Months from start of first-line therapy")
        handles, labels = axs[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncols=len(STATES), fontsize=8.5)
        fig.suptitle("Where the patients are: health state over time", fontweight="bold")
        fig.tight_layout(rect=(0, 0.06, 1, 1))
    return axs[0, 0]
