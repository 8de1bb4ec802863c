"""Regression: the teaching scenarios reproduce their stored summaries (golden files)."""

import pandas as pd
import pytest

from .golden import CASES, GOLDEN, summary


@pytest.mark.parametrize("case", sorted(CASES))
def test_summary_matches_golden_file(case):
    """Every summary number of the scenario equals the stored value (rtol 1e-9: only float
    noise from another platform's maths library is tolerated, never a model change)."""
    expected = pd.read_csv(GOLDEN / f"{case}_summary.csv")
    actual = summary(case)
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, rtol=1e-9, atol=1e-9)
