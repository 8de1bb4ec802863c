"""The app's page: a sidebar for the scenario, its inputs and the downloads; tabs for the
analyses. Inputs that depend on the scenario (sliders, strategy settings) are built by
:func:`scenario_inputs` when a scenario is opened or reset."""

from __future__ import annotations

from htmltools import Tag, TagList
from shiny import ui

from ..scenario.bundled import bundled_names
from ..scenario.schema import Scenario
from .edits import SWITCH_TIMINGS, Control, StrategySetting

CSS = """
.hm-problems{color:#a40000;background:#fff3f3;border:1px solid #e3b0b0;padding:.5em .7em;
border-radius:4px;font-size:.88em;white-space:pre-wrap;font-family:monospace}
.hm-changes{font-size:.85em}.hm-changes li{margin-bottom:.15em}
.hm-note{color:#555;font-size:.85em}.hm-stale{color:#8a5a00;font-weight:600}
.hm-posterior{color:#6a4c93;font-size:.78em}
.shiny-image-output img{max-width:100%;height:auto}
.shiny-table{font-size:.86em}.shiny-table td,.shiny-table th{padding:.2em .5em}
.accordion-button{padding:.45em .8em}.irs--shiny .irs-grid-text{font-size:8px}
"""


def page(start_name: str, extra_choice: str | None) -> Tag:
    """The whole page; ``start_name`` is selected in the scenario list, ``extra_choice`` a
    file given on the command line (added to the bundled scenarios)."""
    choices = {name: name for name in bundled_names()}
    if extra_choice is not None:
        choices = {extra_choice: f"{extra_choice} (command line)", **choices}
    sidebar = ui.sidebar(
        ui.input_select("bundled", "Scenario", choices=choices, selected=start_name),
        ui.input_file(
            "upload",
            None,
            accept=[".yaml", ".yml"],
            button_label="Upload YAML…",
            placeholder="or your own scenario file",
        ),
        ui.output_ui("source_status"),
        ui.layout_columns(
            ui.input_numeric("patients", "Patients", 10_000, min=100, max=200_000, step=1000),
            ui.input_numeric("seed", "Seed", 1, min=0, step=1),
            col_widths=(7, 5),
        ),
        ui.output_ui("scenario_inputs"),
        ui.layout_columns(
            ui.input_task_button("run", "Run base case", label_busy="Running…"),
            ui.input_action_button("reset", "Reset to file", class_="btn-outline-secondary"),
            col_widths=(7, 5),
        ),
        ui.output_ui("change_list"),
        ui.tags.hr(),
        ui.tags.b("Download"),
        ui.download_button("download_scenario", "Edited scenario (YAML)", class_="btn-sm"),
        ui.download_button("download_tables", "Result tables (CSV, zip)", class_="btn-sm"),
        ui.download_button("download_report", "HTML report", class_="btn-sm"),
        width=430,
    )
    tabs = ui.navset_card_tab(
        ui.nav_panel(
            "Base case",
            ui.output_ui("base_status"),
            ui.h5("Summary by strategy"),
            ui.output_table("summary"),
            ui.output_ui("incremental_title"),
            ui.output_table("incremental"),
            ui.h5("Efficiency frontier"),
            ui.output_table("frontier"),
            ui.output_image("frontier_plot", height="auto"),
            ui.output_image("cost_plot", height="auto"),
        ),
        ui.nav_panel(
            "Testing interval",
            _analysis_intro(
                "sweep",
                "Run the testing-interval sweep of the scenario's sweeps: block (every interval "
                "× assay × switch timing, the same patients throughout).",
            ),
            ui.output_ui("sweep_status"),
            ui.output_table("sweep_optimal"),
            ui.output_image("sweep_plot", height="auto"),
        ),
        ui.nav_panel(
            "Threshold price",
            _analysis_intro(
                "threshold",
                "The switch drug's price at which each strategy's ICER against the reference "
                "equals the willingness to pay (costs are linear in the price: two runs).",
            ),
            ui.output_ui("threshold_status"),
            ui.output_table("threshold_table"),
            ui.output_image("threshold_plot", height="auto"),
        ),
        ui.nav_panel(
            "Budget impact",
            ui.layout_columns(
                ui.input_numeric("incident", "New patients a year", 5000, min=1, step=100),
                ui.input_text("uptake", "Uptake by year (shares)", "0.2, 0.4, 0.6, 0.8, 0.9"),
                ui.input_numeric("years", "Years", 5, min=1, max=30, step=1),
                col_widths=(4, 5, 3),
            ),
            _analysis_intro(
                "budget",
                "Undiscounted cost to the payer by calendar year after adoption, each "
                "strategy against the reference.",
            ),
            ui.output_ui("budget_status"),
            ui.output_table("budget_totals"),
            ui.output_ui("budget_choice"),
            ui.output_image("budget_plot", height="auto"),
        ),
        ui.nav_panel(
            "PSA",
            ui.layout_columns(
                ui.input_numeric("psa_samples", "PSA samples", 200, min=2, max=5000, step=50),
                ui.input_numeric(
                    "psa_patients", "Patients per sample", 1000, min=100, max=50_000, step=500
                ),
                col_widths=(6, 6),
            ),
            ui.p(
                "A longer run: parameters drawn from their distributions (or the calibration "
                "posterior), the same patients in every sample.",
                class_="hm-note",
            ),
            ui.layout_columns(
                ui.input_task_button("run_psa", "Run PSA", label_busy="Running PSA…"),
                ui.input_action_button("cancel_psa", "Cancel", class_="btn-outline-danger"),
                col_widths=(4, 3),
            ),
            ui.output_ui("psa_status"),
            ui.output_table("psa_table"),
            ui.output_ui("psa_notes"),
            ui.output_image("psa_plane", height="auto"),
            ui.output_image("psa_ceac", height="auto"),
            ui.output_image("psa_evpi", height="auto"),
        ),
        id="tabs",
    )
    return ui.page_sidebar(
        sidebar,
        ui.tags.style(CSS),
        tabs,
        title="hemodel: ctDNA-guided ESR1 monitoring — analyst app",
        window_title="hemodel app",
        fillable=False,
    )


