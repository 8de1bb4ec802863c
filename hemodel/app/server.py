"""The app's server: turns the inputs into an edited scenario (:mod:`.edits`), runs the
analyses (:mod:`.analyses`) in background jobs with progress (:mod:`.jobs`), and draws the
results with the same plot functions as the command line and the report."""

from __future__ import annotations

import io
import itertools
import logging
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from htmltools import TagList
from shiny import App, Inputs, Outputs, Session, reactive, render, ui

from ..analysis.budget import population
from ..present import payer_plots, plots
from ..present.report import build
from ..present.tables import frontier_table
from ..run.progress import Cancelled
from ..scenario.load import Checked
from ..scenario.problems import ScenarioError
from . import analyses, layout
from .edits import (
    Edits,
    Source,
    bundled_source,
    changes,
    controls,
    edited_scenario,
    strategy_settings,
    uploaded_source,
    variant_text,
)
from .jobs import Job, run_job

log = logging.getLogger("hemodel.app")


@dataclass(frozen=True)
class Outcome:
    """What a background analysis gave: a ``value`` (the edited scenario and the result), or
    an ``error`` to show (a scenario problem, an impossible request, or 'cancelled'), with
    the settings it ran on."""

    value: Any
    error: str | None
    settings: tuple  # (source, edits, patients, seed)
    args: tuple  # the analysis's own settings (PSA: samples, patients per sample)


def create_app(start: Source, command_line_file: bool = False) -> App:
    """The app, opening ``start`` (a bundled scenario, or a file named on the command line
    when ``command_line_file``)."""
    extra = start.name if command_line_file else None
    start_name = start.name if command_line_file else Path(start.name).stem
    return App(layout.page(start_name, extra), _server(start, extra))


