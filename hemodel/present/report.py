"""Self-contained reports: one HTML file (tables and embedded PNG plots, no internet needed)
and an Excel workbook (one sheet per table, inputs included) for analysts who live in
spreadsheets. Built from a base-case run and, when asked, a PSA and a testing-interval sweep.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from pathlib import Path

import pandas as pd

from .. import __version__
from ..analysis import cea
from ..scenario.load import parameters, scenario_hash
from ..scenario.schema import Scenario
from ..scenario.sources import parameter_sources
from . import plots
from .tables import frontier_table, incremental_table, summary_table

CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;
margin-top:2em}table{border-collapse:collapse;font-size:.86em;margin:.6em 0 1.2em}
th,td{border:1px solid #ccc;padding:.3em .55em;text-align:left;vertical-align:top}
th{background:#eef4fa}img{max-width:100%;margin:.4em 0}.note{color:#555;font-size:.9em}
"""


def _png(ax) -> str:
    buf = io.BytesIO()
    with plots.style():
        ax.figure.savefig(buf, format="png")
    plots.plt.close(ax.figure)
    return (
        f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'
    )


def _table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, border=0, na_rep="—", escape=True)


def inputs_table(scenario: Scenario, path: Path) -> pd.DataFrame:
    """Every evidence parameter with its value, PSA distribution, DSA range and source."""
    sources = parameter_sources(path, scenario)
    rows = []
    for dotted, p in parameters(scenario).items():
        if dotted.startswith(("strategies.", "sweeps.")):
            continue  # strategy settings are design choices, listed with the strategies
        unit = getattr(p, "unit", None) or (
            f"{scenario.currency} per {p.per}" if hasattr(p, "per") else ""
        )
        low_high = p.low_high()
        rows.append({"parameter": dotted, "value": f"{p.value:,.6g}", "unit": unit,
                     "psa": _describe(p.psa),
                     "dsa range": "" if low_high is None
                     else f"{low_high[0]:,.6g} – {low_high[1]:,.6g}",
                     "source": sources.get(dotted, "")})  # fmt: skip
    return pd.DataFrame(rows)


def _describe(psa) -> str:
    """A PSA distribution in words, e.g. ``beta(mean 0.85, sd 0.06)``."""
    if psa is None:
        return ""
    fields = psa.model_dump(exclude_none=True, by_alias=True)
    name = fields.pop("dist")
    return f"{name}({', '.join(f'{k} {v}' for k, v in fields.items())})" if fields else name


def strategies_table(scenario: Scenario) -> pd.DataFrame:
    """One row per strategy: what it tests, how often, and what it does on a positive."""
    rows = []
    for name, st in scenario.strategies.items():
        mon = st.monitoring
        rows.append({
            "strategy": name + (" (reference)" if name == scenario.reference else ""),
            "description": st.description,
            "ctDNA testing": f"{mon.assay} every {mon.every.value:g} {mon.every.unit} from "
            f"{mon.start.value:g} {mon.start.unit}" if mon else "none",
            "switch": f"to {st.switch.to}, {st.switch.when.replace('_', ' ')}" if st.switch
            else "—",
            "test at progression": st.test_at_progression.assay if st.test_at_progression
            else "—",
        })  # fmt: skip
    return pd.DataFrame(rows)


def build(
    scenario: Scenario,
    path: Path,
    out: Path,
    patients: int = 2000,
    seed: int = 1,
    psa_samples: int = 0,
    psa_patients: int = 500,
    sweep: bool = False,
    progress: bool | None = None,
    **execution,
) -> tuple[Path, Path]:
    """Run what the report needs and write ``report.html`` and ``report.xlsx`` into ``out``.

    ``execution``: ``workers``, ``backend``, ``scheduler`` for every simulation and the PSA.
    Raises ValueError before simulating when a PSA or sweep is asked for that the scenario
    cannot give (no ``psa:`` distribution, no ``sweeps:`` block)."""
    from ..analysis.psa import require_uncertainty
    from ..run.simulation import simulate

    if psa_samples:
        require_uncertainty(scenario)
    if sweep and not scenario.sweeps:
        raise ValueError("the scenario has no sweeps: block, so there is no sweep to run")

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cur = scenario.currency
    sections: list[str] = []
    sheets: dict[str, pd.DataFrame] = {}

    inputs = inputs_table(scenario, path)
    strategies = strategies_table(scenario)
    results = simulate(scenario, patients=patients, seed=seed, progress=progress, **execution)
    summary, incremental = results.summary(), results.incremental()
    frontier = cea.incremental_analysis(results.ce_table()[["strategy", "cost", "qaly"]])
    sheets.update(
        inputs=inputs,
        strategies=strategies,
        summary=summary,
        incremental=incremental,
        frontier=frontier,
    )
    sections.append(
        _section(
            "Base case",
            f"<p>{patients:,} simulated patients per strategy (seed {seed}), the same patients in "
            f"every strategy. Costs in {cur} ({scenario.price_year} prices), costs and QALYs "
            "discounted; ± columns are Monte Carlo standard errors.</p>"
            + _table(summary_table(results))
            + "<h3>Against the reference</h3>"
            + _table(incremental_table(results))
            + "<h3>Efficiency frontier</h3>"
            + _table(frontier_table(frontier, cur))
            + _png(plots.frontier_plane(frontier, cur))
            + _png(plots.cost_breakdown(summary, cur)),
        )
    )

    if psa_samples:
        sections.append(
            _psa_section(scenario, psa_samples, psa_patients, seed, out, sheets, execution)
        )
    if sweep:
        sections.append(_sweep_section(scenario, patients, seed, sheets, progress, execution))

    manifest = pd.DataFrame([
        ("scenario", scenario.name), ("scenario file", str(path)),
        ("scenario hash (SHA-256)", scenario_hash(scenario)), ("seed", seed),
        ("patients per strategy", patients), ("PSA samples", psa_samples),
        ("engine", results.metadata["engine"]),
        ("hemodel version", __version__),
        ("created", dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")),
    ], columns=["item", "value"])  # fmt: skip
    sheets["manifest"] = manifest
    head = _head(scenario, path, strategies, inputs)
    body = head + "".join(sections) + _section("Manifest", _table(manifest))
    html_path = out / "report.html"
    html_path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{html.escape(scenario.name)}</title><style>{CSS}</style></head>"
        f"<body>{body}</body></html>",
        encoding="utf-8",
    )
    xlsx_path = out / "report.xlsx"
    with pd.ExcelWriter(xlsx_path, engine="openpyxl") as xl:
        for name, df in sheets.items():
            df.to_excel(xl, sheet_name=name[:31], index=False)
    return html_path, xlsx_path