def _analysis_intro(name: str, text: str) -> TagList:
    return TagList(
        ui.p(text, class_="hm-note"),
        ui.input_task_button(f"run_{name}", "Run", label_busy="Running…"),
    )


def scenario_inputs(
    scenario: Scenario,
    controls: list[Control],
    settings: list[StrategySetting],
    generation: int,
) -> Tag:
    """Sliders for the ranged parameters by section, strategy settings, and the WTP; ids
    carry ``generation`` so that a reset or a new scenario starts from the file's values."""
    cur = scenario.currency
    wtp = scenario.willingness_to_pay[0].value
    wtp = int(wtp) if wtp == int(wtp) else wtp
    panels = []
    for section in dict.fromkeys(c.section for c in controls):
        sliders = [
            _slider(c, i, generation) for i, c in enumerate(controls) if c.section == section
        ]
        panels.append(ui.accordion_panel(section, *sliders, value=section))
    assays = list(scenario.assays)
    strategy_rows = [_strategy(s, i, generation, assays) for i, s in enumerate(settings)]
    panels.append(ui.accordion_panel("Strategies", *strategy_rows, value="Strategies"))
    return TagList(
        ui.input_numeric(
            f"wtp_{generation}", f"Willingness to pay ({cur} per QALY)", wtp, min=0, step=5000
        ),
        ui.accordion(*panels, id=f"sections_{generation}", open=False, multiple=True),
    )


def _slider(c: Control, i: int, generation: int) -> Tag:
    label = TagList(c.label + (f" ({c.unit})" if c.unit else ""))
    if c.posterior:
        label.append(ui.tags.div("PSA draws it from the calibration posterior",
                                 class_="hm-posterior"))  # fmt: skip
    return ui.input_slider(
        f"p_{generation}_{i}", label, c.low, c.high, c.value, step=c.step, width="100%"
    )


def _strategy(s: StrategySetting, i: int, generation: int, assays: list[str]) -> Tag:
    g = f"{generation}_{i}"
    parts: list = [ui.tags.b(s.name), ui.div(s.description, class_="hm-note")]
    row = []
    if s.every_weeks is not None:
        row.append(ui.input_numeric(f"every_{g}", "Test every (weeks)", s.every_weeks,
                                    min=1, max=104, step=1))  # fmt: skip
        row.append(ui.input_numeric(f"start_{g}", "First test (week)", s.start_weeks,
                                    min=0, max=520, step=1))  # fmt: skip
    if s.assay is not None:
        row.append(ui.input_select(f"assay_{g}", "Assay", assays, selected=s.assay))
    if s.when is not None:
        row.append(ui.input_select(f"when_{g}", "Switch", SWITCH_TIMINGS, selected=s.when))
    if row:
        parts.append(ui.layout_columns(*row, col_widths=[6] * len(row)))
    return ui.div(*parts, class_="mb-2")
