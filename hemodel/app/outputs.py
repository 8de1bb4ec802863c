"""What the app shows of each analysis: its status (not run yet, an error, or what it ran
on and whether the inputs have changed since), its tables and its plots, drawn by the same
functions as the command line and the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from htmltools import TagList
from shiny import Inputs, render, ui

from ..present import payer_plots, payer_tables, plots
from ..present.tables import frontier_table
from ..scenario.schema import Scenario
from . import analyses


@dataclass(frozen=True)
class Outcome:
    """What a background analysis gave: its ``result`` and the (edited) ``scenario`` it was
    computed on, or an ``error`` to show (a scenario problem, an impossible request, or a
    cancelled run); with the ``settings`` it ran on (source, edits, patients, seed) and its
    own ``args`` (PSA: samples, patients per sample)."""

    settings: tuple
    args: tuple
    scenario: Scenario | None = None
    result: Any = None
    error: str | None = None


@dataclass(frozen=True)
class Tasks:
    """The background analyses (Shiny extended tasks that return an :class:`Outcome`)."""

    base: Any
    sweep: Any
    threshold: Any
    budget: Any
    psa: Any

    def results(self) -> list:
        """Each analysis's latest result (None where it has none), in field order."""
        tasks = (self.base, self.sweep, self.threshold, self.budget, self.psa)
        return [t.result().result if t.status() == "success" else None for t in tasks]


