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

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..run.parallel import Executor
from ..scenario.load import ScenarioError, scenario_from_dict, with_values
from ..scenario.schema import Scenario
from .calibrate import _from_free, _standardise, _to_free, free_start
from .priors import Prior, log_jacobian, priors_of
from .trial import TrialDesign
from .validate import Measure, measure, target_range, trial_work

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
        jacobian = sum(log_jacobian(float(x), p.scale) for p, x in pairs)
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

    executor = Executor(**execution, work=walkers * trial_work(scenario, patients, engine))
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
