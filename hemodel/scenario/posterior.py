"""Calibration posterior draws named by a scenario's ``uncertainty.posterior``: read from their
CSV file when the scenario is loaded, each problem named with its YAML field and line."""

from __future__ import annotations

import csv
import difflib
import math
from pathlib import Path

from .problems import Loc, ScenarioError, fail, line_of, shorten
from .quantities import Param
from .reader import file_problem
from .schema import Scenario


def read_draws(scenario: Scenario, params: dict[str, Param], lines: dict, file: str) -> Scenario:
    """The scenario with the draws of ``uncertainty.posterior`` read from its CSV file.

    ``draws`` is relative to the folder of the file that names it (of the current folder
    for a scenario given as data). A scenario whose draws are already read (a copy made by
    :func:`~hemodel.scenario.load.with_values`, a PSA sample) is returned as it is.
    ``params``: the scenario's parameters by dotted path. Every problem (no such file,
    empty, a column missing, a value that is not a number or not allowed) names the field
    and its line, and the file's line for a bad value.
    """
    post = scenario.uncertainty.posterior
    if post is None:
        return scenario
    at: Loc = ("uncertainty", "posterior")

    def error(loc: Loc, message: str) -> ScenarioError:
        return fail(*line_of(lines, at + loc, file), at + loc, message)

    if at + ("table",) in lines:
        raise error(("table",), "is read from the draws file when loading: remove it")
    for j, name in enumerate(post.parameters):
        if name not in params:
            guess = difflib.get_close_matches(name, list(params), n=1, cutoff=0.6)
            hint = f"; did you mean {guess[0]!r}?" if guess else ""
            raise error(("parameters", j), f"parameter {shorten(name)!r} is not defined{hint}")
    if post.table:
        return scenario
    named_in = lines.get(at + ("draws",), (None, None))[0]
    folder = Path(named_in).parent if named_in else Path.cwd()
    path = folder / post.draws
    where = f"draws file {shorten(post.draws)!r}"
    problem = file_problem(path)
    if problem is not None and not problem.startswith("file not found"):
        raise error(("draws",), f"{where}: {problem}")
    if not path.resolve().is_relative_to(folder.resolve()):  # never read what lies outside
        msg = f"{where} is outside the folder of the scenario file: give a file in that folder"
        raise error(("draws",), msg + " (or below it)")
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = [(i, r) for i, r in enumerate(csv.reader(f), 1) if any(c.strip() for c in r)]
    except FileNotFoundError:
        folder = f"the folder of {named_in}" if named_in else "the current folder"
        msg = f"{where} not found (looked for {path}, relative to {folder})"
        raise error(("draws",), msg) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise error(("draws",), f"cannot read {where}: {exc}") from None
    if not rows:
        msg = f"{where} is empty: it needs a header naming the parameters, then one row per draw"
        raise error(("draws",), msg)
    header = [h.strip() for h in rows[0][1]]
    columns = []
    for j, name in enumerate(post.parameters):
        if header.count(name) != 1:
            what = "is missing from" if name not in header else "appears twice in"
            shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
            msg = f"column {name!r} {what} {where} (its columns: {shown})"
            raise error(("parameters", j), msg)
        columns.append(header.index(name))
    if len(rows) == 1:
        raise error(("draws",), f"{where} has a header but no draws: give one row per draw")
    table = []
    for line, row in rows[1:]:
        values = []
        for name, c in zip(post.parameters, columns, strict=True):
            cell = row[c].strip() if c < len(row) else ""
            try:
                x = float(cell)
            except ValueError:
                x = math.nan
            if not math.isfinite(x):
                msg = f"{where}, line {line}, column {name!r}: {cell!r} is not a finite number"
                raise error(("draws",), msg)
            if not params[name]._in_bounds(x):
                msg = f"{where}, line {line}: {name} = {x:g} is not allowed: must be "
                raise error(("draws",), msg + params[name].allowed)
            values.append(x)
        table.append(tuple(values))
    posterior = post.model_copy(update={"table": tuple(table)})
    uncertainty = scenario.uncertainty.model_copy(update={"posterior": posterior})
    return scenario.model_copy(update={"uncertainty": uncertainty})
