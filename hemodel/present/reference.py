"""Generated reference documentation: every scenario field and every output column.

``hemodel docs`` writes it to ``docs/reference.md``; a test keeps that file in sync with the
schema, so the reference can never describe fields that do not exist.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from ..model.outcomes import COST_CATEGORIES
from ..scenario.quantities import CostRate, Delay, Duration, Param
from ..scenario.schema import Scenario

#: Per-patient output columns (``patients.csv``): unit and meaning.
PATIENT_COLUMNS: dict[str, str] = {
    "patient": "patient number (keys the patient's random streams)",
    "strategy": "monitoring strategy",
    "age_years": "age at start of first-line therapy, years",
    "esr1_at_start": "ESR1 mutation present at start (true/false)",
    "emergence_days": "day the ESR1 mutation appears in ctDNA (empty: not during follow-up)",
    "true_progression_days": "day of first (true) progression",
    "progression_free_days": "days progression-free: first progression or end of follow-up",
    "detected_progression_days": "day progression was seen on a scan",
    "second_progression_days": "day of second progression",
    "death_days": "day of death (empty: alive at the horizon)",
    "death_cause": "disease, background (other causes) or alive",
    "switched": "switched therapy on a positive ctDNA result (true/false)",
    "switch_days": "day of the switch",
    "false_positive_switch": "switched on a false-positive result",
    "tests": "ctDNA monitoring tests drawn",
    "positives": "positive results",
    "false_positives": "false-positive results",
    "first_positive_days": "day the first positive result came back",
    "detection_days": "day the first true-positive result came back",
    "lead_time_days": "days from molecular detection to the scan that would have found "
    "progression without a switch",
    "lab_wait_days": "mean days from blood draw to result (transport + queue + processing)",
    "lab_queue_days": "mean days waiting for lab capacity",
    "progression_test": "result of the ESR1 test at progression: none, positive, negative",
    "targeted_second_line": "received targeted second-line therapy (true/false)",
    "visits": "clinic visits during first-line monitoring",
    "scans": "imaging assessments during first-line monitoring",
    "cost_<category>": "discounted cost, scenario currency; categories: "
    + ", ".join(COST_CATEGORIES),
    "cost_total": "discounted total cost (sum of the categories), scenario currency",
    "cost_<category>_undiscounted": "undiscounted cost of the category",
    "cost_total_undiscounted": "undiscounted total cost",
    "qalys": "discounted quality-adjusted life-years",
    "qalys_undiscounted": "undiscounted QALYs",
    "lys": "discounted life-years",
    "lys_undiscounted": "undiscounted life-years",
    "cost_y<year>_<category>": "undiscounted cost in year <year> since start (only with "
    "budget years requested)",
}

#: Per-strategy summary columns (``summary.csv``); each mean has a ``<name>_se`` twin.
SUMMARY_COLUMNS: dict[str, str] = {
    "patients": "patients simulated",
    "cost_<category>, cost_total": "mean discounted cost per patient, scenario currency",
    "qalys, lys": "mean discounted QALYs / life-years per patient",
    "*_undiscounted": "the same, undiscounted",
    "tests, positives, false_positives": "mean per patient",
    "progressions, progressions_detected, deaths": "fraction of patients with the event "
    "during the horizon",
    "switches, false_positive_switches, targeted_second_line": "fraction of patients",
    "mean_progression_free_months": "mean progression-free time, months",
    "mean_lead_time_months": "mean lead time among patients with a true positive, months",
    "mean_lab_wait_days": "mean lab wait per tested patient, days",
    "<name>_se": "Monte Carlo standard error of the mean (sd / √n)",
}


def _type(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _type(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(members) > 2 and all(
            isinstance(m, type) and issubclass(m, BaseModel) for m in members
        ):
            tags = [
                typing.get_args(next(iter(m.model_fields.values())).annotation) for m in members
            ]
            return "one of: " + ", ".join(f"`{t[0]}`" for t in tags if t)
        return " or ".join(_type(m) for m in members)
    if origin is Literal:
        return " / ".join(f"`{v}`" for v in typing.get_args(tp))
    if origin is dict:
        return f"mapping of names to {_type(typing.get_args(tp)[1])}"
    if origin is list:
        return f"list of {_type(typing.get_args(tp)[0])}"
    if origin is tuple:
        return "[low, high]"
    if isinstance(tp, type):
        if issubclass(tp, Duration):
            return f"duration ({tp.allowed}; e.g. `8 weeks`)"
        if issubclass(tp, CostRate):
            return "cost rate `{value, per}` (e.g. `{value: 8, per: month}`)"
        if issubclass(tp, Delay):
            return "delay: `7 days`, or uniform/gamma (see Delay)"
        if issubclass(tp, Param):
            return f"number: {tp.allowed}"
        if issubclass(tp, BaseModel):
            return f"section [{tp.__name__}](#{tp.__name__.lower()})"
        return {
            "str": "text",
            "int": "whole number",
            "float": "number",
            "bool": "true / false",
        }.get(tp.__name__, tp.__name__)
    return str(tp)


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """Sections reachable from ``root`` (parameters and distributions are leaves)."""
    seen: list[type[BaseModel]] = []

    def visit(tp: Any) -> None:
        for arg in typing.get_args(tp):
            visit(arg)
        is_section = isinstance(tp, type) and issubclass(tp, BaseModel)
        if is_section and not issubclass(tp, Param) and tp not in seen:
            seen.append(tp)
            for f in tp.model_fields.values():
                visit(f.annotation)

    visit(root)
    return seen


def scenario_reference() -> str:
    """Markdown reference of every scenario section and field."""
    lines = [
        "# Reference",
        "",
        "Generated by `hemodel docs` from the schema; do not edit by "
        "hand (a test checks it is up to date).",
        "",
        "## Scenario fields",
        "",
        "Every number may be written bare (`0.85`) or as `{value: …, psa: {dist: …}, "
        "range: [low, high], source: …}`; `psa` distributions: fixed, beta, gamma, "
        "lognormal, normal, uniform, triangular.",
        "",
    ]
    for model in _models(Scenario):
        lines += [f"### {model.__name__}", ""]
        doc = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        if doc and not doc.startswith(("Usage docs", "A base class")):
            lines += [doc, ""]
        lines += ["| field | type | required / default | description |", "|---|---|---|---|"]
        for name, f in model.model_fields.items():
            if f.is_required():
                need = "required"
            elif f.default is not PydanticUndefined and f.default not in (None, [], {}):
                need = (
                    f"default `{f.default}`" if not isinstance(f.default, BaseModel) else "optional"
                )
            else:
                need = "optional"
            desc = (f.description or "").replace("|", "/")
            lines.append(f"| `{f.alias or name}` | {_type(f.annotation)} | {need} | {desc} |")
        lines.append("")
    lines += [
        "## Output columns",
        "",
        "### patients.csv (one row per patient × strategy)",
        "",
        "Times are days from the start of first-line therapy.",
        "",
        "| column | meaning |",
        "|---|---|",
    ]
    lines += [f"| `{k}` | {v} |" for k, v in PATIENT_COLUMNS.items()]
    lines += ["", "### summary.csv (one row per strategy)", "", "| column | meaning |", "|---|---|"]
    lines += [f"| `{k}` | {v} |" for k, v in SUMMARY_COLUMNS.items()]
    return "\n".join(lines) + "\n"
