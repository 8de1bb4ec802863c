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
from .quantities import Param

__all__ = ["Finding", "findings", "param_findings"]


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
        msg = (
            f"the psa distribution's {kind} {_g(centre)} is {abs(centre - v) / sd:.1f} standard "
            f"deviations (sd {_g(sd)}) from the value {_g(v)}: the PSA would analyse a "
            "different base case; centre the distribution on the value"
        )
        out.append(Finding("warning", path + ("psa",), msg))
    return out


def findings(params: dict[str, Param]) -> list[Finding]:
    """Every finding for the parameters ``params`` (as returned by ``parameters(scenario)``)."""
    return [f for dotted, p in params.items() for f in param_findings(tuple(dotted.split(".")), p)]
