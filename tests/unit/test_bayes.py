"""Bayesian calibration (hemodel.credibility.bayes) and posterior draws as the joint PSA
distribution of the calibrated parameters (uncertainty.posterior)."""

from __future__ import annotations

import math
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from hemodel.analysis.psa import draw_table, run_psa, uncertain_parameters
from hemodel.commands.main import main
from hemodel.credibility.bayes import (
    LogPosterior,
    SimulatedTargets,
    _unranged,
    calibrate_bayes,
    log_likelihood,
)
from hemodel.credibility.posterior_files import write_posterior
from hemodel.credibility.priors import Prior, priors_of
from hemodel.credibility.validate import Measure
from hemodel.scenario.load import (
    ScenarioError,
    load_scenario,
    parameters,
    scenario_from_dict,
    with_values,
)
from hemodel.scenario.schema import Target

from ..conftest import ROOT, tiny_dict

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TINY = ROOT / "scenarios" / "tiny.yaml"
HR = "switch_therapies.new_drug.hazard_ratio"
EMERGENCE = "natural_history.esr1_emergence.probability"
PROGRESSION = "natural_history.esr1_progression.median"
SENS = "assays.blood_test.sensitivity"
MEDIAN = "serena6.pfs_median_months.continue"


# --------------------------------------------------------------------------------------
# Likelihood and priors, by hand
# --------------------------------------------------------------------------------------
def test_gaussian_log_likelihood_equals_a_hand_computation():
    """Σ −½ z²/(1 + ρ²) − ½ log(1 + ρ²): z the residual in target SEs (log scale for a hazard
    ratio), ρ the simulation's Monte Carlo SE (from its 95% CI) in target SEs."""
    targets = {
        MEDIAN: Target(value=9.2, ci=(7.2, 9.5)),
        "serena6.pfs_hazard_ratio": Target(value=0.44, ci=(0.31, 0.60)),
    }
    measures = {
        MEDIAN: Measure(9.0, low=8.0, high=10.2, smooth=9.7),
        "serena6.pfs_hazard_ratio": Measure(0.5, low=0.45, high=0.56, smooth=0.5),
    }
    se1 = (9.5 - 7.2) / 3.92
    z1, rho1 = (9.7 - 9.2) / se1, (10.2 - 8.0) / 3.92 / se1
    se2 = (math.log(0.60) - math.log(0.31)) / 3.92
    z2 = (math.log(0.5) - math.log(0.44)) / se2
    rho2 = (math.log(0.56) - math.log(0.45)) / 3.92 / se2
    expected = sum(-0.5 * z * z / (1 + r * r) - 0.5 * math.log(1 + r * r)
                   for z, r in ((z1, rho1), (z2, rho2)))  # fmt: skip
    assert log_likelihood(targets, measures) == pytest.approx(expected, rel=1e-12)
    # without Monte Carlo error: the plain Gaussian, −½ z² summed
    exact = {k: Measure(m.value, smooth=m.smooth) for k, m in measures.items()}
    assert log_likelihood(targets, exact) == pytest.approx(-0.5 * (z1**2 + z2**2), rel=1e-12)
    # a tolerance gives SE = tolerance / 2; one finite CI limit a one-sided MC SE
    tol = {"serena6.cumulative_detection": Target(value=0.42, tolerance=0.03)}
    m = {"serena6.cumulative_detection": Measure(0.45, low=0.43, high=math.nan, smooth=0.45)}
    z, rho = 0.03 / 0.015, (0.45 - 0.43) / 1.96 / 0.015
    expected = -0.5 * z * z / (1 + rho**2) - 0.5 * math.log(1 + rho**2)
    assert log_likelihood(tol, m) == pytest.approx(expected, rel=1e-12)
    # a quantity that cannot be measured (median not reached): zero likelihood
    assert log_likelihood(targets, {**measures, MEDIAN: Measure(math.nan)}) == -math.inf


