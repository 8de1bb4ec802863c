"""Plots of a Bayesian calibration: each target against the model's posterior predictive."""

from __future__ import annotations

import math
import textwrap

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import FuncFormatter

from ..scenario.targets import STRATEGY_QUANTITIES, TRIAL_QUANTITIES, parse_quantity
from .plots import PALETTE, style

_TARGET, _MODEL = PALETTE[7], PALETTE[0]


def quantity_label(name: str, scenario=None) -> tuple[str, str, bool]:
    """``(description, unit, log axis)`` of a target quantity, e.g. ``("KM median PFS from
    randomisation, switch arm (months)", "months", False)``."""
    q = parse_quantity(name, scenario) if scenario is not None else None
    template = q.template if q is not None else name.partition(".")[2]
    text = {**TRIAL_QUANTITIES, **STRATEGY_QUANTITIES}.get(template, name)
    if q is not None:
        text = text.replace("<arm>", q.arm or "").replace("<k>", str(q.k or ""))
        text = text.replace("<m>", f"{q.months:g}" if q.months is not None else "")
    if "hazard_ratio" in template:
        return text, "hazard ratio (log scale)", True
    if "months" in template and "_at_" not in template:
        return text, "months", False
    if template.startswith("first_detection_test.median"):
        return text, "test number", False
    return text, "probability" if "_at_" in template else "proportion", False


def posterior_predictive_plot(predictive: pd.DataFrame, path, scenario=None, title=None):
    """One panel per target: the published estimate with its 95% CI and the model's
    posterior predictive median with its 95% interval over the re-simulated posterior
    draws. ``predictive``: :func:`hemodel.credibility.bayes.posterior_predictive`'s table."""
    n = len(predictive)
    cols = 1 if n <= 6 else 2  # many targets: two columns
    rows_ = math.ceil(n / cols)
    height = 1.4 + 1.6 * rows_
    with style():
        fig, grid = plt.subplots(rows_, cols, figsize=(7.5 * cols, height), squeeze=False)
        axes = grid.ravel()
        for ax in axes[n:]:
            ax.set_visible(False)
        for ax, (_, r) in zip(axes[:n], predictive.iterrows(), strict=True):
            text, unit, log = quantity_label(r["quantity"], scenario)
            draws = int(r["draws"])
            rows = [
                (1, r["target"], r["target_low"], r["target_high"], _TARGET, "D",
                 "published estimate (95% CI)"),
                (0, r["predictive_median"], r["predictive_low"], r["predictive_high"], _MODEL,
                 "o", f"model (simulated): posterior predictive median, 95% interval "
                 f"({draws} draws)"),
            ]  # fmt: skip
            for y, centre, lo, hi, colour, marker, label in rows:
                if not math.isfinite(centre):
                    ax.text(0.5, y, "not measured", transform=ax.get_yaxis_transform(),
                            ha="center", va="center", color=colour)  # fmt: skip
                    continue
                lo = centre if not math.isfinite(lo) else lo
                hi = centre if not math.isfinite(hi) else hi
                ax.errorbar(
                    centre, y, xerr=[[centre - lo], [hi - centre]], fmt=marker, color=colour,
                    mec="black", capsize=5, lw=2, ms=7, label=label,
                )  # fmt: skip
            if log:
                ax.set_xscale("log")
                plain = FuncFormatter(lambda x, _: f"{x:g}")
                ax.xaxis.set_major_formatter(plain)
                ax.xaxis.set_minor_formatter(plain)
            ax.set_ylim(-0.7, 1.7)
            ax.set_yticks([1, 0], ["target", "model"])
            ax.grid(axis="y", visible=False)
            ax.set_xlabel(unit)
            about = textwrap.fill(text, 95)
            ax.set_title(f"{r['quantity']}\n{about}", fontsize=9, loc="left")
        legend = {}
        for ax in axes[:n]:
            legend.update(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
        fig.legend(list(legend.values()), list(legend), loc="lower center", fontsize=8.5)
        fig.suptitle(title or "Targets against the calibrated model", fontweight="bold")
        fig.tight_layout(rect=(0, 0.7 / height, 1, 1 - 0.45 / height))
        fig.savefig(path)
    plt.close(fig)
    return path
