"""Checkpoint files without pickle: JSON and raw NumPy arrays under a SHA-256 content hash.

A file is one line of text, then a body::

    hemodel-checkpoint <format> <SHA-256 of the body, hex> <bytes of the header>\\n
    <header: UTF-8 JSON><arrays: raw little-endian bytes, one after another>

The header names what the file holds (``kind``), the run it belongs to (``run``, a hash of
the checkpoint's identity), its ``key``, the dtype and length of each array and the
``content`` as JSON (numbers in JSON are Python's ``repr``, exact for every float,
``NaN`` and ``Infinity`` included; bulk floats go in arrays, bit for bit). Reading builds
nothing but dicts, lists, strings, numbers, ``None`` and NumPy arrays of the numeric
dtypes in :data:`DTYPES` (``np.frombuffer``): a file can be refused, never run. Every
check failing raises :class:`Unreadable` with the reason.

Kinds: :data:`MOMENTS` (a PSA or points task: strategy → :class:`~.sums.Moments`),
:data:`CHUNK` (a ``simulate()`` task: one frame and one event list per strategy) and
:data:`FRAME` (a final table). A frame keeps its column order and dtypes exactly: numeric
and bool columns as arrays, object columns as JSON scalars, categoricals as codes and
categories; it must have a default ``RangeIndex`` and unique string column names.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import numpy as np
import pandas as pd

from .sums import Moments

FORMAT = 2  # 1: pickle files (never read: they can run code)
MOMENTS, CHUNK, FRAME = "moments", "chunk", "frame"
DTYPES = frozenset({"|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f4", "<f8"})
_FIRST_LINE = re.compile(rb"hemodel-checkpoint (\d{1,6}) ([0-9a-f]{64}) (\d{1,12})\n")
_SCALARS = (str, int, float, type(None))  # bool is an int
_PROBLEMS = (AttributeError, KeyError, IndexError, TypeError, ValueError, RecursionError)


class Unreadable(ValueError):
    """The bytes are not a checkpoint file of this run and key (the message says why)."""


def json_sha256(fields: dict[str, Any]) -> str:
    """SHA-256 (hex) of JSON fields, keys sorted: of a checkpoint's identity (every file
    records the run it belongs to) and of its manifest's fields."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


# -- the container -----------------------------------------------------------------------


def dumps(value: Any, run: str, key: str) -> bytes:
    """The file holding ``value``, stamped with its ``run`` hash and ``key``; its kind
    follows from its type (a frame, a tuple of frames and events, or a dict of moments)."""
    kinds = ((pd.DataFrame, FRAME), (tuple, CHUNK), (dict, MOMENTS))
    kind = next((k for t, k in kinds if isinstance(value, t)), None)
    if kind is None:
        raise TypeError(f"a checkpoint cannot store a {type(value).__name__}")
    arrays: list[np.ndarray] = []
    content = _ENCODE[kind](value, arrays)
    header = {
        "kind": kind,
        "run": run,
        "key": key,
        "arrays": [[a.dtype.str, len(a)] for a in arrays],
        "content": content,
    }
    head = json.dumps(header, separators=(",", ":")).encode()
    body = b"".join([head, *(a.tobytes() for a in arrays)])
    digest = hashlib.sha256(body).hexdigest()
    return f"hemodel-checkpoint {FORMAT} {digest} {len(head)}\n".encode() + body


def loads(data: bytes | bytearray, kind: str, run: str, key: str) -> Any:
    """The value stored by :func:`dumps`, after checking the format, the content hash, the
    run, the key and the kind; :class:`Unreadable` otherwise."""
    first = _FIRST_LINE.match(bytes(data[:120]))
    if first is None:
        raise Unreadable("it does not start like a hemodel checkpoint file")
    if int(first[1]) != FORMAT:
        raise Unreadable(f"it has checkpoint format {int(first[1])}; this hemodel reads {FORMAT}")
    body = memoryview(data)[first.end() :]
    if hashlib.sha256(body).hexdigest() != first[2].decode():
        raise Unreadable("its content does not match its SHA-256 hash (damaged or truncated)")
    try:
        header = json.loads(bytes(body[: int(first[3])]))
        stamp = (header["run"], header["key"], header["kind"])
        if stamp[:2] != (run, key):
            raise Unreadable(f"it belongs to another run or task (key {stamp[1]!r})")
        if stamp[2] != kind:
            raise Unreadable(f"it holds a {stamp[2]!r}, not a {kind!r}")
        arrays = _arrays(body, int(first[3]), header["arrays"])
        return _DECODE[kind](header["content"], arrays)
    except Unreadable:
        raise
    except _PROBLEMS as exc:
        raise Unreadable(f"its content is not what hemodel writes ({type(exc).__name__})") from None


def _arrays(body: memoryview, start: int, specs: list) -> list[np.ndarray]:
    arrays, offset = [], start
    for dtype, length in specs:
        if dtype not in DTYPES or not isinstance(length, int) or length < 0:
            raise ValueError("array")
        a = np.frombuffer(body, np.dtype(dtype), length, offset)
        if a.dtype == bool and length and a.view(np.uint8).max() > 1:
            raise ValueError("bool")
        arrays.append(a)
        offset += a.nbytes
    if offset != len(body):
        raise ValueError("length")
    return arrays


def _check(ok: bool) -> None:
    if not ok:
        raise ValueError("content")


# -- moments -----------------------------------------------------------------------------