def _server(start: Source, extra: str | None):
    def server(input: Inputs, output: Outputs, session: Session) -> None:
        folder = Path(tempfile.mkdtemp(prefix="hemodel-app-"))
        session.on_ended(lambda: shutil.rmtree(folder, ignore_errors=True))
        source = reactive.value(start)
        problems = reactive.value("")  # why the last upload or selection did not open
        generation = reactive.value(0)  # new input ids on a new scenario or a reset
        uploads = itertools.count(1)  # each upload in a folder of its own

        def picture(ax, name: str, alt: str) -> dict:
            """The figure of ``ax`` as the command line saves it (same size and style)."""
            path = folder / "plots" / f"{name}.png"
            path.parent.mkdir(exist_ok=True)
            plots.save(ax, path)
            return {"src": str(path), "alt": alt}

        # ------------------------------------------------------------ the scenario
        def open_source(new: Source) -> None:
            source.set(new)
            problems.set("")
            generation.set(generation.get() + 1)

        @reactive.effect
        @reactive.event(input.bundled, ignore_init=True)
        def _select() -> None:
            name = input.bundled()
            try:
                open_source(start if name == extra else bundled_source(name))
            except ScenarioError as exc:
                problems.set(str(exc))

        @reactive.effect
        @reactive.event(input.upload)
        def _upload() -> None:
            files = input.upload()
            if not files:
                return
            info = files[0]
            own = folder / f"upload{next(uploads)}"
            try:
                new = uploaded_source(info["name"], Path(info["datapath"]), own)
            except ScenarioError as exc:
                problems.set(str(exc))
                return
            open_source(new)

        @reactive.effect
        @reactive.event(input.reset)
        def _reset() -> None:
            generation.set(generation.get() + 1)

        @reactive.calc
        def inputs_of_source() -> tuple:
            scenario = source().scenario
            return controls(scenario), strategy_settings(scenario)

        @render.ui
        def scenario_inputs():
            cs, ss = inputs_of_source()
            return layout.scenario_inputs(source().scenario, cs, ss, generation())

        def read(name: str, default: Any) -> Any:
            if name not in input:
                return default
            value = input[name]()
            return default if value is None or value == "" else value

        @reactive.calc
        def edits() -> Edits:
            g = generation()
            cs, ss = inputs_of_source()
            values = {c.path: float(read(f"p_{g}_{i}", c.value)) for i, c in enumerate(cs)}
            strategies = {}
            for i, s in enumerate(ss):
                keys = {"every_weeks": "every", "start_weeks": "start", "assay": "assay",
                        "when": "when"}  # fmt: skip
                strategies[s.name] = {
                    key: read(f"{prefix}_{g}_{i}", getattr(s, key))
                    for key, prefix in keys.items()
                    if getattr(s, key) is not None
                }
            wtp = read(f"wtp_{g}", source().scenario.willingness_to_pay[0].value)
            return Edits(values, strategies, float(wtp))

        @render.ui
        def source_status():
            src = source()
            s = src.scenario
            lines: list = [
                ui.div(
                    ui.tags.b(src.name),
                    f": {s.name}; {len(s.strategies)} strategies, reference {s.reference}; "
                    f"{s.currency} {s.price_year}",
                    class_="hm-note",
                )
            ]
            for p in src.checked.warnings:
                lines.append(ui.div(f"warning: {p}", class_="hm-note"))
            if problems():
                lines.insert(0, ui.div(problems(), class_="hm-problems", id="problems"))
            return TagList(*lines)

        @render.ui
        def change_list():
            try:
                found = changes(source(), edits())
            except (KeyError, ValueError):
                return None
            if not found:
                return ui.p(f"No changes: the inputs are those of {source().name}.",
                            class_="hm-note")  # fmt: skip
            items = [ui.tags.li(ui.tags.b(c.label), f": {c.before} → {c.after}") for c in found]
            noun = "change" if len(found) == 1 else "changes"
            return ui.div(
                ui.tags.b(f"{len(found)} {noun} from {source().name}"),
                ui.tags.ul(*items),
                class_="hm-changes",
                id="changes",
            )

        # ------------------------------------------------------------ background work
        jobs: dict[str, Job] = {}

        def settings() -> tuple:
            return (source(), edits(), int(input.patients() or 0), int(input.seed() or 0))

        def edited(src: Source, e: Edits) -> Checked:
            return edited_scenario(src, e, folder)

        def task(label: str, compute):
            """An extended task running ``compute(scenario, *args)`` on the edited scenario
            in a thread, with a progress bar; it returns an :class:`Outcome`."""

            async def run(state: tuple, *args) -> Outcome:
                src, e, patients, seed = state
                job = jobs[label] = Job(label)
                with ui.Progress(min=0, max=1, session=session) as bar:
                    bar.set(0, message=label)

                    def report(j: Job) -> None:
                        bar.set(j.fraction, message=label, detail=f"{j.fraction:.0%}")

                    def work():
                        checked = edited(src, e)
                        return checked, compute(checked.scenario, patients, seed, *args)

                    try:
                        _check_run(patients, seed)
                        value = await run_job(job, work, report=report)
                    except Cancelled:
                        return Outcome(None, f"{label} cancelled.", state, args)
                    except (ScenarioError, ValueError, KeyError) as exc:
                        return Outcome(None, str(exc).strip("'\""), state, args)
                    except Exception as exc:  # a bug: say so plainly, keep the app alive
                        log.exception("%s failed", label)
                        return Outcome(None, f"{label} failed unexpectedly: {exc!r}", state, args)
                return Outcome(value, None, state, args)

            return reactive.extended_task(run)

        base_task = ui.bind_task_button(task("Base case", analyses.base_case), button_id="run")
        sweep_task = ui.bind_task_button(
            task("Testing-interval sweep", _sweep), button_id="run_sweep"
        )
        threshold_task = ui.bind_task_button(
            task("Threshold price", _threshold), button_id="run_threshold"
        )
        budget_task = ui.bind_task_button(task("Budget impact", analyses.budget),
                                          button_id="run_budget")  # fmt: skip
        psa_task = ui.bind_task_button(task("PSA", _psa), button_id="run_psa")

        @reactive.effect
        @reactive.event(input.run, source)
        def _run_base() -> None:
            base_task.invoke(settings())

        @reactive.effect
        @reactive.event(input.run_sweep)
        def _run_sweep() -> None:
            sweep_task.invoke(settings())

        @reactive.effect
        @reactive.event(input.run_threshold)
        def _run_threshold() -> None:
            threshold_task.invoke(settings())

        @reactive.effect
        @reactive.event(input.run_budget)
        def _run_budget() -> None:
            try:
                uptake = _shares(input.uptake())
                incident, years = float(input.incident() or 0), int(input.years() or 0)
                population(incident, uptake, years)
            except ValueError as exc:
                ui.notification_show(f"Budget impact: {exc}", type="error", duration=8)
                return
            budget_task.invoke(settings(), incident, uptake, years)

        @reactive.effect
        @reactive.event(input.run_psa)
        def _run_psa() -> None:
            psa_task.invoke(
                settings(), int(input.psa_samples() or 0), int(input.psa_patients() or 0)
            )

        @reactive.effect
        @reactive.event(input.cancel_psa)
        def _cancel_psa() -> None:
            if "PSA" in jobs:
                jobs["PSA"].cancel()

        def done(t) -> Outcome | None:
            """The task's outcome once it has one (None before its first run)."""
            if t.status() == "initial":
                return None
            return t.result()

        def value(t):
            outcome = done(t)
            if outcome is None or outcome.error:
                return None
            return outcome.value[1]

        def status(t, what: str):
            outcome = done(t)
            if outcome is None:
                return ui.p(f"Press Run for the {what}.", class_="hm-note")
            if outcome.error:
                slug = what.replace(" ", "-")
                return ui.div(outcome.error, class_="hm-problems", id=f"error-{slug}")
            _, _, patients, seed = outcome.settings
            scenario = outcome.value[0].scenario
            if what == "PSA":
                samples, patients = outcome.args
                runs = f"{samples:,} samples × {patients:,} patients"
            else:
                runs = f"{patients:,} patients"
            text = (
                f"{scenario.name}: {runs}, seed {seed}; costs in {scenario.currency} "
                f"({scenario.price_year} prices)."
            )
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
            outcome = done(base_task)
            shown = status(base_task, "base case")
            if outcome is None or outcome.error:
                return shown
            b: analyses.BaseCase = outcome.value[1]
            note = f"{b.engine} engine, {b.seconds:.2f} s; ± columns: Monte Carlo standard errors."
            return TagList(shown, ui.p(note, class_="hm-note"))

        @render.table
        def summary():
            b = value(base_task)
            return b.summary if b else None

        @render.ui
        def incremental_title():
            b = value(base_task)
            if b is None:
                return None
            return ui.h5(f"Against the reference ({b.results.reference})")

        @render.table
        def incremental():
            b = value(base_task)
            return b.incremental if b else None

        @render.table
        def frontier():
            b = value(base_task)
            return frontier_table(b.frontier, b.results.currency) if b else None

        @render.image
        def frontier_plot():
            b = value(base_task)
            if b is None:
                return None
            return picture(
                plots.frontier_plane(b.frontier, b.results.currency),
                "frontier",
                "Cost-effectiveness plane with the efficiency frontier",
            )

        @render.image
        def cost_plot():
            b = value(base_task)
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
            return status(sweep_task, "sweep")

        @render.table
        def sweep_optimal():
            s = value(sweep_task)
            return analyses.optimal_display(s.optimal, currency(sweep_task)) if s else None

        @render.image
        def sweep_plot():
            s = value(sweep_task)
            if s is None:
                return None
            wtp = done(sweep_task).settings[1].wtp
            panels = payer_plots.sweep_plot(s.table, currency(sweep_task), wtp, s.reference)
            return picture(
                panels[0], "sweep", "Cost, QALYs and net benefit against the testing interval"
            )

        def currency(t) -> str:
            return done(t).value[0].scenario.currency

        # ------------------------------------------------------------ threshold
        @render.ui
        def threshold_status():
            return status(threshold_task, "threshold price")

        @render.table
        def threshold_table():
            t = value(threshold_task)
            return analyses.threshold_display(t, currency(threshold_task)) if t else None

        @render.image
        def threshold_plot():
            t = value(threshold_task)
            if t is None:
                return None
            wtps = [w.value for w in done(threshold_task).value[0].scenario.willingness_to_pay]
            label = t.item.split(".")[1] if "." in t.item else t.item
            return picture(
                payer_plots.icer_price_plot(t.lines, wtps, label=label),
                "threshold",
                "ICER against the price of the switch drug",
            )

        # ------------------------------------------------------------ budget
        @render.ui
        def budget_status():
            return status(budget_task, "budget impact")

        @render.table
        def budget_totals():
            b = value(budget_task)
            return _budget_display(b.totals) if b else None

        @render.ui
        def budget_choice():
            b = value(budget_task)
            if b is None:
                return None
            names = list(dict.fromkeys(b.table["strategy"]))
            return ui.input_select("budget_strategy", "Plot for", names, selected=names[0])

        @render.image
        def budget_plot():
            b = value(budget_task)
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
            return status(psa_task, "PSA")

        @render.table
        def psa_table():
            p = value(psa_task)
            return p.tables["table"] if p else None

        @render.ui
        def psa_notes():
            p = value(psa_task)
            if p is None:
                return None
            return TagList(*(ui.p(line.strip(), class_="hm-note") for line in p.tables["notes"]))

        @render.image
        def psa_plane():
            p = value(psa_task)
            if p is None:
                return None
            s = done(psa_task).value[0].scenario
            wtp = s.willingness_to_pay[0].value
            plane = plots.ce_plane(p.plane, s.currency, wtp=wtp, order=list(s.strategies))
            return picture(plane, "psa_plane", "PSA samples on the cost-effectiveness plane")

        @render.image
        def psa_ceac():
            p = value(psa_task)
            if p is None:
                return None
            s = done(psa_task).value[0].scenario
            curves = plots.acceptability(
                p.tables["ceac"], s.currency, p.tables["ceaf"], order=list(s.strategies)
            )
            return picture(curves, "ceac", "Cost-effectiveness acceptability curves and frontier")

        @render.image
        def psa_evpi():
            p = value(psa_task)
            if p is None:
                return None
            return picture(
                plots.evpi_curve(p.tables["evpi"], currency(psa_task)),
                "evpi",
                "Expected value of perfect information per patient",
            )

        # ------------------------------------------------------------ downloads
        @render.download_button(filename=lambda: f"{Path(source().name).stem}_edited.yaml")
        def download_scenario():
            yield variant_text(source(), edits())

        @render.download_button(filename=lambda: f"{Path(source().name).stem}_results.zip")
        def download_tables():
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("scenario.yaml", variant_text(source(), edits()))
                for name, table in _tables(value(base_task), value(sweep_task),
                                           value(threshold_task), value(budget_task),
                                           value(psa_task)).items():  # fmt: skip
                    z.writestr(f"{name}.csv", table.to_csv(index=False))
            yield buffer.getvalue()

        @render.download_button(filename=lambda: f"{Path(source().name).stem}_report.html")
        def download_report():
            src, e, patients, seed = settings()
            try:
                _check_run(patients, seed)
                checked = edited(src, e)
                out = Path(tempfile.mkdtemp(prefix="report-", dir=folder))
                html, _ = build(checked.scenario, checked.path, out, patients=patients,
                                seed=seed, progress=False, workers=1)  # fmt: skip
            except (ScenarioError, ValueError) as exc:
                ui.notification_show(f"Report: {exc}", type="error", duration=10)
                return
            yield html.read_bytes()

    return server


