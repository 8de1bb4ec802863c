"""A process pool that finished its work exits cleanly: no worker is killed, so Python's
resource tracker finds no leaked semaphores at shutdown (it used to warn after every DSA)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

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
