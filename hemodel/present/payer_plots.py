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
from .plots import PALETTE, WTP_STYLES, axes, money, money_short, strategy_colours, style


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


def price_range(thresholds: pd.DataFrame, base: float) -> tuple[float, float]:
    """Prices to show (price unit): 0 to twice the base price, stretched to 1.25 × the
    largest threshold price of at least 0 (``thresholds``: :func:`threshold_prices`)."""
    stars = thresholds["threshold_price"].to_numpy(float)
    stars = stars[np.isfinite(stars) & (stars >= 0)]
    return 0.0, max(2.0 * base, 1.25 * stars.max() if stars.size else 0.0, 1.0)


def icer_range(icers: np.ndarray, wtps: np.ndarray, reachable: bool) -> tuple[float, float]:
    """ICERs to show (currency per QALY): up to 3 × the largest WTP when some price of at
    least 0 reaches a WTP (the crossings are what matter), else up to the largest ICER on
    the price range (the gap to the WTPs is what matters); down to the lowest ICER when it is
    negative (cost-saving), but no further than half the top."""
    top = 3.0 * wtps.max() if reachable else max(1.1 * np.nanmax(icers), 1.5 * wtps.max())
    return max(min(0.0, float(np.nanmin(icers))), -0.5 * top), top


def icer_price_plot(
    lines: pd.DataFrame,
    wtp: float | Sequence[float],
    reference: str | None = None,
    label: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """ICER against the reference (currency per QALY) as a function of price (from 0), one
    line per strategy that gains QALYs, with each WTP (dashed) and each threshold price (dot)
    marked. The axes show prices from 0 to a few times the base price (:func:`price_range`)
    and the ICERs that decide (:func:`icer_range`); when no price of at least 0 reaches a
    WTP, a note says so."""
    reference = reference or str(lines["reference"].iloc[0])
    wtps = np.atleast_1d(wtp).astype(float)
    thr = threshold_prices(lines, wtps, reference)
    thr = thr[thr["inc_qaly"] > 0]
    cur, unit = lines["currency"].iloc[0], lines["price_unit"].iloc[0]
    base = float(lines["base_price"].iloc[0])
    label = label or lines["price_parameter"].iloc[0]
    lo, hi = price_range(thr, base)
    grid = np.linspace(lo, hi, 200)
    first = thr.drop_duplicates("strategy")
    icers = {
        s.strategy: (s.inc_cost_at_zero + s.inc_cost_per_price_unit * grid) / s.inc_qaly
        for s in first.itertuples()
    }
    shown = thr[(thr["threshold_price"] >= lo) & (thr["threshold_price"] <= hi)]
    all_icers = np.concatenate(list(icers.values())) if icers else np.zeros(1)
    bottom, top = icer_range(all_icers, wtps, not shown.empty)
    colours = strategy_colours(lines["strategy"])
    with style():
        if ax is None:
            ax = plt.figure(figsize=(9, 5)).add_subplot()
        for s in first.itertuples():
            note = f"ICER at base price {money(cur)(s.icer_at_base)}"
            if s.inc_cost_per_price_unit == 0:
                note += "; price does not change it"
            ax.plot(grid, icers[s.strategy], color=colours[s.strategy], lw=1.8,
                    label=f"{s.strategy} ({note})")  # fmt: skip
        ax.scatter(shown["threshold_price"], shown["wtp"], c=shown["strategy"].map(colours),
                   s=36, zorder=3, edgecolors="black", linewidths=0.6)  # fmt: skip
        for w, ls in zip(wtps, WTP_STYLES * len(wtps), strict=False):
            ax.axhline(w, color="black", ls=ls, lw=1, label=f"WTP {cur} {w:,.0f}/QALY")
        ax.axvline(base, color="grey", lw=1.5, alpha=0.7, label=f"base price {cur} {base:,.0f}")
        if bottom < 0:
            ax.axhspan(bottom, 0, color=PALETTE[2], alpha=0.1, lw=0,
                       label="cost-saving and more effective")  # fmt: skip
        if shown.empty and not first.empty:
            best = first.loc[first["icer_at_zero"].idxmin()]
            ax.text(0.02, 0.97, f"No price ≥ 0 brings an ICER down to a WTP:\nlowest ICER, "
                    f"at price 0: {money(cur)(best['icer_at_zero'])}/QALY ({best['strategy']})",
                    transform=ax.transAxes, va="top", fontsize=9,
                    bbox=dict(facecolor="white", edgecolor="grey", alpha=0.9))  # fmt: skip
        ax.set_xlim(lo, hi)
        ax.set_ylim(bottom, top)
        ax.xaxis.set_major_formatter(money(cur))
        ax.yaxis.set_major_formatter(money_short(cur))
        ax.set_xlabel(f"Price of {label} ({unit})")
        ax.set_ylabel(f"ICER vs {reference} ({cur} per QALY)")
        ax.set_title(f"Threshold price of {label}\n(dots: price at which ICER = WTP)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8.5)
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
        for x, y, high, low in zip(years, net, up, down, strict=True):
            above = y >= 0  # label beyond the end of the bars, clear of them
            ax.annotate(f"net {money_short(cur)(y)}", (x, high if above else low),
                        textcoords="offset points", xytext=(0, 4 if above else -4),
                        ha="center", va="bottom" if above else "top", fontsize=8,
                        fontweight="bold")  # fmt: skip
        ax.margins(y=0.12)
        title = f"Budget impact of {strategy} vs {t['reference'].iloc[0]}"
        _budget_axes(ax, years, cur, "Budget impact", title, subtitle)
        return ax


def budget_overview_plot(
    totals: pd.DataFrame,
    currency: str,
    order: Sequence[str] | None = None,
    subtitle: str = "",
    ax: Axes | None = None,
) -> Axes:
    """Net budget impact (currency per year, undiscounted) of every strategy against the
    reference, grouped bars by calendar year, each strategy's total over the years in the
    legend. ``totals``: :func:`hemodel.analysis.budget.totals`; ``order``: the scenario's
    strategies (keeps each strategy's colour)."""
    names = list(dict.fromkeys(totals["strategy"]))
    colours = strategy_colours(order or [totals["reference"].iloc[0], *names])
    years = np.sort(totals["year"].unique())
    width = 0.8 / len(names)
    with style():
        if ax is None:
            ax = plt.figure(figsize=(9, 4.8)).add_subplot()
        for i, name in enumerate(names):
            g = totals[totals["strategy"] == name].set_index("year").reindex(years)
            total = f"{len(years)}-year total {money_short(currency)(g['impact'].sum())}"
            ax.bar(years + (i - (len(names) - 1) / 2) * width, g["impact"], width=width * 0.92,
                   color=colours[name], label=f"{name} ({total})")  # fmt: skip
        title = f"Budget impact of each strategy vs {totals['reference'].iloc[0]}"
        _budget_axes(ax, years, currency, "Net budget impact", title, subtitle)
        return ax


def _budget_axes(
    ax: Axes, years: np.ndarray, currency: str, what: str, title: str, subtitle: str
) -> None:
    """The axes every budget plot shares: calendar years, money per year (undiscounted), a
    zero line, the title over the subtitle, the legend beside the plot."""
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(years, [f"Year {y}" for y in years])
    ax.grid(axis="x", visible=False)
    ax.yaxis.set_major_formatter(money_short(currency))
    ax.set_xlabel("Calendar year after adoption")
    ax.set_ylabel(f"{what} ({currency} per year, undiscounted)")
    ax.set_title(title + (f"\n{subtitle}" if subtitle else ""), fontsize=11)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8.5)
