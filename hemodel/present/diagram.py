"""The model diagram of a report: the health states a patient passes through, and the
monitoring process a strategy adds (clinic visit, blood draw, lab, result, switch)."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..scenario.schema import Scenario
from . import plots

#: Box half-width and half-height, in the diagram's units (the axes run 0-13.2 by 0-6.9).
_W, _H = 1.0, 0.55

#: Box centres (x, y) and their text; the top rows are the natural history.
_STATES = {
    "pf": (1.2, 4.9, "Progression-free\non first line\n(AI + CDK4/6i)"),
    "esr1": (4.0, 4.9, "ESR1 mutation\nin ctDNA\n(level rising)"),
    "switched": (6.8, 4.9, "Progression-free\nafter switch\n({switch})"),
    "pd1": (9.6, 4.9, "Progressed:\nsecond line"),
    "pd2": (9.6, 2.9, "Second progression:\nlater lines"),
    "dead": (12.1, 2.9, "Dead"),
}
_PROCESS = {
    "visit": (1.2, 0.8, "Clinic visit\nevery {visit}"),
    "draw": (3.6, 0.8, "Blood draw\n({assay})"),
    "lab": (6.0, 0.8, "Lab: queue +\nturnaround"),
    "result": (8.4, 0.8, "Positive result\nbefore progression\nis seen on a scan"),
}


def _box(ax: Axes, x: float, y: float, text: str, colour: str) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (x - _W, y - _H), 2 * _W, 2 * _H, boxstyle="round,pad=0.05",
            facecolor=colour, edgecolor="#333", linewidth=1,
        )
    )  # fmt: skip
    ax.text(x, y, text, ha="center", va="center", fontsize=8)


def _arrow(ax: Axes, a: tuple, b: tuple, bend: float = 0.0) -> None:
    ax.add_patch(
        FancyArrowPatch(
            a, b, arrowstyle="-|>", mutation_scale=12, color="#333",
            connectionstyle=f"arc3,rad={bend}", shrinkA=1, shrinkB=1,
        )
    )  # fmt: skip


def _label(ax: Axes, x: float, y: float, text: str, colour: str = "#555") -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize=7, color=colour)


def model_diagram(scenario: Scenario, ax: Axes | None = None) -> Axes:
    """States (top) and the monitoring process of a ctDNA strategy (bottom); death from other
    causes is possible from every state. Labels name the scenario's own switch therapy, assay
    and visit interval."""
    ax = plots.axes(ax)
    ax.figure.set_size_inches(10, 5.2)
    switch = next(iter(scenario.switch_therapies), "switch therapy")
    monitored = [s.monitoring for s in scenario.strategies.values() if s.monitoring]
    assay = monitored[0].assay if monitored else "ctDNA assay"
    visit = f"{scenario.schedule.visit_every.value:g} {scenario.schedule.visit_every.unit}"
    c = {k: (x, y) for k, (x, y, _) in {**_STATES, **_PROCESS}.items()}
    for key, (x, y, text) in _STATES.items():
        _box(ax, x, y, text.format(switch=switch), "#fde0dd" if key == "dead" else "#e8f1fa")
    for x, y, text in _PROCESS.values():
        _box(ax, x, y, text.format(assay=assay, visit=visit), "#eef7ee")

    def right(k):
        return (c[k][0] + _W + 0.05, c[k][1])

    def left(k):
        return (c[k][0] - _W - 0.05, c[k][1])

    for a, b, text in (("pf", "esr1", "emergence"), ("esr1", "switched", "positive\ntest"),
                       ("switched", "pd1", "progression"), ("pd2", "dead", "")):  # fmt: skip
        _arrow(ax, right(a), left(b))
        _label(ax, (c[a][0] + c[b][0]) / 2, c[a][1] + 0.4, text)
    _arrow(ax, (c["pf"][0], c["pf"][1] + _H + 0.05), (c["pd1"][0], c["pd1"][1] + _H + 0.05), -0.2)
    _label(ax, 5.4, 6.6, "progression by other mechanisms")
    _arrow(
        ax,
        (c["esr1"][0], c["esr1"][1] - _H - 0.05),
        (c["pd1"][0] - 0.5, c["pd1"][1] - _H - 0.05),
        0.25,
    )
    _label(ax, 5.3, 3.6, "ESR1-driven progression (no switch)")
    _arrow(ax, (c["pd1"][0], c["pd1"][1] - _H - 0.05), (c["pd2"][0], c["pd2"][1] + _H + 0.05))
    _label(ax, c["dead"][0], c["dead"][1] + 1.1, "death from other\ncauses: any state", "#a33")
    for a, b in (("visit", "draw"), ("draw", "lab"), ("lab", "result")):
        _arrow(ax, right(a), left(b))
    _arrow(
        ax,
        (c["result"][0], c["result"][1] + _H + 0.05),
        (c["switched"][0] + 0.3, c["switched"][1] - _H - 0.05),
        0.15,
    )
    _label(ax, 8.55, 2.05, "switch")
    ax.set_xlim(0, 13.2)
    ax.set_ylim(0, 6.9)
    ax.axis("off")
    ax.set_title(
        "Model structure: health states (top); the monitoring of ctDNA strategies (bottom)\n"
        "Imaging detects progression at the first scan after it; a positive ctDNA test "
        "switches therapy earlier",
        fontsize=9,
    )
    return ax
