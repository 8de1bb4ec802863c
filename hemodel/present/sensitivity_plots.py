"""Plots of the deterministic sensitivity analysis: the tornado diagram of a one-way table
and the heat map of a two-way grid (:mod:`hemodel.analysis.dsa`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Normalize, TwoSlopeNorm

from .labels import parameter_label
from .plots import PALETTE, axes, money, style
from .tables import short_number


def _outcome_label(measure: str, currency: str, wtp: float) -> str:
    if measure == "inmb":
        return f"Incremental net monetary benefit ({currency} per patient, WTP {wtp:,.0f}/QALY)"
    return f"ICER ({currency} per QALY gained)"


def tornado(table: pd.DataFrame, top: int = 15, ax: Axes | None = None) -> Axes:
    """Tornado diagram of a :func:`one_way` table: the ``top`` parameters by swing, bars from
    the base outcome to the outcome at each end of the range, on an axis centred on the base
    outcome (the decision line, INMB = 0 or ICER = WTP, is drawn when it falls on it)."""
    t = table[table["used"]].head(top).iloc[::-1]
    first = table.iloc[0]
    measure, cur, wtp = first["measure"], first["currency"], float(first["wtp"])
    base = float(first["base"])
    with style():
        if ax is None:
            ax = plt.figure(figsize=(9, 1.6 + 0.38 * len(t))).add_subplot()
        y = np.arange(len(t))
        for col, colour, label in (
            ("outcome_low", PALETTE[0], "parameter at low value"),
            ("outcome_high", PALETTE[1], "parameter at high value"),
        ):
            ax.barh(y, t[col] - base, left=base, color=colour, height=0.7, label=label)
        ax.axvline(base, color="black", lw=1)
        reach = np.nanmax(np.abs(t[["outcome_low", "outcome_high"]].to_numpy(float) - base))
        reach = 1.1 * reach if np.isfinite(reach) and reach > 0 else max(abs(base), 1.0) * 0.1
        ax.set_xlim(base - reach, base + reach)
        line, text = (0.0, "INMB = 0 (ICER = WTP)") if measure == "inmb" else (
            wtp, f"WTP {cur} {wtp:,.0f}/QALY")  # fmt: skip
        if abs(line - base) <= reach:
            ax.axvline(line, color="grey", lw=1, ls="--", label=text)
        else:  # a legend entry only: the line would squeeze the bars
            side = "→" if line > base else "←"
            ax.plot([], [], color="grey", lw=1, ls="--",
                    label=f"{text}: off the axis {side} at {money(cur)(line)}")  # fmt: skip
        labels = [
            f"{parameter_label(r.parameter)}\n"
            f"[{short_number(r.low)} – {short_number(r.high)} {r.unit}]".replace(" ]", "]")
            for r in t.itertuples()
        ]
        ax.set_yticks(y, labels, fontsize=8)
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_formatter(money(cur))
        for label in ax.get_xticklabels():
            label.set_rotation(20)
        ax.set_xlabel(_outcome_label(measure, cur, wtp))
        ax.set_title(
            f"One-way sensitivity: {first['comparison']} vs {first['reference']}\n"
            f"(base {money(cur)(base)}; {int(first['patients']):,} patients, "
            "common random numbers)"
        )
        ax.legend(loc="lower right", fontsize=8)
        return ax


def heatmap(grid: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Heat map of a :func:`two_way` grid, with the decision boundary (INMB = 0, or ICER =
    WTP) drawn as a contour when it crosses the grid, and each cell's value written in it.
    Blue is favourable to the comparison, red unfavourable."""
    first = grid.iloc[0]
    measure, cur, wtp = first["measure"], first["currency"], float(first["wtp"])
    table = grid.pivot(index="y_value", columns="x_value", values="outcome")
    xs, ys, z = table.columns.to_numpy(), table.index.to_numpy(), table.to_numpy()
    centre = 0.0 if measure == "inmb" else wtp
    finite = z[np.isfinite(z)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    boundary = "INMB = 0" if measure == "inmb" else f"ICER = {cur} {wtp:,.0f}/QALY"
    good_high = measure == "inmb"
    if lo < centre < hi:
        norm, cmap = TwoSlopeNorm(centre, lo, hi), "RdBu" if good_high else "RdBu_r"
        note = f"black line: {boundary}"
    else:
        favourable = (lo >= centre) == good_high
        norm = Normalize(lo, hi if hi > lo else lo + 1)
        cmap = (
            ("Blues" if good_high else "Blues_r")
            if favourable
            else ("Reds_r" if good_high else "Reds")
        )
        note = f"{'favourable' if favourable else 'unfavourable'} everywhere: no {boundary}"
    with style():
        ax = axes(ax)
        mesh = ax.pcolormesh(xs, ys, z, shading="nearest", cmap=cmap, norm=norm)
        bar = ax.figure.colorbar(mesh, ax=ax, format=money(cur))
        what = "INMB" if measure == "inmb" else "ICER"
        per = f"per patient, WTP {wtp:,.0f}/QALY" if measure == "inmb" else "per QALY"
        bar.set_label(f"{what} ({cur} {per})", fontsize=9)
        if isinstance(norm, TwoSlopeNorm):
            ax.contour(xs, ys, z, levels=[centre], colors="black", linewidths=1.5)
        colours = plt.get_cmap(cmap)
        for (i, j), v in np.ndenumerate(z):
            if np.isfinite(v) and z.size <= 121:
                r, g, b, _ = colours(norm(v))
                ink = "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"
                ax.text(xs[j], ys[i], f"{v / 1000:,.0f}k", ha="center", va="center",
                        fontsize=7.5, color=ink)  # fmt: skip
        ax.set_xticks(xs, [short_number(x) for x in xs])
        ax.set_yticks(ys, [short_number(y) for y in ys])
        xu, yu = first["x_unit"], first["y_unit"]
        ax.set_xlabel(f"{first['x_parameter']}" + (f" ({xu})" if xu else ""))
        ax.set_ylabel(f"{first['y_parameter']}" + (f" ({yu})" if yu else ""))
        ax.set_title(
            f"Two-way sensitivity: {first['comparison']} vs {first['reference']}\n"
            f"({note}; cells in thousands of {cur})",
            fontsize=11,
        )
        ax.grid(False)
        plt.setp(ax.get_xticklabels(), rotation=20)
        return ax
