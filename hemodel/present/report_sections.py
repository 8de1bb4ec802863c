"""The analysis sections of a report. Each runs the same functions as its command (``run``,
``sweep``, ``dsa``, ``threshold``, ``budget``, ``psa``, ``evsi``, ``validate``,
``convergence``), adds its tables to the workbook's sheets and returns a
:class:`~hemodel.present.html.Section`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..analysis import cea
from ..run.results import Results
from ..scenario.schema import Scenario
from . import html, plots
from .labels import parameter_label
from .payer_tables import budget_table, optimal_table, sweep_table, threshold_table
from .report_text import Findings
from .tables import frontier_table, short_number, summary_table


@dataclass
class Context:
    """What every section shares: the scenario, the base-case run, the settings, the
    workbook's sheets (filled as sections run) and the findings of the executive summary."""

    scenario: Scenario
    out: Path
    base: Results
    findings: Findings
    patients: int
    seed: int
    progress: bool | None
    execution: dict
    sheets: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def currency(self) -> str:
        return self.scenario.currency


def _money(x: float) -> str:
    return "—" if pd.isna(x) else f"{x:,.0f}"


# -------------------------------------------------------------------------- base case
def base_case(ctx: Context) -> html.Section:
    results, cur = ctx.base, ctx.currency
    summary, incremental = results.summary(), results.incremental()
    frontier = ctx.findings.frontier
    ctx.sheets.update(summary=summary, incremental=incremental, frontier=frontier)
    body = (
        html.paragraph(
            f"{ctx.patients:,} simulated patients per strategy (seed {ctx.seed}), the same "
            f"patients in every strategy. Costs in {cur} ({ctx.scenario.price_year} prices); "
            "costs and QALYs discounted; ± columns are Monte Carlo standard errors."
        )
        + summary_table(results).pipe(html.table)
        + "<h3>Sequential incremental analysis (efficiency frontier)</h3>"
        + html.paragraph(
            "Strategies sorted by cost; each is compared with the next cheaper strategy that "
            "is not dominated. Dominated: another strategy costs less and gains at least as "
            "many QALYs. Extendedly dominated: a mix of two other strategies does better."
        )
        + html.table(frontier_table(frontier, cur))
        + html.png(plots.frontier_plane(frontier, cur), "cost-effectiveness plane")
        + html.png(plots.cost_breakdown(summary, cur), "costs by category")
    )
    return html.Section("Base case", body)


def survival(ctx: Context) -> html.Section:
    from ..analysis.curves import state_occupancy, survival_curves
    from .curve_plots import state_occupancy_plot, survival_plot

    horizon = ctx.scenario.time_horizon.days()
    curves = survival_curves(ctx.base.patients, horizon)
    trace = state_occupancy(ctx.base.patients, horizon)
    ctx.sheets.update(survival=curves, state_occupancy=trace)
    order = list(ctx.scenario.strategies)
    body = (
        html.paragraph(
            "Progression-free survival (first-line progression as it truly occurs, not as a "
            "scan sees it) and overall survival of the simulated patients, and the share of "
            "patients in each health state over time, by strategy."
        )
        + html.png(survival_plot(curves, order=order), "PFS and OS")
        + html.png(state_occupancy_plot(trace, order=order), "state occupancy")
    )
    return html.Section("Survival and state occupancy", body)


# ---------------------------------------------------------------------- payer analyses
def sweep(ctx: Context) -> html.Section:
    from ..analysis.sweep import analyse, expand
    from ..run.simulation import simulate
    from .payer_plots import sweep_plot

    if not ctx.scenario.sweeps:
        return html.Section(
            "Testing-interval sweep", html.paragraph("The scenario has no sweeps: block.")
        )
    name = next(iter(ctx.scenario.sweeps))
    expanded, grid = expand(ctx.scenario, name)
    res = simulate(
        expanded, patients=ctx.patients, seed=ctx.seed, progress=ctx.progress, **ctx.execution
    ).ce_table()
    table = grid.merge(res[["strategy", "cost", "qaly"]], on="strategy")
    result = analyse(res, grid, ctx.scenario.wtps)
    ctx.sheets.update(sweep=table, sweep_optimal=result["optimal"])
    ref = res.set_index("strategy").loc[ctx.scenario.reference]
    axes = sweep_plot(table, ctx.currency, ctx.scenario.wtps[0], (ref["cost"], ref["qaly"]))
    body = (
        html.paragraph(
            f"Sweep '{name}': every combination of its settings simulated as a strategy on the "
            f"same {ctx.patients:,} patients; the best at each WTP ({ctx.currency} per QALY)."
        )
        + html.table(optimal_table(result["optimal"], ctx.currency))
        + html.png(axes[0], "sweep")
        + "<details><summary>Every strategy of the sweep</summary>"
        + html.table(sweep_table(table, ctx.currency))
        + "</details>"
    )
    return html.Section("Testing-interval sweep", body)


