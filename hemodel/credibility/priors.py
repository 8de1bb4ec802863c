"""Priors of a Bayesian calibration (:mod:`hemodel.credibility.bayes`): each free parameter's
distribution, on the unbounded scale it is sampled on, with the Jacobian of that transform."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..scenario.load import parameters
from ..scenario.schema import Scenario
from ..scenario.variants import flow_text
from .calibrate import _from_free, _scale, _to_free


def log_jacobian(z: float, scale: str) -> float:
    """``log |dθ/dz|`` of θ = inverse transform of z."""
    if scale == "log":
        return z
    if scale == "logit":  # θ(1 − θ), computed stably for large |z|
        return -(np.logaddexp(0.0, z) + np.logaddexp(0.0, -z))
    return 0.0


@dataclass(frozen=True)
class Prior:
    """A free parameter's prior: a frozen SciPy distribution of its value (``dist``), the
    unbounded ``scale`` it is sampled on and a description of where it came from."""

    parameter: str
    dist: Any
    scale: str
    source: str

    def log_pdf(self, theta: float) -> float:
        """Log prior density at the value θ (on the parameter's own scale); −∞ outside."""
        lp = float(self.dist.logpdf(theta))
        return lp if math.isfinite(lp) else -math.inf

    def log_density(self, z: float) -> float:
        """Log density of the sampled coordinate z: ``log p(θ(z)) + log |dθ/dz|``."""
        try:
            lp = self.log_pdf(_from_free(float(z), self.scale))
        except OverflowError:
            return -math.inf
        return lp + log_jacobian(float(z), self.scale) if lp > -math.inf else -math.inf

    def spread(self) -> float:
        """Half the central 68% interval on the sampling scale (a prior 'sd' there)."""
        lo, hi = (float(x) for x in self.dist.ppf([0.16, 0.84]))
        try:
            width = (_to_free(hi, self.scale) - _to_free(lo, self.scale)) / 2
        except (ValueError, ZeroDivisionError):
            return 0.1
        return width if math.isfinite(width) and width > 0 else 0.1


def priors_of(scenario: Scenario, free: list[str], given: Mapping[str, Any] | None = None):
    """Each free parameter's :class:`Prior`: ``given[p]`` (a frozen SciPy distribution or a
    ``psa:`` distribution), else its ``psa:``, else uniform over its ``range:``; a
    ValueError names the parameters that have none of these."""
    from pydantic import TypeAdapter

    from ..scenario.distributions import PSADistribution

    known = parameters(scenario)
    out, missing = [], []
    for p in free:
        param, scale = known[p], _scale(known[p])
        g = (given or {}).get(p)
        if g is not None:
            if isinstance(g, dict):
                g = TypeAdapter(PSADistribution).validate_python(g)
            if hasattr(g, "frozen"):
                dump = g.model_dump(by_alias=True, exclude_none=True)
                out.append(Prior(p, g.frozen(), scale, f"given {flow_text(dump, digits=4)}"))
            else:
                out.append(Prior(p, g, scale, "given"))
        elif param.psa is not None and param.psa.dist != "fixed":
            dump = param.psa.model_dump(by_alias=True, exclude_none=True)
            out.append(Prior(p, param.psa.frozen(), scale, f"psa {flow_text(dump, digits=4)}"))
        elif param.range is not None and param.range[0] < param.range[1]:
            from scipy import stats

            lo, hi = param.range
            uniform = stats.uniform(lo, hi - lo)
            out.append(Prior(p, uniform, scale, f"uniform on range [{lo:g}, {hi:g}]"))
        else:
            missing.append(p)
    if missing:
        raise ValueError(
            f"no prior for {', '.join(missing)}: give each free parameter a psa: distribution "
            "(used as its prior) or a range: (uniform prior), or pass priors="
        )
    return out
