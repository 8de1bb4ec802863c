"""Tables and plots of a probabilistic sensitivity analysis (used by ``hemodel psa``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis import cea
from ..analysis.population import decision_population
from ..analysis.psa import run_psa, uncertain_parameters
from ..engine.choice import choose
from ..model.inputs import build_inputs
from ..scenario.schema import Scenario
from . import plots
from .labels import parameter_label

#: Fewest PSA samples for the regression-based EVPPI (a 20-function spline per parameter).
MIN_EVPPI_SAMPLES = 50


def wtp_grid(
    scenario: Scenario,
    frontier: pd.DataFrame,
    wtp_max: float | None = None,
    points: int = 101,
    cover_frontier: bool = False,
) -> np.ndarray:
    """Willingness to pay from 0 to ``wtp_max`` (currency per QALY), ``points`` values.

    Default ``wtp_max``: 3 × the scenario's largest WTP, so its thresholds fill the axis;
    with ``cover_frontier``, at least twice the smallest ICER on the ``frontier``
    (:func:`cea.incremental_analysis`), so the first change of optimal strategy is inside."""
    if wtp_max is None:
        wtp_max = 3 * max(w.value for w in scenario.willingness_to_pay)
        icers = frontier["icer"].replace([np.inf, -np.inf], np.nan).dropna()
        if cover_frontier and len(icers):
            wtp_max = max(wtp_max, 2 * icers.min())
    return np.linspace(0.0, wtp_max, points)


def psa_outputs(
    scenario: Scenario,
    samples: int,
    patients: int,
    seed: int,
    out: Path,
    wtp_max: float | None = None,
    groups: dict | None = None,
    progress: bool | None = None,
    **execution,
) -> dict:
    """Run the PSA and write its CSV tables and PNG plots into ``out``; return the tables
    (:func:`psa_tables`).

    ``execution``: ``workers``, ``backend``, ``scheduler``, ``checkpoint`` for :func:`run_psa`.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cur = scenario.currency
    per, drawn = run_psa(scenario, samples, patients, seed, progress=progress, **execution)
    engine = choose(execution.get("engine", "auto"), build_inputs(scenario))
    t = psa_tables(scenario, per, drawn, patients, engine, wtp_max, groups)
    per.assign(currency=cur).to_csv(out / "psa_samples.csv", index=False)
    drawn.to_csv(out / "psa_parameters.csv", index=False)
    t["incremental"].to_csv(out / "psa_incremental.csv", index=False)
    for name in ("ceac", "ceaf", "evpi", "evppi"):
        if t[name] is not None:
            t[name].to_csv(out / f"{name}.csv", index=False)
    order, wtps = list(scenario.strategies), scenario.wtps
    plane = cea.ce_plane(per, scenario.reference)
    plots.save(plots.ce_plane(plane, cur, order=order, wtps=wtps), out / "ce_plane.png")
    ceac = plots.acceptability(t["ceac"], cur, t["ceaf"], order=order, wtps=wtps)
    plots.save(ceac, out / "ceac.png")
    plots.save(plots.evpi_curve(t["evpi"], cur, wtps=wtps), out / "evpi.png")
    if t["evppi"] is not None:
        evpi = float(cea.evpi(per, [wtps[0]])["evpi"].iloc[0])
        evppi = plots.evppi_plot(t["evppi"], cur, wtp=wtps[0], evpi=evpi)
        plots.save(evppi, out / "evppi.png")
    return t


