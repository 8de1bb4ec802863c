"""What ``hemodel evsi`` and the report's EVSI section show: tables, sentences and plots of the
expected value of sample information and the expected net benefit of sampling by study size.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import NullLocator

from ..analysis.evsi import MIN_EFFECTIVE, EVSIResult, run_evsi
from ..scenario.schema import Scenario
from ..scenario.studies import Study
from . import plots
from .plots import WTP_STYLES, money_short


def _m(x: float) -> str:
    return "—" if pd.isna(x) else f"{x:,.0f}"


def _title(scenario: Scenario, name: str) -> str:
    return scenario.studies[name].title or name


def evsi_display(table: pd.DataFrame, currency: str) -> pd.DataFrame:
    """evsi.csv for reading: money rounded, units and currency in the headers."""
    cur = currency
    out = pd.DataFrame(
        {
            "Study": table["study"],
            f"WTP ({cur}/QALY)": table["wtp"].map(_m),
            "Study size (patients or samples)": table["study_size"].map("{:,}".format),
            f"EVSI ({cur}/patient)": [
                f"{_m(v)} ± {_m(1.96 * s)}"
                for v, s in zip(table["evsi"], table["evsi_se"], strict=True)
            ],  # fmt: skip
            f"EVSI, moment matching ({cur}/patient)": table["evsi_moment_matching"].map(_m),
            f"EVPPI of the parameters it informs ({cur}/patient)": table["evppi"].map(_m),
            f"Population EVSI ({cur})": (table["evsi"] * table["population"]).map(_m),
            f"Study cost ({cur})": table["study_cost"].map(_m),
            f"ENBS ({cur})": table["enbs"].map(_m),
        }
    )
    return out


def optimal_sentences(result: EVSIResult, scenario: Scenario) -> list[str]:
    """One sentence per study and WTP: the optimal study size and why."""
    cur = scenario.currency
    out = []
    for row in result.optimal.itertuples():
        title = _title(scenario, row.study)
        at = f"at {cur} {row.wtp:,.0f}/QALY"
        part = result.table[(result.table["study"] == row.study)
                            & (result.table["wtp"] == row.wtp)]  # fmt: skip
        if part["population"].isna().all():
            out.append(f"{title} {at}: EVSI up to {cur} {part['evsi'].max():,.0f} per patient; "
                       "no ENBS without a population: block (incident patients, decision "
                       "horizon).")  # fmt: skip
        elif row.optimal_size == 0:
            studied = part[part["study_size"] > 0]
            if studied.empty:
                out.append(f"{title} {at}: only a study of size 0 was evaluated.")
                continue
            best = studied.loc[studied["enbs"].idxmax()]
            out.append(
                f"{title} {at}: not worth funding at any size evaluated — the largest ENBS is "
                f"{cur} {best['enbs']:,.0f} (n = {int(best['study_size']):,}: population EVSI "
                f"{cur} {best['evsi'] * best['population']:,.0f} against a cost of "
                f"{cur} {best['study_cost']:,.0f})."
            )
        else:
            value = f"ENBS {cur} {row.enbs:,.0f}, EVSI {cur} {row.evsi:,.0f} per patient"
            out.append(f"{title} {at}: optimal size {row.optimal_size:,} of those evaluated, "
                       f"{value}.")  # fmt: skip
    return out


def method_note(result: EVSIResult, scenario: Scenario, samples: int, patients: int) -> str:
    """How the numbers were made, in one paragraph."""
    pop = result.table.drop_duplicates("study").set_index("study")["population"].dropna()
    counts = ", ".join(f"{name} {p:,.0f}" for name, p in pop.items())
    who = (
        "ENBS = EVSI × the discounted new patients from when the study reports to the decision "
        f"horizon ({counts} patients) − the study's cost."
        if len(pop)
        else "No population: block, so no ENBS."
    )
    return (
        f"EVSI from {samples:,} PSA samples × {patients:,} patients (the same PSA as `hemodel "
        "psa` with this seed); at each sample every study was simulated from the model at that "
        "sample's parameters with patients of its own. Regression EVSI (Strong et al. 2015): "
        "incremental costs and QALYs regressed on the study's summaries; ± is 1.96 Monte Carlo "
        "standard errors (regression error not included; 0 ± 0: the fitted values never change "
        "the decision). Moment matching (Heath et al. 2018) where the study's likelihood is "
        "known (accuracy studies; — when its posteriors would rest on fewer than "
        f"{MIN_EFFECTIVE} effective PSA samples on average). EVPPI: of the parameters each "
        "study declares it informs; an upper bound of EVSI when they are all its data depend "
        "on. Costs in "
        f"{scenario.currency} "
        f"({scenario.price_year} prices), discounted. {who}"
    )


# ------------------------------------------------------------------------------ plots
def _lines(ax: Axes, table: pd.DataFrame, column: str, currency: str, wtps) -> None:
    for w, ls in zip(wtps, WTP_STYLES * len(wtps), strict=False):
        g = table[table["wtp"] == w].sort_values("study_size")
        label = f"WTP {money_short(currency)(w)}/QALY"
        line = ax.plot(g["study_size"], g[column], marker="o", ls=ls, label=label)[0]
        if column == "evsi":
            half = 1.96 * g["evsi_se"]
            ax.fill_between(g["study_size"], g["evsi"] - half, g["evsi"] + half,
                            color=line.get_color(), alpha=0.15, lw=0)  # fmt: skip
            ax.axhline(g["evppi"].iloc[0], color=line.get_color(), lw=1, alpha=0.6, ls=":")
            mm = g["evsi_moment_matching"]
            if mm.notna().any():
                ax.plot(g["study_size"], mm, "x", color=line.get_color(), ms=8, mew=2)


def _size_axis(ax: Axes, sizes, unit: str) -> None:
    """Study sizes on the x-axis, ticks at the sizes evaluated (a log scale when they span a
    factor of 4 or more, as doubling designs do; linear between 0 and the smallest study)."""
    sizes = sorted(set(int(n) for n in sizes))
    positive = [n for n in sizes if n > 0]
    if positive and positive[-1] >= 4 * positive[0]:
        if sizes[0] == 0:  # 0 on a linear stretch up to the smallest study
            ax.set_xscale("symlog", linthresh=positive[0], linscale=0.5)
            ax.set_xlim(-0.3 * positive[0], 1.15 * positive[-1])
        else:
            ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
    ax.set_xlabel(f"Study size ({unit})")


def size_unit(study: Study) -> str:
    """What a study's size counts."""
    return "patients randomised" if study.design == "trial" else "samples tested"