def test_prior_with_jacobian_on_logit_and_log_scales_equals_a_hand_computation():
    """A probability is sampled on the logit scale, a positive parameter on the log scale:
    the density of z is p(θ(z)) |dθ/dz|, |dθ/dz| = θ(1 − θ) and θ."""
    data = tiny_dict(**{
        EMERGENCE: {"value": 0.5, "psa": {"dist": "beta", "alpha": 2, "beta": 5}},
        HR: {"value": 0.5, "psa": {"dist": "gamma", "shape": 4, "scale": 0.125}},
        PROGRESSION: {"value": 9, "unit": "months", "range": [6, 13]},
    })  # fmt: skip
    beta, gamma, uniform = priors_of(scenario_from_dict(data), [EMERGENCE, HR, PROGRESSION])
    assert (beta.scale, gamma.scale, uniform.scale) == ("logit", "log", "log")
    assert "psa" in beta.source and "uniform on range [6, 13]" in uniform.source

    z = 0.3
    t = 1 / (1 + math.exp(-z))
    log_beta = math.lgamma(7) - math.lgamma(2) - math.lgamma(5) + math.log(t) + 4 * math.log(1 - t)
    assert beta.log_density(z) == pytest.approx(log_beta + math.log(t) + math.log(1 - t), 1e-12)

    z = math.log(0.4)
    log_gamma = 3 * math.log(0.4) - 0.4 / 0.125 - math.lgamma(4) - 4 * math.log(0.125)
    assert gamma.log_density(z) == pytest.approx(log_gamma + z, rel=1e-12)

    assert uniform.log_density(math.log(10)) == pytest.approx(-math.log(7) + math.log(10))
    assert uniform.log_density(math.log(14)) == -math.inf  # outside the range

    # the log posterior adds likelihood, prior and Jacobian; the model is not run outside
    calls = []

    def model(values):
        calls.append(values)
        return {"serena6.pfs_hazard_ratio": Measure(values[HR], smooth=values[HR])}

    targets = {"serena6.pfs_hazard_ratio": Target(value=0.44, ci=(0.31, 0.60))}
    f = LogPosterior((gamma,), targets, model)
    post, ll, prior, evaluated = f(np.array([math.log(0.4)]))
    assert ll == pytest.approx(log_likelihood(targets, model({HR: 0.4})))
    assert prior == pytest.approx(log_gamma) and evaluated == 1
    assert post == pytest.approx(ll + log_gamma + math.log(0.4))
    g = LogPosterior((uniform,), {}, model)
    before = len(calls)
    assert g(np.array([math.log(20)]))[0] == -math.inf and len(calls) == before


def test_a_free_parameter_without_psa_or_range_is_refused_by_name():
    with pytest.raises(ValueError, match=f"no prior for {HR}"):
        priors_of(scenario_from_dict(tiny_dict()), [HR])


# --------------------------------------------------------------------------------------
# A problem with a known posterior
# --------------------------------------------------------------------------------------
class LogLinear:
    """A stand-in for the simulation: the hazard ratio target measures θ itself, with a
    Monte Carlo 95% CI of log-width 2 × 1.96 × ``mc`` (picklable, for worker processes)."""

    def __init__(self, mc: float = 0.0):
        self.mc = mc

    def __call__(self, values):
        x = values[HR]
        k = math.exp(1.96 * self.mc)
        return {"serena6.pfs_hazard_ratio": Measure(x, x / k if self.mc else math.nan,
                                                    x * k if self.mc else math.nan, x)}  # fmt: skip


def conjugate(m0=0.6, s0=0.3, y=0.45, s=0.12):
    """tiny.yaml with a log-normal prior (median m0, sdlog s0) on the switch hazard ratio and a
    hazard-ratio target y whose 95% CI has log-scale SE s."""
    data = tiny_dict(**{HR: {"value": m0, "psa": {"dist": "lognormal", "median": m0,
                                                  "sdlog": s0}}})  # fmt: skip
    data["targets"] = {"serena6.pfs_hazard_ratio": {
        "value": y, "ci": [y * math.exp(-1.96 * s), y * math.exp(1.96 * s)]}}  # fmt: skip
    return scenario_from_dict(data)


