"""Bayesian calibration: a posterior of the free parameters given the scenario's ``targets:``.

**Likelihood.** Each target is a published estimate ``y`` with a 95% CI. Its standard error
``se = (high − low) / 3.92`` (on the log scale for hazard ratios; half the tolerance for a
tolerance) is the one least-squares calibration uses
(:func:`hemodel.credibility.calibrate._standardise`). The model's value ``f(θ)`` is the
smooth surrogate of the simulated quantity (:attr:`~hemodel.credibility.validate.Measure.
smooth`) on a fixed cohort. The simulated value is itself an estimate from a finite number of
patients, with Monte Carlo standard error ``s(θ)`` (from the quantity's Monte Carlo 95% CI,
``Measure.low``/``high``, same scale). With ``v = se² + s(θ)²`` the log-likelihood is a
Gaussian synthetic likelihood of the targets (Wood 2010), independent across targets::

    log L(θ) = Σ_targets [ −½ (f(θ) − y)² / v − ½ log(v / se²) ]

i.e. the Gaussian log density up to the constant ``−Σ log(se √(2π))``, so ``log L = 0`` when
every target is hit exactly by a simulation without Monte Carlo error. The ``log(v / se²)``
term is the normalising factor that changes with θ through ``s(θ)`` (Wood's ``−½ log|Σ_θ|``).
A target whose quantity cannot be measured (a median not reached) gives ``log L = −∞``.
Adding ``s(θ)²`` treats the simulation's sampling error as independent Gaussian noise on the
published estimate's: with few patients the posterior is wider, never falsely sharp.

**Why plain MCMC is valid.** Every evaluation simulates the *same* patients (seed fixed:
common random numbers), so ``f(θ)`` and ``s(θ)`` are deterministic functions of θ and so is
``log L``. An ordinary Markov chain then targets exactly ``p(θ | y) ∝ L(θ) p(θ)``: there is
no noisy likelihood estimate for which a pseudo-marginal scheme would be needed, and no
tolerance ε to shrink as in approximate Bayesian computation. ABC-SMC (e.g. pyabc; Toni et
al. 2009) would sample ``p(θ | distance(f(θ), y) < ε)``, an approximation whose error depends
on ε and on how the distance weighs the targets, and typically needs 10⁴–10⁵ simulations;
here the published CIs already give each target its scale (the SE), which is exactly what a
Gaussian synthetic likelihood uses, and ``walkers × steps`` evaluations (480 by default)
suffice. The price of common random numbers: the posterior is conditional on one simulated
cohort (its sampling error enters only through ``s(θ)²``), and targets from the same trial
are treated as independent (their covariance is not published).

**Sampler.** emcee's affine-invariant ensemble sampler (stretch move; Goodman & Weare 2010;
Foreman-Mackey et al. 2013, PASP 125:306), on the unbounded scale of each parameter (logit for
probabilities, log for positive parameters: :func:`hemodel.credibility.calibrate._scale`), with
the log-Jacobian of the transform added to the log prior. The priors are each free
parameter's own ``psa:`` distribution, else uniform over its ``range:``. Walkers start in a
small ball (a tenth of the prior's spread) around the scenario's values, drawn from the seed;
emcee's random state is seeded from it too, so a run is reproducible from ``seed``. Walkers
of one half-ensemble are evaluated in parallel on the repository's executor (emcee's
``pool=``); results do not depend on the number of workers.

References: S. N. Wood, Statistical inference for noisy nonlinear ecological dynamic
systems, Nature 466:1102–1104 (2010). D. Foreman-Mackey, D. W. Hogg, D. Lang, J. Goodman,
emcee: The MCMC Hammer, PASP 125:306–312 (2013). J. Goodman, J. Weare, Ensemble samplers
with affine invariance, CAMCoS 5:65–80 (2010). T. Toni et al., Approximate Bayesian
computation scheme for parameter inference and model selection in dynamical systems,
J. R. Soc. Interface 6:187–202 (2009).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..run.parallel import Executor
from ..scenario.load import ScenarioError, parameters, scenario_from_dict, with_values
from ..scenario.schema import Scenario
from .calibrate import _from_free, _scale, _standardise, _to_free, free_start
from .trial import TrialDesign, trial_designs
from .validate import Measure, measure, target_range

#: Defaults of ``hemodel calibrate --method bayes`` (small: a first look, not a final run).
STEPS, BURN, PREDICTIVE = 60, 20, 40
#: Walkers start this fraction of each prior's spread (on the unbounded scale) around start.
BALL = 0.1


def default_walkers(free: int) -> int:
    """``max(2 × free + 2, 8)`` walkers (emcee needs at least twice the dimension)."""
    return max(2 * free + 2, 8)


# --------------------------------------------------------------------------------------
# Likelihood
# --------------------------------------------------------------------------------------
def _mc_ratio(name: str, target, m: Measure) -> float:
    """The simulation's Monte Carlo SE over the target's SE (same scale), from the MC 95% CI;
    one-sided when only one limit is finite, 0 when neither is."""

    def z(x: float) -> float:
        return _standardise(name, target, x)[0]

    lo, hi = m.low, m.high
    lo_ok = lo is not None and math.isfinite(lo)
    hi_ok = hi is not None and math.isfinite(hi)
    if lo_ok and hi_ok:
        return abs(z(hi) - z(lo)) / 3.92
    if (lo_ok or hi_ok) and math.isfinite(m.value):
        return abs(z(hi if hi_ok else lo) - z(m.value)) / 1.96
    return 0.0


def log_likelihood(targets: Mapping[str, Any], measures: Mapping[str, Measure]) -> float:
    """Gaussian synthetic log-likelihood of the targets given the simulated measures:
    ``Σ −½ z² / (1 + ρ²) − ½ log(1 + ρ²)`` with ``z = (f(θ) − y) / se`` and ``ρ`` the Monte
    Carlo SE over ``se`` (module docstring); ``−∞`` when a quantity cannot be measured."""
    total = 0.0
    for name, target in targets.items():
        m = measures[name]
        x = m.smooth
        if x is None or not math.isfinite(x):
            return -math.inf
        z = _standardise(name, target, x)[0]
        v = 1.0 + _mc_ratio(name, target, m) ** 2
        total += -0.5 * z * z / v - 0.5 * math.log(v)
    return total


# --------------------------------------------------------------------------------------
# Priors
# --------------------------------------------------------------------------------------
def _log_jacobian(z: float, scale: str) -> float:
    """``log |dθ/dz|`` of θ = inverse transform of z."""
    if scale == "log":
        return z
    if scale == "logit":  # θ(1 − θ), computed stably for large |z|
        return -(np.logaddexp(0.0, z) + np.logaddexp(0.0, -z))
    return 0.0


@dataclass(frozen=True)
class Prior:
    """A free parameter's prior: a frozen SciPy distribution of its value (``dist``), the
    unbounded ``scale`` it is sampled on and a description of where it came from."""

    parameter: str
    dist: Any
    scale: str
    source: str

    def log_pdf(self, theta: float) -> float:
        """Log prior density at the value θ (on the parameter's own scale); −∞ outside."""
        lp = float(self.dist.logpdf(theta))
        return lp if math.isfinite(lp) else -math.inf

    def log_density(self, z: float) -> float:
        """Log density of the sampled coordinate z: ``log p(θ(z)) + log |dθ/dz|``."""
        try:
            lp = self.log_pdf(_from_free(float(z), self.scale))
        except OverflowError:
            return -math.inf
        return lp + _log_jacobian(float(z), self.scale) if lp > -math.inf else -math.inf

    def spread(self) -> float:
        """Half the central 68% interval on the sampling scale (a prior 'sd' there)."""
        lo, hi = (float(x) for x in self.dist.ppf([0.16, 0.84]))
        try:
            width = (_to_free(hi, self.scale) - _to_free(lo, self.scale)) / 2
        except (ValueError, ZeroDivisionError):
            return 0.1
        return width if math.isfinite(width) and width > 0 else 0.1


def _flow(data: dict) -> str:
    return "{" + ", ".join(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}"
                           for k, v in data.items()) + "}"  # fmt: skip


