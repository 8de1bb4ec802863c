"""Excel workbooks a model reviewer accepts: one sheet per analysis table, values stored as
numbers with Excel number formats, readable headers that name units and currency, native
Excel charts (cost-effectiveness plane, acceptability curves) and a manifest sheet.

Tables come in as the analyses return them (snake_case columns, numeric values);
:data:`hemodel.present.columns.COLUMNS` turns each column into a header and a number
format. Money is in the ``currency`` given to :func:`write_workbook`; costs and QALYs are
discounted unless the table says otherwise in a ``basis`` column (the budget tables say
``undiscounted``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import Reference, ScatterChart, Series
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from .. import __version__
from ..analysis.dsa import parameter_unit, ranged_parameters
from ..scenario.load import parameters, scenario_hash
from ..scenario.schema import Scenario
from ..scenario.sources import parameter_sources
from ..scenario.units import DAYS_PER_YEAR
from .columns import SHARE, column, header_context
from .labels import parameter_label

#: Characters Excel forbids in sheet names.
_FORBIDDEN = str.maketrans({c: "_" for c in "[]:*?/\\"})
MAX_SHEET_NAME = 31
MAX_WIDTH = 50  # characters, the widest a column is made
HEADER_WIDTH = 22  # characters: longer headers wrap onto more lines


def sheet_names(names: Sequence[str]) -> dict[str, str]:
    """A valid Excel sheet name for each of ``names``: forbidden characters replaced, at most
    31 characters, unique regardless of case (a suffix `` (2)``, `` (3)`` … when needed)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        clean = str(name).translate(_FORBIDDEN).strip("'") or "sheet"
        title, n = clean[:MAX_SHEET_NAME], 1
        while title.lower() in taken:
            n += 1
            suffix = f" ({n})"
            title = clean[: MAX_SHEET_NAME - len(suffix)] + suffix
        taken.add(title.lower())
        out[name] = title
    return out


# ------------------------------------------------------------------------- charts
@dataclass(frozen=True)
class Chart:
    """A native Excel chart of one sheet's table: column ``y`` against column ``x``, one
    series per value of column ``series``. ``kind``: ``scatter`` (markers only) or ``line``
    (lines over a numeric x axis). Axis titles are the columns' headers, with currency."""

    sheet: str
    x: str
    y: str
    title: str
    kind: Literal["scatter", "line"] = "scatter"
    series: str = "strategy"


#: PSA samples on the cost-effectiveness plane (``cea.ce_plane`` in a ``ce_plane`` sheet).
CE_PLANE = Chart("ce_plane", "inc_qaly", "inc_cost", "Cost-effectiveness plane (PSA samples)")
#: Base-case strategies' cost against QALYs (the ``frontier`` sheet), when there is no PSA.
BASE_CASE_PLANE = Chart("frontier", "qaly", "cost", "Base case: cost and QALYs per strategy")
#: Cost-effectiveness acceptability curves (``cea.ceac`` in a ``ceac`` sheet).
CEAC = Chart("ceac", "wtp", "probability", "Cost-effectiveness acceptability curves", "line")


def standard_charts(sheets: Mapping[str, pd.DataFrame]) -> list[Chart]:
    """The charts a reviewer expects for the sheets present: the CE plane of the PSA samples
    (else of the base case) and the acceptability curves."""
    plane = CE_PLANE if CE_PLANE.sheet in sheets else BASE_CASE_PLANE
    return [c for c in (plane, CEAC) if c.sheet in sheets]


def _check_charts(charts: Sequence[Chart], sheets: Mapping[str, pd.DataFrame]) -> None:
    for chart in charts:
        if chart.sheet not in sheets:
            raise ValueError(f"chart {chart.title!r}: no sheet {chart.sheet!r}")
        missing = {chart.x, chart.y, chart.series} - set(sheets[chart.sheet].columns)
        if missing:
            raise ValueError(f"chart {chart.title!r}: sheet {chart.sheet!r} lacks {missing}")


def _grouped(table: pd.DataFrame, series: str) -> pd.DataFrame:
    """Rows reordered so each series is one block (series in order of first appearance,
    rows within a series in their order): an Excel series is one range of cells."""
    codes, _ = pd.factorize(table[series])
    return table.iloc[np.argsort(codes, kind="stable")].reset_index(drop=True)


def _runs(values: pd.Series) -> list[tuple[str, int, int]]:
    """(value, first, last) row positions (0-based) of each block of equal values."""
    v = values.astype(str).to_numpy()
    starts = [0, *(np.flatnonzero(v[1:] != v[:-1]) + 1)]
    ends = [*(s - 1 for s in starts[1:]), len(v) - 1]
    return [(v[s], s, e) for s, e in zip(starts, ends, strict=True)]


