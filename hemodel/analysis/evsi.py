"""Expected value of sample information (EVSI) and expected net benefit of sampling (ENBS).

EVSI is what a proposed study's data are expected to be worth to today's decision:
``EVSI = E_X[max_d E[NB_d | X]] − max_d E[NB_d]`` (currency per patient), between 0 and the
EVPPI of every parameter the study's data depend on. It is reported beside the EVPPI of the
parameters a study declares it ``informs`` (at most 4), which bounds it only when they are all
its data depend on. hemodel simulates the study's data ``X`` from the
model at every PSA sample (:mod:`hemodel.analysis.studies`) and estimates EVSI two ways:

- **Regression** (Strong, Oakley, Brennan & Breeze 2015, Med Decis Making 35:570-583): the
  incremental costs and QALYs of each PSA sample are regressed on the study's summaries
  ``T(X)`` with the penalised regression splines of EVPPI (:mod:`hemodel.analysis.regression`);
  the fitted values estimate ``E[ΔNB | T]`` and EVSI is their mean opportunity loss. A study
  of size 0 reports nothing, so its EVSI is 0. A summary missing in some samples (no finite
  estimate) takes its mean over the others.
- **Moment matching** (Heath, Manolopoulos & Baio 2018, Med Decis Making 38:163-173), where
  the study's likelihood is known (accuracy studies: binomial): with ``μ(φ)`` the fitted
  incremental NMB given the measured parameter φ (the EVPPI regression), the expected
  posterior variance of ``μ`` is averaged over ``Q`` datasets simulated at the quantiles
  ``(q − ½)/Q`` of φ, each posterior drawn by weighting the PSA samples with the likelihood;
  ``μ`` is shrunk towards its mean so that its variance is the preposterior variance
  ``Var μ − E[Var(μ | X)]``, and EVSI is the shrunk values' mean opportunity loss.

The Monte Carlo standard error reported is ``sd(loss)/√K`` over the ``K`` PSA samples; it
ignores the regression's own fitting error. ENBS of a study of ``n`` is
``EVSI(n) × population − (fixed + per-patient cost × n)`` with the regression EVSI, the
population being the discounted new patients from the time the study reports to the decision horizon
(:func:`hemodel.analysis.population.decision_population`); the optimal size maximises it, and
no study (size 0, ENBS 0) is optimal when every ENBS is negative.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..model import random as rnd
from ..run.parallel import Executor
from ..run.progress import progress_bar
from ..scenario.references import study_parameter_problems
from ..scenario.schema import Scenario
from ..scenario.studies import Study
from ..scenario.units import DAYS_PER_YEAR
from .cea import _prepare, _wide, evpi, evppi
from .population import decision_population
from .psa import require_uncertainty, run_psa
from .regression import fitted_increments, loss_of_choice, min_samples
from .studies import StudyJob, simulate

#: Datasets simulated for the moment-matching posterior variance (Heath et al. 2018: 30-50).
NESTED = 50
#: Fewest effective PSA samples a moment-matching posterior may rest on.
MIN_EFFECTIVE = 30


def _usable(summaries: np.ndarray) -> np.ndarray:
    """Summary columns that vary (NaNs set to the column's mean); (n, 0) when none does."""
    x = np.asarray(summaries, dtype=float).reshape(len(summaries), -1)
    keep = []
    for j in range(x.shape[1]):
        col = x[:, j].copy()
        ok = np.isfinite(col)
        if ok.sum() < 2:
            continue
        col[~ok] = col[ok].mean()
        if col.max() > col.min():
            keep.append(col)
    return np.column_stack(keep) if keep else np.empty((len(x), 0))


def _value(loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean loss per WTP and its Monte Carlo standard error."""
    n = len(loss)
    se = loss.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(loss.shape[1])
    return loss.mean(axis=0), se


def evsi_regression(cs: np.ndarray, qs: np.ndarray, summaries: np.ndarray, wtps):
    """Regression EVSI (Strong et al. 2015) per WTP and its Monte Carlo standard error.

    ``cs``, ``qs``: costs and QALYs per PSA sample (rows) and strategy (columns, the first
    the reference); ``summaries``: the study's summaries per sample (n, m), NaN where the study
    reports nothing. Currency per patient.
    """
    wtps = np.atleast_1d(np.asarray(wtps, dtype=float))
    x = _usable(summaries)
    if x.shape[1] == 0 or cs.shape[1] < 2:
        zero = np.zeros(len(wtps))
        return zero, zero.copy()
    fit_c, fit_q = fitted_increments(cs, qs, x)
    return _value(np.column_stack([loss_of_choice(w * fit_q - fit_c) for w in wtps]))


def evsi_moment_matching(
    cs: np.ndarray,
    qs: np.ndarray,
    phi: np.ndarray,
    wtps,
    posterior_weights: Callable[[int], np.ndarray],
    nested: int = NESTED,
):
    """Moment-matching EVSI (Heath et al. 2018) per WTP and its Monte Carlo standard error.

    ``phi``: the parameters the study measures, per PSA sample (n,) or (n, d);
    ``posterior_weights(q)``: for the ``q``-th of ``nested`` simulated datasets, weights of
    the PSA samples proportional to the likelihood of that dataset (they need not sum to 1).
    NaN when the posteriors rest on fewer than :data:`MIN_EFFECTIVE` effective samples
    ``(Σw)²/Σw²`` on average (a study so large, or a PSA so small, that the PSA samples cannot
    describe its posterior: its variance, and so EVSI, would be misjudged).
    """
    wtps = np.atleast_1d(np.asarray(wtps, dtype=float))
    if cs.shape[1] < 2:
        zero = np.zeros(len(wtps))
        return zero, zero.copy()
    fit_c, fit_q = fitted_increments(cs, qs, np.asarray(phi, float).reshape(len(cs), -1))
    weights = []
    for q in range(nested):
        w = np.asarray(posterior_weights(q), dtype=float)
        weights.append(w / w.sum())
    if np.mean([1.0 / (w @ w) for w in weights]) < MIN_EFFECTIVE:  # too few carry the posteriors
        nan = np.full(len(wtps), np.nan)
        return nan, nan.copy()
    losses = []
    for wtp in wtps:
        mu = wtp * fit_q - fit_c  # (n, strategies - 1)
        centre = mu.mean(axis=0)
        prior = mu.var(axis=0)
        posterior = np.mean([w @ (mu - w @ mu) ** 2 for w in weights], axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            shrink = np.sqrt(np.clip(1.0 - posterior / prior, 0.0, 1.0))
        shrink = np.where(prior > 0, shrink, 0.0)
        losses.append(loss_of_choice(centre + (mu - centre) * shrink))
    return _value(np.column_stack(losses))


def binomial_weights(phi: np.ndarray, seed: int, size: int, nested: int = NESTED):
    """``posterior_weights`` of an accuracy study of ``size`` samples: dataset ``q`` has
    ``x_q ~ Binomial(size, φ_q)`` correct results, φ_q the ``(q + ½)/nested`` quantile of the
    PSA draws ``phi`` (keyed uniforms: reproducible), and weights ``φ^x (1 − φ)^(size − x)``."""
    phi = np.clip(np.asarray(phi, dtype=float), 1e-12, 1 - 1e-12)
    levels = np.quantile(phi, (np.arange(nested) + 0.5) / nested)
    u = rnd.uniforms(seed, 0, "evsi_nested_data", np.arange(nested), max(size, 1))
    correct = (u[:, :size] < levels[:, None]).sum(axis=1)

    def weights(q: int) -> np.ndarray:
        log = correct[q] * np.log(phi) + (size - correct[q]) * np.log1p(-phi)
        return np.exp(log - log.max())

    return weights


# ----------------------------------------------------------------------------- tables
def evsi_table(
    scenario: Scenario,
    name: str,
    per_sample: pd.DataFrame,
    drawn: pd.DataFrame,
    data: pd.DataFrame,
    wtps,
    seed: int = 1,
) -> pd.DataFrame:
    """EVSI of study ``name`` at every size and WTP, with the EVPPI of the parameters it
    informs, the population and study cost, and ENBS.

    ``per_sample``, ``drawn``: a PSA's outputs (:func:`hemodel.analysis.psa.run_psa`);
    ``data``: the study's simulated summaries (:func:`hemodel.analysis.studies.simulate`).
    Columns: ``study, wtp, study_size, evsi, evsi_se, evsi_moment_matching,
    evsi_moment_matching_se, evppi, evpi, population, study_cost, enbs`` (currency per patient,
    persons, currency).
    """
    study = scenario.studies[name]
    wtps = np.atleast_1d(np.asarray(wtps, dtype=float))
    _, samples, cs, qs = _wide(_prepare(per_sample))
    params = drawn.set_index("sample").loc[samples]
    informed = [p for p in study.informed if p in params.columns]
    if informed:
        ppi = evppi(per_sample, params[informed], wtps, groups={"informed": informed})
        bound = ppi["evppi"].to_numpy()
    else:  # the run drew none of them (e.g. a PSA without them): nothing to learn
        bound = np.zeros(len(wtps))
    perfect = evpi(per_sample, wtps)["evpi"].to_numpy()
    population = decision_population(scenario, study.duration.days() / DAYS_PER_YEAR)
    rows = []
    for size in sorted(data["size"].unique()):
        part = data[data["size"] == size].set_index("sample").loc[samples]
        value, se = evsi_regression(cs, qs, part[study.reported].to_numpy(float), wtps)
        mm, mm_se = _moment_matching(study, cs, qs, params, int(size), wtps, seed, name)
        for k, w in enumerate(wtps):
            rows.append({"study": name, "wtp": w, "study_size": int(size), "evsi": value[k],
                         "evsi_se": se[k], "evsi_moment_matching": mm[k],
                         "evsi_moment_matching_se": mm_se[k], "evppi": bound[k],
                         "evpi": perfect[k]})  # fmt: skip
    out = pd.DataFrame(rows)
    out["population"] = np.nan if population is None else population
    out["study_cost"] = [study.cost.total(n) for n in out["study_size"]]
    out["enbs"] = out["evsi"] * out["population"] - out["study_cost"]
    return out


def _moment_matching(study: Study, cs, qs, params, size: int, wtps, seed: int, name: str):
    """Moment-matching EVSI where the likelihood is known (accuracy studies), else NaN."""
    nan = np.full(len(wtps), np.nan)
    if study.design != "accuracy" or study.parameter not in params.columns:
        return nan, nan
    if size == 0:
        zero = np.zeros(len(wtps))
        return zero, zero.copy()
    phi = params[study.parameter].to_numpy(float)
    weights = binomial_weights(phi, rnd.derived_seed(seed, f"evsi:{name}"), size)
    return evsi_moment_matching(cs, qs, phi, wtps, weights)


def optimal_sizes(table: pd.DataFrame) -> pd.DataFrame:
    """Per study and WTP: the size of highest ENBS, or 0 (no study) when every ENBS is
    negative or no population is given. Columns ``study, wtp, optimal_size, enbs, evsi``."""
    rows = []
    for (study, wtp), g in table.groupby(["study", "wtp"], sort=False):
        enbs = g["enbs"].to_numpy(float)
        if np.isfinite(enbs).any() and np.nanmax(enbs) > 0:
            best = g.iloc[int(np.nanargmax(enbs))]
            rows.append({"study": study, "wtp": wtp, "optimal_size": int(best["study_size"]),
                         "enbs": best["enbs"], "evsi": best["evsi"]})  # fmt: skip
        else:
            rows.append({"study": study, "wtp": wtp, "optimal_size": 0, "enbs": 0.0, "evsi": 0.0})
    return pd.DataFrame(rows, columns=["study", "wtp", "optimal_size", "enbs", "evsi"])


# ----------------------------------------------------------------------------- runs
def check_studies(
    scenario: Scenario, samples: int, studies: Sequence[str] | None = None, flag: str = ""
) -> list[str]:
    """The names of the ``studies`` to value (default: all), after checking that the scenario
    has them and uncertainty, and that ``samples`` suffice for their regressions; a
    ValueError says what to change (``flag``: the option that sets ``samples``)."""
    require_uncertainty(scenario)
    names = list(scenario.studies) if studies is None else list(studies)
    if not names:
        raise ValueError(f"'{scenario.name}' has no studies: block: declare the study to value "
                         "(see docs/howto-evsi.md)")  # fmt: skip
    problems = study_parameter_problems(scenario)
    for name in names:
        if name not in scenario.studies:
            known = ", ".join(scenario.studies) or "none"
            raise ValueError(f"no study {name!r} in the scenario (studies: {known})")
        mine = [f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems if loc[1] == name]
        if mine:
            raise ValueError(f"study {name!r} cannot be valued: {'; '.join(mine)}")
        study = scenario.studies[name]
        d = max(len(study.informed), len(study.reported))
        if samples < min_samples(d):
            option = f" ({flag})" if flag else ""
            raise ValueError(f"study {name!r} needs at least {min_samples(d)} PSA samples"
                             f"{option}, not {samples}: its EVSI and EVPPI regress on up to "
                             f"{d} variables")  # fmt: skip
    return names


@dataclass
class EVSIResult:
    """What :func:`run_evsi` computes: ``table`` (evsi.csv), ``optimal`` (optimal study size
    per study and WTP), each study's simulated summaries (``data``) and the PSA behind them."""

    table: pd.DataFrame
    optimal: pd.DataFrame
    data: dict[str, pd.DataFrame]
    per_sample: pd.DataFrame
    drawn: pd.DataFrame


def run_evsi(
    scenario: Scenario,
    samples: int,
    patients: int,
    seed: int = 1,
    *,
    studies: Sequence[str] | None = None,
    sizes: Sequence[int] | None = None,
    wtps: Sequence[float] | None = None,
    progress: bool | None = False,
    workers: int | None = 1,
    backend: str | None = None,
    scheduler: str | None = None,
    executor: Executor | None = None,
    engine: str = "auto",
) -> EVSIResult:
    """EVSI and ENBS of the scenario's ``studies`` (default: all) at ``sizes`` (default: each
    study's) and ``wtps`` (default: the scenario's), from a PSA of ``samples`` samples of
    ``patients`` patients (the same PSA as ``hemodel psa`` with this seed) and each study
    simulated at every sample. Bit-identical on any back-end and number of workers."""
    names = check_studies(scenario, samples, studies)
    jobs = [StudyJob.of(scenario, n, seed, engine) for n in names]
    wtps = scenario.wtps if wtps is None else list(wtps)
    work = samples * patients * len(scenario.strategies)
    ex = executor or Executor(workers, backend, scheduler, work=work)
    try:
        per_sample, drawn = run_psa(scenario, samples, patients, seed, progress,
                                    executor=ex, engine=engine)  # fmt: skip
        points = {int(r["sample"]): {p: r[p] for p in drawn.columns if p != "sample"}
                  for r in drawn.to_dict("records")}  # fmt: skip
        data, tables = {}, []
        for job in jobs:
            chosen = job.study.sizes if sizes is None else sizes
            with progress_bar(samples, f"study {job.name}", "sample", progress) as bar:
                data[job.name] = simulate(job, chosen, points, ex, bar.update)
            tables.append(evsi_table(scenario, job.name, per_sample, drawn, data[job.name],
                                     wtps, seed))  # fmt: skip
    finally:
        if executor is None:
            ex.close(finished=True)
    table = pd.concat(tables, ignore_index=True)
    return EVSIResult(table, optimal_sizes(table), data, per_sample, drawn)
