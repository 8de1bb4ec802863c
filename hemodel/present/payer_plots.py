"""Plots of the payer analyses: testing-frequency sweeps, threshold prices and budget impact.

Every axis names its unit and the scenario's currency; money is discounted unless a label
says undiscounted.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..analysis.threshold import threshold_prices
from .plots import axes, money, strategy_colours, style


def sweep_plot(
    table: pd.DataFrame,
    currency: str,
    wtp: float,
    reference: tuple[float, float],
    panels: Sequence[Axes] | None = None,
) -> Sequence[Axes]:
    """Cost, QALYs and incremental NMB at ``wtp`` against the testing interval, one line per
    assay / switch timing / start, on three ``panels`` (new ones if None, which it returns).
    ``table``: the sweep grid (:func:`hemodel.analysis.sweep.expand`) with mean cost and
    qaly; ``reference``: the reference strategy's (cost, qaly), drawn as a dashed line."""
    ref_cost, ref_qaly = reference
    with style():
        if panels is None:
            _, panels = plt.subplots(1, 3, figsize=(14, 4.4), gridspec_kw={"wspace": 0.45})
        table = table.assign(inmb=wtp * (table["qaly"] - ref_qaly) - (table["cost"] - ref_cost))
        keys = list(
            dict.fromkeys(zip(table["assay"], table["when"], table["start_weeks"], strict=True))
        )
        colours = strategy_colours(keys)
        for key, g in table.groupby(["assay", "when", "start_weeks"], sort=False):
            g = g.sort_values("every_weeks")
            label = f"{key[0]}, switch {key[1].replace('_', ' ')}, from week {key[2]:g}"
            for ax, col in zip(panels, ("cost", "qaly", "inmb"), strict=True):
                ax.plot(g["every_weeks"], g[col], marker="o", color=colours[key], label=label)
        for ax, level in zip(panels, (ref_cost, ref_qaly, 0.0), strict=True):
            ax.axhline(level, color="grey", ls="--", lw=1, label="reference strategy")
        titles = (
            f"Mean cost ({currency}, disc.)",
            "Mean QALYs (disc.)",
            f"Incremental NMB at {currency} {wtp:,.0f}/QALY",
        )
        for ax, title in zip(panels, titles, strict=True):
            ax.set_xlabel("Testing interval (weeks)")
            ax.set_title(title, fontsize=10.5)
        panels[0].yaxis.set_major_formatter(money(currency))
        panels[2].yaxis.set_major_formatter(money(currency))
        panels[1].set_ylabel("QALYs per patient")
        panels[2].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
        return panels


def icer_price_plot(
    lines: pd.DataFrame,
    wtp: float | Sequence[float],
    reference: str | None = None,
    label: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """ICER against the reference as a function of price, one line per strategy whose cost
    depends on the price, with each WTP (dashed) and each threshold price (dot) marked."""
    reference = reference or str(lines["reference"].iloc[0])
    thr = threshold_prices(lines, wtp, reference)
    thr = thr[(thr["inc_cost_per_price_unit"] != 0) & (thr["inc_qaly"] > 0)]
    cur, unit = lines["currency"].iloc[0], lines["price_unit"].iloc[0]
    base = float(lines["base_price"].iloc[0])
    label = label or lines["price_parameter"].iloc[0]
    stars = thr["threshold_price"].to_numpy(float)
    lo = min(0.0, 1.1 * stars.min()) if stars.size else 0.0
    hi = max(2.0 * base, 1.1 * stars.max() if stars.size else 0.0, 1.0)
    grid = np.linspace(lo, hi, 200)
    colours = strategy_colours(lines["strategy"])
    with style():
        ax = axes(ax)
        for name, g in thr.groupby("strategy", sort=False):
            s = g.iloc[0]
            icer = (s["inc_cost_at_zero"] + s["inc_cost_per_price_unit"] * grid) / s["inc_qaly"]
            ax.plot(grid, icer, color=colours[name], lw=1.8, label=name)
            ax.scatter(g["threshold_price"], g["wtp"], color=colours[name], s=36, zorder=3,
                       edgecolors="black", linewidths=0.6)  # fmt: skip
        for w, ls in zip(
            np.atleast_1d(wtp).astype(float), ("--", "-.", ":", (0, (5, 1))), strict=False
        ):
            ax.axhline(w, color="black", ls=ls, lw=1, label=f"WTP {cur} {w:,.0f}/QALY")
        ax.axvline(base, color="grey", lw=1.5, alpha=0.7, label=f"base price {cur} {base:,.0f}")
        if lo < 0:
            ax.axvspan(lo, 0, color="grey", alpha=0.12, lw=0, label="negative price (unattainable)")
        ax.set_xlim(lo, hi)
        ax.xaxis.set_major_formatter(money(cur))
        ax.yaxis.set_major_formatter(money(cur))
        ax.set_xlabel(f"Price of {label} ({unit})")
        ax.set_ylabel(f"ICER vs {reference} ({cur} per QALY)")
        ax.set_title(f"Threshold price of {label}\n(dots: price at which ICER = WTP)")
        ax.legend(loc="upper left", fontsize=8)
        for t in ax.get_xticklabels():
            t.set_rotation(20)
        return ax


#: One colour per cost category (Okabe-Ito plus grey for the ninth).
_CATEGORY_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
                     "#000000", "#999999")  # fmt: skip


def budget_plot(
    table: pd.DataFrame, strategy: str, subtitle: str = "", ax: Axes | None = None
) -> Axes:
    """Stacked bars of the budget impact by cost category per calendar year for one
    strategy (increases above zero, savings below), with the net impact marked."""
    t = table[table["strategy"] == strategy]
    if t.empty:
        raise ValueError(f"no budget impact rows for strategy {strategy!r}")
    cur = t["currency"].iloc[0]
    wide = t.pivot(index="year", columns="category", values="impact")
    categories = [c for c in dict.fromkeys(t["category"]) if (wide[c].abs() > 0).any()]
    colours = dict(zip(dict.fromkeys(t["category"]), _CATEGORY_COLOURS * 2, strict=False))
    years = wide.index.to_numpy()
    with style():
        ax = axes(ax)
        up, down = np.zeros(len(years)), np.zeros(len(years))
        for c in categories:
            v = wide[c].to_numpy(float)
            bottom = np.where(v >= 0, up, down)
            ax.bar(years, v, bottom=bottom, color=colours[c], width=0.65,
                   label=c.replace("_", " "))  # fmt: skip
            up += np.where(v >= 0, v, 0)
            down += np.where(v < 0, v, 0)
        net = wide.sum(axis=1).to_numpy(float)
        ax.plot(years, net, "D", color="black", ms=6, label="net impact")
        for x, y in zip(years, net, strict=True):
            ax.annotate(f"{cur} {y / 1e6:,.1f}M", (x, y), textcoords="offset points", xytext=(0, 7),
                        ha="center", fontsize=8, fontweight="bold")  # fmt: skip
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(years, [f"Year {y}" for y in years])
        ax.grid(axis="x", visible=False)
        ax.yaxis.set_major_formatter(money(cur))
        ax.set_xlabel("Calendar year after adoption")
        ax.set_ylabel(f"Budget impact ({cur} per year, undiscounted)")
        title = f"Budget impact of {strategy} vs {t['reference'].iloc[0]}"
        ax.set_title(title + (f"\n{subtitle}" if subtitle else ""), fontsize=11)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8.5)
        return ax
