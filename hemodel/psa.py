"""Probabilistic sensitivity analysis: parameter draws and per-sample simulation summaries.

Sample ``k`` (1, 2, …) draws every parameter that has a ``psa:`` distribution by inverse CDF
from the keyed uniform ``(seed, k, "psa:<parameter path>")``, so a draw does not depend on
which other parameters exist. Correlated parameters share a Gaussian copula
(``uncertainty.correlations``); probabilities summing to one come from a Dirichlet
(``uncertainty.dirichlet``, drawn as normalised gamma variates).

Every sample simulates the **same patients** (their natural-history streams are keyed by
sample 0): differences between samples then come from parameters only, so first-order
(patient-level) noise does not inflate EVPI or blur the CEAC, and a PSA whose distributions
are all degenerate reproduces the deterministic run exactly. First-order error remains as
one shared cohort effect, reported as the Monte Carlo standard error of each sample's mean.
Only per-strategy means are kept per sample, never per-patient rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special, stats

from . import random as rnd
from .economics import COST_CATEGORIES
from .scenario import parameters, with_values
from .schema import Scenario

#: Per-sample, per-strategy means kept by the PSA (per-patient outcome columns).
KEPT = ("cost_total", "qalys", "lys", "cost_total_undiscounted", "lys_undiscounted",
        "tests", "switched", "false_positive_switch",
        *(f"cost_{c}" for c in COST_CATEGORIES))  # fmt: skip


def uncertain_parameters(scenario: Scenario) -> dict:
    """Parameters drawn in the PSA: those with a non-degenerate ``psa:`` or in a Dirichlet."""
    params = parameters(scenario)
    out = {p: v for p, v in params.items() if v.psa is not None and v.psa.dist != "fixed"}
    for group in scenario.uncertainty.dirichlet:
        out.update({p: params[p] for p in group.parameters})
    return out


def _u(seed: int, sample: int, path: str) -> float:
    return rnd.uniform(seed, sample, f"psa:{path}", 0)


def draw_parameters(scenario: Scenario, sample: int, seed: int) -> dict[str, float]:
    """Parameter values of PSA ``sample`` (≥ 1), keyed by dotted parameter path."""
    if sample < 1:
        raise ValueError("PSA samples are numbered from 1 (sample 0 is the base case)")
    params = uncertain_parameters(scenario)
    u = {p: _u(seed, sample, p) for p in params}
    for corr in scenario.uncertainty.correlations:
        z = special.ndtri(np.array([u[p] for p in corr.parameters]))
        correlated = np.linalg.cholesky(np.asarray(corr.matrix)) @ z
        u.update(zip(corr.parameters, special.ndtr(correlated), strict=True))
    values = {p: params[p].draw(u[p]) for p in params}
    for group in scenario.uncertainty.dirichlet:
        g = np.array(
            [
                stats.gamma.ppf(u[p], a)
                for p, a in zip(group.parameters, group.concentrations, strict=True)
            ]
        )
        values.update(zip(group.parameters, g / g.sum(), strict=True))
    return values


def sample_scenario(scenario: Scenario, sample: int, seed: int) -> Scenario:
    """The scenario with PSA ``sample``'s parameter values (sample 0: unchanged)."""
    return (
        scenario if sample == 0 else with_values(scenario, draw_parameters(scenario, sample, seed))
    )


def summarise_sample(patients: pd.DataFrame, sample: int) -> pd.DataFrame:
    """Per-strategy means (and their standard errors) of one sample's patients."""
    g = patients.groupby("strategy", sort=False, observed=True)
    means = g[list(KEPT)].mean()
    ses = g[["cost_total", "qalys"]].sem().add_suffix("_se")
    out = pd.concat([means, ses], axis=1).reset_index()
    out = out.rename(
        columns={
            "cost_total": "cost",
            "cost_total_se": "cost_se",
            "qalys": "qaly",
            "qalys_se": "qaly_se",
            "switched": "switches",
            "false_positive_switch": "false_positive_switches",
        }
    )
    out.insert(0, "sample", sample)
    out["strategy"] = out["strategy"].astype(str)
    return out


def run_psa(
    scenario: Scenario,
    samples: int,
    patients: int,
    seed: int = 1,
    progress: bool | None = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run ``samples`` PSA samples of ``patients`` patients each.

    Returns ``(per_sample, drawn)``: per-sample, per-strategy means (columns ``sample``,
    ``strategy``, ``cost``, ``qaly`` — the tidy form :mod:`hemodel.cea` reads — costs by
    category, life-years, tests, switches, and the standard errors ``cost_se``, ``qaly_se``
    of each sample's means) and the drawn parameter
    values (one row per sample, one column per parameter path).
    """
    from tqdm.auto import tqdm

    from .simulation import simulate

    rows, drawn = [], []
    bar = tqdm(
        range(1, samples + 1),
        desc="PSA samples",
        unit="sample",
        disable=not (progress if progress is not None else _tty()),
    )
    for k in bar:
        values = draw_parameters(scenario, k, seed)
        variant = with_values(scenario, values)
        result = simulate(variant, patients=patients, seed=seed, sample=0)
        rows.append(summarise_sample(result.patients, k))
        drawn.append({"sample": k, **values})
    return pd.concat(rows, ignore_index=True), pd.DataFrame(drawn)


def _tty() -> bool:
    import sys

    return sys.stderr.isatty()