def priors_of(scenario: Scenario, free: list[str], given: Mapping[str, Any] | None = None):
    """Each free parameter's :class:`Prior`: ``given[p]`` (a frozen SciPy distribution or a
    ``psa:`` distribution), else its ``psa:``, else uniform over its ``range:``; a
    ValueError names the parameters that have none of these."""
    from pydantic import TypeAdapter

    from ..scenario.distributions import PSADistribution

    known = parameters(scenario)
    out, missing = [], []
    for p in free:
        param, scale = known[p], _scale(known[p])
        g = (given or {}).get(p)
        if g is not None:
            if isinstance(g, dict):
                g = TypeAdapter(PSADistribution).validate_python(g)
            if hasattr(g, "frozen"):
                dump = g.model_dump(by_alias=True, exclude_none=True)
                out.append(Prior(p, g.frozen(), scale, f"given {_flow(dump)}"))
            else:
                out.append(Prior(p, g, scale, "given"))
        elif param.psa is not None and param.psa.dist != "fixed":
            dump = param.psa.model_dump(by_alias=True, exclude_none=True)
            out.append(Prior(p, param.psa.frozen(), scale, f"psa {_flow(dump)}"))
        elif param.range is not None and param.range[0] < param.range[1]:
            from scipy import stats

            lo, hi = param.range
            uniform = stats.uniform(lo, hi - lo)
            out.append(Prior(p, uniform, scale, f"uniform on range [{lo:g}, {hi:g}]"))
        else:
            missing.append(p)
    if missing:
        raise ValueError(
            f"no prior for {', '.join(missing)}: give each free parameter a psa: distribution "
            "(used as its prior) or a range: (uniform prior), or pass priors="
        )
    return out