def _section(title: str, body: str) -> str:
    return f"<h2>{html.escape(title)}</h2>{body}"


def _head(scenario: Scenario, path: Path, strategies: pd.DataFrame, inputs: pd.DataFrame) -> str:
    d = scenario.discount_rates
    wtp = ", ".join(f"{w.value:,.0f}" for w in scenario.willingness_to_pay)
    meta = (
        f"<table class='meta'><tr><td>Scenario file</td><td>{html.escape(str(path))}</td></tr>"
        f"<tr><td>Currency, price year</td><td>{scenario.currency} {scenario.price_year}</td></tr>"
        f"<tr><td>Time horizon</td><td>{scenario.time_horizon.value:g} "
        f"{scenario.time_horizon.unit}</td></tr><tr><td>Discount rates</td><td>costs "
        f"{d.costs.value:.1%}, QALYs {d.qalys.value:.1%} a year</td></tr>"
        f"<tr><td>Willingness to pay</td><td>{wtp} {scenario.currency} per QALY</td></tr>"
        f"<tr><td>Reference strategy</td><td>{scenario.reference}</td></tr></table>"
    )
    return (
        f"<h1>{html.escape(scenario.name)}</h1><p>{html.escape(scenario.description)}</p>"
        + meta
        + _section("Strategies", _table(strategies))
        + _section(
            "Inputs and sources",
            "<p class='note'>Every parameter with its base "
            "value, probabilistic distribution, one-way range and source (ASSUMPTION "
            "where no public source exists yet).</p>" + _table(inputs),
        )
    )


def _psa_section(scenario, samples, patients, seed, out, sheets, execution) -> str:
    from .psa_report import psa_outputs

    t = psa_outputs(scenario, samples, patients, seed, out / "psa", progress=False, **execution)
    sheets.update(
        psa_samples=t["samples"],
        psa_parameters=t["parameters"],
        ceac=t["ceac"],
        ceaf=t["ceaf"],
        evpi=t["evpi"],
    )
    if t["evppi"] is not None:
        sheets["evppi"] = t["evppi"]
    imgs = "".join(_embed(out / "psa" / f) for f in ("ce_plane.png", "ceac.png", "evpi.png"))
    heading, *notes = (f"<p>{html.escape(line)}</p>" for line in t["notes"])
    return _section(
        "Probabilistic sensitivity analysis", heading + _table(t["table"]) + "".join(notes) + imgs
    )


def _sweep_section(scenario, patients, seed, sheets, progress, execution) -> str:
    from ..analysis.sweep import analyse, expand
    from ..run.simulation import simulate
    from .payer_plots import sweep_plot

    name = next(iter(scenario.sweeps))
    expanded, grid = expand(scenario, name)
    res = simulate(
        expanded, patients=patients, seed=seed, progress=progress, **execution
    ).ce_table()
    wtps = [w.value for w in scenario.willingness_to_pay]
    table = grid.merge(res[["strategy", "cost", "qaly"]], on="strategy")
    result = analyse(res, grid, wtps)
    sheets.update(sweep=table, sweep_optimal=result["optimal"])
    ref = res.set_index("strategy").loc[scenario.reference]
    axes = sweep_plot(table, scenario.currency, wtps[0], (ref["cost"], ref["qaly"]))
    return _section(f"Testing-interval sweep '{name}'", _table(result["optimal"]) + _png(axes[0]))


def _embed(png: Path) -> str:
    data = base64.b64encode(png.read_bytes()).decode()
    return f'<img alt="{png.stem}" src="data:image/png;base64,{data}">'
