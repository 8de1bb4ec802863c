"""Consistency of a scenario's numbers: do each parameter's value, range and PSA distribution
agree with one another?

Errors are combinations that cannot be right: a one-way ``range`` that excludes the value,
a ``psa`` distribution that can never produce the base value.
Warnings are combinations that are probably wrong: a ``psa`` distribution whose centre (mean;
median of a log-normal; mode of a triangular) lies more than one standard deviation from the
base value, so the PSA would analyse a different base case than the deterministic run.
``hemodel check --strict`` turns warnings into errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .distributions import FixedDist
from .quantities import UTILITY_FLOOR, Param

__all__ = ["Finding", "findings", "param_findings", "utility_floor_error"]


@dataclass(frozen=True)
class Finding:
    severity: Literal["error", "warning"]
    path: tuple[str, ...]  # field path, e.g. ("costs", "later_lines", "psa")
    message: str


def _g(x: float) -> str:
    return f"{x:.6g}"


def param_findings(path: tuple[str, ...], p: Param) -> list[Finding]:
    """Findings for one parameter at ``path``."""
    out: list[Finding] = []
    v = p.value
    if p.range is not None and not p.range[0] <= v <= p.range[1]:
        msg = (
            f"range [{_g(p.range[0])}, {_g(p.range[1])}] excludes the value {_g(v)}: a one-way "
            "sensitivity range must contain the base value (widen the range or fix the value)"
        )
        out.append(Finding("error", path + ("range",), msg))
    if p.psa is None or isinstance(p.psa, FixedDist):
        return out
    lo, hi = p.psa.support()
    if not lo <= v <= hi:
        msg = (
            f"the psa distribution '{p.psa.dist}' only produces values in [{_g(lo)}, {_g(hi)}], "
            f"which excludes the value {_g(v)}: centre the distribution on the value"
        )
        out.append(Finding("error", path + ("psa",), msg))
        return out
    centre, sd = p.psa.centre(), p.psa.std()
    if abs(centre - v) > sd:
        kind = {"lognormal": "median", "triangular": "mode"}.get(p.psa.dist, "mean")
        far = f"{abs(centre - v) / sd:.3g} standard deviations" if sd > 0 else "far"
        msg = (
            f"the psa distribution's {kind} {_g(centre)} is {far} (sd {_g(sd)}) from the "
            f"value {_g(v)}: the PSA would analyse a "
            "different base case; centre the distribution on the value"
        )
        out.append(Finding("warning", path + ("psa",), msg))
    return out


def findings(params: dict[str, Param]) -> list[Finding]:
    """Every finding for the parameters ``params`` (as returned by ``parameters(scenario)``)."""
    return [f for dotted, p in params.items() for f in param_findings(tuple(dotted.split(".")), p)]


def _lowest(p: Param) -> float:
    """The lowest value a utility or decrement takes: its value, one-way range or PSA."""
    fixed = p.psa is None or isinstance(p.psa, FixedDist)
    return min((p.value, *(p.range or ()), *(() if fixed else p.psa.support()[:1])))


def utility_floor_error(scenario) -> str | None:
    """Why ``scenario``'s utilities could make QALYs negative (``"at <field>: ..."``), or None.

    Without ``allow_negative_utilities`` every utility (value, range, PSA distribution) is
    >= 0, and progression-free utility plus each decrement is >= 0 for values without a PSA
    distribution (a PSA sample below the floor is raised to it in :mod:`hemodel.model.inputs`);
    with it the floor is the UK EQ-5D-3L tariff's lowest value.
    """
    floor = UTILITY_FLOOR if scenario.allow_negative_utilities else 0.0
    why = (
        f"the lowest allowed is {UTILITY_FLOOR}"
        if scenario.allow_negative_utilities
        else "QALYs would be negative; for states worse than death set "
        "allow_negative_utilities: true"
    )
    u = scenario.utilities
    for name in ("progression_free", "progressed"):
        low = _lowest(getattr(u, name))
        if low < floor:
            return f"at utilities.{name}: {low:g} is below {floor:g}: {why}"
    decrements = {"utilities.molecular_progression_decrement": u.molecular_progression_decrement}
    for name, therapy in scenario.switch_therapies.items():
        decrements[f"switch_therapies.{name}.utility_decrement"] = therapy.utility_decrement
    pf = u.progression_free
    for path, d in decrements.items():
        if pf.psa is not None or d.psa is not None:
            continue  # a PSA sample is drawn anew: the model floors it
        worst = min(pf.value + _lowest(d), _lowest(pf) + d.value)
        if worst < floor:
            return (
                f"at {path}: utilities.progression_free plus this decrement gives {worst:g}, "
                f"below {floor:g}: {why}"
            )
    return None