def test_conjugate_normal_posterior_is_recovered():
    """On z = log θ the prior is N(log m0, s0²) and the likelihood N(log y; z, s² + mc²)
    (target SE and the simulation's Monte Carlo SE): the posterior is normal with precision
    1/s0² + 1/(s² + mc²). Mean within 4 MC standard errors (effective sample size taken as
    the draws over 30, a generous autocorrelation time) and sd within 12%."""
    m0, s0, y, s, mc = 0.6, 0.3, 0.45, 0.12, 0.09
    scenario = conjugate(m0, s0, y, s)
    post = calibrate_bayes(scenario, [HR], seed=3, walkers=24, steps=300, burn=60,
                           model=LogLinear(mc), predictive=5)  # fmt: skip
    v = s * s + mc * mc
    precision = 1 / s0**2 + 1 / v
    mean = (math.log(m0) / s0**2 + math.log(y) / v) / precision
    sd = math.sqrt(1 / precision)
    z = np.log(post.draws[HR].to_numpy())
    assert len(z) == 24 * 240
    assert abs(z.mean() - mean) < 4 * sd / math.sqrt(len(z) / 30), (z.mean(), mean)
    assert z.std() == pytest.approx(sd, rel=0.12)
    assert 0.3 < post.acceptance_fraction < 0.95
    assert post.evaluations <= 24 * 301
    assert post.predictive_evaluations == 5
    row = post.predictive.iloc[0]
    assert row["predictive_low"] <= row["predictive_median"] <= row["predictive_high"]


def test_same_seed_same_posterior_csv_and_workers_do_not_matter(tmp_path):
    """The whole run is a function of the seed: the same seed writes the same posterior.csv
    (byte for byte), on one worker or two; another seed gives other draws."""
    scenario = conjugate()

    def csv(seed, folder, **execution):
        post = calibrate_bayes(scenario, [HR], seed=seed, walkers=8, steps=6, burn=2,
                               model=LogLinear(0.05), predictive=0, **execution)  # fmt: skip
        original = tmp_path / folder / "original.yaml"  # extended from its own folder
        original.parent.mkdir()
        original.write_text("name: x\n")
        return write_posterior(post, original, tmp_path / folder)["draws"].read_bytes()

    first = csv(5, "a")
    assert first == csv(5, "b")
    assert first == csv(5, "c", workers=2, backend="processes")
    assert first != csv(6, "d")


def test_free_parameters_may_leave_their_one_way_range():
    """A prior wider than a parameter's range: (which is for the DSA) must not break the
    simulation (a virtual trial's scenario with a value outside its range is inconsistent);
    a scenario that cannot be built at the proposed values has zero likelihood."""
    wide = {"dist": "lognormal", "median": 9, "sdlog": 0.5}
    data = tiny_dict(**{PROGRESSION: {"value": 9, "unit": "months", "range": [8, 10], "psa": wide}})
    data["targets"] = {MEDIAN: {"value": 9.5, "ci": [8, 11]}}
    scenario = scenario_from_dict(data)
    free = _unranged(scenario, [PROGRESSION])
    assert parameters(free)[PROGRESSION].range is None
    assert parameters(free)[PROGRESSION].psa == parameters(scenario)[PROGRESSION].psa
    measures = SimulatedTargets(free, (MEDIAN,), 100, 1)({PROGRESSION: 15.0})
    assert measures[MEDIAN].n > 0

    def invalid(values):
        raise ScenarioError([])

    [prior] = priors_of(scenario, [PROGRESSION])
    f = LogPosterior((prior,), dict(scenario.targets), invalid)
    assert f(np.array([math.log(15.0)]))[:2] == (-math.inf, -math.inf)


