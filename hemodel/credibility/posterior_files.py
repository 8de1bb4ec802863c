"""What a Bayesian calibration (:func:`hemodel.credibility.bayes.calibrate_bayes`) writes: the
posterior as text, its CSV files, and a scenario that ``extends:`` the original with the
posterior medians and declares the draws as the joint PSA distribution
(``uncertainty.posterior``)."""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..scenario.load import extends_name, parameters
from .bayes import Posterior
from .trial import trial_designs


def format_posterior(post: Posterior) -> str:
    """The posterior per parameter, the run and the predictive check, as text."""
    s = post.summary()
    shown = pd.DataFrame(
        {
            "Parameter": s["parameter"],
            "Prior": s["prior"],
            "Start": s["start"].map("{:.4g}".format),
            "Mean": s["mean"].map("{:.4g}".format),
            "SD": s["sd"].map("{:.3g}".format),
            "Median [95% interval]": [
                f"{m:.4g} [{a:.4g}, {b:.4g}]"
                for m, a, b in zip(s["q50"], s["q2.5"], s["q97.5"], strict=True)
            ],
        }
    )
    lines = [
        f"Posterior ({post.walkers} walkers × {post.steps} steps, first {post.burn} discarded: "
        f"{len(post.draws)} draws; {post.patients:,} patients, seed {post.seed}):",
        shown.to_string(index=False),
        "",
        f"Acceptance fraction {post.acceptance_fraction:.2f}; {post.evaluations} model "
        f"evaluations for the sampler, {post.predictive_evaluations} for the predictive "
        f"check; {post.seconds:.1f} s.",
    ]
    if post.predictive is not None:
        t = post.predictive
        table = pd.DataFrame(
            {
                "Quantity": t["quantity"],
                "Target [range]": [
                    f"{v:.3g} [{a:.3g}, {b:.3g}]"
                    for v, a, b in zip(t["target"], t["target_low"], t["target_high"], strict=True)
                ],
                "Predictive median [95%]": [
                    f"{v:.3g} [{a:.3g}, {b:.3g}]"
                    for v, a, b in zip(
                        t["predictive_median"],
                        t["predictive_low"],
                        t["predictive_high"],
                        strict=True,
                    )  # fmt: skip
                ],
            }
        )
        lines += [
            "",
            f"Posterior predictive check ({int(t['draws'].iloc[0])} draws re-simulated):",
            table.to_string(index=False),
        ]
    if post.acceptance_fraction < 0.15:
        lines.append("Note: low acceptance: run more steps, or check the priors and targets.")
    return "\n".join(lines)


def _overrides(post: Posterior) -> tuple[dict, dict, list[str]]:
    """Each free parameter at its posterior median, with its 95% interval as ``range:``
    (used by the DSA), and what changes in ``uncertainty:``; comment lines."""
    known = parameters(post.scenario)
    medians = post.medians()
    out: dict = {}
    notes = []
    today = _dt.date.today().isoformat()
    for p in post.free:
        entry = known[p].model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude={"psa", "range", "source"}
        )
        x = post.draws[p].to_numpy(float)
        lo, hi = (float(v) for v in np.percentile(x, [2.5, 97.5]))
        entry["value"] = medians[p]
        entry["range"] = [lo, hi]
        entry["source"] = (
            f"posterior median and 95% interval, hemodel calibrate --method bayes ({today}, "
            f"seed {post.seed})"
        )
        node = out
        *parents, last = p.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = entry
    unc = post.scenario.uncertainty
    free = set(post.free)
    correlations, changed = [], False
    for i, group in enumerate(unc.correlations):
        keep = [k for k, p in enumerate(group.parameters) if p not in free]
        if len(keep) == len(group.parameters):
            correlations.append(group.model_dump(mode="json"))
            continue
        changed = True
        dropped = [p for p in group.parameters if p in free]
        if len(keep) >= 2:
            m = np.asarray(group.matrix)[np.ix_(keep, keep)].tolist()
            correlations.append({"parameters": [group.parameters[k] for k in keep], "matrix": m})
            notes.append(f"{', '.join(dropped)} removed from correlations group {i}")
        else:
            notes.append(f"correlations group {i} dropped: it correlated {', '.join(dropped)}")
    dirichlet = [g.model_dump(mode="json") for g in unc.dirichlet if not free & set(g.parameters)]
    for i, g in enumerate(unc.dirichlet):
        if free & set(g.parameters):
            notes.append(f"dirichlet group {i} ({', '.join(g.parameters)}) dropped: it holds a "
                         "calibrated parameter")  # fmt: skip
    if unc.posterior is not None:
        left = [p for p in unc.posterior.parameters if p not in free]
        if left:
            notes.append(f"the parent's posterior of {', '.join(left)} is replaced: those "
                         "parameters keep their values without PSA uncertainty")  # fmt: skip
    uncertainty: dict = {}
    if changed:
        uncertainty["correlations"] = correlations
    if len(dirichlet) != len(unc.dirichlet):
        uncertainty["dirichlet"] = dirichlet
    return out, uncertainty, notes