# --------------------------------------------------------------------------------------
# The model and the log posterior (picklable: they travel to worker processes)
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimulatedTargets:
    """The default model: the target quantities of the scenario at given parameter values,
    simulated on the same patients (seed) at every call."""

    scenario: Scenario
    names: tuple[str, ...]
    patients: int
    seed: int
    design: TrialDesign | None = None
    engine: str = "auto"

    def __call__(self, values: Mapping[str, float]) -> dict[str, Measure]:
        s = with_values(self.scenario, dict(values))
        ms, _ = measure(s, self.names, self.patients, self.seed, design=self.design,
                        robust=True, executor=None, engine=self.engine)  # fmt: skip
        return ms


@dataclass(frozen=True)
class LogPosterior:
    """``z → (log posterior, log-likelihood, log prior of θ, evaluated)`` on the sampling
    scale; the model is not run where the prior density is zero (``evaluated`` 0)."""

    priors: tuple[Prior, ...]
    targets: Mapping[str, Any]
    model: Callable[[Mapping[str, float]], Mapping[str, Measure]]

    def values(self, z) -> dict[str, float]:
        pairs = zip(self.priors, z, strict=True)
        return {p.parameter: _from_free(float(x), p.scale) for p, x in pairs}

    def __call__(self, z) -> tuple[float, float, float, float]:
        try:
            values = self.values(z)
        except OverflowError:  # a proposal far out on a logit scale
            return -math.inf, math.nan, -math.inf, 0.0
        prior = sum(p.log_pdf(values[p.parameter]) for p in self.priors)
        if not math.isfinite(prior):
            return -math.inf, math.nan, -math.inf, 0.0
        pairs = zip(self.priors, z, strict=True)
        jacobian = sum(_log_jacobian(float(x), p.scale) for p, x in pairs)
        try:
            ll = log_likelihood(self.targets, self.model(values))
        except (ValueError, ScenarioError):  # values the scenario does not allow
            ll = -math.inf
        post = ll + prior + jacobian if ll > -math.inf else -math.inf
        return post, ll, prior, 1.0


def _unranged(scenario: Scenario, free) -> Scenario:
    """The scenario without the free parameters' ``range:``: a one-way range does not enter
    the simulation, and a value outside it would make the virtual trial's scenario
    inconsistent (an error), where the prior allows it."""
    data = scenario.model_dump(mode="python", by_alias=True, exclude_none=True)
    for dotted in free:
        node = data
        for part in dotted.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        node.pop("range", None)
    return scenario_from_dict(data, name=scenario.name)