def evsi_plot(table: pd.DataFrame, title: str, currency: str, unit: str = "patients") -> Axes:
    """EVSI per patient against study size, one line per WTP (band: 95% Monte Carlo
    interval; dotted: the EVPPI of the parameters the study informs; x: moment matching)."""
    ax = plots.axes(None)
    wtps = list(dict.fromkeys(table["wtp"]))
    _lines(ax, table, "evsi", currency, wtps)
    _size_axis(ax, table["study_size"], unit)
    ax.set_ylabel(f"EVSI ({currency} per patient)")
    ax.yaxis.set_major_formatter(money_short(currency))
    ax.set_ylim(bottom=0)
    keys = "dotted: EVPPI of the parameters it informs"
    if table["evsi_moment_matching"].notna().any():
        keys += "; ×: moment matching"
    ax.set_title(f"{title}\nEVSI ({keys})", fontsize=10.5)
    ax.legend(fontsize=8.5, loc="center right")
    if np.nanmax(table[["evsi", "evppi"]].to_numpy(float)) <= 0:
        ax.set_ylim(0, 1)
        ax.set_yticks([0])
        plots.note(ax, "EVSI and EVPPI are 0: the decision does not change\nwhatever the "
                       "study finds", y=0.6)  # fmt: skip
    return ax


def enbs_plot(
    table: pd.DataFrame, optimal: pd.DataFrame, title: str, currency: str, unit: str = "patients"
) -> Axes:
    """ENBS against study size, one line per WTP, the optimal size marked."""
    ax = plots.axes(None)
    wtps = list(dict.fromkeys(table["wtp"]))
    _lines(ax, table, "enbs", currency, wtps)
    ax.axhline(0, color="black", lw=0.8)
    best = optimal[optimal["optimal_size"] > 0]
    for row in best.itertuples():
        ax.plot(row.optimal_size, row.enbs, "*", color="black", ms=14, zorder=5)
    _size_axis(ax, table["study_size"], unit)
    ax.set_ylabel(f"ENBS ({currency}, population EVSI − study cost)")
    ax.yaxis.set_major_formatter(money_short(currency))
    ax.set_title(f"{title}\nExpected net benefit of sampling (★ optimal size)", fontsize=10.5)
    ax.legend(fontsize=8.5, loc="best")
    if best.empty:
        plots.note(ax, "ENBS < 0 at every size: no study of these sizes is worth its cost",
                   y=0.25)  # fmt: skip
    return ax


# ---------------------------------------------------------------------------- outputs
def evsi_outputs(
    scenario: Scenario,
    samples: int,
    patients: int,
    seed: int,
    out: str | os.PathLike,
    *,
    studies=None,
    sizes=None,
    wtps=None,
    progress: bool | None = False,
    **execution,
) -> dict:
    """Run :func:`~hemodel.analysis.evsi.run_evsi` and write its files into ``out``:
    evsi.csv, evsi_optimal.csv, study_<name>.csv (simulated summaries), psa_samples.csv,
    psa_parameters.csv, evsi_<name>.png and enbs_<name>.png. Returns the result, the display
    table, the sentences and the PNG paths."""
    result = run_evsi(scenario, samples, patients, seed, studies=studies, sizes=sizes,
                      wtps=wtps, progress=progress, **execution)  # fmt: skip
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cur = scenario.currency
    result.table.assign(currency=cur).to_csv(out / "evsi.csv", index=False)
    result.optimal.assign(currency=cur).to_csv(out / "evsi_optimal.csv", index=False)
    for name, data in result.data.items():
        data.to_csv(out / f"study_{name}.csv", index=False)
    result.per_sample.to_csv(out / "psa_samples.csv", index=False)
    result.drawn.to_csv(out / "psa_parameters.csv", index=False)
    pngs = []
    for name in result.data:
        table = result.table[result.table["study"] == name]
        best = result.optimal[result.optimal["study"] == name]
        title, unit = _title(scenario, name), size_unit(scenario.studies[name])
        for kind, ax in (("evsi", evsi_plot(table, title, cur, unit)),
                         ("enbs", enbs_plot(table, best, title, cur, unit))):  # fmt: skip
            path = out / f"{kind}_{name}.png"
            plots.save(ax, path)
            pngs.append(path)
    return {
        "result": result,
        "display": evsi_display(result.table, cur),
        "sentences": optimal_sentences(result, scenario),
        "note": method_note(result, scenario, samples, patients),
        "pngs": pngs,
    }
