"""Execution back-ends: identical bits everywhere, faults survived, checkpoints resumed.

Real processes only, on loopback: a process pool, a Dask LocalCluster, and a Dask scheduler
with two workers started as separate programs (``python -m dask scheduler|worker``).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hemodel.analysis import psa
from hemodel.run.checkpoint import Checkpoint, CheckpointMismatch
from hemodel.run.parallel import Executor, resolve
from hemodel.run.simulation import simulate
from hemodel.run.sums import Moments, exact_array_parts, exact_parts
from hemodel.scenario.load import scenario_from_dict
from tests.conftest import tiny_dict

ROOT = Path(__file__).resolve().parents[2]
SAMPLES, PATIENTS, CHUNK, SEED = 6, 60, 20, 11  # 18 tasks
PSA_OVERRIDES = {
    "assays.blood_test.sensitivity": {
        "value": 0.9, "psa": {"dist": "beta", "mean": 0.9, "sd": 0.05}},
    "switch_therapies.new_drug.hazard_ratio": {
        "value": 0.5, "psa": {"dist": "lognormal", "median": 0.5, "sdlog": 0.2}},
    "costs.imaging": {"value": 500, "psa": {"dist": "gamma", "mean": 500, "sd": 100}},
}  # fmt: skip
SCENARIO = scenario_from_dict(tiny_dict(PSA_OVERRIDES), name="tiny-psa")
LAB = scenario_from_dict(
    tiny_dict(PSA_OVERRIDES, **{"lab.capacity": 2, "cohort.enrolment_interval": "10 days"}),
    name="tiny-psa-lab",
)


def run(**kwargs):
    kwargs = {"chunk_size": CHUNK, **kwargs}
    return psa.run_psa(SCENARIO, SAMPLES, PATIENTS, SEED, **kwargs)


@pytest.fixture(scope="module")
def reference():
    """The in-process run every other back-end must reproduce bit for bit."""
    return run()


@pytest.fixture(scope="module")
def reference_sim():
    return simulate(SCENARIO, 90, SEED, trace=True, batch_size=20)


def assert_same(a: tuple, b: tuple) -> None:
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, y, check_exact=True)


def assert_same_sim(a, b) -> None:
    pd.testing.assert_frame_equal(a.patients, b.patients, check_exact=True)
    pd.testing.assert_frame_equal(a.events, b.events, check_exact=True)


def _env() -> dict:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def _stop(procs) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


@pytest.fixture(scope="module")
def dask_scheduler(tmp_path_factory):
    """A Dask scheduler and two single-threaded workers, each its own program, on loopback."""
    pytest.importorskip("distributed")
    tmp = tmp_path_factory.mktemp("dask")
    file = tmp / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": _env()}
    procs = [
        subprocess.Popen(
            [
                *dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(file),
            ],
            **quiet,
        )  # fmt: skip
    ]
    try:
        deadline = time.monotonic() + 60
        while not file.exists() or not file.read_text().strip():
            assert time.monotonic() < deadline, "the Dask scheduler did not start"
            assert procs[0].poll() is None, "the Dask scheduler exited"
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        for i in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        *dask,
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                        "--name",
                        f"w{i}",
                        "--local-directory",
                        str(tmp),
                    ],
                    **quiet,
                )  # fmt: skip
            )
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        if file.exists():  # ask the scheduler to close itself and its workers: faster
            from distributed import Client

            try:
                with Client(json.loads(file.read_text())["address"], timeout=5) as client:
                    client.shutdown()
            except Exception:  # noqa: BLE001 - the processes are stopped below anyway
                pass
        _stop(procs)


# -- exact sums ----------------------------------------------------------------------------


def test_exact_sums_do_not_depend_on_chunks_or_order():
    rng = np.random.default_rng(3)
    x = rng.lognormal(8, 3, 997) * rng.choice([-1.0, 1.0], 997)
    frame = pd.DataFrame({"x": x, "y": np.where(rng.random(997) < 0.1, np.nan, x)})
    whole = Moments.of(frame, ["x", "y"], ["x"])
    for size in (1, 13, 500):
        parts = [
            Moments.of(frame.iloc[a : a + size], ["x", "y"], ["x"]) for a in range(0, 997, size)
        ]
        assert Moments.combine(parts[::-1]) == whole
    from fractions import Fraction

    exact = sum(Fraction(v) for v in x.tolist())
    assert sum(Fraction(p) for p in exact_parts(x.tolist())) == exact
    assert whole.mean("x") == float(exact / 997)
    assert whole.mean("y") == pytest.approx(frame["y"].mean(), rel=1e-14)
    squares = sum(Fraction(v) ** 2 for v in x.tolist())
    variance = (997 * squares - exact**2) / (997 * 997 * 996)
    assert whole.sem("x") == math.sqrt(float(variance))  # correctly rounded variance / n
    assert whole.sem("x") == pytest.approx(frame["x"].sem(), rel=1e-12)


@pytest.mark.parametrize(
    "x",
    [
        np.random.default_rng(4).lognormal(0, 25, 4000)
        * np.random.default_rng(5).choice([-1, 1], 4000),
        np.array([1e16, 1.0, -1e16, 3.0, 5e-324, -2.5e-300]),  # cancellation, subnormal
        np.array([0.0, -0.0]),
        np.array([]),
    ],
    ids=["wide exponents", "cancellation", "zeros", "empty"],
)
def test_vectorised_exact_sums_equal_the_reference(x):
    """``exact_array_parts`` (used by Moments.of) gives the same parts as ``exact_parts``,
    whose parts sum exactly to the exact sum; an overflowing sum is infinite, not an error."""
    from fractions import Fraction

    assert exact_array_parts(x) == exact_parts(x.tolist())
    assert sum(Fraction(p) for p in exact_array_parts(x)) == sum(Fraction(v) for v in x.tolist())
    assert exact_array_parts(np.array([1e308, 1e308])) == (math.inf,)


def test_backend_resolution():
    assert resolve(None, None, None, work=10) == ("serial", 1)
    assert resolve(None, None, None, work=10**9) == ("processes", os.cpu_count())
    assert resolve(2, None, None) == ("processes", 2)
    assert resolve(3, "serial", None) == ("serial", 1)
    assert resolve(None, None, "tcp://127.0.0.1:1") == ("dask", 0)
    for bad in [dict(backend="mpi"), dict(workers=0), dict(backend="processes", scheduler="x")]:
        with pytest.raises(ValueError):
            resolve(bad.get("workers", 1), bad.get("backend"), bad.get("scheduler"))


def test_workers_are_bounded_by_the_cores(monkeypatch):
    """More than 4 workers per core need oversubscribe=True; a scheduler's are not ours."""
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert resolve(8, None, None) == ("processes", 8)
    with pytest.raises(ValueError, match=r"^workers must be at most 8 \(4 per core, 2 cores\), "
                       "not 9; more need oversubscribe=True$"):  # fmt: skip
        resolve(9, "dask", None)
    assert resolve(9, None, None, oversubscribe=True) == ("processes", 9)
    assert resolve(1000, None, "tcp://127.0.0.1:1") == ("dask", 1000)


