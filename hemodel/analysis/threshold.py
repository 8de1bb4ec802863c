"""Threshold (value-based) price of a switch drug or an assay.

A price enters the model only as a cost: the switch drug's cost per period accrues over
days on the drug, an assay's cost is paid per test, and neither changes any event. So every
strategy's mean discounted cost is exactly linear in the price ``p``:
``cost_s(p) = a_s + b_s·p``, while its QALYs do not depend on ``p``. Two runs with the same
seed and patients (``p = 0`` and the base price) give ``a_s`` and ``b_s``; no search is needed.

* Against the reference: ``ICER(p) = (Δa + Δb·p) / ΔQ`` equals the willingness to pay ``W``
  at ``p* = (W·ΔQ − Δa) / Δb``.
* Along the efficiency frontier: at ``W`` the preferred strategy maximises the net monetary
  benefit ``W·q_s − a_s − b_s·p``, a straight line in ``p``. The upper envelope of these lines
  gives the price interval over which each strategy is the cost-effective choice; at each
  interval end its frontier ICER against the neighbouring strategy equals ``W``.

Prices are in the item's own unit: currency per billing period (e.g. per 28 days) for a
switch therapy, currency per test for an assay.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..scenario.load import parameters, with_values
from ..scenario.schema import Scenario
from .cea import incremental_analysis


def price_parameter(scenario: Scenario, item: str) -> str:
    """Dotted path of the price of ``item``: a switch therapy or assay name, or a path such
    as ``switch_therapies.camizestrant.cost`` or ``assays.guardant360.cost``."""
    if item in scenario.switch_therapies:
        return f"switch_therapies.{item}.cost"
    if item in scenario.assays:
        return f"assays.{item}.cost"
    parts = item.split(".")
    ok = len(parts) == 3 and parts[2] == "cost"
    if ok and parts[0] == "switch_therapies" and parts[1] in scenario.switch_therapies:
        return item
    if ok and parts[0] == "assays" and parts[1] in scenario.assays:
        return item
    names = [*scenario.switch_therapies, *scenario.assays]
    raise ValueError(
        f"no price called {item!r}: name a switch therapy or assay ({', '.join(names)}), "
        "or give switch_therapies.<name>.cost or assays.<name>.cost"
    )


def default_price_item(scenario: Scenario) -> str:
    """The switch therapy of the first strategy that switches (else the first assay)."""
    for st in scenario.strategies.values():
        if st.switch is not None:
            return st.switch.to
    if scenario.assays:
        return next(iter(scenario.assays))
    raise ValueError("the scenario has no switch therapy or assay to price")


def price_unit(scenario: Scenario, path: str) -> str:
    """``USD per 28 days`` for a switch therapy, ``USD per test`` for an assay."""
    p = parameters(scenario)[path]
    per = getattr(p, "per", None)
    return f"{scenario.currency} per {per}" if per else f"{scenario.currency} per test"


def _means(scenario: Scenario, patients: int, seed: int, **execution) -> pd.DataFrame:
    from ..run.simulation import simulate

    r = simulate(scenario, patients=patients, seed=seed, **execution)
    g = r.patients.groupby("strategy", observed=True, sort=False)[["cost_total", "qalys"]]
    return g.mean().loc[list(scenario.strategies)]


def cost_at_price(
    scenario: Scenario, path: str, price: float, patients: int, seed: int, **execution
) -> pd.DataFrame:
    """Mean discounted cost and QALYs per strategy with the price set to ``price``.

    ``execution``: ``progress``, ``workers``, ``backend``, ``scheduler`` for :func:`simulate`."""
    return _means(with_values(scenario, {path: price}), patients, seed, **execution)


def price_lines(
    scenario: Scenario, item: str, *, patients: int = 2000, seed: int = 1, **execution
) -> pd.DataFrame:
    """Per strategy, the exact line ``cost(p) = cost_at_zero + cost_per_price_unit · p``.

    Returns ``strategy, qaly, cost_at_zero, cost_per_price_unit, cost_at_base, base_price,
    price_parameter, price_unit, currency, patients, seed`` (discounted, per patient).
    ``execution`` (``progress``, ``workers``, ``backend``, ``scheduler``) goes to both runs.
    """
    path = price_parameter(scenario, item)
    base = parameters(scenario)[path].value
    probe = base if base > 0 else 1.0
    at0 = cost_at_price(scenario, path, 0.0, patients, seed, **execution)
    at1 = cost_at_price(scenario, path, probe, patients, seed, **execution)
    if not np.array_equal(at0["qalys"].to_numpy(), at1["qalys"].to_numpy()):
        raise RuntimeError(f"QALYs changed with {path}: the price is not a pure cost")
    slope = (at1["cost_total"] - at0["cost_total"]) / probe
    return pd.DataFrame(
        {
            "strategy": list(scenario.strategies),
            "qaly": at0["qalys"].to_numpy(),
            "cost_at_zero": at0["cost_total"].to_numpy(),
            "cost_per_price_unit": slope.to_numpy(),
            "cost_at_base": (at0["cost_total"] + slope * base).to_numpy(),
            "base_price": base,
            "price_parameter": path,
            "price_unit": price_unit(scenario, path),
            "currency": scenario.currency,
            "reference": scenario.reference,
            "patients": patients,
            "seed": seed,
        }
    )


def costs(lines: pd.DataFrame, price: float) -> pd.DataFrame:
    """``strategy, cost, qaly`` at ``price`` (the table :mod:`hemodel.analysis.cea` reads)."""
    return pd.DataFrame(
        {
            "strategy": lines["strategy"],
            "cost": lines["cost_at_zero"] + lines["cost_per_price_unit"] * price,
            "qaly": lines["qaly"],
        }
    )


def _wtps(lines: pd.DataFrame, wtp) -> list[float]:
    return [float(w) for w in np.atleast_1d(wtp)]


def threshold_prices(
    lines: pd.DataFrame, wtp: float | Sequence[float], reference: str | None = None
) -> pd.DataFrame:
    """Price at which each strategy's ICER against ``reference`` equals each ``wtp``.

    ``threshold_price = (W·ΔQ − Δa) / Δb``, where the strategy's incremental cost is
    ``Δa + Δb·p``. At prices below it the strategy's INMB is positive (when ΔQ > 0). The
    ``note`` says when the price does not affect the comparison (Δb = 0), when no price of
    at least zero reaches the threshold, or when the strategy gains no QALYs.
    """
    reference = reference or str(lines["reference"].iloc[0])
    by = lines.set_index("strategy")
    if reference not in by.index:
        raise ValueError(
            f"reference strategy {reference!r} is not among the price lines "
            f"({', '.join(map(str, by.index))})"
        )
    if len(by) < 2:
        raise ValueError(f"no strategy to compare with {reference!r}: the lines hold only it")
    ref = by.loc[reference]
    rows = []
    for w in _wtps(lines, wtp):
        for name, s in by.iterrows():
            if name == reference:
                continue
            dq = s["qaly"] - ref["qaly"]
            da = s["cost_at_zero"] - ref["cost_at_zero"]
            db = s["cost_per_price_unit"] - ref["cost_per_price_unit"]
            base = s["base_price"]
            p_star, note = math.nan, ""
            if db == 0:
                note = "price does not change this comparison"
            else:
                p_star = (w * dq - da) / db
                if dq <= 0:
                    note = "no QALY gain: INMB is 0 at this price, ICER meaningless"
                elif p_star < 0:
                    note = "not cost-effective at any price >= 0"
            icer_base = (da + db * base) / dq if dq != 0 else math.nan
            rows.append(
                dict(
                    wtp=w,
                    strategy=name,
                    reference=reference,
                    inc_qaly=dq,
                    inc_cost_at_zero=da,
                    inc_cost_per_price_unit=db,
                    base_price=base,
                    icer_at_base=icer_base,
                    icer_at_zero=da / dq if dq != 0 else math.nan,
                    threshold_price=p_star,
                    price_unit=s["price_unit"],
                    currency=s["currency"],
                    note=note,
                )
            )
    return pd.DataFrame(rows)


def _best(lines: pd.DataFrame, w: float, p: float) -> int:
    nmb = w * lines["qaly"] - lines["cost_at_zero"] - lines["cost_per_price_unit"] * p
    return int(np.argmax(nmb.to_numpy()))  # ties: first in scenario order


def frontier_prices(
    lines: pd.DataFrame, wtp: float | Sequence[float], min_price: float = 0.0
) -> pd.DataFrame:
    """Price intervals (from ``min_price`` up) over which each strategy is the cost-effective
    choice at each WTP.

    The preferred strategy maximises ``W·q_s − a_s − b_s·p``; candidate change points are
    the prices where two of these lines cross. One row per interval: ``wtp, strategy,
    price_from, price_to`` (inf when open; the first interval also holds below
    ``min_price``), the frontier status, comparator and ICER from
    :func:`hemodel.analysis.cea.incremental_analysis` at ``evaluated_at_price`` (the interval's
    midpoint, or ``price_from + max(1, |price_from|)`` when open), and the
    strategies preferred just below and above. At ``price_to`` the ICER of ``strategy``
    against ``preferred_above`` equals ``W`` (and likewise at ``price_from``).
    """
    a = lines["cost_at_zero"].to_numpy(float)
    b = lines["cost_per_price_unit"].to_numpy(float)
    q = lines["qaly"].to_numpy(float)
    names = list(lines["strategy"])
    rows = []
    for w in _wtps(lines, wtp):
        v = w * q - a
        cuts = {float(min_price)}
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                if b[i] != b[j]:
                    p = (v[i] - v[j]) / (b[i] - b[j])
                    if p > min_price and math.isfinite(p):
                        cuts.add(p)
        edges = sorted(cuts)
        probes = [(lo + hi) / 2 for lo, hi in zip(edges, edges[1:], strict=False)]
        probes.append(edges[-1] + max(1.0, edges[-1]))
        spans: list[list] = []
        for lo, probe in zip(edges, probes, strict=True):
            k = _best(lines, w, probe)
            if spans and spans[-1][0] == k:
                continue
            if spans:
                spans[-1][2] = lo
            spans.append([k, lo, math.inf])
        for n, (k, lo, hi) in enumerate(spans):
            at = (lo + hi) / 2 if math.isfinite(hi) else lo + max(1.0, abs(lo))
            inc = incremental_analysis(costs(lines, at)).set_index("strategy").loc[names[k]]
            rows.append(
                dict(
                    wtp=w,
                    strategy=names[k],
                    price_from=lo,
                    price_to=hi,
                    frontier_status=inc["status"],
                    compared_with=inc["compared_with"],
                    frontier_icer=inc["icer"],
                    evaluated_at_price=at,
                    preferred_below=names[spans[n - 1][0]] if n else None,
                    preferred_above=names[spans[n + 1][0]] if n + 1 < len(spans) else None,
                    price_unit=lines["price_unit"].iloc[0],
                    currency=lines["currency"].iloc[0],
                )
            )
        for k, name in enumerate(names):
            if all(s[0] != k for s in spans):
                rows.append(dict(wtp=w, strategy=name, price_from=math.nan, price_to=math.nan))
    out = pd.DataFrame(rows)
    never = f"not preferred at any price >= {min_price:,.0f}"
    out["note"] = np.where(out["price_from"].isna(), never, "")
    return out
