"""Validation against targets: what virtual trials and the strategies measure, compared with
the scenario's ``targets:``.

A target names a *measured quantity* (:func:`hemodel.scenario.targets.available_quantities`):

- ``<trial>.<...>``: measured in a virtual trial of the scenario (its ``trials:`` section, else
  the default ``serena6``; :mod:`hemodel.credibility.trial`): Kaplan-Meier medians and
  landmark survival at any month of PFS, PFS2 and OS from randomisation per arm, Cox hazard
  ratios (switch vs continue), the surveillance funnel, the test that first found the
  mutation and the lead time over imaging;
- ``<strategy>.<...>``: first-line PFS (detected progression or death) and overall survival
  from the start of first-line therapy (medians, landmarks), the median lead time and the
  share of progressors carrying the mutation, whole cohort, under that strategy.

Every quantity comes with a Monte Carlo 95% CI (the uncertainty from simulating a finite
number of patients) and, for calibration, a continuous surrogate ``smooth`` (see
:func:`spread_median`; landmarks, proportions and hazard ratios are their own surrogate). A
target passes when the simulated value lies inside the target's CI (or within ``tolerance``
of its value; with neither, when the Monte Carlo CI covers it). Kaplan-Meier and Cox fits are
the vectorised estimators of :mod:`.survival` (checked against lifelines in the tests), fast
enough for calibration.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..engine.choice import choose
from ..model.inputs import build_inputs
from ..run.parallel import ENGINE_COST, Executor
from ..scenario.targets import (
    Quantity,
    available_quantities,
    default_trial_quantities,
    parse_quantity,
    parse_quantity_as,
)
from ..scenario.units import DAYS_PER_MONTH
from .survival import Z95, cox_binary, kaplan_meier
from .trial import TrialDesign, TrialRun, run_trials, trial_designs


# --------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Measure:
    """A simulated quantity, its Monte Carlo 95% CI, a smooth surrogate and the sample size."""

    value: float
    low: float = math.nan
    high: float = math.nan
    smooth: float = math.nan
    n: int = 0


def spread_median(survival: pd.Series, width: float) -> float:
    """Median of the KM distribution with each drop spread uniformly over ±``width``/2.

    Event times observed on an imaging grid are interval-censored: the KM curve drops only
    at scan times, so its median jumps from scan to scan as parameters change. Spreading each
    drop over one imaging interval centred on its time gives a continuous, monotone CDF whose
    median moves smoothly and stays within ``width``/2 of the KM (step) median: calibration
    can aim it at a target. ``survival``: a KM survival function indexed by time.
    """
    t = survival.index.to_numpy(float)
    cdf = 1.0 - survival.to_numpy(float)
    if len(cdf) == 0 or cdf[-1] < 0.5:
        return math.nan
    if width <= 0:
        return float(t[np.argmax(cdf >= 0.5)])
    # G(x) = ∫ F: piecewise linear between knots t_j, F constant (cdf_j) after t_j. The
    # smoothed CDF (G(x + w/2) − G(x − w/2)) / w is then piecewise linear with breakpoints
    # t_j ± w/2 and nondecreasing: its 0.5 crossing is found exactly between two of them.
    area = np.concatenate([[0.0], np.cumsum(cdf[:-1] * np.diff(t))])

    def integral(x: np.ndarray) -> np.ndarray:
        k = np.searchsorted(t, x, side="right") - 1
        inside = k >= 0
        kk = np.maximum(k, 0)
        return np.where(inside, area[kk] + cdf[kk] * (x - t[kk]), 0.0)

    def smoothed(x: np.ndarray) -> np.ndarray:
        return (integral(x + width / 2) - integral(x - width / 2)) / width - 0.5

    points = np.unique(np.concatenate([t - width / 2, t + width / 2]))
    values = smoothed(points)
    if values[-1] < 0:  # the last drop crosses 0.5 only at its end
        return float(points[-1])
    i = int(np.argmax(values >= 0))
    if i == 0:
        return float(points[0])
    x0, x1, v0, v1 = points[i - 1], points[i], values[i - 1], values[i]
    return float(x0 + (x1 - x0) * (-v0) / (v1 - v0))


def km_median(durations, events, width: float = 0.0) -> Measure:
    """KM median with its CI; ``smooth`` = :func:`spread_median` over ``width``."""
    km = kaplan_meier(durations, events)
    value, low, high = km.median()
    smooth = spread_median(pd.Series(km.survival, index=km.timeline), width)
    return Measure(value, low, high, smooth, km.n)


def km_landmark(durations, events, at: float) -> Measure:
    """KM survival probability at time ``at`` with its pointwise 95% CI."""
    km = kaplan_meier(durations, events)
    s, low, high = km.at(at)
    return Measure(s, low, high, s, km.n)


def hazard_ratio(randomised: pd.DataFrame, robust: bool = True, what: str = "pfs") -> Measure:
    """Cox hazard ratio of ``what`` (``pfs``, ``pfs2`` or ``os``), switch vs continue (Efron
    ties); the CI is robust to the paired (CRN) arms (clustered on the patient) unless
    ``robust`` is false."""
    if randomised.empty or randomised[f"{what}_event"].sum() == 0:
        return Measure(math.nan)
    fit = cox_binary(
        randomised[f"{what}_months"].to_numpy(float),
        randomised[f"{what}_event"].to_numpy(bool),
        (randomised["arm"] == "switch").to_numpy(float),
        randomised["patient"].to_numpy(),
    )
    hr, low, high = fit.hazard_ratio(robust)
    return Measure(hr, low, high, hr, len(randomised) // 2)


def sample_median(values, width: float = 0.0) -> Measure:
    """Plain median of ``values`` (NaNs dropped) with a distribution-free 95% CI (order
    statistics: ranks ``⌊(n − z√n)/2⌋`` and ``⌈1 + (n + z√n)/2⌉``, clipped to 1…n); ``smooth``
    is the median with each value spread uniformly over ±``width``/2 (:func:`spread_median`:
    continuous as values move across a grid of spacing ``width``)."""
    x = np.sort(np.asarray(values, dtype=float))
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return Measure(math.nan)
    half = Z95 * math.sqrt(n)
    low = x[min(max(math.floor((n - half) / 2), 1), n) - 1]
    high = x[min(max(math.ceil(1 + (n + half) / 2), 1), n) - 1]
    times, counts = np.unique(x, return_counts=True)
    survival = pd.Series(1.0 - np.cumsum(counts) / n, index=times)
    smooth = spread_median(survival, width)
    return Measure(float(np.median(x)), float(low), float(high), smooth, n)


def proportion(k: int, n: int) -> Measure:
    """``k / n`` with its Wilson 95% interval."""
    if n == 0:
        return Measure(math.nan)
    p, z = k / n, 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Measure(p, centre - half, centre + half, p, n)


# --------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------
def measure_trial(
    run: TrialRun, robust: bool = True, names: Iterable[str] | None = None
) -> dict[str, Measure]:
    """Quantities ``<trial>.<...>`` of a virtual trial run (``<trial>`` = the design's name):
    ``names``, or by default what ``hemodel validate`` always reports
    (:func:`hemodel.scenario.targets.default_trial_quantities`)."""
    trial = run.design.name
    names = default_trial_quantities(trial) if names is None else list(names)
    r = run.randomised
    width = run.design.every_days / DAYS_PER_MONTH
    fits: dict[tuple[str, str], object] = {}
    funnel: dict[str, float] = {}

    def km(what: str, arm: str):
        if (what, arm) not in fits:
            g = r[r["arm"] == arm]
            fits[what, arm] = (g[f"{what}_months"], g[f"{what}_event"])
        return fits[what, arm]

    def f() -> dict[str, float]:
        if not funnel:
            funnel.update(run.funnel())
        return funnel

    def first_tests() -> np.ndarray:
        t = run.patients_table
        return t.loc[t["detected"], "first_positive_test"].to_numpy(float)

    out: dict[str, Measure] = {}
    for name in names:
        q = parse_quantity_as(name, "trial")
        if q is None or q.owner != trial:
            raise KeyError(f"{name!r} is not a quantity of the virtual trial {trial!r}")
        what = q.template.split("_", 1)[0]
        if q.template.endswith("_median_months.<arm>"):
            m = km_median(*km(what, q.arm), width)
        elif "_at_<m>_months" in q.template:
            m = km_landmark(*km(what, q.arm), q.months)
        elif q.template.endswith("hazard_ratio"):
            m = hazard_ratio(r, robust=robust, what=what)
        elif q.template == "detected_of_tested":
            m = proportion(f()["detected"], f()["under_surveillance"])
        elif q.template == "cumulative_detection":
            m = proportion(f()["detected"], f()["completed_surveillance"])
        elif q.template == "detection_without_progression":
            m = proportion(f()["randomised"], f()["completed_surveillance"])
        elif q.template == "randomised_of_detected":
            m = proportion(f()["randomised"], f()["detected"])
        elif q.template == "first_detection_test.median":
            m = sample_median(first_tests(), 1.0)
        elif q.template == "first_detection_test.share_<k>":
            k = first_tests()
            m = proportion(int((k == q.k).sum()), len(k))
        elif q.template == "lead_time_median_months":
            g = r[r["arm"] == "continue"]
            m = sample_median(g["to_progression_months"], width)
        else:  # pragma: no cover - targets.py and this function are kept in step by a test
            raise KeyError(f"no measure for {q.template!r}")
        out[name] = m
    return out


def strategy_outcomes(
    scenario, strategies: Iterable[str], patients: int, seed: int, executor=None, engine="auto"
):
    """Per-patient outcomes of the named strategies only (same patients as the trial)."""
    from ..run.simulation import simulate
    from ..scenario.load import with_strategies

    names = list(dict.fromkeys(strategies))
    sub = with_strategies(scenario, names, names[0], psa=False)
    return simulate(sub, patients=patients, seed=seed, executor=executor, engine=engine).patients


def measure_outcomes(scenario, table: pd.DataFrame, names: Iterable[str]) -> dict[str, Measure]:
    """Strategy quantities ``<strategy>.<...>`` from a per-patient outcome table (the columns
    of :data:`hemodel.model.outcomes.OUTCOME_COLUMNS` and ``strategy``)."""
    horizon = scenario.time_horizon.days()
    out: dict[str, Measure] = {}
    for name in names:
        q = parse_quantity(name, scenario)
        if q is None or q.kind != "strategy":
            raise KeyError(f"{name!r} is not a strategy quantity of the scenario")
        g = table[table["strategy"] == q.owner]
        st = scenario.strategies[q.owner]
        width = (st.imaging_every or scenario.schedule.imaging_every).days() / DAYS_PER_MONTH
        if q.template.startswith(("pfs_", "os_")):
            cols = ["death_days"]
            if q.template.startswith("pfs_"):
                cols.insert(0, "detected_progression_days")
            end = np.fmin.reduce([g[c].to_numpy(float) for c in cols])
            event = ~np.isnan(end)
            t = np.where(event, end, horizon) / DAYS_PER_MONTH
            if q.months is None:
                out[name] = km_median(t, event, width)
            else:
                out[name] = km_landmark(t, event, q.months)
        elif q.template == "lead_time_median_months":
            out[name] = sample_median(g["lead_time_days"].to_numpy(float) / DAYS_PER_MONTH, width)
        elif q.template == "progressors_with_mutation":
            progression = g["detected_progression_days"].to_numpy(float)
            progressed = ~np.isnan(progression)
            carrying = g["emergence_days"].to_numpy(float) <= progression  # NaN: False
            out[name] = proportion(int((progressed & carrying).sum()), int(progressed.sum()))
        else:  # pragma: no cover - targets.py and this function are kept in step by a test
            raise KeyError(f"no measure for {q.template!r}")
    return out


def measure_strategies(
    scenario, names: Iterable[str], patients: int, seed: int, executor=None, engine="auto"
) -> dict[str, Measure]:
    """Strategy quantities ``<strategy>.<...>`` (whole cohort, one simulation of the
    strategies they name); a bare strategy name stands for its KM medians of first-line PFS
    and OS."""
    names = list(dict.fromkeys(names))
    names = [
        x
        for n in names
        for x in ([n] if "." in n else [f"{n}.pfs_median_months", f"{n}.os_median_months"])
    ]
    if not names:
        return {}
    strategies = [n.partition(".")[0] for n in names]
    table = strategy_outcomes(scenario, strategies, patients, seed, executor, engine)
    return measure_outcomes(scenario, table, names)


def measure_runs(
    scenario,
    names: Iterable[str],
    patients: int,
    seed: int,
    design: TrialDesign | Mapping[str, TrialDesign] | None = None,
    robust: bool = True,
    executor=None,
    engine: str = "auto",
) -> tuple[dict[str, Measure], dict[str, TrialRun]]:
    """The named quantities and the virtual trial runs they needed, by trial name. Each
    trial runs once; trials differing only in their analysis (follow-up, surveillance
    window) share one simulation. ``design``: replaces the trial of its name (a mapping: the
    trials it names; see :func:`hemodel.credibility.trial.trial_designs`)."""
    names = list(names)
    parsed: dict[str, Quantity | None] = {n: parse_quantity(n, scenario) for n in names}
    unknown = [n for n, q in parsed.items() if q is None]
    if unknown:
        raise KeyError(f"unknown quantities {unknown}; available: {available_quantities(scenario)}")
    designs = trial_designs(scenario, design)
    needed = {q.owner for q in parsed.values() if q.kind == "trial"}
    runs = run_trials(
        scenario,
        {t: d for t, d in designs.items() if t in needed},
        patients,
        seed,
        executor,
        engine,
    )
    out: dict[str, Measure] = {}
    for trial, run in runs.items():
        mine = [n for n, q in parsed.items() if q.kind == "trial" and q.owner == trial]
        out.update(measure_trial(run, robust=robust, names=mine))
    strategy = [n for n, q in parsed.items() if q.kind == "strategy"]
    out.update(measure_strategies(scenario, strategy, patients, seed, executor, engine))
    return {n: out[n] for n in names}, runs


def measure(
    scenario,
    names: Iterable[str],
    patients: int,
    seed: int,
    design: TrialDesign | Mapping[str, TrialDesign] | None = None,
    robust: bool = True,
    executor=None,
    engine: str = "auto",
) -> tuple[dict[str, Measure], TrialRun | None]:
    """The named quantities (running only what they need) and the first trial run, if any
    (:func:`measure_runs` returns all of them). ``design``: replaces the default ``serena6``
    trial (see :func:`measure_runs`); ``executor`` (a :class:`hemodel.run.parallel.Executor`):
    where to simulate; ``engine``: which engine (:func:`hemodel.engine.choice.choose`)."""
    measures, runs = measure_runs(scenario, names, patients, seed, design, robust, executor, engine)
    return measures, next(iter(runs.values()), None)


# --------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------
def target_range(target) -> tuple[float, float] | None:
    """The interval a simulated value must fall in: the CI, else value ± tolerance."""
    if target.ci is not None:
        return float(target.ci[0]), float(target.ci[1])
    if target.tolerance is not None:
        return target.value - target.tolerance, target.value + target.tolerance
    return None


def passes(target, m: Measure) -> bool:
    if math.isnan(m.value):
        return False
    bounds = target_range(target)
    if bounds is None:
        return m.low <= target.value <= m.high
    return bounds[0] - 1e-12 <= m.value <= bounds[1] + 1e-12


def target_table(scenario, measures: dict[str, Measure]) -> pd.DataFrame:
    """One row per target: target, its range, simulated value with MC CI, pass/fail."""
    rows = []
    for name, target in scenario.targets.items():
        m = measures[name]
        bounds = target_range(target) or (math.nan, math.nan)
        rows.append(
            {
                "quantity": name,
                "target": target.value,
                "target_low": bounds[0],
                "target_high": bounds[1],
                "simulated": m.value,
                "mc_low": m.low,
                "mc_high": m.high,
                "n": m.n,
                "passed": passes(target, m),
                "source": target.source or "",
            }
        )
    return pd.DataFrame(rows, columns=["quantity", "target", "target_low", "target_high",
                                       "simulated", "mc_low", "mc_high", "n", "passed",
                                       "source"])  # fmt: skip


@dataclass
class Validation:
    """Result of :func:`validate`: the target table, every measure and the trial runs
    (``trials`` by name; ``trial`` is the first)."""

    scenario: str
    table: pd.DataFrame
    measures: dict[str, Measure]
    trial: TrialRun
    patients: int
    seed: int
    trials: dict[str, TrialRun] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.table["passed"].all())


def trial_work(scenario, patients: int, engine: str = "auto") -> int:
    """The work of one set of virtual trials, in SimPy patient-runs (three arms of
    ``patients``, weighted by the engine's cost), for deciding whether worker processes pay."""
    chosen = choose(engine, build_inputs(scenario))
    return round(3 * patients * ENGINE_COST[chosen])


def validate(
    scenario,
    patients: int = 20000,
    seed: int = 1,
    design: TrialDesign | Mapping[str, TrialDesign] | None = None,
    engine: str = "auto",
    **execution,
) -> Validation:
    """Run every virtual trial of the scenario (always) and the strategies named in targets;
    check targets. ``design`` replaces the trial of its name (default ``serena6``; a mapping:
    the trials it names).

    ``execution``: ``workers``, ``backend``, ``scheduler`` (default: in-process); the result
    does not depend on them, nor on the ``engine``."""
    designs = trial_designs(scenario, design)
    names = [n for trial in designs for n in default_trial_quantities(trial)]
    names += [n for n in scenario.targets if n not in names]
    with Executor(**execution, work=trial_work(scenario, patients, engine)) as executor:
        measures, runs = measure_runs(
            scenario, names, patients, seed, designs, executor=executor, engine=engine
        )
    first = next(iter(runs.values()))
    return Validation(
        scenario.name, target_table(scenario, measures), measures, first, patients, seed, runs
    )
