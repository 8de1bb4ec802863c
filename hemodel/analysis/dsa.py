"""Deterministic sensitivity analysis: one-way (tornado) and two-way (heat map).

Each parameter with a range (an explicit ``range:`` or the 2.5/97.5 percentiles of its
``psa:`` distribution, :meth:`hemodel.scenario.quantities.Param.low_high`) is set to its low
and then its high value with :func:`hemodel.with_values`, and the model is re-run on a scenario
reduced to the reference and one comparison strategy. Every run uses the same seed and
patients (common random numbers), so differences come from the parameter alone; the base
case is run once.

Outcomes of the comparison against the reference, per patient and discounted:
``inmb`` -- incremental net monetary benefit at ``wtp`` (currency), or
``icer`` -- incremental cost per QALY gained (currency per QALY; NaN when ΔQALY = 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..scenario.load import parameters, with_strategies, with_values
from ..scenario.schema import (
    CostRate,
    Decrement,
    Delay,
    DiscountRate,
    Duration,
    Probability,
    Scenario,
    Utility,
)

MEASURES = ("inmb", "icer")


# ------------------------------------------------------------------------- set-up
def default_comparison(scenario: Scenario) -> str:
    """The first strategy with ctDNA monitoring, else the first non-reference strategy."""
    others = [n for n in scenario.strategies if n != scenario.reference]
    return next((n for n in others if scenario.strategies[n].monitoring), others[0])


def reduced_scenario(scenario: Scenario, comparison: str, reference: str | None = None) -> Scenario:
    """The scenario with only ``reference`` (default: the scenario's) and ``comparison``."""
    reference = reference or scenario.reference
    for name in (reference, comparison):
        if name not in scenario.strategies:
            known = ", ".join(scenario.strategies)
            raise ValueError(f"unknown strategy {name!r} (strategies: {known})")
    if comparison == reference:
        raise ValueError(f"the comparison must differ from the reference ({reference!r})")
    name = f"{scenario.name} ({comparison} vs {reference})"
    return with_strategies(scenario, (reference, comparison), reference, name=name)


def parameter_unit(scenario: Scenario, path: str) -> str:
    """Unit of a parameter for axis labels, e.g. ``months``, ``USD per 28 days``, ``USD``."""
    p = parameters(scenario)[path]
    cur = scenario.currency
    if isinstance(p, CostRate):
        return f"{cur} per {p.per}"
    if isinstance(p, Duration):
        return p.unit
    if isinstance(p, DiscountRate):
        return "annual rate"
    if isinstance(p, Probability):
        return "probability"
    if isinstance(p, Decrement):
        return "utility decrement"
    if isinstance(p, Utility):
        return "utility"
    if path.startswith("assays.") and path.endswith(".cost"):
        return f"{cur} per test"
    if path.startswith("costs.") or path.endswith(".cost"):
        return cur
    if path.endswith("hazard_ratio"):
        return "hazard ratio"
    if path.endswith(".shape"):
        return "Weibull shape"
    if path.endswith((".limit_of_detection", ".level_at_emergence")):
        return "% mutant allele fraction"
    if path.endswith(".sdlog"):
        return "SD of log"
    if path.endswith(".shedding_at_progression"):
        return "fold change"
    if path.startswith("willingness_to_pay."):
        return f"{cur} per QALY"
    if path.startswith("cohort.age."):
        return "years"
    parent = _parent(scenario, path)
    if isinstance(parent, Delay):  # a delay's value, bounds, mean or SD: in its unit
        return parent.unit
    return ""


def _parent(scenario: Scenario, path: str) -> object:
    """The object that holds the parameter at dotted ``path`` (``None`` if there is none)."""
    node: object = scenario
    for part in path.split(".")[:-1]:
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
    return node


def ranged_parameters(
    scenario: Scenario, ranges: dict[str, tuple[float, float]] | None = None
) -> dict[str, tuple[float, float, str]]:
    """``path → (low, high, source)`` for every parameter with a DSA range.

    ``source`` is ``"range"`` (explicit), ``"psa 95%"`` (distribution percentiles) or
    ``"given"`` (from ``ranges``, which adds or overrides ranges).
    """
    params = parameters(scenario)
    out: dict[str, tuple[float, float, str]] = {}
    for path, p in params.items():
        lh = p.low_high()
        if lh is not None:
            source = "range" if p.range is not None else "psa 95%"
            out[path] = (float(lh[0]), float(lh[1]), source)
    for path, (lo, hi) in (ranges or {}).items():
        if path not in params:
            raise KeyError(f"unknown parameter {path!r}")
        out[path] = (float(lo), float(hi), "given")
    return out


def unused(scenario: Scenario, path: str) -> bool:
    """True if no strategy of ``scenario`` reads the parameter (an assay, switch therapy or
    targeted second-line therapy that none of its strategies uses)."""
    parts = path.split(".")
    st = list(scenario.strategies.values())
    if parts[0] == "assays":
        used = {s.monitoring.assay for s in st if s.monitoring}
        used |= {s.test_at_progression.assay for s in st if s.test_at_progression}
        return parts[1] not in used
    if parts[0] == "switch_therapies":
        return parts[1] not in {s.switch.to for s in st if s.switch}
    if parts[0] == "targeted_second_line":
        return not any(s.test_at_progression for s in st)
    return False


# ------------------------------------------------------------------------- running
def increments(
    scenario: Scenario, values: dict[str, float], patients: int, seed: int, engine: str = "auto"
) -> tuple[float, float]:
    """Mean incremental cost and QALYs of the non-reference strategy of a two-strategy
    scenario, with ``values`` substituted (same patients for both strategies)."""
    from ..run.simulation import simulate

    variant = with_values(scenario, values)
    means = (
        simulate(variant, patients=patients, seed=seed, engine=engine)
        .patients.groupby("strategy", observed=True)[["cost_total", "qalys"]]
        .mean()
    )
    other = next(s for s in variant.strategies if s != variant.reference)
    d = means.loc[other] - means.loc[variant.reference]
    return float(d["cost_total"]), float(d["qalys"])


def _task(_shared, job: tuple) -> tuple[float, float]:
    return increments(*job)


def _run_all(jobs: list[tuple], progress: bool | None, desc: str, execution: dict) -> list:
    """``increments`` for each job, in order, on the back-end that ``execution`` names
    (``workers``, ``backend``, ``scheduler``: see :class:`hemodel.run.parallel.Executor`)."""
    from ..run.parallel import Executor
    from ..run.progress import progress_bar

    work = sum(patients * len(small.strategies) for small, _, patients, *_ in jobs)
    with (
        progress_bar(len(jobs), desc, "run", progress, leave=False) as bar,
        Executor(**execution, work=work) as executor,
    ):
        return executor.map(_task, jobs, on_result=lambda i, r: bar.update())


def outcome(inc_cost: float, inc_qaly: float, measure: str, wtp: float) -> float:
    """INMB at ``wtp`` or ICER (NaN when ΔQALY = 0) from incremental cost and QALYs."""
    if measure == "inmb":
        return wtp * inc_qaly - inc_cost
    if measure == "icer":
        return inc_cost / inc_qaly if inc_qaly != 0 else math.nan
    raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")


def _check(scenario: Scenario, measure: str, wtp: float | None) -> float:
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    return scenario.willingness_to_pay[0].value if wtp is None else float(wtp)


def _settings(
    small: Scenario, comparison: str, measure: str, wtp: float, patients: int, seed: int
) -> dict:
    """The analysis settings repeated on every row of a DSA table."""
    return dict(
        measure=measure,
        comparison=comparison,
        reference=small.reference,
        wtp=wtp,
        currency=small.currency,
        patients=patients,
        seed=seed,
    )


def one_way(
    scenario: Scenario,
    comparison: str,
    *,
    reference: str | None = None,
    measure: str = "inmb",
    wtp: float | None = None,
    patients: int = 1000,
    seed: int = 1,
    ranges: dict[str, tuple[float, float]] | None = None,
    only: Sequence[str] | None = None,
    skip_unused: bool = True,
    progress: bool | None = False,
    engine: str = "auto",
    **execution,
) -> pd.DataFrame:
    """One-way DSA of ``comparison`` vs the reference over every parameter with a range.

    ``wtp`` (currency per QALY) defaults to the scenario's first threshold. ``only`` limits
    the parameters; ``ranges`` adds or overrides ranges. Parameters that neither strategy
    uses are not run when ``skip_unused`` (their outcome is the base, swing 0, ``used``
    False). Returns one row per parameter sorted by ``swing = |outcome_high - outcome_low|``
    (largest first), with the parameter's ``unit``, ``base_value``, ``low``, ``high``, the
    incremental cost and QALYs and the ``outcome`` at each end, the ``base`` outcome and the
    analysis settings (measure, comparison, reference, wtp, currency, patients, seed).
    ``execution``: ``workers``, ``backend``, ``scheduler`` (default: in-process);
    ``engine``: which engine simulates (:func:`hemodel.engine.choice.choose`).
    """
    wtp = _check(scenario, measure, wtp)
    small = reduced_scenario(scenario, comparison, reference)
    ranged = ranged_parameters(small, ranges)
    if only is not None:
        missing = [p for p in only if p not in ranged]
        if missing:
            raise KeyError(f"no range for parameter(s) {missing}: add range: [low, high]")
        ranged = {p: ranged[p] for p in only}
    params = parameters(small)
    run = {p: not (skip_unused and unused(small, p)) for p in ranged}
    jobs = [(small, {}, patients, seed, engine)]
    for p, (lo, hi, _) in ranged.items():
        if run[p]:
            jobs += [(small, {p: v}, patients, seed, engine) for v in (lo, hi)]
    done = iter(_run_all(jobs, progress, "one-way DSA", execution))
    base_c, base_q = next(done)
    base = outcome(base_c, base_q, measure, wtp)
    rows = []
    for p, (lo, hi, source) in ranged.items():
        (cl, ql), (ch, qh) = (next(done), next(done)) if run[p] else ((base_c, base_q),) * 2
        o_lo, o_hi = outcome(cl, ql, measure, wtp), outcome(ch, qh, measure, wtp)
        rows.append(
            dict(
                parameter=p,
                unit=parameter_unit(small, p),
                base_value=params[p].value,
                low=lo,
                high=hi,
                range_source=source,
                inc_cost_low=cl,
                inc_qaly_low=ql,
                inc_cost_high=ch,
                inc_qaly_high=qh,
                outcome_low=o_lo,
                outcome_high=o_hi,
                base=base,
                swing=abs(o_hi - o_lo) if not (math.isnan(o_lo) or math.isnan(o_hi)) else math.nan,
                used=run[p],
            )
        )
    table = pd.DataFrame(rows)
    if table.empty:
        raise ValueError("no parameter has a range: add range: [low, high] or a psa: distribution")
    table = table.sort_values("swing", ascending=False, kind="stable", na_position="first")
    settings = _settings(small, comparison, measure, wtp, patients, seed)
    return table.assign(**settings).reset_index(drop=True)


def two_way(
    scenario: Scenario,
    comparison: str,
    x: str,
    y: str,
    *,
    steps: int = 5,
    reference: str | None = None,
    measure: str = "inmb",
    wtp: float | None = None,
    patients: int = 1000,
    seed: int = 1,
    ranges: dict[str, tuple[float, float]] | None = None,
    progress: bool | None = False,
    engine: str = "auto",
    **execution,
) -> pd.DataFrame:
    """Two-way DSA: ``steps`` × ``steps`` values of parameters ``x`` and ``y`` spread evenly
    over their ranges. Returns one row per grid cell: ``x_parameter, x_value, y_parameter,
    y_value, inc_cost, inc_qaly, outcome`` and the analysis settings (as :func:`one_way`)."""
    wtp = _check(scenario, measure, wtp)
    if x == y:
        raise ValueError("two-way analysis needs two different parameters")
    if steps < 2:
        raise ValueError("steps must be at least 2")
    small = reduced_scenario(scenario, comparison, reference)
    ranged = ranged_parameters(small, ranges)
    for p in (x, y):
        if p not in ranged:
            raise KeyError(f"no range for parameter {p!r}: add range: [low, high] or psa:")
    xs = np.linspace(ranged[x][0], ranged[x][1], steps)
    ys = np.linspace(ranged[y][0], ranged[y][1], steps)
    cells = [(float(a), float(b)) for b in ys for a in xs]
    jobs = [(small, {x: a, y: b}, patients, seed, engine) for a, b in cells]
    results = _run_all(jobs, progress, "two-way DSA", execution)
    rows = [
        dict(
            x_parameter=x,
            x_unit=parameter_unit(small, x),
            x_value=a,
            y_parameter=y,
            y_unit=parameter_unit(small, y),
            y_value=b,
            inc_cost=c,
            inc_qaly=q,
            outcome=outcome(c, q, measure, wtp),
        )
        for (a, b), (c, q) in zip(cells, results, strict=True)
    ]
    return pd.DataFrame(rows).assign(**_settings(small, comparison, measure, wtp, patients, seed))