def _pid(_shared, _task) -> int:
    time.sleep(0.5)  # long enough that each task needs a worker of its own
    return os.getpid()


def test_a_pool_starts_no_more_workers_than_tasks():
    with Executor(1000, "processes", oversubscribe=True) as ex:
        pids = set(ex.map(_pid, [0, 1]))
        assert 1 <= len(pids) <= 2 and set(ex.worker_pids()) >= pids
        assert len(ex.worker_pids()) == 2  # asked for 1000, two tasks: two processes


def test_chunk_size_does_not_change_results(reference):
    assert_same(run(chunk_size=7), reference)
    assert_same(run(chunk_size=PATIENTS), reference)
    assert_same(run(chunk_size=None), reference)  # 500: all six samples in one task


def test_small_chunks_travel_together():
    chunks = [psa.Chunk(k, (), a, n, 30) for k in (1, 2, 3) for a, n in ((0, 20), (20, 10))]
    groups = psa.batches(chunks, 25)
    assert [[(c.sample, c.first_patient) for c in g] for g in groups] == [
        [(1, 0), (1, 20)], [(2, 0), (2, 20)], [(3, 0), (3, 20)]]  # fmt: skip
    assert [len(g) for g in psa.batches(chunks, 1000)] == [6]


# -- identical results on every back-end -------------------------------------------------


def test_two_processes_equal_in_process(reference, reference_sim):
    with Executor(2, "processes") as ex:
        assert_same(run(executor=ex), reference)
        assert_same_sim(simulate(SCENARIO, 90, SEED, trace=True, batch_size=20, executor=ex),
                        reference_sim)  # fmt: skip


def test_dask_local_cluster_equals_in_process(reference, reference_sim):
    with Executor(2, "dask") as ex:
        assert_same(run(executor=ex), reference)
        assert_same_sim(simulate(SCENARIO, 90, SEED, trace=True, batch_size=20, executor=ex),
                        reference_sim)  # fmt: skip