def _add_chart(ws: Worksheet, chart: Chart, table: pd.DataFrame, heads: dict, slot: int) -> None:
    """Draw ``chart`` from the table written on ``ws`` (header in row 1), right of the table;
    ``slot`` counts the charts already on the sheet, which are stacked downwards."""
    xcol, ycol = (table.columns.get_loc(c) + 1 for c in (chart.x, chart.y))
    plot = ScatterChart()
    plot.title, plot.style, plot.width, plot.height = chart.title, 13, 18, 10  # size in cm
    for axis, name in ((plot.x_axis, chart.x), (plot.y_axis, chart.y)):
        axis.title, axis.number_format = heads[name]
        axis.delete = False  # openpyxl hides axes unless told not to
    plot.x_axis.majorGridlines, plot.x_axis.axPos = None, "b"
    if heads[chart.y][1] == SHARE:
        plot.y_axis.scaling.min, plot.y_axis.scaling.max = 0, 1
    for name, first, last in _runs(table[chart.series]):
        xs = Reference(ws, min_col=xcol, min_row=first + 2, max_row=last + 2)
        ys = Reference(ws, min_col=ycol, min_row=first + 2, max_row=last + 2)
        series = Series(ys, xs, title=name)
        if chart.kind == "scatter":
            series.marker.symbol, series.marker.size = "circle", 4
            series.graphicalProperties.line.noFill = True
        else:
            series.marker.symbol, series.smooth = "none", False
        plot.series.append(series)
    ws.add_chart(plot, f"{get_column_letter(len(table.columns) + 2)}{2 + 22 * slot}")


# ------------------------------------------------------------------------- cells and sheets
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_HEADER_ALIGN = Alignment(wrap_text=True, vertical="top")
_HEADER_BORDER = Border(bottom=Side(style="thin"))


def cell_value(value: object) -> object:
    """A value as the workbook stores it: numbers as numbers, booleans as booleans, NaN and
    None as an empty cell, ±infinity (an open price interval) as ``∞``/``-∞``, other values
    as text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        return ("∞" if value > 0 else "-∞") if math.isinf(value) else float(value)
    return value if isinstance(value, str) else str(value)


def _text_width(value: object) -> int:
    """Characters a value needs when shown (numbers with separators and two decimals)."""
    if isinstance(value, float):
        return len(f"{value:,.2f}")
    return len(str(value)) if value is not None else 0


def _style_header(ws: Worksheet, headers: Sequence[str], widths: Sequence[int]) -> None:
    """Bold shaded header row, wrapped to the column widths, frozen, with filters."""
    lines = 1
    for j, (header, width) in enumerate(zip(headers, widths, strict=True), start=1):
        cell = ws.cell(row=1, column=j)
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
        cell.alignment, cell.border = _HEADER_ALIGN, _HEADER_BORDER
        ws.column_dimensions[get_column_letter(j)].width = width
        lines = max(lines, math.ceil(len(header) / (width - 2)))
    ws.row_dimensions[1].height = 15 * lines  # points
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions


def _write_table(ws: Worksheet, table: pd.DataFrame, currency: str) -> dict[str, tuple]:
    """Write ``table`` (header row, then one row per record) with number formats; return
    ``column → (header, number format)``."""
    words = header_context(table, currency)
    looks = [column(str(c)) for c in table.columns]
    headers = [c.header.format(**words) for c in looks]
    ws.append(headers)
    for record in table.itertuples(index=False, name=None):
        ws.append([cell_value(v) for v in record])
    widths = []
    for j, (header, look) in enumerate(zip(headers, looks, strict=True), start=1):
        body = 0
        for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
            cell.number_format = look.number_format
            body = max(body, _text_width(cell.value))
        longest_word = max((len(w) for w in header.split()), default=0)
        head = min(len(header), max(HEADER_WIDTH, longest_word))
        widths.append(min(MAX_WIDTH, max(head, body, 6) + 2))
    _style_header(ws, headers, widths)
    return {
        name: (h, look.number_format)
        for name, h, look in zip(table.columns, headers, looks, strict=True)
    }


def _write_manifest(ws: Worksheet, manifest: Mapping[str, object], currency: str) -> None:
    """Item and value(s), one item a row; a list (the WTPs) fills the row to the right."""
    words = header_context(pd.DataFrame(), currency)
    ws.append(["Item", "Value"])
    for key, value in manifest.items():
        look = column(key)
        values = list(value) if isinstance(value, list | tuple) else [value]
        ws.append([look.header.format(**words), *(cell_value(v) for v in values)])
        for cell in ws[ws.max_row][1:]:
            cell.number_format = look.number_format
    label = max((len(str(c.value)) for (c,) in ws.iter_rows(max_col=1)), default=10)
    value = max((_text_width(c.value) for row in ws.iter_rows(min_col=2) for c in row), default=10)
    _style_header(ws, ["Item", "Value"], [min(MAX_WIDTH, label + 2), min(MAX_WIDTH, value + 2)])


# ------------------------------------------------------------------------- the workbook
MANIFEST = "manifest"


def write_workbook(
    path: str | Path,
    sheets: Mapping[str, pd.DataFrame],
    currency: str,
    manifest: Mapping[str, object],
    charts: Sequence[Chart] | None = None,
) -> Path:
    """Write an Excel workbook: a ``manifest`` sheet first (``manifest``: item → value, e.g.
    from :func:`manifest_items`), then one sheet per table of ``sheets`` (sheet name → table as
    an analysis returns it; names made valid by :func:`sheet_names`), with ``charts``
    (default :func:`standard_charts`) drawn beside their tables.

    ``currency`` names the money in every header; a table with a ``currency`` column in
    another currency is refused (ValueError). Rows of a charted table are grouped by the
    chart's series. Returns ``path``."""
    if MANIFEST in sheets:
        raise ValueError(f"{MANIFEST!r} is the workbook's own sheet: pass it as manifest=")
    charts = standard_charts(sheets) if charts is None else list(charts)
    _check_charts(charts, sheets)
    names = sheet_names([MANIFEST, *sheets])
    book = Workbook()
    ws = book.active
    ws.title = names[MANIFEST]
    _write_manifest(ws, manifest, currency)
    for key, table in sheets.items():
        drawn = [c for c in charts if c.sheet == key]
        if drawn:
            table = _grouped(table, drawn[0].series)
        ws = book.create_sheet(names[key])
        heads = _write_table(ws, table, currency)
        for slot, chart in enumerate(drawn):
            _add_chart(ws, chart, table, heads, slot)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


