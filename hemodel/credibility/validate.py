"""Validation against targets: what a virtual trial and the strategies measure, compared with
the scenario's ``targets:``.

A target names a *measured quantity* (:func:`available_quantities`):

- ``serena6.<...>``: measured in the virtual SERENA-6 trial
  (:mod:`hemodel.credibility.trial`): Kaplan-Meier medians and landmark survival of PFS from
  randomisation per arm, the Cox hazard ratio (switch vs continue), PFS2/OS medians, and the
  surveillance funnel;
- ``<strategy>.pfs_median_months`` / ``.os_median_months``: first-line PFS (detected progression
  or death) and overall survival from the start of first-line therapy, whole cohort, under
  that strategy of the scenario.

Every quantity comes with a Monte Carlo 95% CI (the uncertainty from simulating a finite
number of patients) and, for calibration, a continuous surrogate ``smooth`` (see
:func:`spread_median`). A target passes when the simulated value lies inside the target's CI
(or within ``tolerance`` of its value; with neither, when the Monte Carlo CI covers it).
Kaplan-Meier and Cox fits are the vectorised estimators of :mod:`.survival` (checked
against lifelines in the tests), fast enough for calibration.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..run.parallel import Executor
from ..scenario.targets import (
    ARMS,
    TRIAL,
    TRIAL_QUANTITIES,
    available_quantities,
)
from .survival import cox_binary, kaplan_meier
from .trial import TrialDesign, TrialRun


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


def hazard_ratio(randomised: pd.DataFrame, robust: bool = True) -> Measure:
    """Cox hazard ratio of PFS, switch vs continue (Efron ties); the CI is robust to the
    paired (CRN) arms (clustered on the patient) unless ``robust`` is false."""
    if randomised.empty or randomised["pfs_event"].sum() == 0:
        return Measure(math.nan)
    fit = cox_binary(
        randomised["pfs_months"].to_numpy(float),
        randomised["pfs_event"].to_numpy(bool),
        (randomised["arm"] == "switch").to_numpy(float),
        randomised["patient"].to_numpy(),
    )
    hr, low, high = fit.hazard_ratio(robust)
    return Measure(hr, low, high, hr, len(randomised) // 2)


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
def measure_trial(run: TrialRun, robust: bool = True) -> dict[str, Measure]:
    """Every ``serena6.*`` quantity of a virtual trial run."""
    r = run.randomised
    width = run.design.every_days / _days_per_month()
    out: dict[str, Measure] = {}
    for arm in ARMS:
        g = r[r["arm"] == arm]
        out[f"pfs_median_months.{arm}"] = km_median(g["pfs_months"], g["pfs_event"], width)
        for t in run.design.landmarks_months:
            out[f"pfs_at_{t:g}_months.{arm}"] = km_landmark(g["pfs_months"], g["pfs_event"], t)
        for what in ("pfs2", "os"):
            m = km_median(g[f"{what}_months"], g[f"{what}_event"], width)
            out[f"{what}_median_months.{arm}"] = m
    out["pfs_hazard_ratio"] = hazard_ratio(r, robust=robust)
    f = run.funnel()
    done = f["completed_surveillance"]
    out["cumulative_detection"] = proportion(f["detected"], done)
    out["detection_without_progression"] = proportion(f["randomised"], done)
    out["randomised_of_detected"] = proportion(f["randomised"], f["detected"])
    return {f"{TRIAL}.{k}": v for k, v in out.items()}


def _days_per_month() -> float:
    from ..scenario.units import DAYS_PER_MONTH

    return DAYS_PER_MONTH


def strategy_outcomes(
    scenario, strategies: Iterable[str], patients: int, seed: int, executor=None, engine="auto"
):
    """Per-patient outcomes of the named strategies only (same patients as the trial)."""
    from ..run.simulation import simulate
    from ..scenario.load import scenario_from_dict

    names = list(dict.fromkeys(strategies))
    data = scenario.model_dump(mode="python", by_alias=True, exclude_none=True)
    data["strategies"] = {n: data["strategies"][n] for n in names}
    data["reference"] = names[0]
    data["targets"] = {}
    data.pop("sweeps", None)
    sub = scenario_from_dict(data, name=scenario.name)
    return simulate(sub, patients=patients, seed=seed, executor=executor, engine=engine).patients


def measure_strategies(
    scenario, strategies: Iterable[str], patients: int, seed: int, executor=None, engine="auto"
):
    """``<strategy>.pfs_median_months`` and ``.os_median_months`` for the named strategies."""
    strategies = list(dict.fromkeys(strategies))
    if not strategies:
        return {}
    table = strategy_outcomes(scenario, strategies, patients, seed, executor, engine)
    horizon = scenario.time_horizon.days()
    month = _days_per_month()
    out: dict[str, Measure] = {}
    for name in strategies:
        g = table[table["strategy"] == name]
        st = scenario.strategies[name]
        width = (st.imaging_every or scenario.schedule.imaging_every).days() / month
        for key, cols in (
            ("pfs", ["detected_progression_days", "death_days"]),
            ("os", ["death_days"]),
        ):
            end = np.fmin.reduce([g[c].to_numpy(float) for c in cols])
            event = ~np.isnan(end)
            t = np.where(event, end, horizon) / month
            out[f"{name}.{key}_median_months"] = km_median(t, event, width)
    return out


def measure(
    scenario,
    names: Iterable[str],
    patients: int,
    seed: int,
    design: TrialDesign | None = None,
    robust: bool = True,
    executor=None,
    engine: str = "auto",
) -> tuple[dict[str, Measure], TrialRun | None]:
    """The named quantities (running only what they need) and the trial run, if any.
    ``executor`` (a :class:`hemodel.run.parallel.Executor`): where to simulate; ``engine``:
    which engine (:func:`hemodel.engine.choice.choose`)."""
    from .trial import run_trial

    names = list(names)
    known = set(available_quantities(scenario))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KeyError(f"unknown quantities {unknown}; available: {sorted(known)}")
    out: dict[str, Measure] = {}
    run = None
    if any(n.startswith(TRIAL + ".") for n in names):
        run = run_trial(scenario, patients, seed, design, executor, engine)
        out.update(measure_trial(run, robust=robust))
    strategies = [n.rsplit(".", 1)[0] for n in names if not n.startswith(TRIAL + ".")]
    out.update(measure_strategies(scenario, strategies, patients, seed, executor, engine))
    return {n: out[n] for n in names}, run


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
    """Result of :func:`validate`: the target table, every measure and the trial run."""

    scenario: str
    table: pd.DataFrame
    measures: dict[str, Measure]
    trial: TrialRun
    patients: int
    seed: int

    @property
    def passed(self) -> bool:
        return bool(self.table["passed"].all())


def validate(
    scenario,
    patients: int = 20000,
    seed: int = 1,
    design: TrialDesign | None = None,
    engine: str = "auto",
    **execution,
) -> Validation:
    """Run the virtual trial (always) and the strategies named in targets; check targets.

    ``execution``: ``workers``, ``backend``, ``scheduler`` (default: in-process); the result
    does not depend on them, nor on the ``engine``."""
    names = list(TRIAL_QUANTITIES)
    names += [n for n in scenario.targets if not n.startswith(TRIAL + ".")]
    with Executor(**execution, work=3 * patients) as executor:
        measures, run = measure(
            scenario, names, patients, seed, design, executor=executor, engine=engine
        )
    return Validation(
        scenario.name, target_table(scenario, measures), measures, run, patients, seed
    )


def format_targets(table: pd.DataFrame) -> str:
    """The target table as aligned text."""
    if table.empty:
        return "(the scenario has no targets:)"

    def num(x: float) -> str:
        return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"

    shown = pd.DataFrame(
        {
            "Quantity": table["quantity"],
            "Target": table["target"].map(num),
            "Target CI / range": [
                f"{num(a)}–{num(b)}"
                for a, b in zip(table["target_low"], table["target_high"], strict=True)
            ],
            "Simulated": table["simulated"].map(num),
            "MC 95% CI": [
                f"{num(a)}–{num(b)}" for a, b in zip(table["mc_low"], table["mc_high"], strict=True)
            ],
            "n": table["n"],
            "Result": table["passed"].map({True: "PASS", False: "FAIL"}),
        }
    )
    return shown.to_string(index=False)


def format_funnel(run: TrialRun) -> str:
    f = run.funnel()
    lines = [
        f"Surveillance funnel (virtual {run.design.title}, {f['patients']:,} patients starting "
        f"first-line therapy; ctDNA and imaging every {run.design.every_weeks:g} weeks from "
        f"week {run.design.start_days / 7:g}):",
        f"  under surveillance (>= 1 test)        {f['under_surveillance']:>8,}",
        f"  completed surveillance                {f['completed_surveillance']:>8,}",
        f"  >= 1 positive ctDNA test (detected)   {f['detected']:>8,}  "
        f"({f['cumulative_detection']:.1%} of completed)",
        f"  detected with progression same visit  {f['progression_at_same_visit']:>8,}",
        f"  randomised (no detected progression)  {f['randomised']:>8,}  "
        f"({f['randomised_of_detected']:.1%} of detected; "
        f"{f['false_positive_randomised']:,} on a false positive)",
    ]
    return "\n".join(lines)