def test_bad_settings_are_refused():
    scenario = conjugate()
    with pytest.raises(ValueError, match="walkers"):
        calibrate_bayes(scenario, [HR], walkers=1, model=LogLinear())
    with pytest.raises(ValueError, match="burn"):
        calibrate_bayes(scenario, [HR], steps=5, burn=5, model=LogLinear())
    with pytest.raises(KeyError, match="unknown parameters"):
        calibrate_bayes(scenario, ["costs.nonsense"], model=LogLinear())
    with pytest.raises(ValueError, match="zero prior density"):
        calibrate_bayes(scenario, [HR], start={HR: -1.0}, model=LogLinear())


# --------------------------------------------------------------------------------------
# Posterior draws in the PSA
# --------------------------------------------------------------------------------------
def write_draws(path: Path, n: int = 400, rho: float = 0.8, seed: int = 0) -> pd.DataFrame:
    """Correlated draws of the blood test's sensitivity and the switch hazard ratio."""
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((2, n))
    d = pd.DataFrame({
        SENS: 1 / (1 + np.exp(-(2.0 + 0.3 * a))),
        HR: np.exp(math.log(0.5) + 0.15 * (rho * a + math.sqrt(1 - rho**2) * b)),
        "log_likelihood": -a**2,
    })  # fmt: skip
    d.to_csv(path, index=False)
    return d


def posterior_scenario(tmp_path: Path, draws: str = "draws.csv", **extra) -> Path:
    """A scenario file extending tiny.yaml with its PSA draws of two parameters from
    ``draws``; the posterior entry's parameters are on line 6, its draws on line 7."""
    text = (
        f"extends: {TINY}\n"
        "assays: {blood_test: {sensitivity: {value: 0.88,\n"
        "  psa: {dist: beta, mean: 0.88, sd: 0.01}}}}\n"
        "uncertainty:\n"
        "  posterior:\n"
        f"    parameters: [{SENS}, {HR}]\n"
        f"    draws: {draws}\n"
    )
    for key, value in extra.items():
        text += f"{key}: {value}\n"
    path = tmp_path / "posterior.yaml"
    path.write_text(text)
    return path


def test_psa_samples_take_whole_rows_of_the_posterior_draws(tmp_path):
    """Each PSA sample is one row of the CSV (both parameters together, the sensitivity's own
    psa: ignored), rows are picked uniformly, and the two parameters' correlation in the PSA
    equals that of the draws (within 4 sampling SEs)."""
    d = write_draws(tmp_path / "draws.csv")
    s = load_scenario(posterior_scenario(tmp_path))
    assert len(s.uncertainty.posterior.table) == len(d)
    assert set(uncertain_parameters(s)) == {SENS, HR}
    assert parameters(s)[SENS].value == 0.88  # the base case is the scenario's value
    n = 4000
    t = draw_table(s, np.arange(1, n + 1), seed=7)
    rows = {(a, b) for a, b in zip(d[SENS], d[HR], strict=True)}
    assert all((a, b) in rows for a, b in zip(t[SENS], t[HR], strict=True))
    counts = pd.Series(list(zip(t[SENS], t[HR], strict=True))).value_counts()
    assert counts.size > 0.95 * len(d)  # uniform over rows: nearly every row is taken
    want = np.corrcoef(d[SENS], d[HR])[0, 1]
    got = np.corrcoef(t[SENS], t[HR])[0, 1]
    assert abs(got - want) < 4 * (1 - want**2) / math.sqrt(n)
    again = draw_table(s, [3, 1, 2], seed=7)  # keyed by (seed, sample): order-free
    assert again[HR][1] == t[HR][0] and again[SENS][0] == t[SENS][2]


