"""The analyses the app offers, as plain functions of a scenario (no web framework here):
each runs the same code as its command (``run``, ``sweep``, ``threshold``, ``budget``,
``psa``) in this process on one core, and returns tables ready to show and the numbers the
plots need. Progress reaches the app through :func:`hemodel.run.progress.listening`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from ..analysis import cea
from ..analysis import threshold as th
from ..analysis.budget import resolve_population, run_budget_impact, totals
from ..analysis.psa import require_uncertainty, run_psa
from ..analysis.sweep import analyse, expand
from ..engine.choice import choose
from ..model.inputs import build_inputs
from ..present.psa_report import psa_tables
from ..present.tables import incremental_table, sequential, summary_table
from ..run.results import Results
from ..run.simulation import simulate
from ..scenario.schema import Scenario

#: Every analysis runs in the app's process, on one core, with the fastest exact engine.
_RUN = {"engine": "auto", "workers": 1}


@dataclass(frozen=True)
class BaseCase:
    """A base-case run: the results, display tables (currency and units in the headers,
    Monte Carlo SEs) and the efficiency frontier; ``seconds`` of wall time."""

    results: Results
    summary: pd.DataFrame
    incremental: pd.DataFrame
    frontier: pd.DataFrame
    seconds: float

    @property
    def engine(self) -> str:
        return self.results.metadata["engine"]


def base_case(scenario: Scenario, patients: int, seed: int) -> BaseCase:
    """Every strategy on ``patients`` common patients (``hemodel run``)."""
    start = time.perf_counter()
    results = simulate(scenario, patients=patients, seed=seed, **_RUN)
    frontier = sequential(results)
    return BaseCase(
        results,
        summary_table(results),
        incremental_table(results),
        frontier,
        time.perf_counter() - start,
    )


@dataclass(frozen=True)
class Sweep:
    """A testing-interval sweep: mean cost and QALYs per grid point (``table``), the optimal
    strategy per WTP (``optimal``) and the reference's (cost, QALYs)."""

    name: str
    table: pd.DataFrame
    optimal: pd.DataFrame
    reference: tuple[float, float]


def sweep(scenario: Scenario, patients: int, seed: int, wtps: list[float] | None = None) -> Sweep:
    """The scenario's first ``sweeps:`` block (``hemodel sweep``), decisions at ``wtps``
    (default: the scenario's)."""
    if not scenario.sweeps:
        raise ValueError("this scenario has no sweeps: block, so there is no interval to sweep")
    name = next(iter(scenario.sweeps))
    expanded, grid = expand(scenario, name)
    res = simulate(expanded, patients=patients, seed=seed, **_RUN).ce_table()
    table = grid.merge(res[["strategy", "cost", "qaly"]], on="strategy")
    ref = res.set_index("strategy").loc[scenario.reference]
    optimal = analyse(res, grid, wtps or scenario.wtps)["optimal"]
    return Sweep(name, table, optimal, (float(ref["cost"]), float(ref["qaly"])))


@dataclass(frozen=True)
class Threshold:
    """Threshold prices of ``item`` (``hemodel threshold``): the cost lines, the price at which
    each strategy's ICER against the reference equals each WTP, and the cost-effective
    strategy by price."""

    item: str
    lines: pd.DataFrame
    prices: pd.DataFrame
    frontier: pd.DataFrame


def threshold(
    scenario: Scenario,
    patients: int,
    seed: int,
    wtps: list[float] | None = None,
    item: str | None = None,
) -> Threshold:
    """Threshold prices of ``item`` (default: the switch drug) at ``wtps`` (default: the
    scenario's)."""
    item = item or th.default_price_item(scenario)
    wtps = wtps or scenario.wtps
    lines = th.price_lines(scenario, item, patients=patients, seed=seed, **_RUN)
    return Threshold(item, lines, th.threshold_prices(lines, wtps), th.frontier_prices(lines, wtps))


@dataclass(frozen=True)
class Budget:
    """Budget impact (``hemodel budget``): by year, strategy and cost category, and totals."""

    table: pd.DataFrame
    totals: pd.DataFrame


def budget(
    scenario: Scenario,
    patients: int,
    seed: int,
    incident: float,
    uptake: list[float],
    years: int,
) -> Budget:
    """``incident`` new patients a year, ``uptake`` the share on each strategy by year, over
    ``years`` years; prevalent patients and plan members from the scenario's ``population:``."""
    who = resolve_population(scenario, incident, uptake, years)
    table, _ = run_budget_impact(scenario, who, patients=patients, seed=seed, **_RUN)
    return Budget(table, totals(table, who.plan_members))


@dataclass(frozen=True)
class PSA:
    """A probabilistic sensitivity analysis: the tables of
    :func:`hemodel.present.psa_report.psa_tables` and the CE-plane points."""

    tables: dict
    plane: pd.DataFrame


def psa(scenario: Scenario, samples: int, patients: int, seed: int) -> PSA:
    """``samples`` draws of the uncertain parameters (or of the calibration posterior) with
    ``patients`` patients each (``hemodel psa``)."""
    if not 2 <= samples <= 100_000 or not 1 <= patients <= 1_000_000:
        raise ValueError("a PSA needs 2 to 100,000 samples of 1 to 1,000,000 patients")
    require_uncertainty(scenario)
    per, drawn = run_psa(scenario, samples, patients, seed, **_RUN)
    engine = choose("auto", build_inputs(scenario))
    tables = psa_tables(scenario, per, drawn, patients, engine)
    return PSA(tables, cea.ce_plane(per, scenario.reference))


def result_tables(base, sweep, threshold, budget, psa) -> dict[str, pd.DataFrame]:
    """Every table computed so far, raw numbers (not display strings), by file name."""
    out: dict[str, pd.DataFrame] = {}
    if base is not None:
        out.update(summary=base.results.summary(), incremental=base.results.incremental(),
                   frontier=base.frontier)  # fmt: skip
    if sweep is not None:
        out.update(sweep=sweep.table, sweep_optimal=sweep.optimal)
    if threshold is not None:
        out.update(price_lines=threshold.lines, threshold_prices=threshold.prices,
                   threshold_frontier=threshold.frontier)  # fmt: skip
    if budget is not None:
        out.update(budget_impact=budget.table, budget_totals=budget.totals)
    if psa is not None:
        t = psa.tables
        out.update(psa_samples=t["samples"], psa_parameters=t["parameters"], ceac=t["ceac"],
                   ceaf=t["ceaf"], evpi=t["evpi"])  # fmt: skip
    return out
