"""Cross-references of a scenario: names in one section that must match something defined in
another (a strategy's assay, a trial's therapy, a study's arms, a correlated parameter), each
problem with the location of the name so that it is reported with its file and line.
"""

from __future__ import annotations

import difflib

from .bundled import available_tables
from .problems import Loc, shorten
from .quantities import parameters
from .schema import Scenario
from .targets import available_quantities, is_quantity


def references(s: Scenario) -> list[tuple[Loc, str]]:
    """Names that must match something defined elsewhere in the scenario."""
    out: list[tuple[Loc, str]] = []

    def need(loc: Loc, kind: str, name: str, names, where: str) -> None:
        names = list(names)
        if name not in names:
            guess = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
            hint = f"; did you mean {shorten(guess[0])!r}?" if guess else ""
            listing = f"{where}: {shorten(', '.join(names) or 'none', 4000)}"
            out.append((loc, f"{kind} {shorten(name)!r} is not defined{hint} ({listing})"))

    need(("reference",), "strategy", s.reference, s.strategies, "defined under strategies")
    for name, st in s.strategies.items():
        at, assays = ("strategies", name), "defined under assays"
        if st.monitoring:
            need(at + ("monitoring", "assay"), "assay", st.monitoring.assay, s.assays, assays)
        if st.switch:
            therapies = s.switch_therapies, "defined under switch_therapies"
            need(at + ("switch", "to"), "switch therapy", st.switch.to, *therapies)
        if st.test_at_progression:
            loc = at + ("test_at_progression",)
            need(loc + ("assay",), "assay", st.test_at_progression.assay, s.assays, assays)
            if s.targeted_second_line is None:
                out.append((loc, "testing at progression needs a 'targeted_second_line' section"))
    table = s.cohort.background_mortality.life_table
    if table is not None:
        loc = ("cohort", "background_mortality", "life_table")
        need(loc, "life table", table, available_tables(), "bundled tables")
    out += _trials(s, need)
    out += _limits_of_detection(s)
    if s.targets:
        known = available_quantities(s)
        for name in s.targets:
            if not is_quantity(name, s):
                need(("targets", name), "target quantity", name, known, "measured quantities")
    out += _joint_uncertainty(s, need)
    out += _studies(s, need)
    return out


def _limits_of_detection(s: Scenario) -> list[tuple[Loc, str]]:
    """With ctDNA kinetics every assay needs a limit of detection (the level it sees)."""
    if s.natural_history.ctdna is None:
        return []
    return [
        (
            ("assays", name),
            "needs a limit_of_detection (percent MAF, e.g. limit_of_detection: "
            "0.25): natural_history has ctdna: kinetics, so an assay sees a mutation only from "
            "its limit",
        )  # fmt: skip
        for name, assay in s.assays.items()
        if assay.limit_of_detection is None
    ]


def _trials(s: Scenario, need) -> list[tuple[Loc, str]]:
    """A virtual trial's assay and therapy must exist (when omitted, a monitoring strategy
    must supply them), and its name must not be a strategy's (both prefix target names)."""
    out: list[tuple[Loc, str]] = []
    monitored = [st for st in s.strategies.values() if st.monitoring is not None]
    for name, trial in s.trials.items():
        at = ("trials", name)
        if name in s.strategies:
            clash = f"trial {shorten(name)!r} has the name of a strategy: target names "
            ambiguous = f"'{shorten(name)}.<quantity>' would be ambiguous; rename the trial"
            out.append((at, clash + ambiguous))
        if trial.assay is not None:
            need(at + ("assay",), "assay", trial.assay, s.assays, "defined under assays")
        if trial.therapy is not None:
            therapies = s.switch_therapies, "defined under switch_therapies"
            need(at + ("therapy",), "switch therapy", trial.therapy, *therapies)
        if not monitored and (trial.assay is None or trial.therapy is None):
            missing = " and ".join(k for k in ("assay", "therapy") if getattr(trial, k) is None)
            out.append((at, f"give the trial's {missing}: the scenario has no strategy with "
                            "monitoring to take them from"))  # fmt: skip
    return out


def _joint_uncertainty(s: Scenario, need) -> list[tuple[Loc, str]]:
    """Parameters named in ``uncertainty:`` must exist; correlated ones need a ``psa:``
    marginal and Dirichlet ones must be probabilities."""
    params = parameters(s)
    out: list[tuple[Loc, str]] = []
    for i, corr in enumerate(s.uncertainty.correlations):
        for j, name in enumerate(corr.parameters):
            loc = ("uncertainty", "correlations", i, "parameters", j)
            if name not in params:
                need(loc, "parameter", name, params, "parameters")
            elif params[name].psa is None or params[name].psa.dist == "fixed":
                msg = f"parameter {shorten(name)!r} has no psa: distribution to correlate"
                out.append((loc, msg))
    for i, group in enumerate(s.uncertainty.dirichlet):
        for j, name in enumerate(group.parameters):
            loc = ("uncertainty", "dirichlet", i, "parameters", j)
            if name not in params:
                need(loc, "parameter", name, params, "parameters")
            elif type(params[name]).__name__ != "Probability":
                out.append((loc, f"parameter {shorten(name)!r} is not a probability"))
    return out


def _studies(s: Scenario, need) -> list[tuple[Loc, str]]:
    """A study's arms must be strategies, and a screening strategy must monitor and switch.
    (Its parameters are checked by :func:`study_parameter_problems`: a warning, so that a
    variant changing a parameter's law still loads.)"""
    out: list[tuple[Loc, str]] = []
    for name, study in s.studies.items():
        at = ("studies", name)
        for i, arm in enumerate(study.arms):
            need(at + ("arms", i), "strategy", arm, s.strategies, "defined under strategies")
        if study.screening is not None:
            loc, st = at + ("screening",), s.strategies.get(study.screening)
            need(loc, "strategy", study.screening, s.strategies, "defined under strategies")
            if st is not None and st.monitoring is None:
                msg = f"strategy {shorten(study.screening)!r} has no monitoring and switch: "
                out.append((loc, msg + "randomising on detection needs both"))
    return out


def study_parameter_problems(s: Scenario) -> list[tuple[Loc, str]]:
    """Parameters a study measures or informs must exist and be uncertain (drawn in the PSA),
    and an accuracy study's parameter must be a probability: else the study cannot be valued."""
    params = parameters(s)
    posterior = s.uncertainty.posterior
    drawn = set(posterior.parameters) if posterior is not None else set()
    drawn |= {p for g in s.uncertainty.dirichlet for p in g.parameters}
    drawn |= {p for p, v in params.items() if v.psa is not None and v.psa.dist != "fixed"}
    out: list[tuple[Loc, str]] = []
    for name, study in s.studies.items():
        at = ("studies", name)
        named = [(at + ("informs", i), p) for i, p in enumerate(study.informs)]
        if study.parameter is not None:
            named.append((at + ("parameter",), study.parameter))
        for loc, p in named:
            if p not in params:
                guess = difflib.get_close_matches(p, list(params), n=1, cutoff=0.6)
                hint = f"; did you mean {shorten(guess[0])!r}?" if guess else ""
                out.append((loc, f"parameter {shorten(p)!r} is not defined{hint}"))
            elif p not in drawn:
                msg = f"parameter {shorten(p)!r} is not uncertain (no psa: distribution and "
                out.append((loc, msg + "not in uncertainty:), so no study can inform it"))
        p = study.parameter
        if p in params and type(params[p]).__name__ != "Probability":
            msg = f"parameter {shorten(p)!r} is not a probability: an accuracy study "
            out.append((at + ("parameter",), msg + "measures a probability"))
    return out
