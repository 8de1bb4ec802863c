"""Plots that say whether to believe the numbers: the virtual trial's Kaplan-Meier curves
against the trial's published medians, and the Monte Carlo convergence of incremental NMB."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from ..analysis.convergence import Convergence
from ..credibility.survival import kaplan_meier
from ..credibility.validate import Validation, target_range
from ..scenario.targets import ARMS, parse_quantity
from .plots import money, save, strategy_colours, style


def km_plot(validation: Validation, path, scenario=None, trial: str | None = None):
    """KM curves of PFS from randomisation in both arms of virtual trial ``trial`` (default:
    the first), trial medians (and CIs) marked at S = 0.5 and landmark targets at theirs."""
    run = validation.trials[trial] if trial else validation.trial
    name = run.design.name
    r = run.randomised
    targets = scenario.targets if scenario is not None else {}
    colours = strategy_colours(ARMS)
    with style():
        fig, ax = plt.subplots()
        for arm in ARMS:
            g = r[r["arm"] == arm]
            km = kaplan_meier(g["pfs_months"], g["pfs_event"])
            m = validation.measures[f"{name}.pfs_median_months.{arm}"]
            label = f"{arm} (simulated, n = {len(g):,}): median {m.value:.1f} months"
            ax.step(km.timeline, km.survival, where="post", color=colours[arm], label=label)
            ax.fill_between(
                km.timeline, km.lower, km.upper, step="post", color=colours[arm], alpha=0.25, lw=0
            )
            target = targets.get(f"{name}.pfs_median_months.{arm}")
            if target is not None:
                ax.plot([target.value] * 2, [0, 0.5], color=colours[arm], ls=":", lw=1.5)
                lo, hi = target_range(target) or (target.value, target.value)
                ax.errorbar(
                    target.value, 0.5, xerr=[[target.value - lo], [hi - target.value]],
                    fmt="D", color=colours[arm], mec="black", capsize=4,
                    label=f"{arm}: trial median {target.value:g} ({lo:g}–{hi:g})",
                )  # fmt: skip
            for key, target in targets.items():
                q = parse_quantity(key, scenario)
                if q is None or q.owner != name or q.template != "pfs_at_<m>_months.<arm>":
                    continue
                if q.arm != arm:
                    continue
                lo, hi = target_range(target) or (target.value, target.value)
                ax.errorbar(
                    q.months, target.value, yerr=[[target.value - lo], [hi - target.value]],
                    fmt="s", color=colours[arm], mec="black", capsize=4,
                    label=f"{arm}: trial PFS at {q.months:g} months {target.value:.0%}",
                )  # fmt: skip
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        hr = validation.measures[f"{name}.pfs_hazard_ratio"]
        ax.text(
            0.98, 0.6, f"simulated HR {hr.value:.2f} ({hr.low:.2f}–{hr.high:.2f})",
            transform=ax.transAxes, ha="right",
        )  # fmt: skip
        ax.set_xlim(0, max(30.0, 2.2 * (run.design.follow_up_months or 15)))
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("Months from randomisation")
        ax.set_ylabel("Progression-free survival (imaging-detected)")
        cut = run.design.follow_up_months
        cut = "complete follow-up" if cut is None else f"median follow-up {cut:g} months"
        ax.set_title(f"Virtual {run.design.title}: PFS from randomisation ({cut})")
        ax.legend(loc="upper right", fontsize=8.5)
        save(ax, path)
    return path


def convergence_plot(conv: Convergence, order=None) -> Axes:
    """Two panels: running mean INMB with its 95% band (top); standard error against patients,
    log-log, with the target precision and the patients needed for it (bottom)."""
    names = list(dict.fromkeys(conv.trace["strategy"]))
    colours = strategy_colours(order or [conv.reference, *names])
    trace = conv.trace[conv.trace["patients"] >= min(10, conv.trace["patients"].max() // 4)]
    settled = trace[trace["patients"] >= trace["patients"].max() / 20]
    with style():
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 7.6), sharex=True)
        for name, g in trace.groupby("strategy", sort=False):
            col = colours[name]
            top.plot(g["patients"], g["mean"], color=col, lw=1.6, label=name)
            top.fill_between(g["patients"], g["low"], g["high"], color=col, alpha=0.15, lw=0)
            bottom.plot(g["patients"], g["se"], color=col, lw=1.6, label=name)
        for _, row in conv.summary.iterrows():  # projected se = sd/√n up to the patients needed
            n = np.geomspace(row["patients"], max(row["patients_for_precision"], row["patients"]))
            sd, col = row["sd_per_patient"], colours[row["strategy"]]
            bottom.plot(n, sd / np.sqrt(n), color=col, lw=1, ls="--", alpha=0.7)
        lo, hi = settled["low"].min(), settled["high"].max()
        pad = 0.15 * (hi - lo) if hi > lo else 1.0
        top.set_ylim(min(lo, 0) - pad, max(hi, 0) + pad)
        top.axhline(0, color="grey", lw=0.8)
        top.set_xscale("log")
        top.yaxis.set_major_formatter(money(conv.currency))
        top.set_ylabel(f"Mean INMB ({conv.currency}, 95% band)")
        top.set_title(
            f"Convergence of incremental NMB vs {conv.reference} "
            f"(WTP {conv.currency} {conv.wtp:,.0f}/QALY)"
        )
        top.legend(loc="best", ncols=2 if len(names) > 3 else 1)
        bottom.set_yscale("log")
        target = bottom.axhline(conv.precision, color="black", ls="--", lw=1, label="target SE")
        for _, row in conv.summary.iterrows():
            bottom.axvline(
                row["patients_for_precision"], color=colours[row["strategy"]], ls=":", lw=1.2
            )
        bottom.yaxis.set_major_formatter(money(conv.currency))
        bottom.set_xlabel("Patients (log scale; dashed: projected SE, dotted: patients needed)")
        bottom.set_ylabel(f"Standard error of mean INMB ({conv.currency})")
        bottom.legend(handles=[target], loc="upper right")
        fig.tight_layout()
    return top