def _apply(fn, z):
    return fn(z)


def _measure_at(model, values: Mapping[str, float]) -> dict[str, tuple[float, float]]:
    """``(reported value, smooth surrogate)`` of every target quantity at ``values``."""
    try:
        ms = model(values)
    except ValueError:
        return {}
    return {n: (m.value, m.smooth) for n, m in ms.items()}


class _Pool:
    """emcee's ``pool`` (anything with ``map``) on a :class:`~hemodel.run.parallel.Executor`;
    counts the model evaluations."""

    def __init__(self, executor: Executor):
        self.executor = executor
        self.evaluations = 0

    def map(self, fn, points):
        results = self.executor.map(_apply, list(points), fn)
        self.evaluations += int(sum(r[3] for r in results))
        return results


# --------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------
@dataclass
class Posterior:
    """Outcome of :func:`calibrate_bayes`.

    ``draws``: one row per retained draw (``step`` ≥ ``burn``, every walker): ``step``,
    ``walker``, one column per free parameter (its value), ``log_likelihood`` and
    ``log_prior`` (log prior density of the values, on the parameters' own scales).
    ``predictive``: per target, the target and its range and the posterior predictive
    median and 95% interval of the simulated (reported) value and of its smooth surrogate
    over ``predictive_draws`` thinned draws. ``evaluations``: model runs of the sampler
    (walkers × (steps + 1) at most: the initial ensemble, then one per walker and step, none
    where the prior density is zero); ``predictive_evaluations``: those of the predictive
    check; ``seconds``: wall time of both.
    """

    scenario: Scenario
    free: list[str]
    priors: list[Prior]
    start: dict[str, float]
    draws: pd.DataFrame
    acceptance: np.ndarray
    evaluations: int
    seconds: float
    seed: int
    patients: int
    walkers: int
    steps: int
    burn: int
    design: TrialDesign | None = None
    predictive: pd.DataFrame | None = None
    predictive_evaluations: int = 0
    chain: np.ndarray | None = field(default=None, repr=False)  # (steps, walkers, free), values

    @property
    def acceptance_fraction(self) -> float:
        return float(np.mean(self.acceptance))

    def medians(self) -> dict[str, float]:
        return {p: float(np.median(self.draws[p].to_numpy(float))) for p in self.free}

    def summary(self) -> pd.DataFrame:
        """Per parameter: prior, start, posterior mean, sd, 2.5%, 50%, 97.5%; and the run's
        acceptance fraction, evaluations and wall time (the same on every row)."""
        rows = []
        for prior in self.priors:
            x = self.draws[prior.parameter].to_numpy(float)
            q = np.percentile(x, [2.5, 50, 97.5])
            rows.append(
                {
                    "parameter": prior.parameter,
                    "prior": prior.source,
                    "start": self.start[prior.parameter],
                    "mean": float(np.mean(x)),
                    "sd": float(np.std(x, ddof=1)) if len(x) > 1 else math.nan,
                    "q2.5": q[0],
                    "q50": q[1],
                    "q97.5": q[2],
                    "draws": len(x),
                    "walkers": self.walkers,
                    "steps": self.steps,
                    "burn": self.burn,
                    "acceptance_fraction": self.acceptance_fraction,
                    "evaluations": self.evaluations,
                    "predictive_evaluations": self.predictive_evaluations,
                    "wall_seconds": round(self.seconds, 2),
                    "seed": self.seed,
                    "patients": self.patients,
                }
            )
        return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------
