"""Plots that say whether to believe the numbers: the virtual trial's Kaplan-Meier curves
against the trial's published medians, and the Monte Carlo convergence of incremental NMB."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, NullFormatter

from ..analysis.convergence import Convergence
from ..credibility.survival import kaplan_meier
from ..credibility.validate import Validation, target_range
from ..scenario.targets import ARMS, parse_quantity
from .plots import money, save, strategy_colours, style


def km_plot(validation: Validation, path, scenario=None, trial: str | None = None):
    """Write :func:`km_axes` of virtual trial ``trial`` (default: the first) as PNG ``path``."""
    save(km_axes(validation, scenario, trial), path)
    return path


def km_axes(validation: Validation, scenario=None, trial: str | None = None) -> Axes:
    """KM curves of PFS (months) from randomisation in both arms of virtual trial ``trial``
    (default: the first), trial medians (and CIs) marked at S = 0.5 and landmark targets at
    theirs, the simulated hazard ratio beside the trial's (``targets:``), and the numbers at
    risk under the plot. Returns the curves' Axes."""
    run = validation.trials[trial] if trial else validation.trial
    name = run.design.name
    r = run.randomised
    targets = scenario.targets if scenario is not None else {}
    colours = strategy_colours(ARMS)
    with style():
        fig, (ax, risk) = plt.subplots(
            2, 1, figsize=(7.5, 5.8), sharex=True, gridspec_kw={"height_ratios": (5, 1)}
        )
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
        ax.text(0.02, 0.03, _hr_text(validation, name, targets), transform=ax.transAxes,
                ha="left", va="bottom", fontsize=9)  # fmt: skip
        ax.set_xlim(0, max(30.0, 2.2 * (run.design.follow_up_months or 15)))
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("Progression-free survival (imaging-detected)")
        cut = run.design.follow_up_months
        cut = "complete follow-up" if cut is None else f"median follow-up {cut:g} months"
        ax.set_title(f"Virtual {run.design.title}:\nPFS from randomisation ({cut})", fontsize=11)
        ax.legend(loc="upper right", fontsize=8.5)
        at_risk_table(risk, r, colours)
        fig.tight_layout()
    return ax


def _hr_text(validation: Validation, name: str, targets: dict) -> str:
    """The simulated PFS hazard ratio (switch vs continue) and, when ``targets`` hold it, the
    trial's."""
    hr = validation.measures[f"{name}.pfs_hazard_ratio"]
    text = f"HR switch vs continue\nsimulated {hr.value:.2f} ({hr.low:.2f}–{hr.high:.2f})"
    target = targets.get(f"{name}.pfs_hazard_ratio")
    if target is not None:
        lo, hi = target_range(target) or (target.value, target.value)
        text += f"\ntrial {target.value:.2f} ({lo:.2f}–{hi:.2f})"
    return text


def at_risk_table(ax: Axes, randomised, colours: dict) -> None:
    """Numbers at risk (PFS months at least the tick) per arm at the x ticks of ``ax``, as a
    table of text under the curves. ``randomised``: a trial run's randomised patients."""
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    for row, arm in enumerate(ARMS):
        months = randomised.loc[randomised["arm"] == arm, "pfs_months"].to_numpy(float)
        for t in ticks:
            ax.text(t, row, f"{int((months >= t).sum()):,}", ha="center", va="center",
                    fontsize=8.5, color=colours[arm])  # fmt: skip
    ax.set_ylim(len(ARMS) - 0.5, -0.5)
    ax.set_yticks(range(len(ARMS)), list(ARMS), fontsize=8.5)
    ax.set_title("Number at risk", fontsize=9, loc="left", fontweight="normal")
    ax.grid(False)
    ax.tick_params(axis="y", length=0, pad=16)
    ax.spines[["left", "bottom"]].set_visible(False)
    ax.set_xlabel("Months from randomisation")


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
        lo = min(settled["low"].min(), trace["mean"].min())  # every running mean is shown
        hi = max(settled["high"].max(), trace["mean"].max())
        pad = 0.08 * (hi - lo) if hi > lo else 1.0
        top.set_ylim(min(lo, 0) - pad, max(hi, 0) + pad)
        top.axhline(0, color="grey", lw=0.8)
        top.set_xscale("log")
        plain = FuncFormatter(lambda x, _: f"{x:,.0f}")
        top.xaxis.set_major_formatter(plain)
        top.xaxis.set_minor_formatter(NullFormatter())
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
        bottom.yaxis.set_minor_formatter(NullFormatter())
        bottom.set_xlabel("Patients (log scale; dashed: projected SE, dotted: patients needed)")
        bottom.set_ylabel(f"Standard error of mean INMB ({conv.currency})")
        bottom.legend(handles=[target], loc="lower left")
        fig.tight_layout()
    return top
