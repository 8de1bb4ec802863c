"""Checkpoint directories: resume an interrupted run without changing its results.

Layout of a checkpoint directory::

    manifest.json        what run this is (written first), "complete": true (written last)
    tasks/<key>.pkl      one file per finished task (e.g. ``12-0`` = sample 12, patients 0..)
    <name>.pkl/.csv      the run's final outputs, written before the manifest is completed

Every file is written to a temporary name in the same directory, flushed to disk and then
renamed over its final name (``os.replace`` is atomic), so a crash leaves either the whole
file or none: a file under its final name is always complete. Leftover temporary files
(``.*.tmp``) are ignored and removed on resume. The manifest records the scenario hash,
seed, sizes, chunking and hemodel version; resuming with anything different is refused,
since the stored task results would belong to another run.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import pickle
from pathlib import Path
from typing import Any

import pandas as pd

MANIFEST = "manifest.json"
FORMAT = 1


class CheckpointMismatch(ValueError):
    """The checkpoint directory belongs to a different run."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Checkpoint:
    """A run's checkpoint directory; ``identity`` says which run it is (JSON-serialisable).

    Opening a directory with a manifest checks that the identity matches
    (:class:`CheckpointMismatch` otherwise); opening a new or empty directory writes the
    manifest at once.
    """

    def __init__(self, directory: str | os.PathLike, identity: dict[str, Any]):
        self.dir = Path(directory)
        self.identity = json.loads(json.dumps(identity))  # as it will read back
        self.tasks = self.dir / "tasks"
        manifest = self.dir / MANIFEST
        if manifest.exists():
            self._check(json.loads(manifest.read_text()))
        else:
            if self.dir.exists() and any(self.dir.iterdir()):
                raise CheckpointMismatch(
                    f"{self.dir} is not empty and has no {MANIFEST}: it is not a hemodel "
                    "checkpoint. Give a new or empty directory."
                )
            self.dir.mkdir(parents=True, exist_ok=True)
            self._write_manifest(complete=False)
        self.tasks.mkdir(exist_ok=True)
        for tmp in self.dir.glob("**/.*.tmp"):  # debris of an interrupted write
            tmp.unlink(missing_ok=True)

    def _check(self, manifest: dict) -> None:
        stored = manifest.get("identity", {})
        diffs = [
            f"{key}: {stored.get(key)!r} in the checkpoint, {value!r} now"
            for key, value in self.identity.items()
            if stored.get(key) != value
        ]
        diffs += [f"{key}: only in the checkpoint" for key in stored if key not in self.identity]
        if manifest.get("format") != FORMAT or diffs:
            raise CheckpointMismatch(
                f"cannot resume from {self.dir}: it holds a different run ("
                + "; ".join(diffs or ["checkpoint format"])
                + "). Use the same settings, or a new directory."
            )

    def _write_manifest(self, complete: bool) -> None:
        manifest = {
            "format": FORMAT,
            "identity": self.identity,
            "complete": complete,
            "updated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        atomic_write(self.dir / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())

    # -- tasks ---------------------------------------------------------------------------
    def _task_path(self, key: str) -> Path:
        return self.tasks / f"{key}.pkl"

    def load(self, keys) -> dict[str, Any]:
        """Stored results of those ``keys`` that have finished (key → result)."""
        out = {}
        for key in keys:
            path = self._task_path(key)
            if path.exists():
                out[key] = pickle.loads(path.read_bytes())
        return out

    def save(self, key: str, result: Any) -> None:
        """Store one task's result (atomically)."""
        atomic_write(self._task_path(key), pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))

    # -- final outputs -------------------------------------------------------------------
    @property
    def complete(self) -> bool:
        """Whether the run finished and wrote its outputs (the manifest says so last)."""
        manifest = json.loads((self.dir / MANIFEST).read_text())
        return bool(manifest.get("complete"))

    def finish(self, outputs: dict[str, pd.DataFrame], csv: bool = True) -> None:
        """Write the final tables (``<name>.pkl`` exact, and ``<name>.csv`` to read), then
        mark the manifest complete; a reader that finds ``complete: true`` finds them all."""
        for name, frame in outputs.items():
            atomic_write(self.dir / f"{name}.pkl", pickle.dumps(frame, protocol=4))
            if csv:
                atomic_write(self.dir / f"{name}.csv", frame.to_csv(index=False).encode())
        self._write_manifest(complete=True)

    def outputs(self, names) -> dict[str, pd.DataFrame]:
        """The final tables of a complete run."""
        if not self.complete:
            raise RuntimeError(f"{self.dir}: the run has not finished")
        return {name: pickle.loads((self.dir / f"{name}.pkl").read_bytes()) for name in names}