def dsa(ctx: Context, patients: int) -> html.Section:
    from ..analysis import dsa as one_way
    from .sensitivity_plots import heatmap, tornado

    comparison = one_way.default_comparison(ctx.scenario)
    common = dict(patients=patients, seed=ctx.seed, progress=ctx.progress, **ctx.execution)
    table = one_way.one_way(ctx.scenario, comparison, **common)
    used = table[table["used"]]
    x, y = used["parameter"].iloc[:2] if len(used) >= 2 else (None, None)
    grid = one_way.two_way(ctx.scenario, comparison, x, y, **common) if x else None
    ctx.sheets["dsa"] = table
    cur, base = ctx.currency, float(table["base"].iloc[0])

    shown = pd.DataFrame(
        {
            "Parameter": table["parameter"].map(parameter_label),
            "Low": table["low"].map(short_number),
            "High": table["high"].map(short_number),
            "Unit": table["unit"],
            f"INMB at low ({cur})": table["outcome_low"].map(_money),
            f"INMB at high ({cur})": table["outcome_high"].map(_money),
            f"Swing ({cur})": table["swing"].map(_money),
        }
    ).head(15)
    body = (
        html.paragraph(
            f"One-way sensitivity of {comparison} against {table['reference'].iloc[0]}: "
            f"incremental net monetary benefit (INMB) at {cur} {float(table['wtp'].iloc[0]):,.0f}"
            f" per QALY, {cur} per patient (base {base:,.0f}); each parameter set to the ends "
            f"of its range, {patients:,} patients per run, common random numbers. The 15 "
            "largest swings:"
        )
        + html.table(shown)
        + html.png(tornado(table), "tornado")
    )
    if grid is not None:
        ctx.sheets["dsa_two_way"] = grid
        body += "<h3>Two-way</h3>" + html.png(heatmap(grid), "two-way")
    return html.Section("Deterministic sensitivity analysis", body)


def threshold(ctx: Context) -> html.Section:
    """Threshold prices of the switch drug and of the first monitored strategy's assay."""
    from ..analysis import dsa as one_way
    from ..analysis import threshold as th
    from .payer_plots import icer_price_plot

    items = [th.default_price_item(ctx.scenario)]
    monitoring = ctx.scenario.strategies[one_way.default_comparison(ctx.scenario)].monitoring
    if monitoring is not None and monitoring.assay not in items:
        items.append(monitoring.assay)
    body = html.paragraph(
        f"The price at which each strategy's ICER against {ctx.scenario.reference} equals the "
        "willingness to pay (costs are linear in a price, so two runs give every price)."
    )
    for item in items:
        lines = th.price_lines(
            ctx.scenario, item, patients=ctx.patients, seed=ctx.seed, progress=ctx.progress,
            **ctx.execution,
        )  # fmt: skip
        prices = th.threshold_prices(lines, ctx.scenario.wtps)
        ctx.sheets.update({f"price_lines_{item}": lines, f"threshold_prices_{item}": prices})
        unit, base = lines["price_unit"].iloc[0], float(lines["base_price"].iloc[0])
        body += (
            f"<h3>{html.escape(item)} (base price {ctx.currency} {base:,.2f}, {unit})</h3>"
            + html.table(threshold_table(prices, unit, ctx.currency))
            + html.png(
                icer_price_plot(lines, ctx.scenario.wtps, label=item), f"threshold price {item}"
            )
        )
    return html.Section("Threshold price", body)