def psa_tables(
    scenario: Scenario,
    per: pd.DataFrame,
    drawn: pd.DataFrame,
    patients: int,
    engine: str,
    wtp_max: float | None = None,
    groups: dict | None = None,
) -> dict:
    """The analysis of PSA results (:func:`run_psa`'s ``per`` and ``drawn``): frontier with
    Monte Carlo SEs, CEAC, CEAF and EVPI over a WTP grid up to ``wtp_max``
    (:func:`wtp_grid`), EVPPI of ``groups`` (default: each uncertain parameter) at the
    scenario's WTPs, and a display table with notes. EVPI and EVPPI per patient, and for the
    decision population when the scenario has a ``population:`` block
    (:func:`hemodel.analysis.population.decision_population`; columns ``*_population``)."""
    frontier = cea.incremental_analysis(per, mcse=True)
    grid = wtp_grid(scenario, frontier, wtp_max)
    wtps = scenario.wtps
    params = drawn.set_index("sample")
    if groups is None:
        groups = {p: [p] for p in uncertain_parameters(scenario)}
    population = decision_population(scenario)
    partial = None  # regression needs enough samples per basis function
    if len(params) >= MIN_EVPPI_SAMPLES and groups:
        partial = cea.evppi(per, params, wtps, groups=groups, population=population)
    table, notes = _summary(scenario, per, frontier, wtps, partial, patients, engine, population)
    return {
        "samples": per,
        "parameters": drawn,
        "incremental": frontier,
        "ceac": cea.ceac(per, grid),
        "ceaf": cea.ceaf(per, grid),
        "evpi": cea.evpi(per, grid, population=population),
        "evppi": partial,
        "table": table,
        "notes": notes,
        "text": "\n\n".join([notes[0], table.to_string(index=False), *notes[1:]]),
    }


def _summary(
    scenario, per, frontier, wtps, partial, patients, engine, population
) -> tuple[pd.DataFrame, list]:
    """Display table (one row per strategy) and notes of a PSA."""
    cur = scenario.currency
    g = per.groupby("strategy", sort=False)
    table = pd.DataFrame(
        {
            f"Cost ({cur}, mean)": g["cost"].mean().map("{:,.0f}".format),
            f"Cost sd between samples ({cur})": g["cost"].std().map("{:,.0f}".format),
            "QALYs (mean)": g["qaly"].mean().map("{:.3f}".format),
            "QALY sd between samples": g["qaly"].std().map("{:.3f}".format),
        }
    )
    for w in wtps:
        prob = cea.ceac(per, [w]).set_index("strategy")["probability"]
        table[f"P(cost-effective) at {cur} {w:,.0f}/QALY"] = prob.map("{:.2f}".format)
    status = frontier.set_index("strategy")
    table[f"ICER ({cur}/QALY)"] = [
        f"{status.loc[s, 'icer']:,.0f}"
        if np.isfinite(status.loc[s, "icer"])
        else status.loc[s, "status"]
        if status.loc[s, "status"] != "frontier"
        else "reference"
        for s in table.index
    ]
    table = table.reset_index()
    lines = [
        f"{scenario.name}: PSA of {per['sample'].nunique()} samples × {patients:,} "
        f"patients (same patients in every sample; costs {cur}, discounted; {engine} engine)"
    ]
    noise = per.groupby("strategy", sort=False)["cost_se"].mean()
    spread = g["cost"].std()
    lines.append(
        "\nFirst-order (patient-level) noise: the standard error of each sample's mean "
        "cost is "
        + ", ".join(f"{s} {noise[s]:,.0f}" for s in noise.index[:3])
        + f" … {cur}, against between-sample sd "
        + ", ".join(f"{spread[s]:,.0f}" for s in noise.index[:3])
        + ". It is a shared cohort effect (same patients), not part of the spread."
    )
    value = cea.evpi(per, wtps, population=population)
    lines.append(
        "EVPI per patient: "
        + ", ".join(
            f"{cur} {v:,.0f} at {cur} {w:,.0f}/QALY"
            for w, v in zip(value["wtp"], value["evpi"], strict=True)
        )
    )
    if population is not None:
        horizon = scenario.population.decision_horizon
        lines.append(
            f"Population EVPI ({population:,.0f} discounted patients over {horizon:g} years): "
            + ", ".join(
                f"{cur} {v:,.0f} at {cur} {w:,.0f}/QALY"
                for w, v in zip(value["wtp"], value["evpi_population"], strict=True)
            )
        )
    if partial is None:
        lines.append(
            f"EVPPI not computed: it needs at least {MIN_EVPPI_SAMPLES} samples and "
            "parameters with distributions."
        )
    else:
        top = partial[partial["wtp"] == wtps[0]].nlargest(5, "evppi")
        lines.append(
            f"Largest EVPPI per patient at {cur} {wtps[0]:,.0f}/QALY: "
            + ", ".join(
                f"{parameter_label(r.group)} {cur} {r.evppi:,.0f}" for r in top.itertuples()
            )
        )
    return table, lines
