"""Calibration: fit free scenario parameters to the scenario's ``targets:``.

The objective is the sum of squared standardised residuals over the targets,
``Σ ((simulated − target) / scale)²``, with ``scale`` the target's standard error implied by
its 95% CI (``(high − low) / 3.92``; on the log scale for hazard ratios) or half its
``tolerance``, plus per target a steep wall, ``wall`` × the number of SEs by which the value
lies outside the target's CI (zero inside), so the fit lands inside every CI before trading
one target's centre against another's. Every evaluation simulates the *same* patients
(fixed seed: common random numbers), so the objective changes only through the parameters.
Kaplan-Meier medians enter through their smooth surrogate
(:func:`hemodel.credibility.validate.spread_median`): medians of imaging-detected times jump
from scan to scan, the surrogate moves continuously and stays within half an imaging interval of the
median.

Parameters are fitted on an unbounded scale (log for positive parameters, logit for
probabilities) by :func:`scipy.optimize.least_squares` (trust-region reflective, forward
differences with a step of ``diff_step`` on that scale). The best point evaluated is returned.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..run.parallel import Executor
from ..scenario.distributions import recentred
from ..scenario.load import extends_name, parameters, with_values
from ..scenario.problems import ScenarioError
from ..scenario.schema import Scenario
from .trial import TrialDesign, trial_designs
from .validate import Measure, measure, passes, target_range, trial_work

_MISSING = 30.0  # residual when a quantity cannot be measured (e.g. median not reached)


class _Budget(Exception):
    """The evaluation budget is spent."""


# --------------------------------------------------------------------------------------
# Parameter scales
# --------------------------------------------------------------------------------------
def _scale(param) -> str:
    """Unbounded scale on which a parameter is fitted: logit, log or identity."""
    if param.lower == 0 and param.upper == 1:
        return "logit"
    return "log" if param.lower >= 0 else "identity"


def _to_free(x: float, scale: str) -> float:
    if scale == "logit":
        return math.log(x / (1 - x))
    return math.log(x) if scale == "log" else x


def _from_free(z: float, scale: str) -> float:
    if scale == "logit":
        return 1 / (1 + math.exp(-z))
    return math.exp(z) if scale == "log" else z


def _standardise(name: str, target, x: float):
    """(x − target) / SE, and by how many SEs x lies outside the target's range."""
    log = name.endswith("hazard_ratio")
    f = (lambda v: math.log(max(v, 1e-12))) if log else (lambda v: v)  # noqa: E731
    if target.ci is not None:
        se = (f(target.ci[1]) - f(target.ci[0])) / 3.92
    elif target.tolerance is not None:
        se = (f(target.value + target.tolerance) - f(target.value)) / 2
    else:
        se = 0.05 if log else 0.05 * abs(target.value) or 1.0
    bounds = target_range(target)
    outside = 0.0
    if bounds is not None:
        outside = max(f(bounds[0]) - f(x), 0.0, f(x) - f(bounds[1])) / se
    return (f(x) - f(target.value)) / se, outside


def residual(name: str, target, m: Measure) -> float:
    """Standardised residual of a quantity's smooth surrogate from a target:
    ``(simulated − target) / SE`` (log scale for hazard ratios)."""
    x = m.smooth
    if x is None or not math.isfinite(x):
        return _MISSING
    return _standardise(name, target, x)[0]


def residuals_of(scenario: Scenario, measures: dict[str, Measure], wall: float) -> np.ndarray:
    """Residuals for least squares: per target, the standardised residual and a steep wall,
    ``wall`` × SEs outside the target's CI (zero inside), so that the fit lands inside the
    CIs before it trades one target's centre against another's."""
    out = []
    for name, target in scenario.targets.items():
        x = measures[name].smooth
        if x is None or not math.isfinite(x):
            out += [_MISSING, _MISSING]
            continue
        z, outside = _standardise(name, target, x)
        out += [z, wall * outside]
    return np.asarray(out, dtype=float)


def free_start(scenario: Scenario, free, start=None) -> tuple[dict, dict[str, float]]:
    """The scenario's parameters by dotted path, and the starting values of the ``free`` ones
    (``start``, else the scenario's), once the scenario has targets and every free parameter
    exists, named once."""
    if not scenario.targets:
        raise ValueError("the scenario has no targets: to calibrate, add a targets: section")
    known = parameters(scenario)
    unknown = [p for p in free if p not in known]
    if unknown:
        raise KeyError(f"unknown parameters {unknown}; see `hemodel.parameters()`")
    if not free or len(set(free)) != len(free):
        raise ValueError("name at least one free parameter, each once")
    return known, {p: float((start or {}).get(p, known[p].value)) for p in free}


