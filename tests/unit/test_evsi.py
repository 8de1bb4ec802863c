"""EVSI and ENBS: the estimators against closed forms, and `hemodel evsi` end to end.

Closed forms: with θ ~ N(μ0, σ0²), data X̄ ~ N(θ, σ²/n) and incremental net benefit w·θ, the
preposterior mean of θ is N(μ0, s²) with s² = σ0⁴/(σ0² + σ²/n), so
EVSI = w·(μ0·Φ(μ0/s) + s·φ(μ0/s)) − max(0, w·μ0) (Ades, Lu & Claxton 2004). With
θ ~ Beta(a, b) and x ~ Binomial(n, θ), x is beta-binomial and the posterior mean is
(a + x)/(a + b + n): EVSI = Σ_x P(x)·max(0, (a + x)/(a + b + n) − c) − max(0, a/(a + b) − c).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hemodel.analysis.evsi import (
    binomial_weights,
    evsi_moment_matching,
    evsi_regression,
    optimal_sizes,
    run_evsi,
)
from hemodel.analysis.population import decision_population
from hemodel.analysis.regression import regression_loss
from hemodel.scenario.load import load_scenario
from tests.unit.test_cli import TINY

K = 4000


def _normal(n: int, seed: int = 3, mu0: float = 0.1, s0: float = 1.0, sigma: float = 2.0):
    """Costs and QALYs of two strategies (the second's QALYs = θ), the data mean X̄ of n
    observations per sample, and the closed-form EVSI at WTP 1."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(mu0, s0, K)
    xbar = theta + rng.normal(0, sigma / np.sqrt(n), K) if n else np.full(K, np.nan)
    cs, qs = np.zeros((K, 2)), np.column_stack([np.zeros(K), theta])
    s = np.sqrt(s0**4 / (s0**2 + sigma**2 / n)) if n else 0.0
    exact = mu0 * stats.norm.cdf(mu0 / s) + s * stats.norm.pdf(mu0 / s) - mu0 if n else 0.0
    return cs, qs, theta, xbar[:, None], exact


@pytest.mark.parametrize("n", [1, 5, 50])
def test_regression_reproduces_the_normal_normal_closed_form(n):
    cs, qs, _, xbar, exact = _normal(n)
    value, se = evsi_regression(cs, qs, xbar, [1.0])
    assert exact > 0.03  # the data can change the decision
    assert abs(value[0] - exact) < 3 * se[0] + 0.005


def test_evsi_grows_towards_evppi_and_stays_below_it():
    values, ses = [], []
    for n in (1, 10, 100, 10_000):
        cs, qs, theta, xbar, _ = _normal(n)
        v, se = evsi_regression(cs, qs, xbar, [1.0])
        values.append(v[0])
        ses.append(se[0])
    evppi = regression_loss(cs, qs, theta[:, None], np.array([1.0])).mean()
    assert values == sorted(values)
    assert all(v <= evppi + 3 * s for v, s in zip(values, ses, strict=True))
    assert values[-1] == pytest.approx(evppi, abs=3 * ses[-1])
    assert values[0] < 0.5 * evppi


def test_a_study_of_nobody_is_worth_nothing():
    cs, qs, _, nothing, _ = _normal(0)
    assert evsi_regression(cs, qs, nothing, [0.5, 1.0, 2.0])[0].tolist() == [0.0, 0.0, 0.0]
    constant = np.ones((K, 1))  # a summary that never varies carries no information either
    assert evsi_regression(cs, qs, constant, [1.0])[0][0] == 0.0


def test_evsi_is_never_negative():
    rng = np.random.default_rng(11)
    cs, qs = rng.normal(0, 1, (500, 3)), rng.normal(0, 1, (500, 3))
    noise = rng.normal(0, 1, (500, 2))  # summaries unrelated to the outcomes
    value, _ = evsi_regression(cs, qs, noise, [0.0, 1.0, 10.0])
    assert (value >= 0).all()


def _beta_binomial(n: int, a: float = 19.0, b: float = 1.0, c: float = 0.93, seed: int = 5):
    rng = np.random.default_rng(seed)
    p = rng.beta(a, b, K)
    x = rng.binomial(n, p)
    cs = np.column_stack([np.zeros(K), np.full(K, c)])
    qs = np.column_stack([np.zeros(K), p])
    xs = np.arange(n + 1)
    post = (a + xs) / (a + b + n)
    exact = (stats.betabinom.pmf(xs, n, a, b) * np.maximum(0, post - c)).sum() - max(
        0, a / (a + b) - c
    )
    return cs, qs, p, (x / n)[:, None], exact


@pytest.mark.parametrize("n", [50, 200])
def test_moment_matching_and_regression_reproduce_the_beta_binomial_closed_form(n):
    cs, qs, p, share, exact = _beta_binomial(n)
    mm, mm_se = evsi_moment_matching(cs, qs, p, [1.0], binomial_weights(p, 7, n))
    reg, reg_se = evsi_regression(cs, qs, share, [1.0])
    assert abs(mm[0] - exact) < 3 * mm_se[0]
    assert abs(reg[0] - exact) < 3 * reg_se[0]


def test_optimal_size_maximises_enbs_and_is_zero_when_no_study_pays():
    table = pd.DataFrame(
        {
            "study": "s",
            "wtp": [1.0] * 3 + [2.0] * 3,
            "study_size": [10, 20, 40] * 2,
            "evsi": [1.0, 2.0, 2.5, 0.0, 0.0, 0.0],
            "enbs": [5.0, 9.0, 7.0, -1.0, -2.0, -4.0],
        }
    )
    best = optimal_sizes(table).set_index("wtp")
    assert best.loc[1.0, "optimal_size"] == 20 and best.loc[1.0, "enbs"] == 9.0
    assert best.loc[2.0, "optimal_size"] == 0 and best.loc[2.0, "enbs"] == 0.0


# ----------------------------------------------------------------------- the model
SCENARIO = f"""extends: {TINY}
assays:
  blood_test:
    sensitivity: {{value: 0.7, psa: {{dist: beta, mean: 0.7, sd: 0.15}}}}
switch_therapies:
  new_drug:
    hazard_ratio: {{value: 0.5, psa: {{dist: lognormal, median: 0.5, sdlog: 0.4}}}}
    cost: {{value: 10000, per: month, psa: {{dist: uniform, low: 0, high: 20000}}}}
population: {{incident: 1000, decision_horizon: 5}}
studies:
  accuracy:
    design: accuracy
    parameter: assays.blood_test.sensitivity
    sizes: [0, 10, 100]
    cost: {{fixed: 1000, per_patient: 100}}
  drug_trial:
    design: trial
    screening: blood_test_q12w
    follow_up: complete
    informs: [switch_therapies.new_drug.hazard_ratio]
    sizes: [0, 50, 400]
    cost: {{fixed: 100000, per_patient: 1000}}
    duration: 2 years
"""
WTPS = [400_000, 900_000]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    path = tmp_path_factory.mktemp("evsi") / "evsi.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return load_scenario(path)


@pytest.fixture(scope="module")
def result(scenario):
    return run_evsi(scenario, 80, 200, 1, wtps=WTPS)


def test_model_evsi_is_bounded_and_zero_without_patients(result):
    t = result.table
    assert set(t.columns) >= {"wtp", "study_size", "evsi", "evppi", "evsi_se", "enbs"}
    assert (t["evsi"] >= 0).all()
    assert (t["evsi"] <= t["evppi"] + 3 * t["evsi_se"] + 1e-9).all()
    assert (t.loc[t["study_size"] == 0, ["evsi", "evsi_se", "enbs"]] == 0).all().all()
    trial = t[(t["study"] == "drug_trial") & (t["wtp"] == 900_000)].set_index("study_size")
    assert trial.loc[400, "evppi"] > 0 and trial.loc[400, "evsi"] > 0  # informative trial


def test_model_enbs_uses_the_population_after_the_study_and_its_cost(result, scenario):
    t = result.table.set_index(["study", "wtp", "study_size"])
    row = t.loc[("drug_trial", 900_000, 400)]
    population = decision_population(scenario, start=2.0)  # reports after 2 years
    assert row["population"] == pytest.approx(population)
    assert population == pytest.approx(sum(1000 / 1.03**t for t in (2, 3, 4)))
    assert row["study_cost"] == 100_000 + 1000 * 400
    assert row["enbs"] == pytest.approx(row["evsi"] * population - row["study_cost"])


def test_model_study_data_are_nested_balanced_and_differ_between_samples(result):
    acc = result.data["accuracy"]
    correct = acc.assign(k=acc["proportion"] * acc["size"]).pivot(
        index="sample", columns="size", values="k"
    )
    assert np.allclose(correct[10], np.round(correct[10]))  # whole counts of n samples
    assert (correct[100] >= correct[10]).all()  # the first 10 samples are among the 100
    trial = result.data["drug_trial"]
    assert trial.loc[trial["size"] == 0, "log_hr"].isna().all()
    big = trial[trial["size"] == 400]
    assert big["log_hr"].nunique() == len(big)  # each sample's study has patients of its own


def test_one_and_two_workers_give_identical_results(scenario, result):
    two = run_evsi(scenario, 80, 200, 1, wtps=WTPS, workers=2, backend="processes")
    pd.testing.assert_frame_equal(result.table, two.table)
    for name, data in result.data.items():
        pd.testing.assert_frame_equal(data, two.data[name])


def test_too_few_samples_for_the_regression_is_a_clear_error(scenario):
    s = load_scenario("serena6_us")
    with pytest.raises(ValueError, match="needs at least 267 PSA samples"):
        run_evsi(s, 100, 10, studies=["switch_trial"])


def test_report_section_and_command(tmp_path):
    from hemodel.commands.main import main

    path = tmp_path / "evsi.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    code = main(["report", str(path), "--only", "evsi", "--patients", "60",
                 "--evsi-samples", "40", "--evsi-patients", "60", "--out", str(tmp_path / "r"),
                 "--quiet"])  # fmt: skip
    assert code == 0
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "Value of further research (EVSI)</h2>" in page and "ENBS (USD)" in page
    assert (tmp_path / "r" / "evsi" / "evsi.csv").exists()
    out = tmp_path / "cli"
    code = main(["evsi", str(path), "--samples", "40", "--patients", "60", "--study-sizes",
                 "0,20", "--studies", "accuracy", "--wtp", "900000", "--out", str(out),
                 "--quiet"])  # fmt: skip
    assert code == 0
    table = pd.read_csv(out / "evsi.csv")
    assert list(table["study_size"]) == [0, 20] and set(table["study"]) == {"accuracy"}
    for name in ("evsi_optimal.csv", "study_accuracy.csv", "evsi_accuracy.png",
                 "enbs_accuracy.png"):  # fmt: skip
        assert (out / name).exists(), name


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--study-sizes", "10,-5"], "--study-sizes must be different whole numbers"),
        (["--study-sizes", "ten"], "--study-sizes must be numbers"),
        (["--studies", "nope"], "no study 'nope' in the scenario (studies: accuracy, drug_trial)"),
        (["--wtp", "inf"], "--wtp must be finite numbers >= 0"),
    ],
)
def test_bad_flags_exit_2_with_one_message(tmp_path, capsys, flags, message):
    from hemodel.commands.main import main

    path = tmp_path / "evsi.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    assert main(["evsi", str(path), "--out", str(tmp_path / "o"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_scenario_without_studies_is_refused(tmp_path, capsys):
    from hemodel.commands.main import main

    path = tmp_path / "none.yaml"
    path.write_text(SCENARIO.split("studies:")[0], encoding="utf-8")
    assert main(["evsi", str(path), "--samples", "40", "--out", str(tmp_path / "o")]) == 2
    assert "has no studies: block" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_uk_studies_are_costed_in_its_own_currency():
    uk, us = load_scenario("serena6_uk"), load_scenario("serena6_us")
    assert set(uk.studies) == set(us.studies)
    for name, study in uk.studies.items():
        assert study.cost != us.studies[name].cost, name  # GBP figures, not the US dollars