def test_posterior_draws_survive_pickling_and_psa_is_identical_on_one_and_two_workers(tmp_path):
    write_draws(tmp_path / "draws.csv", n=50)
    s = load_scenario(posterior_scenario(tmp_path))
    assert pickle.loads(pickle.dumps(s)) == s
    assert with_values(s, {"costs.visit": 120}).uncertainty.posterior == s.uncertainty.posterior
    one = run_psa(s, samples=3, patients=40, seed=2, workers=1)
    two = run_psa(s, samples=3, patients=40, seed=2, workers=2, backend="processes")
    pd.testing.assert_frame_equal(one[0], two[0])
    pd.testing.assert_frame_equal(one[1], two[1])
    assert one[0].groupby("sample")["cost"].sum().nunique() == 3  # the draws moved the model


@pytest.mark.parametrize(
    ("content", "field", "words"),
    [
        (None, "uncertainty.posterior.draws", ["draws file 'draws.csv' not found"]),
        ("", "uncertainty.posterior.draws", ["is empty"]),
        (f"{SENS},log_likelihood\n0.9,1\n", "uncertainty.posterior.parameters.1",
         [f"column '{HR}' is missing", "its columns: " + SENS]),
        (f"{SENS},{HR}\n", "uncertainty.posterior.draws", ["no draws"]),
        (f"{SENS},{HR}\n0.9,0.5\n0.9,abc\n", "uncertainty.posterior.draws",
         [f"line 3, column '{HR}'", "'abc' is not a finite number"]),
        (f"{SENS},{HR}\n1.5,0.5\n", "uncertainty.posterior.draws",
         ["line 2", "= 1.5 is not allowed", "probability"]),
    ],
    ids=["missing", "empty", "no_column", "no_rows", "not_a_number", "not_allowed"],
)  # fmt: skip
def test_a_bad_draws_file_gives_one_clear_problem_naming_field_and_line(
    tmp_path, content, field, words
):
    if content is not None:
        (tmp_path / "draws.csv").write_text(content)
    path = posterior_scenario(tmp_path)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    [problem] = info.value.problems
    assert problem.path == field
    assert Path(problem.file).name == "posterior.yaml"
    assert problem.line == (7 if field.endswith("draws") else 6)
    for w in words:
        assert w in problem.message, problem.message


def test_posterior_parameters_are_checked_against_the_scenario(tmp_path):
    write_draws(tmp_path / "draws.csv", n=5)
    corr = f"correlations: [{{parameters: [{SENS}, {EMERGENCE}], matrix: [[1, .5], [.5, 1]]}}]"
    text = posterior_scenario(tmp_path).read_text()
    (tmp_path / "c.yaml").write_text(text.replace("uncertainty:\n", f"uncertainty:\n  {corr}\n"))
    with pytest.raises(ScenarioError, match="drawn from the posterior .* correlations group 0"):
        load_scenario(tmp_path / "c.yaml")
    (tmp_path / "u.yaml").write_text(text.replace(f"[{SENS},", f"[{SENS[:-2]},"))
    with pytest.raises(ScenarioError, match="did you mean 'assays.blood_test.sensitivity'"):
        load_scenario(tmp_path / "u.yaml")
    (tmp_path / "t.yaml").write_text(text + "    table: [[0.9, 0.5]]\n")
    with pytest.raises(ScenarioError, match="table: is read from the draws file"):
        load_scenario(tmp_path / "t.yaml")