def test_dask_scheduler_with_separate_workers_equals_in_process(
    reference, reference_sim, dask_scheduler
):
    assert_same(run(scheduler=dask_scheduler), reference)
    assert_same_sim(simulate(SCENARIO, 90, SEED, trace=True, batch_size=20,
                             scheduler=dask_scheduler), reference_sim)  # fmt: skip


# -- faults --------------------------------------------------------------------------------


def _tasks():
    points = {k: psa.draw_parameters(SCENARIO, k, SEED) for k in range(1, SAMPLES + 1)}
    values = {k: tuple(v.items()) for k, v in points.items()}
    chunks = [psa.Chunk(k, values[k], a, CHUNK, PATIENTS) for k in points
              for a in range(0, PATIENTS, CHUNK)]  # fmt: skip
    return chunks * 2, psa.SummaryJob(SCENARIO, SEED)  # 36 tasks


def _kill_one_worker_midway(ex: Executor):
    tasks, job = _tasks()
    expected = [psa.summarise_chunk(job, t) for t in tasks]
    pids = ex.worker_pids()
    seen: list[int] = []

    def on_result(i, result):
        seen.append(i)
        if len(seen) == 1:
            os.kill(pids[0], signal.SIGKILL)

    results = ex.map(psa.summarise_chunk, tasks, job, on_result=on_result)
    assert sorted(seen) == list(range(len(tasks)))  # every task once: none lost, none twice
    assert results == expected
    return pids


def test_a_killed_worker_process_loses_and_duplicates_nothing():
    with Executor(2, "processes") as ex:
        pids = _kill_one_worker_midway(ex)
        assert ex.restarts >= 1
        assert pids[0] not in ex.worker_pids()


def test_a_killed_dask_worker_loses_and_duplicates_nothing(dask_scheduler):
    with Executor(backend="dask", scheduler=dask_scheduler) as ex:
        pids = _kill_one_worker_midway(ex)
        assert pids[0] not in ex.worker_pids()