def _initial(priors: list[Prior], start: dict[str, float], walkers: int, rng) -> np.ndarray:
    """Walkers in a ball of :data:`BALL` × each prior's spread around ``start`` (on the
    sampling scale), every one inside the prior's support (drawn again when not)."""
    z0 = np.array([_to_free(start[p.parameter], p.scale) for p in priors])
    width = np.array([BALL * p.spread() for p in priors])
    out = np.empty((walkers, len(priors)))
    for w in range(walkers):
        for attempt in range(200):
            shrink = 0.5 ** (attempt // 20)  # near a boundary of the support: come closer
            z = z0 + shrink * width * rng.standard_normal(len(priors))
            if all(p.log_density(x) > -math.inf for p, x in zip(priors, z, strict=True)):
                break
        out[w] = z
    return out


def calibrate_bayes(
    scenario: Scenario,
    free: list[str],
    patients: int = 5000,
    seed: int = 1,
    *,
    walkers: int | None = None,
    steps: int = STEPS,
    burn: int = BURN,
    priors: Mapping[str, Any] | None = None,
    progress: Callable | None = None,
    engine: str = "auto",
    design: TrialDesign | None = None,
    start: Mapping[str, float] | None = None,
    predictive: int = PREDICTIVE,
    model: Callable[[Mapping[str, float]], Mapping[str, Measure]] | None = None,
    **execution,
) -> Posterior:
    """Sample the posterior of the ``free`` parameters (dotted paths) given the scenario's
    targets with emcee (module docstring): ``walkers`` (default :func:`default_walkers`) ×
    ``steps`` steps, the first ``burn`` discarded. ``priors``: parameter → a frozen SciPy or
    ``psa:`` distribution (default: the parameter's ``psa:``, else uniform on its
    ``range:``). ``start``: centre of the initial walkers (default: the scenario's values).
    ``predictive``: draws re-measured for the posterior predictive check (0: none).
    ``model``: values → measures of the target quantities (default:
    :class:`SimulatedTargets` on ``patients`` patients and ``seed``; tests inject a known
    function). ``progress(step, steps, evaluations, acceptance)`` is called after each
    step. ``execution``: ``workers``, ``backend``, ``scheduler``: walkers are evaluated in
    parallel on them; the result does not depend on them, nor on the ``engine``.
    """
    import emcee

    t0 = time.perf_counter()
    _, start = free_start(scenario, free, start)
    walkers = walkers or default_walkers(len(free))
    if walkers < 2 * len(free):
        raise ValueError(
            f"{walkers} walkers for {len(free)} free parameters: emcee needs at least "
            f"{2 * len(free)} (twice the number of free parameters)"
        )
    if not 0 <= burn < steps:
        raise ValueError(f"burn ({burn}) must be at least 0 and below steps ({steps})")
    prior_list = priors_of(scenario, list(free), priors)
    for prior in prior_list:
        if prior.log_pdf(start[prior.parameter]) == -math.inf:
            raise ValueError(
                f"the starting value {start[prior.parameter]:g} of {prior.parameter} has "
                f"zero prior density ({prior.source}): start inside the prior's support"
            )
    names = tuple(scenario.targets)
    if model is None:
        simulated = _unranged(scenario, free)
        model = SimulatedTargets(simulated, names, patients, seed, design, engine)
    target = LogPosterior(tuple(prior_list), dict(scenario.targets), model)

    seeds = np.random.SeedSequence([seed & 0xFFFFFFFF, 0xCA11B])  # calibration's own streams
    start_seq, mcmc_seq = seeds.spawn(2)
    coords = _initial(prior_list, start, walkers, np.random.default_rng(start_seq))
    mcmc_state = np.random.RandomState(np.random.MT19937(mcmc_seq)).get_state()

    executor = Executor(**execution, work=3 * patients * walkers)
    try:
        pool = _Pool(executor)
        sampler = emcee.EnsembleSampler(walkers, len(free), target, pool=pool)
        log_prob, blobs = sampler.compute_log_prob(coords)
        if not np.isfinite(log_prob).any():
            raise ValueError(
                "no initial walker gives a finite likelihood (a target quantity cannot be "
                f"measured near the starting values {start}): check the targets, patients "
                "and starting values"
            )
        state = emcee.State(coords, log_prob=log_prob, blobs=blobs, random_state=mcmc_state)
        for step, _ in enumerate(sampler.sample(state, iterations=steps), 1):
            if progress is not None:
                accepted = float(np.mean(sampler.acceptance_fraction))
                progress(step, steps, pool.evaluations, accepted)
        chain_z = sampler.get_chain()  # (steps, walkers, free)
        extra = sampler.get_blobs()  # (steps, walkers, 3): log-likelihood, log prior, run
        chain = np.empty_like(chain_z)
        for j, prior in enumerate(prior_list):
            chain[..., j] = np.vectorize(lambda z, s=prior.scale: _from_free(z, s))(chain_z[..., j])
        kept = slice(burn, steps)
        step_no, walker_no = np.meshgrid(np.arange(burn, steps), np.arange(walkers), indexing="ij")
        draws = pd.DataFrame({"step": step_no.ravel() + 1, "walker": walker_no.ravel()})
        for j, p in enumerate(free):
            draws[p] = chain[kept, :, j].ravel()
        draws["log_likelihood"] = extra[kept, :, 0].ravel()
        draws["log_prior"] = extra[kept, :, 1].ravel()
        post = Posterior(
            scenario=scenario,
            free=list(free),
            priors=prior_list,
            start=start,
            draws=draws,
            acceptance=np.asarray(sampler.acceptance_fraction, dtype=float),
            evaluations=pool.evaluations,
            seconds=0.0,
            seed=seed,
            patients=patients,
            walkers=walkers,
            steps=steps,
            burn=burn,
            design=design,
            chain=chain,
        )
        if predictive > 0:
            post.predictive, post.predictive_evaluations = posterior_predictive(
                post, model, predictive, executor
            )
    finally:
        executor.close()
    post.seconds = time.perf_counter() - t0
    return post


def thinned(draws: pd.DataFrame, count: int) -> pd.DataFrame:
    """``count`` draws evenly spaced through the retained draws (all when fewer)."""
    n = len(draws)
    if n <= count:
        return draws
    return draws.iloc[np.unique(np.linspace(0, n - 1, count).round().astype(int))]


def posterior_predictive(
    post: Posterior, model, count: int = PREDICTIVE, executor: Executor | None = None
) -> tuple[pd.DataFrame, int]:
    """Per target: the target, its range, and the median and 95% interval of the simulated
    value (and of its smooth surrogate) over ``count`` thinned posterior draws, each
    re-measured; and the number of evaluations."""
    subset = thinned(post.draws, count)
    points = [{p: float(r[p]) for p in post.free} for _, r in subset.iterrows()]
    own = executor is None
    executor = executor or Executor(1)
    try:
        results = executor.map(_measure_at, points, model)
    finally:
        if own:
            executor.close()
    rows = []
    for name, target in post.scenario.targets.items():
        lo, hi = target_range(target) or (math.nan, math.nan)
        value = np.array([r[name][0] if name in r else math.nan for r in results], dtype=float)
        smooth = np.array([r[name][1] if name in r else math.nan for r in results], dtype=float)
        row = {"quantity": name, "target": target.value, "target_low": lo, "target_high": hi}
        for key, x in (("predictive", value), ("smooth", smooth)):
            ok = x[np.isfinite(x)]
            q = np.percentile(ok, [50, 2.5, 97.5]) if len(ok) else [math.nan] * 3
            row.update({f"{key}_median": q[0], f"{key}_low": q[1], f"{key}_high": q[2]})
        row["draws"] = len(points)
        row["measured"] = int(np.isfinite(value).sum())
        row["source"] = target.source or ""
        rows.append(row)
    return pd.DataFrame(rows), len(points)


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------
def format_posterior(post: Posterior) -> str:
    """The posterior per parameter, the run and the predictive check, as text."""
    s = post.summary()
    shown = pd.DataFrame(
        {
            "Parameter": s["parameter"],
            "Prior": s["prior"],
            "Start": s["start"].map("{:.4g}".format),
            "Mean": s["mean"].map("{:.4g}".format),
            "SD": s["sd"].map("{:.3g}".format),
            "Median [95% interval]": [
                f"{m:.4g} [{a:.4g}, {b:.4g}]"
                for m, a, b in zip(s["q50"], s["q2.5"], s["q97.5"], strict=True)
            ],
        }
    )
    lines = [
        f"Posterior ({post.walkers} walkers × {post.steps} steps, first {post.burn} discarded: "
        f"{len(post.draws)} draws; {post.patients:,} patients, seed {post.seed}):",
        shown.to_string(index=False),
        "",
        f"Acceptance fraction {post.acceptance_fraction:.2f}; {post.evaluations} model "
        f"evaluations for the sampler, {post.predictive_evaluations} for the predictive "
        f"check; {post.seconds:.1f} s.",
    ]
    if post.predictive is not None:
        t = post.predictive
        table = pd.DataFrame(
            {
                "Quantity": t["quantity"],
                "Target [range]": [
                    f"{v:.3g} [{a:.3g}, {b:.3g}]"
                    for v, a, b in zip(t["target"], t["target_low"], t["target_high"], strict=True)
                ],
                "Predictive median [95%]": [
                    f"{v:.3g} [{a:.3g}, {b:.3g}]"
                    for v, a, b in zip(
                        t["predictive_median"],
                        t["predictive_low"],
                        t["predictive_high"],
                        strict=True,
                    )  # fmt: skip
                ],
            }
        )
        lines += [
            "",
            f"Posterior predictive check ({int(t['draws'].iloc[0])} draws re-simulated):",
            table.to_string(index=False),
        ]
    if post.acceptance_fraction < 0.15:
        lines.append("Note: low acceptance: run more steps, or check the priors and targets.")
    return "\n".join(lines)


def _overrides(post: Posterior) -> tuple[dict, dict, list[str]]:
    """Each free parameter at its posterior median, with its 95% interval as ``range:``
    (used by the DSA), and what changes in ``uncertainty:``; comment lines."""
    known = parameters(post.scenario)
    medians = post.medians()
    out: dict = {}
    notes = []
    today = _dt.date.today().isoformat()
    for p in post.free:
        entry = known[p].model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude={"psa", "range", "source"}
        )
        x = post.draws[p].to_numpy(float)
        lo, hi = (float(v) for v in np.percentile(x, [2.5, 97.5]))
        entry["value"] = medians[p]
        entry["range"] = [lo, hi]
        entry["source"] = (
            f"posterior median and 95% interval, hemodel calibrate --method bayes ({today}, "
            f"seed {post.seed})"
        )
        node = out
        *parents, last = p.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = entry
    unc = post.scenario.uncertainty
    free = set(post.free)
    correlations, changed = [], False
    for i, group in enumerate(unc.correlations):
        keep = [k for k, p in enumerate(group.parameters) if p not in free]
        if len(keep) == len(group.parameters):
            correlations.append(group.model_dump(mode="json"))
            continue
        changed = True
        dropped = [p for p in group.parameters if p in free]
        if len(keep) >= 2:
            m = np.asarray(group.matrix)[np.ix_(keep, keep)].tolist()
            correlations.append({"parameters": [group.parameters[k] for k in keep], "matrix": m})
            notes.append(f"{', '.join(dropped)} removed from correlations group {i}")
        else:
            notes.append(f"correlations group {i} dropped: it correlated {', '.join(dropped)}")
    dirichlet = [g.model_dump(mode="json") for g in unc.dirichlet if not free & set(g.parameters)]
    for i, g in enumerate(unc.dirichlet):
        if free & set(g.parameters):
            notes.append(f"dirichlet group {i} ({', '.join(g.parameters)}) dropped: it holds a "
                         "calibrated parameter")  # fmt: skip
    if unc.posterior is not None:
        left = [p for p in unc.posterior.parameters if p not in free]
        if left:
            notes.append(f"the parent's posterior of {', '.join(left)} is replaced: those "
                         "parameters keep their values without PSA uncertainty")  # fmt: skip
    uncertainty: dict = {}
    if changed:
        uncertainty["correlations"] = correlations
    if len(dirichlet) != len(unc.dirichlet):
        uncertainty["dirichlet"] = dirichlet
    return out, uncertainty, notes