# --------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------
def test_cli_calibrate_bayes_writes_every_output_and_its_scenario_runs_a_psa(tmp_path, capsys):
    """tiny.yaml with two targets and two free parameters, 300 patients, 6 walkers × 4 steps:
    all outputs are written; the written scenario holds the posterior medians and `hemodel
    psa` draws its calibrated parameters from rows of posterior.csv."""
    scenario = tmp_path / "tiny_targets.yaml"
    scenario.write_text(
        f"extends: {TINY}\n"
        "natural_history:\n"
        "  esr1_emergence:\n"
        "    probability: {value: 0.5, psa: {dist: beta, mean: 0.5, sd: 0.08}}\n"
        "  esr1_progression:\n"
        "    distribution: exponential\n"
        "    median: {value: 9, unit: months, range: [6, 13]}\n"
        "targets:\n"
        f"  {MEDIAN}: {{value: 9.5, ci: [8, 11]}}\n"
        "  serena6.cumulative_detection: {value: 0.45, tolerance: 0.05}\n"
    )
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["calibrate", str(scenario), "--method", "bayes", "--free", EMERGENCE,
                     PROGRESSION, "--patients", "300", "--walkers", "6", "--steps", "4",
                     "--burn", "1", "--out", str(out), "--quiet"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Posterior (6 walkers × 4 steps" in captured.out
    for name in ("posterior.csv", "posterior_summary.csv", "posterior_predictive.csv",
                 "tiny_targets_posterior.yaml"):  # fmt: skip
        assert (out / name).is_file(), name
    assert (out / "posterior_predictive.png").stat().st_size > 10_000
    draws = pd.read_csv(out / "posterior.csv")
    assert len(draws) == 6 * 3
    assert {EMERGENCE, PROGRESSION, "log_likelihood", "log_prior"} <= set(draws)
    summary = pd.read_csv(out / "posterior_summary.csv")
    assert list(summary["parameter"]) == [EMERGENCE, PROGRESSION]
    assert {"mean", "sd", "q2.5", "q50", "q97.5", "acceptance_fraction", "evaluations",
            "wall_seconds"} <= set(summary)  # fmt: skip
    assert summary["evaluations"].iloc[0] <= 6 * 5
    predictive = pd.read_csv(out / "posterior_predictive.csv")
    assert list(predictive["quantity"]) == [MEDIAN, "serena6.cumulative_detection"]

    written = out / "tiny_targets_posterior.yaml"
    # the folder is complete in itself: it holds a copy of the scenario it extends
    assert yaml.safe_load(written.read_text())["extends"] == "scenario/tiny_targets.yaml"
    assert (out / "scenario" / "tiny_targets.yaml").read_bytes() == scenario.read_bytes()
    calibrated = load_scenario(written)
    for p in (EMERGENCE, PROGRESSION):
        assert parameters(calibrated)[p].value == pytest.approx(np.median(draws[p]), rel=1e-12)
    assert calibrated.uncertainty.posterior.parameters == [EMERGENCE, PROGRESSION]

    psa = tmp_path / "psa"
    code = main(["psa", str(written), "--samples", "4", "--patients", "50", "--out", str(psa),
                 "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    drawn = pd.read_csv(psa / "psa_parameters.csv")
    rows = set(zip(draws[EMERGENCE], draws[PROGRESSION], strict=True))
    assert all(r in rows for r in zip(drawn[EMERGENCE], drawn[PROGRESSION], strict=True))


def test_cli_bayes_options_belong_to_bayes(tmp_path, capsys):
    assert main(["calibrate", "tiny", "--free", EMERGENCE, "--walkers", "8"]) == 2
    assert "only with --method bayes" in capsys.readouterr().err
    assert main(["calibrate", "tiny", "--method", "bayes", "--free", EMERGENCE,
                 "--max-evaluations", "3"]) == 2  # fmt: skip
    assert "--max-evaluations is for least squares" in capsys.readouterr().err


def test_prior_is_a_frozen_scipy_distribution_when_given():
    scenario = conjugate()
    [p] = priors_of(scenario, [HR], {HR: stats.lognorm(0.5, scale=0.5)})
    assert isinstance(p, Prior) and p.source == "given"
    [q] = priors_of(scenario, [HR], {HR: {"dist": "uniform", "low": 0.2, "high": 0.9}})
    assert q.log_pdf(0.5) == pytest.approx(-math.log(0.7))