def test_resume_after_an_interruption(reference, tmp_path, monkeypatch):
    saved = []
    original = Checkpoint.save

    def save_then_interrupt(self, key, result):
        original(self, key, result)
        saved.append(key)
        if len(saved) == 5:
            raise KeyboardInterrupt

    monkeypatch.setattr(Checkpoint, "save", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(checkpoint=tmp_path)
    monkeypatch.setattr(Checkpoint, "save", original)
    assert len(list((tmp_path / "tasks").glob("*.ckpt"))) == 5
    assert not json.loads((tmp_path / "manifest.json").read_text())["complete"]
    assert not (tmp_path / "per_sample.csv").exists()
    (tmp_path / "tasks" / ".1-0.ckpt.999.tmp").write_bytes(b"partial")  # a torn write

    assert_same(run(checkpoint=tmp_path), reference)
    assert json.loads((tmp_path / "manifest.json").read_text())["complete"]
    assert not list(tmp_path.glob("**/*.tmp"))

    def no_work(*args):
        raise AssertionError("a finished run must not run again")

    monkeypatch.setattr(psa, "summarise_chunks", no_work)
    assert_same(run(checkpoint=tmp_path), reference)


def test_simulate_resumes_too(reference_sim, tmp_path, monkeypatch):
    original = Checkpoint.save

    def save_then_crash(self, key, result):
        original(self, key, result)
        if len(list((tmp_path / "tasks").glob("*.ckpt"))) == 2:
            raise RuntimeError("crash")

    monkeypatch.setattr(Checkpoint, "save", save_then_crash)
    kwargs = {"trace": True, "batch_size": 20, "checkpoint": tmp_path}
    with pytest.raises(RuntimeError, match="crash"):
        simulate(SCENARIO, 90, SEED, **kwargs)
    monkeypatch.setattr(Checkpoint, "save", original)
    assert_same_sim(simulate(SCENARIO, 90, SEED, **kwargs), reference_sim)
    assert_same_sim(simulate(SCENARIO, 90, SEED, **kwargs), reference_sim)  # stored
    with pytest.raises(CheckpointMismatch, match="batch_size"):
        simulate(SCENARIO, 90, SEED, trace=True, batch_size=30, checkpoint=tmp_path)


def test_resume_after_the_process_is_killed(reference, tmp_path):
    script = textwrap.dedent(f"""
        import time
        from hemodel.analysis import psa
        from hemodel.run.checkpoint import Checkpoint
        from tests.unit.test_parallel import run
        save = Checkpoint.save
        def slow_save(self, key, result):
            save(self, key, result)
            time.sleep(0.3)
        Checkpoint.save = slow_save
        if __name__ == "__main__":
            run(checkpoint={str(tmp_path)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=_env())
    try:
        deadline = time.monotonic() + 60
        while len(list((tmp_path / "tasks").glob("*.ckpt"))) < 3:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        _stop([proc])
    done = len(list((tmp_path / "tasks").glob("*.ckpt")))
    assert 3 <= done < SAMPLES * PATIENTS // CHUNK
    assert_same(run(checkpoint=tmp_path), reference)


def test_resume_refuses_another_run(tmp_path):
    psa.run_psa(SCENARIO, 2, 10, SEED, checkpoint=tmp_path)
    with pytest.raises(CheckpointMismatch, match="seed: 11 in the checkpoint, 12 now"):
        psa.run_psa(SCENARIO, 2, 10, 12, checkpoint=tmp_path)
    with pytest.raises(CheckpointMismatch, match="patients"):
        psa.run_psa(SCENARIO, 2, 11, SEED, checkpoint=tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointMismatch, match="not a hemodel checkpoint"):
        psa.run_psa(SCENARIO, 2, 10, SEED, checkpoint=other)


# -- finite lab: whole samples only --------------------------------------------------------


def test_a_finite_lab_runs_whole_samples(tmp_path):
    whole = psa.run_psa(LAB, 3, 40, SEED, chunk_size=40)
    chunked = psa.run_psa(LAB, 3, 40, SEED, chunk_size=7, checkpoint=tmp_path)
    assert_same(chunked, whole)
    assert sorted(p.name for p in (tmp_path / "tasks").iterdir()) == [
        "1-0.ckpt",
        "2-0.ckpt",
        "3-0.ckpt",
    ]
    job = psa.SummaryJob(LAB, SEED)
    with pytest.raises(ValueError, match="whole cohort"):
        psa.summarise_chunk(job, psa.Chunk(1, (), 0, 20, 40))


# -- progress --------------------------------------------------------------------------------


def test_progress_bar_only_when_asked_or_on_a_terminal(capsys):
    psa.run_psa(SCENARIO, 2, 10, SEED, progress=None)  # not a terminal under pytest
    psa.run_psa(SCENARIO, 2, 10, SEED, progress=False)
    assert capsys.readouterr().err == ""
    psa.run_psa(SCENARIO, 2, 10, SEED, progress=True)
    err = capsys.readouterr().err
    assert "PSA: 100%" in err and "20/20" in err and "2/2 samples" in err


@pytest.mark.parametrize(
    ("command", "table", "options"),
    [
        ("sweep", "sweep.csv", ["--patients", "60"]),
        ("threshold", "price_lines.csv", ["--patients", "60"]),
        ("budget", "budget_totals.csv", ["--patients", "60"]),
        ("dsa", "dsa.csv", ["--patients", "20", "--comparison", "ddpcr_q8w"]),
    ],
)
def test_every_analysis_command_gives_the_same_table_on_two_processes(
    command, table, options, tmp_path
):
    """sweep, threshold, budget and dsa accept --workers/--backend and write the same bytes."""
    from hemodel.commands.main import main

    written = []
    for name, extra in (("serial", ["--workers", "1"]), ("pool", ["--workers", "2"])):
        out = tmp_path / name
        assert main([command, *options, *extra, "--quiet", "--out", str(out)]) == 0
        written.append((out / table).read_bytes())
    assert written[0] == written[1] and len(written[0]) > 100


def test_validation_and_calibration_are_the_same_on_two_processes(monkeypatch):
    """The virtual trial's arms (in chunks of 500 patients here) and the strategies behind
    the targets run on worker processes with the same bits as in this process, so the
    target table, the per-patient trial table and a calibration's path are identical."""
    import warnings

    from hemodel.credibility import trial
    from hemodel.credibility.calibrate import calibrate
    from hemodel.credibility.validate import validate
    from hemodel.scenario.load import load_scenario

    monkeypatch.setattr(trial, "CHUNK", {"simpy": 500, "array": 500})
    scenario = load_scenario("serena6_us")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines' convergence chatter
        one = validate(scenario, patients=3000, seed=2, workers=1)
        two = validate(scenario, patients=3000, seed=2, workers=2)
        free = ["natural_history.esr1_progression.median"]
        fits = [
            calibrate(scenario, free, patients=1500, seed=2, max_evaluations=3, workers=w)
            for w in (1, 2)
        ]
    assert one.trial.randomised["patient"].nunique() > 500  # the switch arm ran in chunks
    pd.testing.assert_frame_equal(one.trial.table, two.trial.table, check_exact=True)
    pd.testing.assert_frame_equal(one.table, two.table, check_exact=True)
    assert fits[0].history == fits[1].history and fits[0].values == fits[1].values
