"""Files written atomically: a reader sees the old file or the whole new one, never a part.

Used for checkpoints, ``--out`` manifests and the single files commands write (a calibrated
scenario, a starter scenario, the field reference). Imports nothing heavy, so light commands
(``hemodel init``) stay fast.
"""

from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, flushed to
    disk and renamed over ``path`` (``os.replace`` is atomic); the temporary file is removed
    if writing fails (a full disk)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
