"""What the analyst app edits: the scenario file it starts from, the inputs it offers, and
the changes an analyst makes, written as a scenario that ``extends:`` the original.

The edited scenario is always loaded from that YAML text by the same loader as every
command (:func:`hemodel.scenario.load.check_scenario`), so what the app computes is exactly
what ``hemodel run`` computes from the downloaded file.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..analysis.dsa import parameter_unit
from ..present.labels import SECTIONS, parameter_label, section_of
from ..scenario.bundled import bundled_names, bundled_path
from ..scenario.load import Checked, check_scenario, parameters
from ..scenario.problems import Problem, ScenarioError
from ..scenario.quantities import CostRate, Duration
from ..scenario.schema import Scenario

#: Largest scenario file the app takes as an upload (bytes); scenarios are a few kB.
MAX_UPLOAD_BYTES = 1_000_000

#: Sections whose parameters are not offered as inputs: strategy settings have their own
#: controls, willingness to pay is a run setting, trials, sweeps and studies serve other
#: analyses.
_NOT_INPUTS = ("strategies", "sweeps", "trials", "studies", "willingness_to_pay")

SWITCH_TIMINGS = {"immediately": "immediately", "next_visit": "at the next visit"}


@dataclass(frozen=True, eq=False)  # the same file opened twice is two sources
class Source:
    """The scenario file the app starts from: ``name`` is how a downloaded variant refers to
    it (``extends: name``), ``path`` where it is read."""

    name: str
    path: Path
    checked: Checked

    @property
    def scenario(self) -> Scenario:
        return self.checked.scenario


def bundled_source(name: str) -> Source:
    """A scenario shipped with hemodel, by name (``serena6_us``)."""
    path = bundled_path(name)
    if path is None:
        raise ValueError(f"no bundled scenario {name!r} (have {', '.join(bundled_names())})")
    return Source(path.name, path, check_scenario(path))


def uploaded_source(filename: str, upload: Path, folder: Path) -> Source:
    """A scenario file uploaded by the user (its name ``filename``, its bytes in ``upload``),
    copied into ``folder`` (private to the session) and checked by the safe loader. Raises
    :class:`ScenarioError` whose messages name the file as the user knows it
    (``my.yaml:12``), never the temporary folder."""
    name = Path(filename.replace("\\", "/")).name or "upload.yaml"
    if not name.lower().endswith((".yaml", ".yml")):
        raise _error(name, "a scenario is a YAML file: its name must end in .yaml or .yml")
    size = upload.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise _error(name, f"the file is {size / 1e6:.1f} MB; the app takes scenario files "
                     f"up to {MAX_UPLOAD_BYTES / 1e6:g} MB")  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    shutil.copyfile(upload, path)
    try:
        checked = check_scenario(path)
    except ScenarioError as exc:
        raise ScenarioError([_renamed(p, path, name) for p in exc.problems]) from None
    renamed = [_renamed(p, path, name) for p in checked.warnings]
    notes = [_renamed(p, path, name) for p in checked.notes]
    return Source(name, path, Checked(checked.scenario, path, renamed, notes))


def _error(name: str, message: str) -> ScenarioError:
    return ScenarioError([Problem(name, None, "", message)])


def _renamed(problem: Problem, path: Path, name: str) -> Problem:
    """The problem with the saved copy's path replaced by the uploaded file's name."""
    file = name if Path(problem.file).resolve() == path.resolve() else problem.file
    return Problem(file, problem.line, problem.path, problem.message)


# ------------------------------------------------------------------------------ inputs
@dataclass(frozen=True)
class Control:
    """A parameter the analyst can change: a slider over its one-way range ``low``–``high``
    in steps of ``step``, starting at the file's ``value``. ``posterior``: the PSA draws it
    from the calibration posterior, so a new value changes the base case only."""

    path: str
    label: str
    section: str
    unit: str
    value: float
    low: float
    high: float
    step: float
    posterior: bool


def controls(scenario: Scenario) -> list[Control]:
    """A control for every parameter with a ``range:`` in the scenario (strategy settings,
    trials and sweeps apart), grouped by section in :data:`SECTIONS` order."""
    posterior = scenario.uncertainty.posterior
    drawn = set(posterior.parameters) if posterior is not None else set()
    found = []
    for path, p in parameters(scenario).items():
        if p.range is None or path.split(".")[0] in _NOT_INPUTS:
            continue
        low, high = (float(x) for x in p.range)
        if not low < high:
            continue  # nothing to move
        found.append(
            Control(path, parameter_label(path), section_of(path), parameter_unit(scenario, path),
                    float(p.value), low, high, slider_step(p.value, low, high), path in drawn)
        )  # fmt: skip
    order = list(SECTIONS.values())
    return sorted(found, key=lambda c: order.index(c.section) if c.section in order else 99)


def slider_step(value: float, low: float, high: float, points: int = 50) -> float:
    """The coarsest power of ten giving at least ``points`` steps from ``low`` to ``high``
    with ``value`` and ``high`` on the grid (so that a slider can show the file's value
    exactly and an untouched slider never counts as a change)."""
    k = math.floor(math.log10((high - low) / points))
    for exponent in range(k, k - 8, -1):
        step = 10.0**exponent
        if all(_on_grid(x - low, step) for x in (value, high)):
            return step
    return 10.0 ** (k - 8)


def _on_grid(x: float, step: float) -> bool:
    return abs(x / step - round(x / step)) < 1e-6


@dataclass(frozen=True)
class StrategySetting:
    """The design choices of one strategy that the app offers: testing interval and first
    test (weeks), assay, and when a positive result switches therapy (None where the
    strategy has no such setting)."""

    name: str
    description: str
    every_weeks: float | None
    start_weeks: float | None
    assay: str | None
    when: str | None


def strategy_settings(scenario: Scenario) -> list[StrategySetting]:
    out = []
    for name, st in scenario.strategies.items():
        mon, sw, tap = st.monitoring, st.switch, st.test_at_progression
        assay = mon.assay if mon else (tap.assay if tap else None)
        out.append(StrategySetting(
            name, st.description,
            _weeks(mon.every) if mon else None, _weeks(mon.start) if mon else None,
            assay, sw.when if sw else None,
        ))  # fmt: skip
    return out


def _weeks(d: Duration) -> float:
    return round(d.days() / 7, 9)


# ------------------------------------------------------------------------------ changes
@dataclass(frozen=True)
class Change:
    """One difference from the file: where (``field``, dotted), what (``label``), the file's
    value and the new one, as the user reads them."""

    field: str
    label: str
    before: str
    after: str


@dataclass
class Edits:
    """What the analyst set: parameter values by dotted path, strategy settings by strategy
    (keys ``every_weeks``, ``start_weeks``, ``assay``, ``when``) and the willingness to pay
    (currency per QALY) used for decisions."""

    values: dict[str, float] = field(default_factory=dict)
    strategies: dict[str, dict[str, Any]] = field(default_factory=dict)
    wtp: float | None = None


def changes(source: Source, edits: Edits) -> list[Change]:
    """Every setting in ``edits`` that differs from the source file, in input order."""
    scenario = source.scenario
    params = parameters(scenario)
    cur = scenario.currency
    out = []
    for path, value in edits.values.items():
        if path not in params:
            raise KeyError(f"unknown parameter {path!r}")
        if _differs(params[path].value, value):
            unit = parameter_unit(scenario, path)
            out.append(Change(path, parameter_label(path), _show(params[path].value, unit),
                              _show(value, unit)))  # fmt: skip
    for name, key, before, after in _strategy_changes(scenario, edits):
        out.append(Change(_setting_path(scenario, name, key), f"{name}: {_SETTING[key]}",
                          _setting(key, before), _setting(key, after)))  # fmt: skip
    first = scenario.willingness_to_pay[0].value
    if edits.wtp is not None and _differs(first, edits.wtp):
        unit = f"{cur} per QALY"
        out.append(Change("willingness_to_pay", "Willingness to pay", _show(first, unit),
                          _show(edits.wtp, unit)))  # fmt: skip
    return out


_SETTING = {
    "every_weeks": "testing interval",
    "start_weeks": "first test",
    "assay": "assay",
    "when": "switch",
}


def _strategy_changes(scenario: Scenario, edits: Edits) -> list[tuple[str, str, Any, Any]]:
    """``(strategy, setting, before, after)`` for every strategy setting that changed."""
    settings = {s.name: s for s in strategy_settings(scenario)}
    out = []
    for name, new in edits.strategies.items():
        if name not in settings:
            raise KeyError(f"unknown strategy {name!r}")
        for key, after in new.items():
            before = getattr(settings[name], key)
            if before is None or after is None:
                continue
            same = not _differs(before, after) if key.endswith("_weeks") else before == after
            if not same:
                out.append((name, key, before, after))
    return out


def _setting_path(scenario: Scenario, name: str, key: str) -> str:
    """Where a strategy setting lives in the scenario file."""
    if key == "assay" and scenario.strategies[name].monitoring is None:
        return f"strategies.{name}.test_at_progression.assay"
    part = {"every_weeks": "every", "start_weeks": "start", "assay": "assay"}
    return f"strategies.{name}." + (f"monitoring.{part[key]}" if key in part else "switch.when")


def _differs(a: float, b: float) -> bool:
    return abs(float(a) - float(b)) > 1e-9 * max(1.0, abs(float(a)))


def _show(x: float, unit: str) -> str:
    number = f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.6g}"
    return f"{number} {unit}".strip()


def _setting(key: str, value: Any) -> str:
    if key in ("every_weeks", "start_weeks"):
        return f"{float(value):g} weeks"
    return SWITCH_TIMINGS.get(value, str(value))


# ------------------------------------------------------------------------------ the variant
def variant_text(source: Source, edits: Edits, extends: str | None = None) -> str:
    """The edited scenario as YAML that ``extends:`` the source file (by its ``name``, or
    ``extends``) and holds only the changes, each new value with its unit, the source's
    one-way range and ``psa: inherit`` (its distribution re-centred on the new value)."""
    scenario = source.scenario
    found = changes(source, edits)
    data: dict[str, Any] = {"extends": extends or source.name}
    if found:
        data["name"] = f"{scenario.name} (edited)"
    params = parameters(scenario)
    for path, value in edits.values.items():
        if _differs(params[path].value, value):
            _put(data, path, _entry(params[path], float(value)))
    for name, key, _, after in _strategy_changes(scenario, edits):
        weeks = key.endswith("_weeks")
        value = {"value": float(after), "unit": "weeks"} if weeks else after
        _put(data, _setting_path(scenario, name, key), value)
    if edits.wtp is not None and _differs(scenario.willingness_to_pay[0].value, edits.wtp):
        others = [w.value for w in scenario.willingness_to_pay[1:] if _differs(w.value, edits.wtp)]
        data["willingness_to_pay"] = [float(edits.wtp), *others]
    stamp = dt.date.today().isoformat()
    head = [
        f"# Made with the hemodel app on {stamp}: {source.name} with the changes below.",
        f"# Keep it in the folder of {source.name} (a bundled scenario is found by name).",
        "# Check or run it like any scenario: hemodel check THIS_FILE.yaml",
    ]
    head += [f"#   {c.label}: {c.before} -> {c.after}" for c in found] or ["#   (no changes)"]
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None)
    return "\n".join(head) + "\n" + body


def _entry(p, value: float) -> dict[str, Any]:
    """A parameter's new entry: the value with what must or should come with it."""
    entry: dict[str, Any] = {"value": value}
    if isinstance(p, Duration):
        entry["unit"] = p.unit
    if isinstance(p, CostRate):
        entry["per"] = p.per
    if p.range is not None:
        entry["range"] = [float(x) for x in p.range]
    if p.psa is not None:
        entry["psa"] = "inherit"
    return entry


def _put(data: dict, dotted: str, value: Any) -> None:
    node = data
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def edited_scenario(source: Source, edits: Edits, folder: Path | None) -> Checked:
    """The edited scenario, loaded from its YAML by the safe loader, via a new file (so
    that runs at the same time never share one) that extends the source by name: a bundled
    source from a new folder under ``folder``, an uploaded one from beside it (a scenario
    may extend only files in its own folder). Problems name the file as the user downloads
    it."""
    if not changes(source, edits):
        return source.checked
    name = f"{Path(source.name).stem}_edited.yaml"
    if bundled_path(source.name) == source.path:
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="edited-", dir=folder)) / name
    else:
        handle, file = tempfile.mkstemp(prefix=f"{Path(name).stem}-", suffix=".yaml",
                                        dir=source.path.parent)  # fmt: skip
        os.close(handle)
        path = Path(file)
    path.write_text(variant_text(source, edits, extends=source.path.name))
    try:
        return check_scenario(path)
    except ScenarioError as exc:
        raise ScenarioError([_renamed(p, path, name) for p in exc.problems]) from None
