"""Testing-frequency sweeps: a grid of monitoring settings expanded into strategies.

A scenario's ``sweeps:`` block names a base strategy and lists values for the testing
interval, assay, start and switch timing. Every combination becomes a strategy (named
``<assay>_q<weeks>w_s<weeks>w_<now|visit>``) simulated with the reference and any
comparators on the same patients, then analysed along the efficiency frontier.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ..scenario.load import Problem, ScenarioError, scenario_from_dict
from ..scenario.schema import Scenario
from . import cea

_WEEK = 7.0


def expand(scenario: Scenario, name: str) -> tuple[Scenario, pd.DataFrame]:
    """The scenario with sweep ``name``'s grid as strategies, and the grid's settings.

    Returns ``(scenario, grid)``: ``grid`` has one row per generated strategy with columns
    strategy, every_weeks, assay, start_weeks, when.
    """
    if name not in scenario.sweeps:
        available = ", ".join(scenario.sweeps) or "none defined"
        raise ScenarioError(
            [
                Problem(
                    "<scenario>",
                    None,
                    "sweeps",
                    f"sweep {name!r} is not defined (defined: {available})",
                )
            ]
        )
    sweep = scenario.sweeps[name]
    _check(scenario, name)
    base = scenario.strategies[sweep.base]
    mon, rule = base.monitoring, base.switch
    everys = sweep.every or [mon.every]
    assays = sweep.assay or [mon.assay]
    starts = sweep.start or [mon.start]
    whens = sweep.when or [rule.when]
    data = scenario.model_dump(mode="python", by_alias=True, exclude_none=True)
    kept = dict.fromkeys([scenario.reference, *sweep.compare_with])
    strategies = {k: data["strategies"][k] for k in kept}
    rows = []
    for every, assay, start, when in itertools.product(everys, assays, starts, whens):
        weeks, start_weeks = every.days() / _WEEK, start.days() / _WEEK
        label = (
            f"{assay}_q{weeks:g}w_s{start_weeks:g}w_{'now' if when == 'immediately' else 'visit'}"
        ).replace(".", "p")
        spec = base.model_dump(mode="python", by_alias=True, exclude_none=True)
        spec["description"] = (
            f"{assay} every {weeks:g} weeks from week {start_weeks:g}; "
            f"switch {when.replace('_', ' ')}"
        )
        spec["monitoring"].update(
            assay=assay,
            every=every.model_dump(exclude_none=True),
            start=start.model_dump(exclude_none=True),
        )
        spec["switch"]["when"] = when
        strategies[label] = spec
        rows.append(
            {
                "strategy": label,
                "every_weeks": weeks,
                "assay": assay,
                "start_weeks": start_weeks,
                "when": when,
            }
        )
    data["strategies"] = strategies
    data.pop("studies", None)  # they name the strategies the sweep replaces
    data["name"] = f"{scenario.name} — sweep {name}"
    return scenario_from_dict(data, name=f"sweep {name}"), pd.DataFrame(rows)


def _check(scenario: Scenario, name: str) -> None:
    sweep = scenario.sweeps[name]
    path = f"sweeps.{name}"
    problems = []
    base = scenario.strategies.get(sweep.base)
    if base is None or base.monitoring is None:
        problems.append((f"{path}.base", f"{sweep.base!r} must name a strategy with monitoring"))
    for assay in sweep.assay:
        if assay not in scenario.assays:
            problems.append((f"{path}.assay", f"assay {assay!r} is not defined under assays"))
    for other in sweep.compare_with:
        if other not in scenario.strategies:
            problems.append((f"{path}.compare_with", f"strategy {other!r} is not defined"))
    if problems:
        raise ScenarioError([Problem("<scenario>", None, p, m) for p, m in problems])


def analyse(summary: pd.DataFrame, grid: pd.DataFrame, wtps) -> dict[str, pd.DataFrame]:
    """Frontier over all strategies, and the optimal strategy (with its interval) per WTP.

    ``summary``: one row per strategy with ``cost`` and ``qaly`` (discounted means).
    """
    table = summary[["strategy", "cost", "qaly"]]
    frontier = cea.incremental_analysis(table)
    nmb = cea.net_benefit(table, np.asarray(wtps, dtype=float))
    best = nmb.loc[nmb.groupby("wtp")["nmb"].idxmax(), ["wtp", "strategy", "nmb"]]
    best = best.merge(grid, on="strategy", how="left").reset_index(drop=True)
    return {"frontier": frontier, "optimal": best}
