"""``hemodel calibrate``: fit free parameters to the scenario's ``targets:``."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..scenario.load import extends_name
from .arguments import (
    UsageError,
    add_execution_arguments,
    add_scenario_arguments,
    count,
    execution,
    open_scenario,
    positive_int,
)
from .output import check_file, output_folder

_BAYES_ONLY = ("walkers", "steps", "burn", "predictive_draws")

EXAMPLE = """example:
  hemodel calibrate scenarios/serena6_us.yaml --out scenarios/serena6_us_calibrated.yaml \\
    --free natural_history.esr1_emergence.probability natural_history.esr1_progression.median

fits the free parameters (dotted paths; `hemodel.parameters()` lists them) by least
squares on the same simulated patients (common random numbers), prints the fit per target and
writes a scenario that extends the original with the fitted values and a comment recording
the date, seed, objective and targets. Exits with code 1 when the best point fails a target
(the scenario is still written, for inspection).

  hemodel calibrate scenarios/serena6_us.yaml --method bayes --out posterior/ \\
    --free natural_history.esr1_emergence.probability natural_history.esr1_progression.median

samples the posterior of the free parameters (priors: their psa: distributions, else uniform
on their range:) under a Gaussian likelihood of the targets with emcee, on the same patients
at every evaluation: walkers x steps evaluations (default max(2 x free + 2, 8) x 60, the
first 20 steps discarded). Writes to --out (default <name>_posterior/): posterior.csv (the
draws), posterior_summary.csv, posterior_predictive.csv and .png (targets against the
re-simulated model) and <name>_posterior.yaml, a scenario that extends the original with the
posterior medians and takes its PSA draws of those parameters jointly from posterior.csv.
See docs/validation.md, "Bayesian calibration".
"""


def register(sub) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit free parameters to the scenario's targets (writes an extending scenario)",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scenario_arguments(
        p,
        patients=5000,
        scenario_help="scenario YAML with a targets: section",
        scenario_required=True,
    )
    p.add_argument(
        "--free", nargs="+", required=True, metavar="PARAM", help="parameters to fit (dotted)"
    )
    p.add_argument(
        "--method",
        choices=("least-squares", "bayes"),
        default="least-squares",
        help="least-squares (default): a point estimate; bayes: posterior draws with emcee "
        "that the PSA then samples jointly",
    )
    p.add_argument(
        "--start",
        nargs="*",
        default=[],
        metavar="PARAM=VALUE",
        help="starting values (bayes: centre of the initial walkers)",
    )
    p.add_argument(
        "--max-evaluations",
        type=count(1, 100_000),
        help="least-squares: objective evaluations (default 150)",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="least-squares: calibrated scenario (default <name>_calibrated.yaml); bayes: "
        "output folder (default <name>_posterior/)",
    )
    bayes = p.add_argument_group("bayes (--method bayes)")
    bayes.add_argument(
        "--walkers", type=positive_int, help="emcee walkers (default max(2 x free + 2, 8))"
    )
    bayes.add_argument("--steps", type=positive_int, help="steps per walker (default 60)")
    bayes.add_argument(
        "--burn",
        type=lambda t: positive_int(t, 0),
        help="first steps discarded (default 20, at most a third of --steps)",
    )
    bayes.add_argument(
        "--predictive-draws",
        type=lambda t: positive_int(t, 0),
        help="posterior draws re-simulated for the predictive check (default 40)",
    )
    p.add_argument(
        "--quiet", action="store_true", help="no progress bar (on a terminal) or lines (piped)"
    )
    add_execution_arguments(p, resume=False)
    p.set_defaults(handler=run)


def run(args) -> int:
    import sys
    import warnings

    from ..credibility.calibrate import calibrate, format_fit, write_calibrated

    path, scenario = open_scenario(args.scenario)
    start = {}
    for spec in args.start:
        name, _, value = spec.partition("=")
        try:
            start[name] = float(value)
        except ValueError:
            raise UsageError(f"--start wants PARAM=VALUE, got {spec!r}") from None
    if set(start) - set(args.free):
        raise UsageError(
            f"--start names parameters that are not --free: {set(start) - set(args.free)}"
        )
    if args.method == "bayes":
        if args.max_evaluations is not None:
            raise UsageError("--max-evaluations is for least squares: with --method bayes the "
                             "budget is --walkers x --steps")  # fmt: skip
        return _run_bayes(args, path, scenario, start)
    out = check_file(args.out or Path(f"{path.stem}_calibrated.yaml"))
    try:  # the calibrated file extends the scenario: refuse an --out it could not extend from
        extends_name(path, out.absolute().parent)
    except ValueError as exc:
        raise UsageError(f"--out: {exc}") from None
    given = [f"--{k.replace('_', '-')}" for k in _BAYES_ONLY if getattr(args, k) is not None]
    if given:
        raise UsageError(f"{', '.join(given)}: only with --method bayes")
    budget = 150 if args.max_evaluations is None else args.max_evaluations
    with (
        warnings.catch_warnings(),
        _progress(args.quiet, budget, "evaluation") as tell,
    ):
        warnings.simplefilter("ignore")

        def progress(values, objective):
            shown = ", ".join(f"{k.rsplit('.', 2)[-2]}.{k.rsplit('.', 1)[-1]}={v:.4g}"
                              for k, v in values.items())  # fmt: skip
            tell(f"objective {objective:9.4g}  {shown}")

        try:
            fit = calibrate(
                scenario,
                args.free,
                patients=args.patients,
                seed=args.seed,
                start=start,
                max_evaluations=budget,
                progress=progress,
                **execution(args),
            )
        except (KeyError, ValueError) as exc:
            print(f"hemodel calibrate: {exc}", file=sys.stderr)
            return 2
    print(format_fit(fit))
    write_calibrated(fit, path, out)
    print(f"\nWrote {out} (extends {path.name})")
    failing = fit.table.loc[~fit.table["passed"], "quantity"].tolist()
    if failing:
        print(
            f"hemodel calibrate: the best point fails {len(failing)} of {len(fit.table)} "
            f"targets ({', '.join(failing)}): {out} is written for inspection only; free "
            "other parameters, start elsewhere (--start) or allow more --max-evaluations",
            file=sys.stderr,
        )
        return 1
    return 0


def _copy_scenario(path: Path, folder: Path) -> Path:
    """Copy the scenario file ``path`` and the files it reads (its parents, their posterior
    draws: :func:`~hemodel.scenario.load.local_files`) into ``folder``/scenario, keeping their
    places relative to ``path``'s folder, so that the output folder is complete in itself (a
    scenario may extend only files in its own folder or below). Returns the copy of ``path``,
    or ``path`` itself for a bundled scenario (extended by name)."""
    import shutil

    from ..scenario.load import local_files

    files = local_files(path)
    if not files:
        return path
    home = files[0].parent
    for file in files:
        target = folder / "scenario" / file.relative_to(home)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)
    return folder / "scenario" / files[0].name


def _run_bayes(args, path: Path, scenario, start: dict) -> int:
    """``--method bayes``: sample, print the posterior, write the outputs."""
    import sys
    import warnings

    from ..credibility.bayes import BURN, PREDICTIVE, STEPS, calibrate_bayes
    from ..credibility.posterior_files import format_posterior, write_posterior
    from ..present.calibration_plots import posterior_predictive_plot

    steps = args.steps or STEPS
    burn = args.burn if args.burn is not None else min(BURN, steps // 3)
    with warnings.catch_warnings(), _progress(args.quiet, steps, "step") as tell:
        warnings.simplefilter("ignore")

        def progress(step, steps, evaluations, acceptance):
            tell(f"step {step}/{steps}: {evaluations} evaluations, acceptance {acceptance:.2f}")

        try:
            post = calibrate_bayes(
                scenario,
                args.free,
                patients=args.patients,
                seed=args.seed,
                walkers=args.walkers,
                steps=steps,
                burn=burn,
                start=start,
                predictive=PREDICTIVE if args.predictive_draws is None else args.predictive_draws,
                progress=progress,
                **execution(args),
            )
        except (KeyError, ValueError) as exc:
            print(f"hemodel calibrate: {exc}", file=sys.stderr)
            return 2
    print(format_posterior(post))
    out = args.out or Path(f"{path.stem}_posterior")
    with output_folder(out, "calibrate") as folder:
        original = _copy_scenario(path, folder)
        written = write_posterior(post, original, folder)
        if post.predictive is not None:
            written["plot"] = folder / "posterior_predictive.png"
            title = f"{scenario.name}: targets against the calibrated model"
            posterior_predictive_plot(post.predictive, written["plot"], scenario, title)
    written = {key: out / p.name for key, p in written.items()}
    names = ", ".join(p.name for p in written.values())
    print(f"\nWrote to {out}: {names}\n(PSA: hemodel psa {written['scenario']})")
    return 0


@contextmanager
def _progress(quiet: bool, total: int, unit: str) -> Iterator[Callable[[str], None]]:
    """``tell(line)`` after each of at most ``total`` steps: on a terminal a progress bar
    with ``line`` beside it; piped (or under CI), ``line`` on stderr after the seconds
    elapsed; with ``--quiet``, nothing."""
    import sys
    import time

    from ..run.progress import progress_bar

    t0 = time.time()
    with progress_bar(total, "calibrate", unit, False if quiet else None, leave=False) as bar:
        shown = not bar.disable

        def tell(line: str) -> None:
            if shown:
                bar.set_postfix_str(line, refresh=False)
                bar.update()
            elif not quiet:
                print(f"  [{time.time() - t0:5.0f}s] {line}", file=sys.stderr, flush=True)

        yield tell