# --------------------------------------------------------------------------------------
# Fit
# --------------------------------------------------------------------------------------
@dataclass
class Fit:
    """Outcome of :func:`calibrate`."""

    scenario: Scenario
    free: list[str]
    start: dict[str, float]
    values: dict[str, float]
    objective: float
    table: pd.DataFrame
    evaluations: int
    seed: int
    patients: int
    design: TrialDesign
    message: str = ""
    history: list[tuple[dict[str, float], float]] = field(default_factory=list)


def fit_table(scenario: Scenario, measures: dict[str, Measure]) -> pd.DataFrame:
    """Per target: target and range, fitted surrogate, reported value, residual, pass."""
    rows = []
    for name, target in scenario.targets.items():
        m = measures[name]
        lo, hi = target_range(target) or (math.nan, math.nan)
        rows.append(
            {
                "quantity": name,
                "target": target.value,
                "target_low": lo,
                "target_high": hi,
                "fitted_smooth": m.smooth,
                "simulated": m.value,
                "residual": residual(name, target, m),
                "passed": passes(target, m),
            }
        )
    return pd.DataFrame(rows)


def calibrate(
    scenario: Scenario,
    free: list[str],
    patients: int = 5000,
    seed: int = 1,
    design: TrialDesign | None = None,
    start: dict[str, float] | None = None,
    max_evaluations: int = 150,
    diff_step: float = 0.02,
    tolerance: float = 1e-3,
    wall: float = 5.0,
    progress=None,
    engine: str = "auto",
    **execution,
) -> Fit:
    """Fit the ``free`` parameters (dotted paths, see :func:`hemodel.parameters`) to
    the scenario's targets; ``start`` overrides starting values (default: the scenario's).

    Returns the fitted scenario (the best point evaluated) and its fit per target, evaluated
    on the same patients. ``progress(values, objective)`` is called after
    each evaluation. ``execution``: ``workers``, ``backend``, ``scheduler`` for every
    evaluation (default: in-process); the fit does not depend on them, nor on the
    ``engine``.
    """
    # ``design`` replaces the scenario's trial of its name (fails here if there is none)
    override, designs = design, trial_designs(scenario, design)
    design = design or next(iter(designs.values()))
    known, start = free_start(scenario, free, start)
    scales = [_scale(known[p]) for p in free]
    names = list(scenario.targets)
    executor = Executor(**execution, work=trial_work(scenario, patients, engine))
    try:
        history: list[tuple[dict[str, float], float]] = []
        cache: dict[tuple[float, ...], np.ndarray] = {}
        z0 = np.array([_to_free(start[p], s) for p, s in zip(free, scales, strict=True)])
        best: list = [math.inf, z0]

        def values_at(z) -> dict[str, float]:
            return {p: _from_free(float(v), s) for p, v, s in zip(free, z, scales, strict=True)}

        def residuals(x) -> np.ndarray:
            # x = 1 + (z - z0): the optimiser's relative finite-difference step ``diff_step``
            # is then an absolute step on the free scale (about diff_step × 100 % for log scales).
            z = z0 + np.asarray(x, dtype=float) - 1.0
            key = tuple(np.round(z, 12))
            if key not in cache:
                if len(history) >= max_evaluations:
                    raise _Budget
                vals = values_at(z)
                try:
                    s = with_values(scenario, vals)
                    ms, _ = measure(s, names, patients, seed, override, False, executor, engine)
                    cache[key] = residuals_of(scenario, ms, wall)
                except (ValueError, ScenarioError):  # outside what the scenario allows
                    cache[key] = np.full(2 * len(names), _MISSING)
                objective = float(np.sum(cache[key] ** 2))
                history.append((vals, objective))
                if objective < best[0]:
                    best[:] = [objective, z]
                if progress is not None:
                    progress(vals, objective)
            return cache[key]

        from scipy.optimize import least_squares

        try:
            sol = least_squares(
                residuals,
                np.ones(len(free)),
                method="trf",
                diff_step=diff_step,
                xtol=tolerance,
                ftol=tolerance,
                gtol=tolerance,
            )
            message = str(sol.message)
        except _Budget:
            message = f"stopped after {max_evaluations} evaluations"
        # The best point evaluated (on a staircase objective the last step need not be best),
        # unrounded: the objective reported is then the one of the values written.
        fitted = values_at(best[1])
        result = with_values(scenario, fitted)
        ms, _ = measure(result, names, patients, seed, override, False, executor, engine)
        table = fit_table(result, ms)
        return Fit(
            scenario=result,
            free=list(free),
            start=start,
            values=fitted,
            objective=float(np.sum(residuals_of(result, ms, wall) ** 2)),
            table=table,
            evaluations=len(history),
            seed=seed,
            patients=patients,
            design=design,
            message=message,
            history=history,
        )
    finally:
        executor.close()


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------
def format_fit(fit: Fit) -> str:
    """Free parameters (start → fitted) and the fit per target, as text."""
    lines = ["Free parameters (start → fitted):"]
    width = max(len(p) for p in fit.free)
    for p in fit.free:
        lines.append(f"  {p:<{width}}  {fit.start[p]:.4g} → {fit.values[p]:.4g}")
    t = fit.table
    shown = pd.DataFrame(
        {
            "Quantity": t["quantity"],
            "Target": t["target"].map("{:.3g}".format),
            "Range": [
                f"{a:.3g}–{b:.3g}" for a, b in zip(t["target_low"], t["target_high"], strict=True)
            ],
            "Fitted (smooth)": t["fitted_smooth"].map("{:.3g}".format),
            "Reported": t["simulated"].map("{:.3g}".format),
            "Residual": t["residual"].map("{:+.2f}".format),
            "Result": t["passed"].map({True: "PASS", False: "FAIL"}),
        }
    )
    lines += [
        "",
        f"Fit per target ({fit.patients:,} patients, seed {fit.seed}; residual = "
        "(fitted − target) / target SE):",
        shown.to_string(index=False),
        "",
        f"Objective (sum of squared residuals): {fit.objective:.4g} after {fit.evaluations} "
        f"evaluations ({fit.message})",
    ]
    return "\n".join(lines)