def budget(ctx: Context) -> html.Section:
    from ..analysis import budget as bia
    from .payer_plots import budget_overview_plot

    if ctx.scenario.population is None:
        return html.Section(
            "Budget impact",
            html.paragraph(
                "The scenario has no population: block; run `hemodel budget --incident N` or "
                "add the block to see the budget impact here."
            ),
        )
    who = bia.resolve_population(ctx.scenario)
    table, costs = bia.run_budget_impact(
        ctx.scenario, who, patients=ctx.patients, seed=ctx.seed, progress=ctx.progress,
        **ctx.execution,
    )  # fmt: skip
    totals = bia.totals(table, who.plan_members)
    ctx.sheets.update(budget_impact=table, budget_totals=totals)
    ctx.findings.budget = totals
    cur = ctx.currency
    body = (
        html.paragraph(f"Undiscounted {cur} ({ctx.scenario.price_year} prices); {who.describe()}.")
        + html.table(budget_table(totals))
        + html.png(budget_overview_plot(totals, cur, list(ctx.scenario.strategies)), "budget")
    )
    return html.Section("Budget impact", body)


# ----------------------------------------------------------------------- uncertainty
def psa(ctx: Context, samples: int, patients: int) -> html.Section:
    from .psa_report import psa_outputs

    folder = ctx.out / "psa"
    t = psa_outputs(
        ctx.scenario, samples, patients, ctx.seed, folder, progress=ctx.progress,
        **ctx.execution,
    )  # fmt: skip
    ctx.sheets.update(
        ce_plane=cea.ce_plane(t["samples"], ctx.scenario.reference),
        psa_parameters=t["parameters"],
        ceac=t["ceac"],
        ceaf=t["ceaf"],
        evpi=t["evpi"],
    )
    if t["evppi"] is not None:
        ctx.sheets["evppi"] = t["evppi"]
    ctx.findings.ceac, ctx.findings.evpi = t["ceac"], t["evpi"]
    pictures = [f for f in ("ce_plane", "ceac", "evpi", "evppi") if (folder / f"{f}.png").exists()]
    heading, *notes = (html.paragraph(line) for line in t["notes"])
    body = heading + html.table(t["table"]) + "".join(notes)
    body += "".join(html.embed(folder / f"{f}.png") for f in pictures)
    return html.Section("Probabilistic sensitivity analysis", body)


def evsi(ctx: Context, samples: int, patients: int) -> html.Section:
    from .evsi_report import evsi_outputs

    title = "Value of further research (EVSI)"
    if not ctx.scenario.studies:
        return html.Section(title, html.paragraph(
            "The scenario has no studies: block, so no proposed study is valued here; declare "
            "one (a trial or an accuracy study) and run `hemodel evsi` (docs/howto-evsi.md)."
        ))  # fmt: skip
    folder = ctx.out / "evsi"
    t = evsi_outputs(ctx.scenario, samples, patients, ctx.seed, folder, progress=ctx.progress,
                     **ctx.execution)  # fmt: skip
    ctx.sheets.update(evsi=t["result"].table, evsi_optimal=t["result"].optimal)
    body = html.paragraph(t["note"]) + html.table(t["display"])
    body += "".join(html.paragraph(line) for line in t["sentences"])
    body += "".join(html.embed(png) for png in t["pngs"])
    return html.Section(title, body)


def validation(ctx: Context, patients: int) -> html.Section:
    from ..credibility.validate import validate
    from .credibility_plots import km_axes
    from .validation_tables import targets_display

    if not ctx.scenario.trials and not ctx.scenario.targets:
        return html.Section(
            "Validation", html.paragraph("The scenario has no trials: or targets: to check.")
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines' convergence chatter; results are checked
        v = validate(ctx.scenario, patients=patients, seed=ctx.seed, **ctx.execution)
    ctx.sheets["validation_targets"] = v.table
    ctx.findings.targets = v.table
    body = html.paragraph(
        f"Virtual trials emulated inside the model ({patients:,} patients each) against the "
        "published results they target: PASS when the simulated value lies inside the target's "
        "confidence interval or range."
    ) + html.table(targets_display(v.table).assign(Source=v.table["source"]))
    for name in v.trials:
        body += html.png(km_axes(v, ctx.scenario, trial=name), f"Kaplan-Meier {name}")
    return html.Section("Validation", body)


def convergence(ctx: Context) -> html.Section:
    from ..analysis.convergence import convergence as converge
    from ..analysis.convergence import report
    from .credibility_plots import convergence_plot

    conv = converge(ctx.base)
    ctx.sheets["convergence"] = conv.summary
    body = (
        html.paragraph(
            "Is the base case run long enough? The running mean of the incremental net "
            f"benefit ({ctx.currency} per patient) against the number of patients."
        )
        + f"<pre>{html.escape(report(conv))}</pre>"
        + html.png(convergence_plot(conv, order=list(ctx.scenario.strategies)), "convergence")
    )
    return html.Section("Convergence", body)