def posterior_yaml(post: Posterior, original: Path, out: Path, draws: Path) -> str:
    """Text of a scenario that ``extends:`` ``original``: each free parameter at its posterior
    median (``range:`` its 95% interval) and the posterior draws (``draws``, a CSV) as the
    joint PSA distribution of the free parameters (``uncertainty.posterior``)."""
    import yaml

    from .. import __version__

    today = _dt.date.today().isoformat()
    trials = [
        f"{d.title} (ctDNA and imaging every {d.every_weeks:g} weeks)"
        for d in trial_designs(post.scenario, post.design).values()
    ]
    lines = [
        f"# Bayesian calibration with `hemodel calibrate --method bayes` on {today} "
        f"(hemodel {__version__}).",
        f"# Seed {post.seed}, {post.patients:,} patients per evaluation (the same patients "
        f"each time); virtual trials: {', '.join(trials)}.",
        f"# Gaussian synthetic likelihood of the targets, emcee ensemble sampler: "
        f"{post.walkers} walkers x {post.steps} steps, first {post.burn} discarded;",
        f"# {len(post.draws)} draws in {draws.name}; acceptance fraction "
        f"{post.acceptance_fraction:.2f}; {post.evaluations} + {post.predictive_evaluations} "
        f"model evaluations, {post.seconds:.0f} s. See docs/validation.md.",
        "# Free parameters: prior; start -> posterior median [95% interval]:",
    ]
    s = post.summary().set_index("parameter")
    for p in post.free:
        r = s.loc[p]
        lines.append(f"#   {p}: {r['prior']}; {r['start']:.4g} -> {r['q50']:.4g} "
                     f"[{r['q2.5']:.4g}, {r['q97.5']:.4g}]")  # fmt: skip
    if post.predictive is not None:
        lines.append("# Targets: target [range] -> posterior predictive median [95% interval]:")
        for _, r in post.predictive.iterrows():
            lines.append(
                f"#   {r['quantity']}: {r['target']:g} [{r['target_low']:.3g}, "
                f"{r['target_high']:.3g}] -> {r['predictive_median']:.3g} "
                f"[{r['predictive_low']:.3g}, {r['predictive_high']:.3g}]"
            )
    lines.append("# PSA samples take whole rows of the draws (uncertainty.posterior); each "
                 "value is the posterior median.")  # fmt: skip
    overrides, uncertainty, notes = _overrides(post)
    lines += [f"# Note: {n}." for n in notes]
    out_dir = Path(out).resolve().parent
    parent = extends_name(original, out_dir)
    body: dict = {"extends": parent, "name": f"{post.scenario.name} (Bayesian calibration)"}
    body.update(overrides)
    drawn = [p for p in post.free if not p.startswith("trials.")]
    if len(drawn) < len(post.free):
        lines.append("# Note: trials.* parameters describe the emulated trials, not patients: "
                     "set at their posterior median, not drawn in the PSA.")  # fmt: skip
    if drawn:
        uncertainty["posterior"] = {
            "draws": os.path.relpath(Path(draws).resolve(), out_dir),
            "parameters": drawn,
        }
    body["uncertainty"] = uncertainty
    text = yaml.safe_dump(body, sort_keys=False, default_flow_style=None, allow_unicode=True)
    return "\n".join(lines) + "\n" + text


def write_posterior(post: Posterior, original: Path, folder: Path) -> dict[str, Path]:
    """Write ``posterior.csv``, ``posterior_summary.csv``, ``posterior_predictive.csv`` (when
    computed) and ``<original stem>_posterior.yaml`` into ``folder``; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "draws": folder / "posterior.csv",
        "summary": folder / "posterior_summary.csv",
        "scenario": folder / f"{Path(original).stem}_posterior.yaml",
    }
    columns = [*post.free, "log_likelihood", "log_prior", "step", "walker"]
    post.draws[columns].to_csv(paths["draws"], index=False)
    post.summary().to_csv(paths["summary"], index=False)
    if post.predictive is not None:
        paths["predictive"] = folder / "posterior_predictive.csv"
        post.predictive.to_csv(paths["predictive"], index=False)
    text = posterior_yaml(post, original, paths["scenario"], paths["draws"])
    paths["scenario"].write_text(text, encoding="utf-8")
    return paths