def _encode_moments(value: dict[str, Moments], arrays: list) -> dict:
    """Column names per strategy in JSON; per column the count, the number of sum parts and
    of square parts (-1: none) in int64 arrays; the parts, in that order, in a float64 one."""
    content, sizes, parts = {}, [], []
    for strategy, m in value.items():
        if m.sums.keys() != m.count.keys() or not m.squares.keys() <= m.count.keys():
            raise TypeError("a checkpoint stores moments with sums of every counted column")
        content[strategy] = list(m.count)
        for col, n in m.count.items():
            square = m.squares.get(col)
            sizes.append((n, len(m.sums[col]), -1 if square is None else len(square)))
            parts += [*m.sums[col], *(square or ())]
    for a in np.array(sizes, dtype=np.int64).reshape(-1, 3).T:
        _add(arrays, a)
    _add(arrays, np.array(parts, dtype=np.float64))
    return content


def _decode_moments(content: dict, arrays: list) -> dict[str, Moments]:
    counts, n_sums, n_squares, floats = arrays
    rows = sum(len(columns) for columns in content.values())
    _check(len({len(counts), len(n_sums), len(n_squares), rows}) == 1)
    _check({a.dtype.str for a in (counts, n_sums, n_squares)} == {"<i8"} and floats.dtype == float)
    _check(min(counts.min(initial=0), n_sums.min(initial=0), n_squares.min(initial=0) + 1) >= 0)
    _check(max(n_sums.max(initial=0), n_squares.max(initial=0)) <= len(floats))  # no overflow
    _check(int(n_sums.sum() + n_squares.clip(0).sum()) == len(floats))
    ends = np.cumsum(np.column_stack([n_sums, n_squares.clip(0)]).ravel()).tolist()
    parts, sizes = floats.tolist(), zip(counts.tolist(), n_squares.tolist(), strict=True)
    out, at, i = {}, 0, 0
    for strategy, columns in content.items():
        count, sums, squares = {}, {}, {}
        for col, (n, q) in zip(columns, sizes, strict=False):  # sizes: all columns
            _check(type(col) is str)
            count[col], sums[col] = n, tuple(parts[at : ends[i]])
            if q >= 0:
                squares[col] = tuple(parts[ends[i] : ends[i + 1]])
            at, i = ends[i + 1], i + 2
        out[strategy] = Moments(count, sums, squares)
    return out


# -- frames ------------------------------------------------------------------------------


def _encode_frame(frame: pd.DataFrame, arrays: list) -> dict:
    index, names = frame.index, list(frame.columns)
    if not (
        isinstance(index, pd.RangeIndex)
        and (index.start, index.step, index.name) == (0, 1, None)
        and all(type(n) is str for n in names)
        and len(set(names)) == len(names)
        and frame.columns.name is None
    ):
        raise TypeError("a checkpoint stores frames with a default index and unique str columns")
    columns = []
    for name in names:
        col = frame[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            columns.append({
                "name": name,
                "codes": _add(arrays, col.cat.codes.to_numpy()),
                "categories": _scalars(col.cat.categories),
                "ordered": bool(col.cat.ordered),
            })  # fmt: skip
        elif col.dtype == object:
            columns.append({"name": name, "values": _scalars(col)})
        elif isinstance(col.dtype, np.dtype):
            columns.append({"name": name, "array": _add(arrays, col.to_numpy())})
        else:
            raise TypeError(f"a checkpoint cannot store a column of dtype {col.dtype}")
    return {"rows": len(frame), "columns": columns}


def _add(arrays: list, a: np.ndarray) -> int:
    le = np.ascontiguousarray(a, a.dtype.newbyteorder("<"))
    if le.dtype.str not in DTYPES:
        raise TypeError(f"a checkpoint cannot store a column of dtype {a.dtype}")
    arrays.append(le)
    return len(arrays) - 1


def _scalars(values) -> list:
    out = [v.item() if isinstance(v, np.generic) else v for v in values]
    if not all(isinstance(v, _SCALARS) for v in out):
        raise TypeError("a checkpoint stores object columns of str, numbers or None only")
    return out


def _decode_frame(content: dict, arrays: list) -> pd.DataFrame:
    rows, data = content["rows"], {}
    for col in content["columns"]:
        name = col["name"]
        _check(type(name) is str and name not in data)
        if "codes" in col:
            _check(type(col["ordered"]) is bool)
            cats = pd.Index(list(_objects(col["categories"], len(col["categories"]))))
            codes = arrays[col["codes"]]
            data[name] = pd.Categorical.from_codes(codes, cats, ordered=col["ordered"])
        elif "values" in col:
            data[name] = _objects(col["values"], rows)
        else:
            data[name] = arrays[col["array"]]
        _check(len(data[name]) == rows)
    return pd.DataFrame(data, index=pd.RangeIndex(rows), columns=list(data))


def _objects(values: list, rows: int) -> np.ndarray:
    _check(isinstance(values, list) and len(values) == rows)
    _check(all(isinstance(v, _SCALARS) for v in values))
    out = np.empty(rows, dtype=object)
    out[:] = values
    return out


# -- simulate() chunks -------------------------------------------------------------------


def _encode_chunk(value: tuple[list[pd.DataFrame], list[list[tuple]]], arrays: list) -> dict:
    frames, events = value
    return {
        "frames": [_encode_frame(f, arrays) for f in frames],
        "events": [[_scalars(e) for e in log] for log in events],
    }


def _decode_chunk(content: dict, arrays: list) -> tuple[list[pd.DataFrame], list[list[tuple]]]:
    frames = [_decode_frame(f, arrays) for f in content["frames"]]
    events = []
    for log in content["events"]:
        _check(all(isinstance(e, list) and all(isinstance(v, _SCALARS) for v in e) for e in log))
        events.append([tuple(e) for e in log])
    return frames, events


_ENCODE = {MOMENTS: _encode_moments, CHUNK: _encode_chunk, FRAME: _encode_frame}
_DECODE = {MOMENTS: _decode_moments, CHUNK: _decode_chunk, FRAME: _decode_frame}