def _nested(fit: Fit) -> tuple[dict, list[str]]:
    """Overrides for the fitted parameters, and comment lines on what changed besides values.

    Each parameter is written with its unit; under the variant rule (docs/howto-new-scenario.md)
    a new value drops the parent's ``psa:`` and ``range:``, so a ``psa:`` is kept as
    ``psa: inherit`` (re-centred on the fitted value) and a ``range:`` is restated when it
    still contains the fitted value."""
    known = parameters(fit.scenario)
    out: dict = {}
    comments = []
    for path in fit.free:
        p = known[path]
        entry = p.model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude={"psa", "range", "source"}
        )
        if p.range is not None:
            if p.range[0] <= p.value <= p.range[1]:
                entry["range"] = list(p.range)
            else:
                comments.append(f"range {list(p.range)} of {path} dropped: excludes {p.value:.4g}")
        if p.psa is not None:
            try:
                recentred(p.psa, p.value)
                entry["psa"] = "inherit"
            except ValueError as exc:
                comments.append(f"psa of {path} dropped: cannot re-centre on {p.value:.4g}: {exc}")
        node = out
        *parents, last = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = entry
    return out, comments


def calibrated_yaml(fit: Fit, original: Path, out: Path) -> str:
    """Text of a scenario that ``extends:`` ``original`` with the fitted values."""
    import yaml

    from .. import __version__

    d = fit.design
    today = _dt.date.today().isoformat()
    lines = [
        f"# Calibrated with `hemodel calibrate` on {today} (hemodel {__version__}).",
        f"# Seed {fit.seed}, {fit.patients:,} patients; virtual {d.title}: ctDNA and imaging "
        f"every {d.every_weeks:g} weeks from week {d.start_days / 7:g},",
        f"# PFS at a median follow-up of {d.follow_up_months} months.",
        f"# Objective (sum of squared standardised residuals): {fit.objective:.4g} after "
        f"{fit.evaluations} evaluations (scipy least_squares, trf).",
        "# Free parameters (start → fitted):",
    ]
    lines += [f"#   {p}: {fit.start[p]:.4g} → {fit.values[p]:.4g}" for p in fit.free]
    lines.append("# Targets (target [range] → fitted smooth / reported value):")
    for _, r in fit.table.iterrows():
        lines.append(
            f"#   {r['quantity']}: {r['target']:g} [{r['target_low']:.3g}, {r['target_high']:.3g}]"
            f" → {r['fitted_smooth']:.3g} / {r['simulated']:.3g}"
            f" ({'pass' if r['passed'] else 'FAIL'})"
        )
    overrides, comments = _nested(fit)
    lines += [f"# Note: {c}." for c in comments]
    parent = extends_name(original, Path(out).resolve().parent)
    body = {"extends": parent, "name": f"{fit.scenario.name} (calibrated)"}
    body.update(overrides)
    text = yaml.safe_dump(body, sort_keys=False, default_flow_style=None, allow_unicode=True)
    return "\n".join(lines) + "\n" + text


def write_calibrated(fit: Fit, original: Path, out: Path) -> Path:
    """Write :func:`calibrated_yaml` to ``out`` atomically (the old file or the whole new
    one); ValueError when ``out`` is where ``original`` cannot be extended from."""
    from ..run.files import atomic_write

    out = Path(out)
    text = calibrated_yaml(fit, original, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, text.encode("utf-8"))
    return out
