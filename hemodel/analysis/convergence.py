"""Convergence of the Monte Carlo estimate: how many patients are enough?

NICE DSU TSD 15 (Davis, Stevenson, Tappenden, Wailoo 2014) asks modellers of patient-level
simulations to justify the number of patients: the first-order (patient) variability must be
small against the differences that drive the decision. For each strategy against the reference
this module follows the running mean of the per-patient incremental net monetary benefit

    INMB_i = λ·(QALY_i,strategy − QALY_i,reference) − (cost_i,strategy − cost_i,reference)

and its Monte Carlo standard error sd/√n as patients are added (patients in id order, so the
first n of a run are a run of n). Common random numbers make the per-patient differences far
less variable than either strategy's own NMB. With the full-run standard deviation, the
patients needed for a target standard error X are ⌈(sd/X)²⌉, and those needed for the 95%
interval to exclude zero (the sign of INMB resolved) ⌈(1.96·sd/|mean|)²⌉.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..run.results import Results
from ..scenario.distributions import Z975


@dataclass
class Convergence:
    """Running INMB estimates (``trace``) and the patients needed (``summary``).

    ``trace``: strategy, patients, mean, se, low, high (95% interval), on a grid of patient
    counts. ``summary``: one row per strategy: patients, mean INMB, its se, the per-patient sd,
    the target se (``precision``), patients needed for it and to resolve the sign of INMB.
    """

    trace: pd.DataFrame
    summary: pd.DataFrame
    reference: str
    wtp: float
    precision: float
    currency: str
    ranking: dict


def per_patient_inmb(
    results: Results, strategy: str, wtp: float | None = None, reference: str | None = None
) -> np.ndarray:
    """Per-patient INMB of ``strategy`` against the reference, in patient-id order."""
    p = results.patients
    wtp = results.wtp if wtp is None else wtp
    reference = reference or results.reference
    ref = p[p["strategy"] == reference].set_index("patient").sort_index()
    own = p[p["strategy"] == strategy].set_index("patient").loc[ref.index]
    d_qaly = own["qalys"].to_numpy(float) - ref["qalys"].to_numpy(float)
    d_cost = own["cost_total"].to_numpy(float) - ref["cost_total"].to_numpy(float)
    return wtp * d_qaly - d_cost


def running(x: np.ndarray, points: int | None = 200) -> pd.DataFrame:
    """Running mean and standard error of ``x`` after n = 2..N values (≈ ``points`` n, log-spaced;
    every n if ``points`` is None). Sums are taken about the overall mean for accuracy."""
    x = np.asarray(x, dtype=float)
    big = len(x)
    if big < 2:
        raise ValueError("need at least 2 patients to estimate a standard error")
    centre = x.mean()
    s1 = np.cumsum(x - centre)
    s2 = np.cumsum((x - centre) ** 2)
    n = np.arange(1, big + 1)
    if points is None or points >= big - 1:
        idx = np.arange(1, big)
    else:
        idx = np.unique(np.geomspace(2, big, points).round().astype(int)) - 1
    k = n[idx].astype(float)
    mean = centre + s1[idx] / k
    var = np.maximum(s2[idx] - s1[idx] ** 2 / k, 0.0) / (k - 1)
    se = np.sqrt(var / k)
    return pd.DataFrame(
        {
            "patients": n[idx],
            "mean": mean,
            "se": se,
            "low": mean - Z975 * se,
            "high": mean + Z975 * se,
        }
    )


def patients_needed(sd: float, precision: float) -> int:
    """Patients for a standard error of the mean of ``precision`` given a per-patient ``sd``."""
    if precision <= 0:
        raise ValueError("precision (target standard error) must be positive")
    return max(int(math.ceil((sd / precision) ** 2)), 2)


def default_precision(wtp: float) -> float:
    """Target standard error of mean INMB: the value of 0.01 QALY (≈ 3.7 days in full health)."""
    return 0.01 * wtp


def convergence(
    results: Results,
    strategies=None,
    *,
    wtp: float | None = None,
    precision: float | None = None,
    points: int | None = 200,
) -> Convergence:
    """Running mean and standard error of INMB, and patients needed, for each strategy.

    ``strategies``: names (default: every strategy but the reference). ``wtp``: willingness
    to pay (default: the scenario's first). ``precision``: target standard error of mean INMB
    in the currency (default: :func:`default_precision`).
    """
    wtp = results.wtp if wtp is None else float(wtp)
    precision = default_precision(wtp) if precision is None else float(precision)
    if precision <= 0:
        raise ValueError("precision (target standard error) must be positive")
    names = strategies or [s for s in results.strategies if s != results.reference]
    if isinstance(names, str):
        names = [names]
    if not names:
        raise ValueError("no strategy to compare with the reference")
    unknown = [s for s in names if s not in results.strategies]
    if unknown:
        raise ValueError(f"unknown strategy {unknown[0]!r}; choose from {results.strategies}")
    traces, rows = [], []
    for name in names:
        x = per_patient_inmb(results, name, wtp)
        trace = running(x, points)
        trace.insert(0, "strategy", name)
        traces.append(trace)
        n, mean, sd = len(x), float(x.mean()), float(x.std(ddof=1))
        se = sd / math.sqrt(n)
        rows.append(
            {
                "strategy": name,
                "patients": n,
                "inmb": mean,
                "inmb_se": se,
                "sd_per_patient": sd,
                "precision": precision,
                "patients_for_precision": patients_needed(sd, precision) if sd > 0 else 2,
                "precision_reached": se <= precision,
                "patients_to_resolve_sign": (
                    patients_needed(sd, abs(mean) / Z975) if mean != 0 and sd > 0 else math.nan
                ),
            }
        )
    return Convergence(
        trace=pd.concat(traces, ignore_index=True),
        summary=pd.DataFrame(rows),
        reference=results.reference,
        wtp=wtp,
        precision=precision,
        currency=results.currency,
        ranking=ranking(results, wtp),
    )


def ranking(results: Results, wtp: float) -> dict:
    """The strategy with the highest mean NMB against the runner-up (all strategies): their mean
    per-patient NMB difference, its se, and the patients for its 95% interval to exclude 0 (the
    decision at this WTP resolved). TSD 15: the patient count must make the ranking stable."""
    nmb = {s: -per_patient_inmb(results, s, wtp) for s in results.strategies}  # ref − s
    order = sorted(nmb, key=lambda s: float(np.mean(-nmb[s])), reverse=True)
    if len(order) < 2:
        return {}
    best, second = order[:2]
    diff = nmb[second] - nmb[best]  # NMB(best) − NMB(second), per patient
    mean, sd = float(diff.mean()), float(diff.std(ddof=1))
    need = patients_needed(sd, mean / Z975) if mean > 0 and sd > 0 else math.nan
    return {
        "best": best,
        "runner_up": second,
        "difference": mean,
        "difference_se": sd / math.sqrt(len(diff)),
        "patients_to_separate": need,
    }


def report(conv: Convergence) -> str:
    """Plain-text summary of the patients needed."""
    cur = conv.currency
    lines = [
        f"Incremental NMB against '{conv.reference}' at {cur} {conv.wtp:,.0f} per QALY; "
        f"target standard error {cur} {conv.precision:,.0f}.",
    ]
    for _, r in conv.summary.iterrows():
        sign = r["patients_to_resolve_sign"]
        sign_text = "never (mean 0)" if math.isnan(sign) else f"{int(sign):,}"
        lines.append(
            f"  {r['strategy']}: INMB {cur} {r['inmb']:,.0f} (SE {r['inmb_se']:,.0f} with "
            f"{int(r['patients']):,} patients; sd per patient {r['sd_per_patient']:,.0f}); "
            f"{int(r['patients_for_precision']):,} patients for SE ≤ {cur} "
            f"{r['precision']:,.0f}"
            f"{' (reached)' if r['precision_reached'] else ''}; "
            f"{sign_text} for the 95% interval to exclude 0"
        )
    r = conv.ranking
    if r:
        need = r["patients_to_separate"]
        lines.append(
            f"Decision: '{r['best']}' has the highest mean NMB, {cur} {r['difference']:,.0f} "
            f"(SE {r['difference_se']:,.0f}) above '{r['runner_up']}'; "
            + (
                "the two are not separable (equal NMB)."
                if math.isnan(need)
                else f"{int(need):,} patients put the 95% interval of that difference above 0."
            )
        )
    lines.append(
        "Counts come from the normal approximation with this run's sd; small counts (below a "
        "few hundred) are not reliable: check that the running mean has settled (plot)."
    )
    return "\n".join(lines)
