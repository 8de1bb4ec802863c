"""Convergence guidance: running INMB statistics, patients needed, plot and subcommand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hemodel import simulate
from hemodel.analysis.convergence import (
    convergence,
    patients_needed,
    per_patient_inmb,
    report,
    running,
)
from hemodel.commands.main import main
from hemodel.present.credibility_plots import convergence_plot
from hemodel.present.plots import save
from hemodel.run.results import Results

from ..conftest import ROOT

TINY = str(ROOT / "scenarios" / "tiny.yaml")


def _results(cost: dict, qaly: dict, wtp: float = 1000.0) -> Results:
    rows = []
    for name in cost:
        for i, (c, q) in enumerate(zip(cost[name], qaly[name], strict=True)):
            rows.append({"patient": i, "strategy": name, "cost_total": c, "qalys": q})
    return Results(
        patients=pd.DataFrame(rows), reference="ref", wtp=wtp, currency="USD", metadata={}
    )


def test_running_mean_and_se_match_brute_force():
    x = np.random.default_rng(0).normal(5.0, 3.0, 50)
    table = running(x, points=None)
    assert list(table["patients"]) == list(range(2, 51))
    for _, row in table.iterrows():
        head = x[: int(row["patients"])]
        assert row["mean"] == pytest.approx(head.mean(), rel=1e-12)
        assert row["se"] == pytest.approx(head.std(ddof=1) / math.sqrt(len(head)), rel=1e-10)
        assert row["low"] < row["mean"] < row["high"]


def test_running_on_a_log_grid_ends_at_all_patients():
    table = running(np.arange(1000.0), points=30)
    assert table["patients"].iloc[0] == 2 and table["patients"].iloc[-1] == 1000
    assert table["patients"].is_monotonic_increasing and len(table) <= 30


def test_patients_needed():
    assert patients_needed(100.0, 10.0) == 100
    assert patients_needed(100.0, 30.0) == 12  # ceil(11.1)
    with pytest.raises(ValueError):
        patients_needed(1.0, 0.0)


def test_hand_built_inmb_and_patients_needed():
    # INMB_i = 1000·ΔQ − ΔC = 1000·0.1 − (10, 30, 50, 70) = (90, 70, 50, 30): mean 60
    res = _results(
        {"ref": [0, 0, 0, 0], "new": [10, 30, 50, 70]},
        {"ref": [1, 1, 1, 1], "new": [1.1, 1.1, 1.1, 1.1]},
    )
    np.testing.assert_allclose(per_patient_inmb(res, "new"), [90, 70, 50, 30])
    conv = convergence(res, precision=5.0)
    row = conv.summary.iloc[0]
    sd = np.std([90, 70, 50, 30], ddof=1)  # 25.82
    assert row["inmb"] == pytest.approx(60.0)
    assert row["inmb_se"] == pytest.approx(sd / 2)
    assert row["patients_for_precision"] == math.ceil((sd / 5.0) ** 2)  # 27
    assert row["patients_to_resolve_sign"] == 2  # (1.96·sd/60)² = 0.71; an SE needs 2
    assert not row["precision_reached"]
    assert conv.ranking["best"] == "new" and conv.ranking["runner_up"] == "ref"
    assert conv.ranking["difference"] == pytest.approx(60.0)
    assert "27 patients for SE" in report(conv)


def test_identical_strategies_need_no_patients():
    res = _results({"ref": [1, 2, 3], "same": [1, 2, 3]}, {"ref": [1, 2, 3], "same": [1, 2, 3]})
    conv = convergence(res)
    row = conv.summary.iloc[0]
    assert row["inmb"] == 0 and row["inmb_se"] == 0 and row["precision_reached"]
    assert math.isnan(row["patients_to_resolve_sign"])
    assert math.isnan(conv.ranking["patients_to_separate"])
    assert "not separable" in report(conv)


def test_bad_arguments():
    res = _results({"ref": [0, 0], "new": [1, 2]}, {"ref": [0, 0], "new": [0, 0]})
    with pytest.raises(ValueError, match="unknown strategy"):
        convergence(res, ["nope"])
    with pytest.raises(ValueError, match="positive"):
        convergence(res, precision=-1)


def test_first_n_patients_of_a_longer_run_give_the_same_trace():
    long = convergence(simulate(TINY, patients=120), "blood_test_q12w", points=None).trace
    short = convergence(simulate(TINY, patients=60), "blood_test_q12w", points=None).trace
    head = long[long["patients"] <= 60].reset_index(drop=True)
    pd.testing.assert_frame_equal(head, short, rtol=1e-9)


def test_plot_and_subcommand(tmp_path, capsys):
    res = simulate(TINY, patients=80)
    save(convergence_plot(convergence(res)), tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000
    out = tmp_path / "out"
    code = main(
        [
            "convergence", TINY, "--patients", "60", "--strategy", "blood_test_q12w",
            "--precision", "5000", "--out", str(out), "--quiet",
        ]
    )  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "blood_test_q12w" in text and "patients for SE" in text
    assert "test_at_progression" not in text  # only the strategy asked for is simulated
    summary = pd.read_csv(out / "convergence_summary.csv")
    assert list(summary["strategy"]) == ["blood_test_q12w"]
    assert (out / "convergence.png").exists() and (out / "convergence.csv").exists()
    assert main(["convergence", TINY, "--patients", "5", "--strategy", "x", "--out", str(out)])
