"""The vectorised Kaplan-Meier and Cox estimators against lifelines and hand computation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from hemodel.credibility.survival import _RiskSets, cox_binary, kaplan_meier


def _data(ties: bool, n: int = 1500, seed: int = 1):
    rng = np.random.default_rng(seed)
    x = (rng.random(n) < 0.5).astype(float)
    t = rng.exponential(1 / np.where(x == 1, 0.6, 1.0))
    censor = rng.uniform(0, 3, n)
    e = t <= censor
    t = np.minimum(t, censor)
    return (np.round(t, 1) if ties else t), e, x


@pytest.mark.parametrize("ties", [False, True], ids=["no ties", "ties"])
def test_kaplan_meier_equals_lifelines(ties):
    """Curve, exponential-Greenwood band, median and its CI, landmark: lifelines' values."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    t, e, _ = _data(ties)
    km = kaplan_meier(t, e)
    ref = KaplanMeierFitter().fit(t, e)
    np.testing.assert_array_equal(km.timeline, ref.survival_function_.index.to_numpy())
    np.testing.assert_allclose(km.survival, ref.survival_function_.iloc[:, 0], rtol=1e-12)
    np.testing.assert_allclose(
        np.c_[km.lower, km.upper], ref.confidence_interval_.to_numpy(), rtol=1e-10
    )
    ci = median_survival_times(ref.confidence_interval_)
    assert km.median() == (ref.median_survival_time_, ci.iloc[0, 0], ci.iloc[0, 1])
    band = ref.confidence_interval_survival_function_.loc[:1.3].iloc[-1]
    expected = (float(ref.survival_function_at_times(1.3).iloc[0]), *band)
    np.testing.assert_allclose(km.at(1.3), expected, rtol=1e-12)


def test_kaplan_meier_by_hand():
    """Five patients, censored at 2 and 5: S = 4/5 at 1, × 2/3 at 3 (3 at risk), × 1/2 at 4;
    the median is 4, the first time S ≤ 0.5."""
    km = kaplan_meier([1, 2, 3, 4, 5], [1, 0, 1, 1, 0])
    np.testing.assert_allclose(km.survival, [1, 0.8, 0.8, 0.8 * 2 / 3, 0.8 / 3, 0.8 / 3])
    assert km.median()[0] == 4.0 and km.at(4.5)[0] == pytest.approx(0.8 / 3)
    assert kaplan_meier([1, 2], [0, 0]).median()[0] == math.inf  # never reaches 0.5


@pytest.mark.parametrize("ties", [False, True], ids=["no ties", "ties"])
def test_cox_equals_lifelines(ties):
    """Efron log hazard ratio and model-based SE as lifelines; the clustered robust SE too
    without ties (with ties lifelines' score residuals ignore them: within 1%)."""
    from lifelines import CoxPHFitter

    t, e, x = _data(ties)
    cluster = np.arange(len(t)) // 2
    frame = pd.DataFrame({"t": t, "e": e, "x": x, "c": cluster})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        robust = CoxPHFitter().fit(frame, "t", "e", cluster_col="c")
        plain = CoxPHFitter().fit(frame.drop(columns="c"), "t", "e")
    fit = cox_binary(t, e, x, cluster)
    assert fit.beta == pytest.approx(plain.params_["x"], rel=1e-6)
    assert fit.se == pytest.approx(plain.standard_errors_["x"], rel=1e-6)
    rel = 1e-6 if not ties else 1e-2
    assert fit.robust_se == pytest.approx(robust.standard_errors_["x"], rel=rel)
    hr, low, high = fit.hazard_ratio()
    assert low < hr < high and hr == pytest.approx(math.exp(fit.beta))


def test_cox_score_residuals_sum_to_the_score():
    """Efron score residuals add up to the score, which is zero at the estimate, ties or not."""
    for ties in (False, True):
        t, e, x = _data(ties, n=400, seed=4)
        fit = cox_binary(t, e, x)
        r = _RiskSets(t, e, x).score_residuals(fit.beta)
        assert abs(r.sum()) < 1e-9


def test_cox_without_an_estimate_is_nan():
    assert math.isnan(cox_binary([1, 2], [0, 0], [0, 1]).beta)  # no events
    assert math.isnan(cox_binary([1, 2, 3], [1, 1, 0], [1, 1, 0]).beta)  # events in one arm
