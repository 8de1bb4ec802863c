"""Scenarios side by side: the inputs that differ, each strategy's results and the decision at
each willingness-to-pay (WTP) threshold.

Every scenario is simulated with the same patients and seed (common random numbers), so a
difference in results comes from a difference in inputs, not from a different cohort.
Scenarios may differ in currency and strategy set: money stays in each scenario's own currency
(every row names it; nothing is added across currencies) and strategies are aligned by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from ..run.results import Results
from ..run.simulation import simulate
from ..scenario.quantities import CostRate, Param
from ..scenario.schema import Scenario
from .cea import incremental_analysis, net_benefit

#: Top-level fields that do not change a base-case result (text, trials, calibration
#: targets, PSA correlations, sweep grids, proposed studies): left out of the inputs comparison.
_NOT_INPUTS = ("name", "description", "trials", "targets", "uncertainty", "sweeps", "studies")
#: Fields that describe a value rather than set it.
_NOT_VALUES = ("description", "source", "psa", "range")


@dataclass(frozen=True)
class Case:
    """One scenario of a comparison: ``key`` names it uniquely (a column heading)."""

    key: str
    scenario: Scenario
    results: Results


def simulate_cases(
    scenarios: Mapping[str, Scenario], patients: int, seed: int, **options
) -> list[Case]:
    """Simulate every scenario with the same ``patients`` and ``seed`` (common random numbers).
    ``options``: further keyword arguments of :func:`hemodel.run.simulation.simulate`."""
    return [
        Case(key, s, simulate(s, patients=patients, seed=seed, **options))
        for key, s in scenarios.items()
    ]


# ------------------------------------------------------------------------------- inputs
def settings(scenario: Scenario) -> dict[str, tuple[Any, str]]:
    """Every input that can change a base-case result, by dotted path: ``(value, unit)``.

    Numbers keep the unit they were written in (``12 weeks`` and ``3 months`` differ); money
    carries the currency (``USD``, ``USD per 28 days``, ``USD per QALY``), discount rates are
    ``per year``. A list of numbers (the WTPs) is one setting, ``100000; 150000``;
    ``strategies`` lists the strategy names, so that a strategy without settings still shows."""
    found: dict[str, tuple[Any, str]] = {}
    for name in type(scenario).model_fields:
        if name not in _NOT_INPUTS:
            _walk(getattr(scenario, name), (name,), "", scenario.currency, found)
    found["strategies"] = (", ".join(scenario.strategies), "")
    return found


def _walk(obj: Any, path: tuple[str, ...], unit: str, currency: str, found: dict) -> None:
    """Add the leaves of ``obj`` at ``path`` to ``found``; ``unit`` is inherited from a
    parent that states it (a lab delay's ``unit`` applies to its mean and sd)."""
    if obj is None:
        return
    if isinstance(obj, Param):
        found[".".join(path)] = (obj.value, _unit(obj, path, unit, currency))
    elif isinstance(obj, BaseModel):
        inherited = getattr(obj, "unit", unit)
        for name in type(obj).model_fields:
            if name not in _NOT_VALUES:
                _walk(getattr(obj, name), path + (name,), inherited, currency, found)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _walk(value, path + (str(key),), unit, currency, found)
    elif isinstance(obj, list | tuple) and all(isinstance(v, Param) for v in obj):
        values = "; ".join(f"{v.value:g}" for v in obj)
        found[".".join(path)] = (values, _unit(obj[0], path, unit, currency) if obj else "")
    else:
        found[".".join(path)] = (
            obj,
            _POPULATION_UNITS.get(path[-1], "") if path[0] == "population" else "",
        )


#: Units of the ``population:`` block's plain numbers (it holds no parameters).
_POPULATION_UNITS = {
    "incident": "patients a year",
    "prevalent": "patients",
    "uptake": "share",
    "budget_years": "years",
    "plan_members": "members",
    "decision_horizon": "years",
}


def _unit(p: Param, path: tuple[str, ...], inherited: str, currency: str) -> str:
    """The unit of parameter ``p`` at ``path``: its own, its currency or its parent's."""
    if isinstance(p, CostRate):
        return f"{currency} per {p.per}"
    if getattr(p, "unit", None):
        return p.unit
    if path[0] == "willingness_to_pay":
        return f"{currency} per QALY"
    if path[0] == "costs" or path[-1] == "cost":
        return currency
    if path[0] == "discount_rates":
        return "per year"
    return inherited


def differing_inputs(cases: Sequence[Case]) -> pd.DataFrame:
    """The inputs whose value or unit differs between scenarios: column ``input`` (dotted
    path), then per scenario ``<key>`` (the value; missing if the scenario lacks the input)
    and ``<key> unit``. Rows in the order the scenarios first list them."""
    found = [settings(c.scenario) for c in cases]
    paths = list(dict.fromkeys(p for f in found for p in f))
    rows = []
    for path in paths:
        cells = [f.get(path) for f in found]
        if all(cell == cells[0] for cell in cells):
            continue
        row: dict = {"input": path}
        for case, cell in zip(cases, cells, strict=True):
            row[case.key], row[f"{case.key} unit"] = cell if cell is not None else (None, "")
        rows.append(row)
    columns = ["input"] + [k for c in cases for k in (c.key, f"{c.key} unit")]
    return pd.DataFrame(rows, columns=columns)


# ------------------------------------------------------------------------------ results
RESULT_COLUMNS = ["strategy", "scenario", "currency", "reference", "cost", "qalys", "lys",
                  "inc_cost", "inc_qalys", "inc_lys", "icer", "note"]  # fmt: skip


def strategy_results(cases: Sequence[Case]) -> pd.DataFrame:
    """Per strategy and scenario: mean discounted cost (the scenario's ``currency``), QALYs
    and life-years (LYs, years) per patient, increments against the scenario's reference and
    the ICER (currency per QALY; NaN with a ``note`` when dominated, dominant or no
    difference). Strategies in order of first appearance, each followed by its scenarios; a
    strategy a scenario lacks gives a row with only ``strategy``, ``scenario`` and ``note``."""
    found = {c.key: _results_of(c) for c in cases}
    strategies = list(dict.fromkeys(s for c in cases for s in c.results.strategies))
    rows = []
    for strategy in strategies:
        for case in cases:
            table = found[case.key]
            if strategy in table.index:
                rows.append({"strategy": strategy, "scenario": case.key, **table.loc[strategy]})
            else:
                rows.append({"strategy": strategy, "scenario": case.key,
                             "note": "not in this scenario"})  # fmt: skip
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def _results_of(case: Case) -> pd.DataFrame:
    """One scenario's results indexed by strategy (columns of :data:`RESULT_COLUMNS`)."""
    r = case.results
    summary = r.summary().set_index("strategy")
    inc = r.incremental().set_index("strategy")
    lys = summary["lys"]
    return pd.DataFrame(
        {
            "currency": r.currency,
            "reference": r.reference,
            "cost": inc["cost"],
            "qalys": inc["qalys"],
            "lys": lys,
            "inc_cost": inc["inc_cost"],
            "inc_qalys": inc["inc_qalys"],
            "inc_lys": lys - lys[r.reference],
            "icer": inc["icer"],
            "note": inc["note"],
        }
    )


# ---------------------------------------------------------------------------- decisions
DECISION_COLUMNS = ["scenario", "currency", "wtp", "wtp_from", "optimal", "nmb", "inmb",
                    "icer", "compared_with", "next", "next_icer"]  # fmt: skip


def decisions(cases: Sequence[Case], common_wtps: Sequence[float] = ()) -> pd.DataFrame:
    """The strategy with the highest net monetary benefit (NMB = WTP × QALYs − cost) in each
    scenario at each of its own WTPs (``wtp_from = "scenario"``) and at each of
    ``common_wtps`` (``"common"``, read in each scenario's own currency per QALY).

    ``nmb`` is the optimal strategy's NMB and ``inmb`` its NMB minus the reference's
    (currency per patient); ``icer`` is its ICER on the efficiency frontier against
    ``compared_with``, the next cheaper frontier strategy (NaN for the cheapest). Ties go to
    the strategy listed first. ``next`` is the next more costly strategy on the frontier and
    ``next_icer`` its ICER against the optimal one: the WTP above which it would be chosen
    (missing when the optimal strategy is the most costly on the frontier)."""
    return pd.DataFrame(
        [row for case in cases for row in _decisions_of(case, common_wtps)],
        columns=DECISION_COLUMNS,
    )


def _decisions_of(case: Case, common_wtps: Sequence[float]) -> list[dict]:
    own = case.scenario.wtps
    wtps = {**dict.fromkeys(own, "scenario"), **{w: "common" for w in common_wtps if w not in own}}
    table = case.results.ce_table()[["strategy", "cost", "qaly"]]
    table["strategy"] = table["strategy"].astype(str)
    frontier = incremental_analysis(table).set_index("strategy")
    following = _next_on_frontier(frontier)
    nmb = net_benefit(table, list(wtps))
    rows = []
    for wtp, group in nmb.groupby("wtp", sort=False):
        values = group.set_index("strategy")["nmb"]
        best = values.index[int(np.argmax(values.to_numpy()))]
        rows.append({
            "scenario": case.key, "currency": case.results.currency, "wtp": wtp,
            "wtp_from": wtps[wtp], "optimal": best, "nmb": values[best],
            "inmb": values[best] - values[case.results.reference],
            "icer": frontier.loc[best, "icer"],
            "compared_with": frontier.loc[best, "compared_with"],
            "next": following.get(best), "next_icer": frontier["icer"].get(following.get(best)),
        })  # fmt: skip
    return rows


def _next_on_frontier(frontier: pd.DataFrame) -> dict[str, str]:
    """Each frontier strategy → the next more costly one (``frontier``: the output of
    :func:`~hemodel.analysis.cea.incremental_analysis`, ordered by cost, indexed by strategy)."""
    on = frontier.index[frontier["status"] == "frontier"]
    return dict(zip(on[:-1], on[1:], strict=True))
