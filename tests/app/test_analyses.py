"""The app's analyses, progress and cancel without a browser: inputs → scenario → results,
checked against the command line on the file the app lets the analyst download."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pandas as pd
import pytest

from hemodel.app import analyses
from hemodel.app.edits import Edits, bundled_source, controls, edited_scenario, variant_text
from hemodel.app.jobs import Job, run_job
from hemodel.commands.main import main
from hemodel.present import payer_tables
from hemodel.present.tables import frontier_table
from hemodel.run import progress
from hemodel.run.progress import Cancelled, listening, progress_bar
from hemodel.run.simulation import simulate
from hemodel.scenario.load import with_values


@pytest.fixture(scope="module")
def us():
    return bundled_source("serena6_us")


def test_the_app_shows_what_hemodel_run_computes_from_the_downloaded_file(us, tmp_path):
    edits = Edits({c.path: c.value for c in controls(us.scenario)})
    edits.values["assays.guardant360.cost"] = 4000.0
    edits.values["costs.imaging"] = 700.0
    scenario = edited_scenario(us, edits, tmp_path / "app").scenario
    shown = analyses.base_case(scenario, 500, 3)
    download = tmp_path / "edited.yaml"
    download.write_text(variant_text(us, edits))
    assert main(["run", str(download), "--patients", "500", "--seed", "3", "--out",
                 str(tmp_path / "cli"), "--quiet"]) == 0  # fmt: skip
    cli = pd.read_csv(tmp_path / "cli" / "incremental.csv")
    app = shown.results.incremental()
    np.testing.assert_allclose(app["inc_cost"], cli["inc_cost"], rtol=1e-12)
    np.testing.assert_allclose(app["inc_qalys"], cli["inc_qalys"], rtol=1e-12)
    assert shown.engine == "array"


def test_a_base_case_of_10000_patients_answers_in_seconds(us):
    """Issue 13: about 2 s on one core (measured 0.5 s; benchmarks/app_recompute.py)."""
    analyses.base_case(us.scenario, 1000, 1)  # warm caches (life table, imports)
    shown = analyses.base_case(us.scenario, 10_000, 1)
    assert shown.seconds < 4
    headers = " ".join(shown.summary.columns) + " ".join(shown.incremental.columns)
    assert "USD" in headers and "± SE" in headers and "ICER (USD/QALY)" in headers


def test_display_tables_name_currency_and_units(us):
    base = analyses.base_case(us.scenario, 300, 1)
    frontier = frontier_table(base.frontier, "USD")
    assert list(frontier.columns) == ["Strategy", "Cost (USD, disc.)", "QALYs (disc.)",
                                      "Compared with", "Incremental cost (USD)",
                                      "Incremental QALYs", "ICER (USD/QALY)"]  # fmt: skip
    icers = dict(zip(frontier["Strategy"], frontier["ICER (USD/QALY)"], strict=True))
    statuses = dict(zip(base.frontier["strategy"], base.frontier["status"], strict=True))
    for name, status in statuses.items():  # a dominated strategy says so instead of a ratio
        assert (icers[name] == status) == (status != "frontier"), (name, icers[name])
    wtps = [100_000.0, 150_000.0]
    sweep = analyses.sweep(us.scenario, 300, 1, wtps)
    optimal = payer_tables.optimal_table(sweep.optimal, "USD")
    assert list(optimal["WTP (USD/QALY)"]) == ["100,000", "150,000"]
    assert "Testing interval (weeks)" in optimal.columns
    threshold = analyses.threshold(us.scenario, 300, 1, wtps)
    assert threshold.item == "camizestrant"  # the switch drug of the first switching strategy
    shown = payer_tables.threshold_table(threshold.prices, "USD per 28 days", "USD")
    assert "Threshold price (USD per 28 days)" in shown.columns


def test_the_threshold_price_gives_an_icer_equal_to_the_wtp(us):
    """Re-running at the threshold price reproduces ICER = WTP (same patients)."""
    t = analyses.threshold(us.scenario, 400, 2, [2_000_000.0])
    row = t.prices.loc[t.prices["threshold_price"] > 0].iloc[0]
    path = t.lines["price_parameter"].iloc[0]
    priced = with_values(us.scenario, {path: float(row["threshold_price"])})
    inc = simulate(priced, patients=400, seed=2).incremental().set_index("strategy")
    icer = inc.loc[row["strategy"], "inc_cost"] / inc.loc[row["strategy"], "inc_qalys"]
    assert icer == pytest.approx(2_000_000.0, rel=1e-6)


def test_budget_impact_by_year(us):
    b = analyses.budget(us.scenario, 300, 1, 1000.0, [0.5], 2)
    assert set(b.totals["year"]) == {1, 2}
    assert (b.totals["currency"] == "USD").all()


def test_progress_reaches_a_listener_and_only_it():
    seen: list[tuple[float, float]] = []
    elsewhere: list = []
    with listening(lambda done, total: seen.append((done, total))):
        simulate("tiny", patients=300, seed=1, batch_size=100)
        other = threading.Thread(target=lambda: elsewhere.append(progress._listener.get()))
        other.start()
        other.join()
    assert seen[-1][0] == seen[-1][1] == 300 * 4  # patients × strategies
    assert all(b[0] >= a[0] for a, b in zip(seen, seen[1:], strict=False))
    assert elsewhere == [None]  # another thread has its own (empty) context
    with progress_bar(10, "x", "unit", False) as bar:  # outside: nobody is told
        bar.update(10)


def test_a_cancelled_psa_stops_at_the_next_batch(us):
    """As in the app: the PSA runs in a thread, Cancel is pressed once it has started."""
    job, outcome = Job("PSA"), {}

    def work() -> None:
        try:
            outcome["value"] = job.run(analyses.psa, us.scenario, 400, 200, 1)
        except Cancelled as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    while job.done == 0 and thread.is_alive():
        time.sleep(0.002)
    job.cancel()
    thread.join(60)
    assert str(outcome["error"]) == "PSA cancelled"
    assert job.fraction < 0.1  # stopped after a few of 400 samples


def test_run_job_reports_and_returns_on_the_event_loop():
    job = Job("sum")
    reports = []

    def work(n):
        with progress_bar(n, "sum", "step", False) as bar:
            for _ in range(n):
                bar.update()
        return n * 2

    result = asyncio.run(run_job(job, work, 5, report=lambda j: reports.append(j.fraction)))
    assert result == 10 and job.fraction == 1.0 and reports
    with pytest.raises(ZeroDivisionError):
        asyncio.run(run_job(Job("bad"), lambda: 1 / 0))