@pytest.mark.parametrize(
    ("study", "where", "message"),
    [
        ("design: trial\n    arms: [imaging_only]", "bad.yaml:11: studies.t",
         "a trial needs 'arms'"),
        ("design: trial\n    arms: [imaging_only, nope]\n    informs: [x]", "bad.yaml:13: "
         "studies.t.arms.1", "strategy 'nope' is not defined"),
        ("design: trial\n    screening: imaging_only\n    informs: "
         "[switch_therapies.new_drug.hazard_ratio]", "bad.yaml:13: studies.t.screening",
         "has no monitoring and switch"),
        ("design: accuracy\n    parameter: assays.blood_test.sensitivity\n    sizes: [10, -1]",
         "bad.yaml:11: studies.t", "'sizes' must be different whole numbers from 0 to 100,000"),
        ("design: accuracy\n    parameter: assays.blood_test.sensitivity\n    summaries: [log_hr]",
         "bad.yaml:11: studies.t", "'log_hr': an accuracy study reports proportion"),
        ("design: trial\n    arms: [imaging_only, blood_test_q12w]\n    informs: [a, b, c, d, e]",
         "bad.yaml:11: studies.t", "'informs' must list at most 4 different names"),
    ],
)  # fmt: skip
def test_a_bad_study_names_its_field_and_line(tmp_path, study, where, message):
    from hemodel.scenario.problems import ScenarioError

    path = tmp_path / "bad.yaml"
    path.write_text(SCENARIO.split("studies:")[0] + f"studies:\n  t:\n    {study}\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert where in str(caught.value) and message in str(caught.value), str(caught.value)


def test_allocation_is_one_to_one_in_blocks_of_two():
    from hemodel.analysis.studies import allocation

    arms = allocation(seed=9, sample=3, patients=101)
    assert all(abs(arms[:n].sum() - (n - arms[:n].sum())) <= 1 for n in range(102))
    assert not np.array_equal(arms, allocation(seed=9, sample=4, patients=101))


def test_a_trial_stops_simulating_at_its_last_data_cut_off_without_changing_its_data():
    from dataclasses import replace

    from hemodel.analysis.psa import draw_table
    from hemodel.analysis.studies import StudyJob, simulate
    from hemodel.scenario.load import with_strategies

    s = load_scenario("serena6_us")
    job = StudyJob.of(s, "interval_trial", 1)
    horizon = job.scenario.time_horizon
    assert (horizon.value, horizon.unit) == (48, "months")  # 2 × the median follow-up, 24 months
    whole = with_strategies(s, job.study.arms, job.study.arms[0])
    long = replace(job, scenario=whole)
    table = draw_table(s, [1, 2], 1)
    points = {k: {p: float(v[k - 1]) for p, v in table.items()} for k in (1, 2)}
    pd.testing.assert_frame_equal(simulate(job, [60], points), simulate(long, [60], points))


@pytest.mark.parametrize(
    ("study", "message"),
    [
        ("parameter: assays.blood_test.specificity", "is not uncertain"),
        ("parameter: switch_therapies.new_drug.hazard_ratio", "is not a probability"),
        ("parameter: assays.blood_test.sensitivty", "did you mean 'assays.blood_test.sensitivity'"),
    ],
)
def test_a_study_parameter_it_cannot_inform_warns_and_is_refused_at_run_time(
    tmp_path, study, message
):
    from hemodel.analysis.evsi import check_studies
    from hemodel.scenario.load import check_scenario

    path = tmp_path / "bad.yaml"
    path.write_text(SCENARIO.split("studies:")[0] + f"studies:\n  t:\n    design: accuracy\n"
                    f"    {study}\n")  # fmt: skip
    checked = check_scenario(path)  # loads: a variant may change a parameter's law
    assert any("bad.yaml:13: studies.t.parameter" in str(w) and message in str(w)
               for w in checked.warnings), checked.warnings  # fmt: skip
    with pytest.raises(ValueError, match="study 't' cannot be valued: studies.t.parameter"):
        check_studies(checked.scenario, 100)


def test_moment_matching_declines_a_posterior_the_psa_cannot_describe():
    cs, qs, p, _, _ = _beta_binomial(50)
    few = slice(0, 300)  # 300 PSA samples cannot describe the posterior of 100,000 tests
    weights = binomial_weights(p[few], 7, 100_000)
    value, se = evsi_moment_matching(cs[few], qs[few], p[few], [1.0], weights)
    assert np.isnan(value[0]) and np.isnan(se[0])
