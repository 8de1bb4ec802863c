"""The app's server: turns the inputs into an edited scenario (:mod:`.edits`), runs the
analyses (:mod:`.analyses`) in background jobs with progress (:mod:`.jobs`), shows their
outcomes (:mod:`.outputs`) and serves the downloads."""

from __future__ import annotations

import io
import itertools
import logging
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from htmltools import TagList
from shiny import App, Inputs, Outputs, Session, reactive, render, ui

from ..analysis.budget import population
from ..present import plots
from ..present.report import ReportSettings, build
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
from .outputs import Outcome, Tasks, render_outputs

log = logging.getLogger("hemodel.app")


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
        @reactive.event(source)
        def _population() -> None:
            """The budget inputs start from the scenario's population: block."""
            block = source.get().scenario.population
            if block is None:
                return
            per_year = block.incident if isinstance(block.incident, list) else [block.incident]
            uptake = block.uptake if isinstance(block.uptake, list) else [block.uptake]
            ui.update_numeric("incident", value=per_year[0])
            ui.update_text("uptake", value=", ".join(f"{u:g}" for u in uptake))
            ui.update_numeric("years", value=block.budget_years)

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
                        return Outcome(state, args, error=f"{label} cancelled.")
                    except (ScenarioError, ValueError, KeyError) as exc:
                        return Outcome(state, args, error=str(exc).strip("'\""))
                    except Exception as exc:  # a bug: say so plainly, keep the app alive
                        log.exception("%s failed", label)
                        error = f"{label} failed unexpectedly: {exc!r}"
                        return Outcome(state, args, error=error)
                checked, result = value
                return Outcome(state, args, checked.scenario, result)

            return reactive.extended_task(run)

        base_task = ui.bind_task_button(task("Base case", analyses.base_case), button_id="run")
        sweep_task = ui.bind_task_button(
            task("Testing-interval sweep", analyses.sweep), button_id="run_sweep"
        )
        threshold_task = ui.bind_task_button(
            task("Threshold price", analyses.threshold), button_id="run_threshold"
        )
        budget_task = ui.bind_task_button(task("Budget impact", analyses.budget),
                                          button_id="run_budget")  # fmt: skip

        def psa(scenario, _, seed: int, samples: int, patients: int):  # its own patient count
            return analyses.psa(scenario, samples, patients, seed)

        psa_task = ui.bind_task_button(task("PSA", psa), button_id="run_psa")

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

        tasks = Tasks(base_task, sweep_task, threshold_task, budget_task, psa_task)
        render_outputs(input, tasks, settings, picture)

        # ------------------------------------------------------------ downloads
        @render.download_button(filename=lambda: f"{Path(source().name).stem}_edited.yaml")
        def download_scenario():
            yield variant_text(source(), edits())

        @render.download_button(filename=lambda: f"{Path(source().name).stem}_results.zip")
        def download_tables():
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("scenario.yaml", variant_text(source(), edits()))
                for name, table in analyses.result_tables(*tasks.results()).items():
                    z.writestr(f"{name}.csv", table.to_csv(index=False))
            yield buffer.getvalue()

        @render.download_button(filename=lambda: f"{Path(source().name).stem}_report.html")
        def download_report():
            src, e, patients, seed = settings()
            try:
                _check_run(patients, seed)
                checked = edited(src, e)
                out = Path(tempfile.mkdtemp(prefix="report-", dir=folder))
                chosen = ReportSettings(patients, seed, analyses=QUICK_REPORT)
                html, _ = build(checked.scenario, checked.path, out, chosen, progress=False,
                                workers=1)  # fmt: skip
            except (ScenarioError, ValueError) as exc:
                ui.notification_show(f"Report: {exc}", type="error", duration=10)
                return
            yield html.read_bytes()

    return server


#: The analyses of the report the app downloads: those that take seconds, not minutes (the
#: PSA, DSA and validation come with ``hemodel report`` on the command line).
QUICK_REPORT = ("base", "survival", "threshold", "budget", "convergence")


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
