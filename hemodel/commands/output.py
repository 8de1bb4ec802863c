"""Output folders written atomically: a command's files appear together, or not at all.

A command writes into a hidden staging folder beside ``--out``
(``.<name>.partial-<pid>-<random>``); only when it has finished are the files moved into
``--out``, in this order:

1. ``manifest.json`` is written with ``"complete": false`` and the names of the files of
   both the previous run (from the previous manifest) and this one, so that a crash during
   the move leaves a manifest that says the folder is incomplete and lists what to clean;
2. the previous run's files that this run does not write again are deleted, and each new
   file is moved in (``os.replace``: atomic on one file system);
3. ``manifest.json`` is written last (atomically), with ``"complete": true``, the files of
   this run, the command and the time.

A failure before step 1 (bad input, a full disk, Ctrl-C) deletes the staging folder and
leaves ``--out`` as it was. So a folder never mixes files of two runs, and a reader who finds
``"complete": true`` finds every file the manifest lists. Files in ``--out`` that no hemodel
manifest lists (the user's own) are never touched. Staging folders of processes that no
longer run (killed with SIGKILL) are removed by the next command writing beside them.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import __version__
from ..scenario.problems import shorten

MANIFEST = "manifest.json"
_PARTIAL = ".partial-"


class OutputError(ValueError):
    """``--out`` cannot be a folder (it names a file): bad input, exit code 2."""


class OutputWriteError(OSError):
    """The output folder could not be written (disk full, permission): exit code 1."""

    def __str__(self) -> str:
        return str(self.strerror)


_WHY = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the file system is read-only",
    errno.ENAMETOOLONG: "a name in the path is too long",
    errno.ELOOP: "a symbolic link loop",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENOENT: "a folder in the path does not exist and cannot be created",
}


def why(exc: OSError) -> str:
    """An operating-system error's cause in plain words."""
    return _WHY.get(exc.errno or 0) or shorten(exc.strerror or str(exc), 300)


def os_message(exc: OSError) -> str:
    """One line for an operating-system error that ended a command: what failed and why."""
    if isinstance(exc, OutputWriteError | ConnectionError | TimeoutError) or exc.errno is None:
        return shorten(str(exc) or type(exc).__name__, 1000)
    where = f" {shorten(exc.filename)}" if exc.filename else ""
    return f"cannot use{where}: {why(exc)}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _remove_stale(parent: Path, name: str) -> None:
    """Staging folders of ``name`` left by processes that no longer run."""
    for folder in parent.glob(f".{name}{_PARTIAL}*"):
        pid = folder.name.removeprefix(f".{name}{_PARTIAL}").split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _files(folder: Path) -> list[str]:
    """Paths of the files under ``folder``, relative to it, sorted (``/``-separated)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _previous(out: Path) -> list[str]:
    """The files the previous hemodel manifest in ``out`` lists (none if there is none)."""
    try:
        listed = json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return []
    safe = []
    for name in listed if isinstance(listed, list) else []:
        path = Path(str(name))
        if str(name) and not path.is_absolute() and ".." not in path.parts:
            safe.append(path.as_posix())
    return safe


def _write_manifest(out: Path, manifest: dict) -> None:
    from ..run.files import atomic_write

    atomic_write(out / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())


def _commit(staging: Path, out: Path, command: str) -> None:
    """Move the staged files into ``out`` (see the module docstring for the order)."""
    staged = json.loads((staging / MANIFEST).read_text()) if (staging / MANIFEST).is_file() else {}
    (staging / MANIFEST).unlink(missing_ok=True)
    files = [f for f in _files(staging) if f != MANIFEST]
    old = [f for f in _previous(out) if f != MANIFEST]
    out.mkdir(parents=True, exist_ok=True)
    written = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    about = {"command": command, "hemodel_version": __version__, "written": written}
    listing = sorted(set(files) | set(old))
    _write_manifest(out, {**about, "complete": False, "files": listing})
    for name in old:
        if name not in files:
            (out / name).unlink(missing_ok=True)
    for name in files:
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / name, target)
    _write_manifest(out, {**staged, **about, "complete": True, "files": files + [MANIFEST]})


def check_out(out: Path) -> Path:
    """``out`` if it can be an output folder; :class:`OutputError` if it names a file. Call
    it before a long run, so that a bad ``--out`` fails at once."""
    if "\0" in str(out):
        raise OutputError(f"--out {shorten(repr(str(out)))} contains a NUL character")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {shorten(out)} is a file, not a folder: give a folder name")
    return out


@contextmanager
def output_folder(out: Path, command: str) -> Iterator[Path]:
    """A staging folder to write ``command``'s outputs into; moved into ``out`` when the
    block ends without an exception, deleted otherwise (see the module docstring).

    A ``manifest.json`` written into the staging folder is kept and completed (``files``,
    ``complete``). Raises :class:`OutputError` when ``out`` is an existing file, and
    ``OSError`` when the folder cannot be created (permission, read-only or full disk).
    """
    out = check_out(out)
    parent = out.absolute().parent
    staging = None
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(parent, out.name)
        prefix = f".{out.name}{_PARTIAL}{os.getpid()}-"
        staging = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        yield staging
        _commit(staging, out, command)
    except OSError as exc:
        if isinstance(exc, OutputWriteError):
            raise
        raise OutputWriteError(exc.errno, f"cannot write --out {shorten(out)}: {why(exc)}") from exc
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def check_file(out: Path) -> Path:
    """``out`` if it can be an output file; :class:`OutputError` if it names a folder."""
    if "\0" in str(out):
        raise OutputError(f"--out {shorten(repr(str(out)))} contains a NUL character")
    out = Path(out)
    if out.is_dir():
        raise OutputError(f"--out {shorten(out)} is a folder: give a file name")
    return out
