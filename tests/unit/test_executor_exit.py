"""Worker processes end with their parent: a process pool that finished its work exits
cleanly (no worker is killed, so Python's resource tracker finds no leaked semaphores at
shutdown: it used to warn after every DSA), and a parent killed midway takes its workers
with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    from hemodel.run.parallel import Executor

    def square(_shared, x):
        from tqdm.auto import tqdm  # a bar's lock is a semaphore the worker holds

        with tqdm(total=1, disable=True) as bar:
            bar.update()
        return x * x

    if __name__ == "__main__":
        with Executor(workers=2, backend="processes") as ex:
            assert ex.map(square, [1, 2, 3]) == [1, 4, 9]
        print("done")
    """
)


def test_a_finished_pool_leaves_no_leaked_semaphores(tmp_path):
    script = tmp_path / "pool.py"
    script.write_text(SCRIPT)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "done", run.stderr
    assert "leaked" not in run.stderr, run.stderr


LONG_MAP = textwrap.dedent(
    """
    import sys
    import time

    from hemodel.run.parallel import Executor

    def nap(_shared, x):
        time.sleep(1)
        return x

    if __name__ == "__main__":
        with Executor(workers=2, backend=sys.argv[1]) as ex:
            print(*ex.worker_pids(), flush=True)
            ex.map(nap, range(1000))
    """
)


def _alive(process) -> bool:
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE  # a zombie has exited
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("backend", ["processes", "dask"])
def test_workers_exit_when_the_parent_is_killed(backend, tmp_path):
    """SIGKILL of a process running a long map leaves no process behind: the workers (and
    for Dask their nannies, and multiprocessing's resource tracker) are gone within 10 s."""
    psutil = pytest.importorskip("psutil")
    script = tmp_path / "long_map.py"
    script.write_text(LONG_MAP)
    proc = subprocess.Popen(
        [sys.executable, str(script), backend], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        workers = [int(pid) for pid in proc.stdout.readline().split()]
        assert len(workers) == 2, f"the {backend} run did not start"
        time.sleep(1)  # the map is running
        descendants = psutil.Process(proc.pid).children(recursive=True)
        assert set(workers) <= {p.pid for p in descendants}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in descendants) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [p.pid for p in descendants if _alive(p)]
    finally:
        proc.kill()
        proc.wait()
    for p in descendants:
        if _alive(p):
            p.kill()
    assert left == [], f"{backend}: processes {left} outlived their parent"
