"""The report a journal, a payer and an HTA committee read: one self-contained HTML page
(tables and embedded PNG plots, a table of contents, no internet needed) and an Excel workbook
(one sheet per analysis, numbers as numbers, native charts, a manifest).

Sections, in order (:data:`SECTIONS`; each analysis can be left out or asked for on its own):
executive summary, decision problem, strategies, model, inputs and sources, base case,
survival and state occupancy, testing-interval sweep, deterministic sensitivity analysis,
threshold price, budget impact, probabilistic sensitivity analysis, value of further research
(EVSI of the scenario's proposed studies), validation, convergence,
the CHEERS 2022 checklist and the manifest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..analysis.population import decision_population
from ..scenario.schema import Scenario
from ..scenario.units import DAYS_PER_YEAR
from . import html, report_sections
from .diagram import model_diagram
from .report_text import Findings, cheers_table, inputs_display, strategies_table, summary_html
from .tables import sequential
from .workbook import manifest_items, numeric_inputs, write_workbook

#: The analyses a report can hold, in the order they appear (keys for ``--only``/``--skip``).
ANALYSES = (
    "base",
    "survival",
    "sweep",
    "dsa",
    "threshold",
    "budget",
    "psa",
    "evsi",
    "validation",
    "convergence",
)


@dataclass(frozen=True)
class ReportSettings:
    """How much to simulate: ``patients`` per strategy for the base case, sweep, threshold
    and budget; ``dsa_patients`` per one-way run; ``psa_samples`` × ``psa_patients``;
    ``validation_patients`` per virtual trial; ``evsi_samples`` × ``evsi_patients`` for the
    value of the scenario's proposed studies; ``analyses``: which of :data:`ANALYSES`."""

    patients: int = 2000
    seed: int = 1
    psa_samples: int = 100
    psa_patients: int = 500
    dsa_patients: int = 1000
    validation_patients: int = 2000
    evsi_samples: int = 300
    evsi_patients: int = 300
    analyses: tuple[str, ...] = ANALYSES

    def __post_init__(self):
        unknown = [a for a in self.analyses if a not in ANALYSES]
        if unknown:
            raise ValueError(
                f"unknown report section {unknown[0]!r}; choose from {', '.join(ANALYSES)}"
            )


def choose_analyses(only: Sequence[str] | None, skip: Sequence[str] | None) -> tuple[str, ...]:
    """The analyses of ``--only`` (default: all) without those of ``--skip``; the base case is
    always run (every other section builds on it) but shown only when asked for."""
    wanted = list(only) if only else list(ANALYSES)
    for name in [*wanted, *(skip or [])]:
        if name not in ANALYSES:
            raise ValueError(f"unknown report section {name!r}; choose from {', '.join(ANALYSES)}")
    return tuple(a for a in ANALYSES if a in wanted and a not in (skip or []))