def render_outputs(
    input: Inputs,
    tasks: Tasks,
    settings: Callable[[], tuple],
    picture: Callable[..., dict],
) -> None:
    """Define the outputs of every tab in the current session. ``settings()`` gives the
    current (source, edits, patients, seed), to mark results computed on other inputs;
    ``picture(axes, name, alt)`` turns a plot into the image the app shows."""

    def done(t) -> Outcome | None:
        """The task's outcome once it has one (None before its first run)."""
        if t.status() == "initial":
            return None
        return t.result()

    def value(t):
        """The task's result, if its last run gave one."""
        outcome = done(t)
        return None if outcome is None else outcome.result

    def scenario(t) -> Scenario:
        """The (edited) scenario of the task's result."""
        return done(t).scenario

    def status(t, what: str):
        outcome = done(t)
        if outcome is None:
            return ui.p(f"Press Run for the {what}.", class_="hm-note")
        if outcome.error:
            slug = what.replace(" ", "-")
            return ui.div(outcome.error, class_="hm-problems", id=f"error-{slug}")
        _, _, patients, seed = outcome.settings
        s = outcome.scenario
        if what == "PSA":
            samples, patients = outcome.args
            runs = f"{samples:,} samples × {patients:,} patients"
        else:
            runs = f"{patients:,} patients"
        text = f"{s.name}: {runs}, seed {seed}; costs in {s.currency} ({s.price_year} prices)."
        stale = outcome.settings != settings()
        return ui.div(
            ui.span(text, class_="hm-note"),
            ui.span(" Inputs have changed since: press Run to update.", class_="hm-stale")
            if stale
            else None,
        )

    # ------------------------------------------------------------ base case
    @render.ui
    def base_status():
        outcome = done(tasks.base)
        shown = status(tasks.base, "base case")
        if outcome is None or outcome.error:
            return shown
        b: analyses.BaseCase = outcome.result
        note = f"{b.engine} engine, {b.seconds:.2f} s; ± columns: Monte Carlo standard errors."
        return TagList(shown, ui.p(note, class_="hm-note"))

    @render.table
    def summary():
        b = value(tasks.base)
        return b.summary if b else None

    @render.ui
    def incremental_title():
        b = value(tasks.base)
        if b is None:
            return None
        return ui.h5(f"Against the reference ({b.results.reference})")

    @render.table
    def incremental():
        b = value(tasks.base)
        return b.incremental if b else None

    @render.table
    def frontier():
        b = value(tasks.base)
        return frontier_table(b.frontier, b.results.currency) if b else None

    @render.image
    def frontier_plot():
        b = value(tasks.base)
        if b is None:
            return None
        return picture(
            plots.frontier_plane(b.frontier, b.results.currency),
            "frontier",
            "Cost-effectiveness plane with the efficiency frontier",
        )

    @render.image
    def cost_plot():
        b = value(tasks.base)
        if b is None:
            return None
        return picture(
            plots.cost_breakdown(b.results.summary(), b.results.currency),
            "costs",
            "Discounted cost per patient by category and strategy",
        )

    # ------------------------------------------------------------ sweep
    @render.ui
    def sweep_status():
        return status(tasks.sweep, "sweep")

    @render.table
    def sweep_optimal():
        s = value(tasks.sweep)
        return payer_tables.optimal_table(s.optimal, scenario(tasks.sweep).currency) if s else None

    @render.image
    def sweep_plot():
        s = value(tasks.sweep)
        if s is None:
            return None
        wtp = done(tasks.sweep).settings[1].wtp
        panels = payer_plots.sweep_plot(s.table, scenario(tasks.sweep).currency, wtp, s.reference)
        return picture(
            panels[0], "sweep", "Cost, QALYs and net benefit against the testing interval"
        )

    # ------------------------------------------------------------ threshold
    @render.ui
    def threshold_status():
        return status(tasks.threshold, "threshold price")

    @render.table
    def threshold_table():
        t = value(tasks.threshold)
        return (
            payer_tables.threshold_table(
                t.prices, t.lines["price_unit"].iloc[0], scenario(tasks.threshold).currency
            )
            if t
            else None
        )

    @render.image
    def threshold_plot():
        t = value(tasks.threshold)
        if t is None:
            return None
        wtps = scenario(tasks.threshold).wtps
        label = t.item.split(".")[1] if "." in t.item else t.item
        return picture(
            payer_plots.icer_price_plot(t.lines, wtps, label=label),
            "threshold",
            "ICER against the price of the switch drug",
        )

    # ------------------------------------------------------------ budget
    @render.ui
    def budget_status():
        return status(tasks.budget, "budget impact")

    @render.table
    def budget_totals():
        b = value(tasks.budget)
        return payer_tables.budget_table(b.totals) if b else None

    @render.ui
    def budget_choice():
        b = value(tasks.budget)
        if b is None:
            return None
        names = list(dict.fromkeys(b.table["strategy"]))
        return ui.input_select("budget_strategy", "Plot for", names, selected=names[0])

    @render.image
    def budget_plot():
        b = value(tasks.budget)
        if b is None or "budget_strategy" not in input:
            return None
        name = input.budget_strategy()
        if name not in set(b.table["strategy"]):
            return None
        return picture(
            payer_plots.budget_plot(b.table, name),
            "budget",
            "Budget impact by cost category and year",
        )

    # ------------------------------------------------------------ PSA
    @render.ui
    def psa_status():
        return status(tasks.psa, "PSA")

    @render.table
    def psa_table():
        p = value(tasks.psa)
        return p.tables["table"] if p else None

    @render.ui
    def psa_notes():
        p = value(tasks.psa)
        if p is None:
            return None
        return TagList(*(ui.p(line.strip(), class_="hm-note") for line in p.tables["notes"]))

    @render.image
    def psa_plane():
        p = value(tasks.psa)
        if p is None:
            return None
        s = scenario(tasks.psa)
        plane = plots.ce_plane(p.plane, s.currency, order=list(s.strategies), wtps=s.wtps)
        return picture(plane, "psa_plane", "PSA samples on the cost-effectiveness plane")

    @render.image
    def psa_ceac():
        p = value(tasks.psa)
        if p is None:
            return None
        s = scenario(tasks.psa)
        curves = plots.acceptability(
            p.tables["ceac"], s.currency, p.tables["ceaf"], order=list(s.strategies), wtps=s.wtps
        )
        return picture(curves, "ceac", "Cost-effectiveness acceptability curves and frontier")

    @render.image
    def psa_evpi():
        p = value(tasks.psa)
        if p is None:
            return None
        s = scenario(tasks.psa)
        return picture(
            plots.evpi_curve(p.tables["evpi"], s.currency, wtps=s.wtps),
            "evpi",
            "Expected value of perfect information per patient",
        )