# ------------------------------------------------------------------------- report inputs
def psa_text(psa: object) -> str:
    """A PSA distribution in words, e.g. ``beta(mean 0.85, sd 0.06)``; ``""`` for none."""
    if psa is None:
        return ""
    fields = psa.model_dump(exclude_none=True, by_alias=True)
    name = fields.pop("dist")
    return f"{name}({', '.join(f'{k} {v}' for k, v in fields.items())})" if fields else name


def numeric_inputs(scenario: Scenario, path: str | Path) -> pd.DataFrame:
    """The inputs sheet: every evidence parameter of ``scenario`` (loaded from ``path``; not
    strategy, sweep or study settings) with its readable name, numeric ``value``, ``unit``, DSA
    range as numbers ``low`` and ``high`` (empty when none) and where the range comes from,
    PSA distribution and source."""
    sources = parameter_sources(path, scenario)
    ranges = ranged_parameters(scenario)
    rows = []
    for dotted, p in parameters(scenario).items():
        if dotted.startswith(("strategies.", "sweeps.", "studies.")):
            continue
        low, high, origin = ranges.get(dotted, (math.nan, math.nan, ""))
        rows.append({
            "parameter": dotted, "label": parameter_label(dotted), "value": float(p.value),
            "unit": parameter_unit(scenario, dotted), "low": low, "high": high,
            "range_source": origin,
            "psa": psa_text(p.psa), "source": sources.get(dotted, ""),
        })  # fmt: skip
    return pd.DataFrame(rows)


def manifest_items(
    scenario: Scenario,
    path: str | Path,
    *,
    seed: int,
    patients: int,
    engine: str,
    psa_samples: int = 0,
    psa_patients: int = 0,
) -> dict[str, object]:
    """What a reviewer needs to reproduce a workbook: scenario, file and hash, currency and
    price year, discount rates (fractions a year), time horizon (years), WTPs (currency per
    QALY), reference, seed, patients per strategy, PSA samples (and patients per sample when
    there is a PSA), engine, hemodel version and the time of writing (UTC)."""
    rates, horizon = scenario.discount_rates, scenario.time_horizon
    items: dict[str, object] = {
        "scenario": scenario.name,
        "scenario_file": str(path),
        "scenario_hash": scenario_hash(scenario),
        "currency": scenario.currency,
        "price_year": scenario.price_year,
        "discount_rate_costs": rates.costs.value,
        "discount_rate_qalys": rates.qalys.value,
        "time_horizon_years": horizon.days() / DAYS_PER_YEAR,
        "willingness_to_pay": scenario.wtps,
        "reference_strategy": scenario.reference,
        "seed": seed,
        "patients_per_strategy": patients,
        "psa_samples": psa_samples,
    }
    if psa_samples:
        items["psa_patients"] = psa_patients
    items.update(
        engine=engine,
        hemodel_version=__version__,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    return items
