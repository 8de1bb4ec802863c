"""Checkpoint directories: resume an interrupted run without changing its results.

Layout of a checkpoint directory::

    manifest.json        what run this is (written first), "complete": true (written last)
    tasks/<key>.ckpt     one file per finished task (e.g. ``12-0`` = sample 12, patients 0..)
    <name>.ckpt/.csv     the run's final outputs, written before the manifest is completed

Nothing is pickled: files hold JSON and raw numeric arrays (:mod:`hemodel.run.codec`), so
a planted file can be refused but never run. Each carries the SHA-256 of its content, the
hash of the run's identity and its key, all checked on reading; the manifest carries the
SHA-256 of its fields. A damaged, truncated or foreign file, or a folder of the pickle
format of older versions, raises :class:`CheckpointUnreadable` naming the file.

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
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from ..scenario.problems import shorten
from .codec import FORMAT, FRAME, MOMENTS, Unreadable, dumps, json_sha256, loads
from .files import atomic_write

MANIFEST = "manifest.json"


class CheckpointMismatch(ValueError):
    """The checkpoint directory belongs to a different run."""


class CheckpointUnreadable(CheckpointMismatch):
    """A file of the checkpoint directory is damaged, foreign or of an older format."""


def _read(path: Path) -> bytearray:
    """The bytes of a regular file (a FIFO or device is refused, never waited on)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable("it is not a regular file")
        data = bytearray(info.st_size)
        if fh.readinto(data) != info.st_size:
            raise Unreadable("it changed while being read")
        return data


class Checkpoint:
    """A run's checkpoint directory; ``identity`` says which run it is (JSON-serialisable).

    Opening a directory with a manifest checks that the identity matches
    (:class:`CheckpointMismatch` otherwise); opening a new or empty directory writes the
    manifest at once.
    """

    def __init__(self, directory: str | os.PathLike, identity: dict[str, Any]):
        self.dir = Path(directory)
        self.identity = json.loads(json.dumps(identity))  # as it will read back
        self.run = json_sha256(self.identity)
        self.tasks = self.dir / "tasks"
        manifest = self.dir / MANIFEST
        if self.dir.exists() and not self.dir.is_dir():
            raise CheckpointMismatch(f"{shorten(self.dir)} is a file: give a checkpoint folder")
        old = [*self.dir.glob("*.pkl"), *self.tasks.glob("*.pkl")]
        if old:
            raise self._refuse(old[0], "it was written by an older hemodel (pickle files)")
        if manifest.exists():
            self._check(self._manifest())
        else:
            if self.dir.exists() and any(self.dir.iterdir()):
                raise CheckpointMismatch(
                    f"{self.dir} is not empty and has no {MANIFEST}: it is not a "
                    "hemodel checkpoint. Give a new or empty directory."
                )
            self.dir.mkdir(parents=True, exist_ok=True)
            self._write_manifest(complete=False)
        self.tasks.mkdir(exist_ok=True)
        for tmp in self.dir.glob("**/.*.tmp"):  # debris of an interrupted write
            tmp.unlink(missing_ok=True)

    def _refuse(self, path: Path, reason: str) -> CheckpointUnreadable:
        return CheckpointUnreadable(
            f"cannot resume from {path}: {reason}. Delete the folder {self.dir}, or give a new one."
        )

    def _manifest(self) -> dict:
        path = self.dir / MANIFEST
        try:
            manifest = json.loads(_read(path))
            fields = {k: v for k, v in manifest.items() if k != "sha256"}
            fmt = fields["format"]
        except Unreadable as exc:
            raise self._refuse(path, str(exc)) from None
        except (ValueError, RecursionError, TypeError, AttributeError, KeyError):
            raise self._refuse(path, "it is not the JSON manifest hemodel writes") from None
        if fmt != FORMAT:
            newer = isinstance(fmt, int) and fmt > FORMAT
            which = "a newer" if newer else "an older"
            raise self._refuse(path, f"it was written by {which} hemodel (format {fmt!r})")
        if manifest.get("sha256") != json_sha256(fields):
            raise self._refuse(path, "its content does not match its SHA-256 hash")
        return fields

    def _check(self, manifest: dict) -> None:
        stored = manifest.get("identity")
        stored = stored if isinstance(stored, dict) else {}
        diffs = [
            f"{key}: {shorten(repr(stored.get(key)))} in the checkpoint, {shorten(repr(value))} now"
            for key, value in self.identity.items()
            if stored.get(key) != value
        ]
        diffs += [f"{key}: only in the checkpoint" for key in stored if key not in self.identity]
        if diffs:
            raise CheckpointMismatch(
                f"cannot resume from {self.dir}: it holds a different run ("
                + "; ".join(diffs)
                + "). Use the same settings, or a new directory."
            )

    def _write_manifest(self, complete: bool) -> None:
        manifest = {
            "format": FORMAT,
            "identity": self.identity,
            "complete": complete,
            "updated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        manifest["sha256"] = json_sha256(manifest)
        atomic_write(self.dir / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())

    def _load(self, path: Path, kind: str, key: str) -> Any:
        try:
            return loads(_read(path), kind, self.run, key)
        except Unreadable as exc:
            raise self._refuse(path, str(exc)) from None

    # -- tasks ---------------------------------------------------------------------------
    def _task_path(self, key: str) -> Path:
        return self.tasks / f"{key}.ckpt"

    def load(self, keys: Iterable[str], kind: str = MOMENTS) -> dict[str, Any]:
        """Stored results of those ``keys`` that have finished (key → result); ``kind``
        (:mod:`~hemodel.run.codec`) is what the tasks return."""
        out = {}
        for key in keys:
            path = self._task_path(key)
            if path.exists():
                out[key] = self._load(path, kind, key)
        return out

    def save(self, key: str, result: Any) -> None:
        """Store one task's result (atomically)."""
        atomic_write(self._task_path(key), dumps(result, self.run, key))

    # -- final outputs -------------------------------------------------------------------
    @property
    def complete(self) -> bool:
        """Whether the run finished and wrote its outputs (the manifest says so last)."""
        return self._manifest().get("complete") is True

    def finish(self, outputs: dict[str, pd.DataFrame], csv: bool = True) -> None:
        """Write the final tables (``<name>.ckpt`` exact, and ``<name>.csv`` to read), then
        mark the manifest complete; a reader that finds ``complete: true`` finds them all."""
        for name, frame in outputs.items():
            atomic_write(self.dir / f"{name}.ckpt", dumps(frame, self.run, name))
            if csv:
                atomic_write(self.dir / f"{name}.csv", frame.to_csv(index=False).encode())
        self._write_manifest(complete=True)

    def outputs(self, names: Iterable[str]) -> dict[str, pd.DataFrame]:
        """The final tables of a complete run."""
        if not self.complete:
            raise RuntimeError(f"{self.dir}: the run has not finished")
        out = {}
        for name in names:
            path = self.dir / f"{name}.ckpt"
            if not path.exists():
                raise self._refuse(path, "the manifest says the run finished, but it is missing")
            out[name] = self._load(path, FRAME, name)
        return out