def posterior_yaml(post: Posterior, original: Path, out: Path, draws: Path) -> str:
    """Text of a scenario that ``extends:`` ``original``: each free parameter at its posterior
    median (``range:`` its 95% interval) and the posterior draws (``draws``, a CSV) as the
    joint PSA distribution of the free parameters (``uncertainty.posterior``)."""
    import yaml

    from .. import __version__

    today = _dt.date.today().isoformat()
    trials = [
        f"{d.title} (ctDNA and imaging every {d.every_weeks:g} weeks)"
        for d in trial_designs(post.scenario, post.design).values()
    ]
    lines = [
        f"# Bayesian calibration with `hemodel calibrate --method bayes` on {today} "
        f"(hemodel {__version__}).",
        f"# Seed {post.seed}, {post.patients:,} patients per evaluation (the same patients "
        f"each time); virtual trials: {', '.join(trials)}.",
        f"# Gaussian synthetic likelihood of the targets, emcee ensemble sampler: "
        f"{post.walkers} walkers x {post.steps} steps, first {post.burn} discarded;",
        f"# {len(post.draws)} draws in {draws.name}; acceptance fraction "
        f"{post.acceptance_fraction:.2f}; {post.evaluations} + {post.predictive_evaluations} "
        f"model evaluations, {post.seconds:.0f} s. See docs/validation.md.",
        "# Free parameters: prior; start -> posterior median [95% interval]:",
    ]
    s = post.summary().set_index("parameter")
    for p in post.free:
        r = s.loc[p]
        lines.append(f"#   {p}: {r['prior']}; {r['start']:.4g} -> {r['q50']:.4g} "
                     f"[{r['q2.5']:.4g}, {r['q97.5']:.4g}]")  # fmt: skip
    if post.predictive is not None:
        lines.append("# Targets: target [range] -> posterior predictive median [95% interval]:")
        for _, r in post.predictive.iterrows():
            lines.append(
                f"#   {r['quantity']}: {r['target']:g} [{r['target_low']:.3g}, "
                f"{r['target_high']:.3g}] -> {r['predictive_median']:.3g} "
                f"[{r['predictive_low']:.3g}, {r['predictive_high']:.3g}]"
            )
    lines.append("# PSA samples take whole rows of the draws (uncertainty.posterior); each "
                 "value is the posterior median.")  # fmt: skip
    overrides, uncertainty, notes = _overrides(post)
    lines += [f"# Note: {n}." for n in notes]
    out_dir = Path(out).resolve().parent
    parent = os.path.relpath(Path(original).resolve(), out_dir)
    body: dict = {"extends": parent, "name": f"{post.scenario.name} (Bayesian calibration)"}
    body.update(overrides)
    drawn = [p for p in post.free if not p.startswith("trials.")]
    if len(drawn) < len(post.free):
        lines.append("# Note: trials.* parameters describe the emulated trials, not patients: "
                     "set at their posterior median, not drawn in the PSA.")  # fmt: skip
    if drawn:
        uncertainty["posterior"] = {
            "draws": os.path.relpath(Path(draws).resolve(), out_dir),
            "parameters": drawn,
        }
    body["uncertainty"] = uncertainty
    text = yaml.safe_dump(body, sort_keys=False, default_flow_style=None, allow_unicode=True)
    return "\n".join(lines) + "\n" + text


def write_posterior(post: Posterior, original: Path, folder: Path) -> dict[str, Path]:
    """Write ``posterior.csv``, ``posterior_summary.csv``, ``posterior_predictive.csv`` (when
    computed) and ``<original stem>_posterior.yaml`` into ``folder``; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "draws": folder / "posterior.csv",
        "summary": folder / "posterior_summary.csv",
        "scenario": folder / f"{Path(original).stem}_posterior.yaml",
    }
    columns = [*post.free, "log_likelihood", "log_prior", "step", "walker"]
    post.draws[columns].to_csv(paths["draws"], index=False)
    post.summary().to_csv(paths["summary"], index=False)
    if post.predictive is not None:
        paths["predictive"] = folder / "posterior_predictive.csv"
        post.predictive.to_csv(paths["predictive"], index=False)
    text = posterior_yaml(post, original, paths["scenario"], paths["draws"])
    paths["scenario"].write_text(text, encoding="utf-8")
    return paths