def _shares(text: str) -> list[float]:
    """``"0.2, 0.4"`` → ``[0.2, 0.4]`` (commas or spaces between numbers)."""
    try:
        return [float(x) for x in text.replace(",", " ").split()]
    except ValueError:
        raise ValueError(f"uptake must be numbers such as 0.2, 0.4, 0.6; got {text!r}") from None


def _check_run(patients: int, seed: int) -> None:
    if not 1 <= patients <= 1_000_000:
        raise ValueError("patients must be a whole number from 1 to 1,000,000")
    if not 0 <= seed < 2**63:
        raise ValueError("the seed must be a whole number from 0 to 2^63 - 1")


def _sweep(scenario, patients: int, seed: int):
    return analyses.sweep(scenario, patients, seed, [w.value for w in scenario.willingness_to_pay])


def _threshold(scenario, patients: int, seed: int):
    wtps = [w.value for w in scenario.willingness_to_pay]
    return analyses.threshold(scenario, patients, seed, wtps)


def _psa(scenario, patients: int, seed: int, samples: int, psa_patients: int):
    if not 2 <= samples <= 100_000 or not 1 <= psa_patients <= 1_000_000:
        raise ValueError("a PSA needs 2 to 100,000 samples of 1 to 1,000,000 patients")
    return analyses.psa(scenario, samples, psa_patients, seed)


def _budget_display(totals: pd.DataFrame) -> pd.DataFrame:
    """Budget totals by strategy and year, undiscounted, for display."""
    cur = totals["currency"].iloc[0]

    def money(column: str) -> pd.Series:
        return totals[column].map("{:,.0f}".format)

    return pd.DataFrame(
        {
            "Strategy": totals["strategy"],
            "Year": totals["year"],
            f"Reference cost ({cur}, undisc.)": money("reference_cost"),
            f"Strategy cost ({cur}, undisc.)": money("strategy_cost"),
            f"Budget impact ({cur})": money("impact"),
            f"Cumulative impact ({cur})": money("cumulative_impact"),
        }
    )


def _tables(base, sweep, threshold, budget, psa) -> dict[str, pd.DataFrame]:
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