def build(
    scenario: Scenario,
    path: Path,
    out: Path,
    settings: ReportSettings | None = None,
    progress: bool | None = None,
    **execution,
) -> tuple[Path, Path]:
    """Run the analyses of ``settings`` and write ``report.html`` and ``report.xlsx`` into
    ``out`` (the PSA's own files go to ``out/psa``). ``execution``: ``workers``, ``backend``,
    ``scheduler`` for every simulation. Raises ValueError before simulating when an analysis
    is asked for that the scenario cannot give (a PSA without ``psa:`` distributions)."""
    from ..analysis.psa import require_uncertainty
    from ..run.simulation import simulate

    settings = settings or ReportSettings()
    chosen = settings.analyses
    if "psa" in chosen:
        require_uncertainty(scenario)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = simulate(
        scenario, patients=settings.patients, seed=settings.seed, progress=progress, **execution
    )
    findings = Findings(scenario, sequential(base), settings.patients)
    ctx = report_sections.Context(
        scenario, out, base, findings, settings.patients, settings.seed, progress, execution
    )
    inputs = numeric_inputs(scenario, path)
    strategies = strategies_table(scenario)
    ctx.sheets.update(inputs=inputs, strategies=strategies)

    runners: dict[str, Callable[[], html.Section]] = {
        "base": lambda: report_sections.base_case(ctx),
        "survival": lambda: report_sections.survival(ctx),
        "sweep": lambda: report_sections.sweep(ctx),
        "dsa": lambda: report_sections.dsa(ctx, settings.dsa_patients),
        "threshold": lambda: report_sections.threshold(ctx),
        "budget": lambda: report_sections.budget(ctx),
        "psa": lambda: report_sections.psa(ctx, settings.psa_samples, settings.psa_patients),
        "evsi": lambda: report_sections.evsi(ctx, settings.evsi_samples, settings.evsi_patients),
        "validation": lambda: report_sections.validation(ctx, settings.validation_patients),
        "convergence": lambda: report_sections.convergence(ctx),
    }
    analyses = [runners[name]() for name in chosen]
    findings.population = decision_population(scenario)

    items = manifest_items(
        scenario, path, seed=settings.seed, patients=settings.patients,
        engine=base.metadata["engine"],
        psa_samples=settings.psa_samples if "psa" in chosen else 0,
        psa_patients=settings.psa_patients,
    )  # fmt: skip
    opening = [
        html.Section("Executive summary", summary_html(findings)),
        _problem(scenario, path, findings.population),
        html.Section("Strategies", html.table(strategies)),
        _model(scenario),
        html.Section(
            "Inputs and sources",
            html.paragraph(
                "Every parameter with its base value, unit, one-way range, probabilistic "
                "distribution and source (ASSUMPTION where no public source exists yet).",
                "note",
            )
            + html.table(inputs_display(inputs)),
        ),
    ]
    sections = opening + analyses
    numbers = {s.title: i for i, s in enumerate(sections, 1)}
    numbers["CHEERS 2022 checklist"] = len(sections) + 1
    checklist = cheers_table(set(numbers), lambda t: f"Section {numbers[t]}: {t}")
    sections.append(
        html.Section(
            "CHEERS 2022 checklist",
            html.paragraph(
                "Each item of the Consolidated Health Economic Evaluation Reporting Standards "
                "2022 (Husereau et al., Value Health 2022) and the section of this report that "
                "answers it."
            )
            + html.table(checklist),
        )
    )
    manifest = pd.DataFrame(
        [(k, ", ".join(map(str, v)) if isinstance(v, list) else v) for k, v in items.items()],
        columns=["Item", "Value"],
    )
    sections.append(html.Section("Manifest", html.table(manifest)))
    html_path = out / "report.html"
    intro = html.paragraph(scenario.description)
    html_path.write_text(html.page(scenario.name, intro, sections), encoding="utf-8")
    xlsx_path = write_workbook(out / "report.xlsx", ctx.sheets, scenario.currency, items)
    return html_path, xlsx_path


def _problem(scenario: Scenario, path: Path, population: float | None) -> html.Section:
    """The decision problem: population, setting, perspective, horizon, discounting, money;
    ``population``: the discounted decision population (persons), if the scenario has one."""
    d, cur = scenario.discount_rates, scenario.currency
    age = scenario.cohort.age
    horizon = scenario.time_horizon.days() / DAYS_PER_YEAR
    rows = [
        ("Scenario file", str(path)),
        ("Population", f"patients starting first-line therapy, age mean {age.mean.value:g} "
                       f"(SD {age.sd.value:g}) years"),
        ("Comparators", f"{len(scenario.strategies)} strategies; reference {scenario.reference}"),
        ("Perspective and setting", f"payer ({cur}); {scenario.name}"),
        ("Currency, price year", f"{cur}, {scenario.price_year}"),
        ("Time horizon", f"{horizon:g} years"),
        ("Discount rates", f"costs {d.costs.value:.1%}, QALYs {d.qalys.value:.1%} a year"),
        ("Willingness to pay", ", ".join(f"{cur} {w.value:,.0f} per QALY"
                                         for w in scenario.willingness_to_pay)),
    ]  # fmt: skip
    if population is not None:
        rows.append(
            ("Decision population", f"{population:,.0f} discounted patients over "
             f"{scenario.population.decision_horizon:g} years (population EVPI)")
        )  # fmt: skip
    table = pd.DataFrame(rows, columns=["Item", "Value"])
    return html.Section(
        "Decision problem", html.paragraph(scenario.description) + html.table(table)
    )


def _model(scenario: Scenario) -> html.Section:
    text = (
        "A discrete-event simulation (SimPy; an equivalent array engine when the lab has no "
        "capacity limit) of individual patients. Each patient's natural history (age, "
        "background death, whether and when an ESR1 mutation emerges, how fast its ctDNA level "
        "rises, progression by ESR1 and by other mechanisms) is drawn once and shared by every "
        "strategy (common random numbers), so differences between strategies come from the "
        "strategies alone. Strategies decide what is observed and done: clinic visits, "
        "imaging, ctDNA tests with an assay's limit of detection, sensitivity, specificity, "
        "cost and turnaround, and a switch of therapy on a positive test. Costs and QALYs "
        "accrue per day by therapy and state, with one-off costs at events, discounted "
        "continuously. Patients differ in age and ctDNA kinetics (heterogeneity)."
    )
    body = html.paragraph(text) + html.png(model_diagram(scenario), "model diagram")
    return html.Section("Model", body)
