"""Checkpoints: exact round trips without pickle, and a clear refusal of any file that is
damaged, planted, foreign, of the old pickle format or of another run."""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hemodel.analysis import psa
from hemodel.run import codec
from hemodel.run.checkpoint import Checkpoint, CheckpointMismatch, CheckpointUnreadable
from hemodel.run.codec import Unreadable, dumps, loads
from hemodel.run.simulation import _Job, _simulate_chunk, simulate
from hemodel.run.sums import Moments
from hemodel.scenario.load import scenario_from_dict
from tests.conftest import tiny_dict

SCENARIO = scenario_from_dict(
    tiny_dict({"costs.imaging": {"value": 500, "psa": {"dist": "gamma", "mean": 500, "sd": 100}}}),
    name="tiny-ckpt",
)
SAMPLES, PATIENTS, CHUNK, SEED = 4, 30, 10, 5  # 12 tasks
RUN, KEY = "a" * 64, "1-0"
ADVICE = "Delete the folder .*, or give a new one"


def run_psa(directory=None, **kwargs):
    return psa.run_psa(SCENARIO, SAMPLES, PATIENTS, SEED, checkpoint=directory, chunk_size=CHUNK,
                       **kwargs)  # fmt: skip


@pytest.fixture(scope="module")
def reference():
    return run_psa()


@pytest.fixture
def finished(tmp_path) -> Path:
    """A checkpoint folder of a finished PSA run."""
    run_psa(tmp_path / "ckpt")
    return tmp_path / "ckpt"


def interrupt_after(monkeypatch, saves: int) -> None:
    """Make the next run stop (KeyboardInterrupt) after it has stored ``saves`` tasks."""
    original, done = Checkpoint.save, []

    def save(self, key, result):
        original(self, key, result)
        done.append(key)
        if len(done) == saves:
            monkeypatch.setattr(Checkpoint, "save", original)
            raise KeyboardInterrupt

    monkeypatch.setattr(Checkpoint, "save", save)


def same_bits(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert list(a.columns) == list(b.columns) and list(a.dtypes) == list(b.dtypes)
    for col in a.columns:
        if a[col].dtype.kind == "f":
            assert a[col].to_numpy().tobytes() == b[col].to_numpy().tobytes(), col


def rehash(header: dict | bytes, arrays: bytes) -> bytes:
    """A well-formed file (valid hash) with this header: what a crafted file looks like."""
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    body = head + arrays
    sha = hashlib.sha256(body).hexdigest()
    return f"hemodel-checkpoint 2 {sha} {len(head)}\n".encode() + body


# -- exact round trips -------------------------------------------------------------------------


def test_moments_round_trip_exactly():
    value = {
        "a": Moments({"cost": 3, "qaly": 0}, {"cost": (1e308, 5e-324, -0.0), "qaly": ()},
                     {"cost": (0.1, 2.0**-60)}),
        "b": Moments({"cost": 1}, {"cost": (math.inf,)}, {"cost": (math.nan,)}),
    }  # fmt: skip
    back = loads(dumps(value, RUN, KEY), codec.MOMENTS, RUN, KEY)
    assert repr(back) == repr(value)
    assert [type(x) for x in back["a"].sums["cost"]] == [float] * 3
    assert math.copysign(1, back["a"].sums["cost"][2]) == -1


def test_frames_round_trip_bit_for_bit():
    frame = pd.DataFrame({
        "z_float": [0.1, -0.0, math.nan, math.inf, 5e-324],
        "count": np.array([1, -2, 2**62, 0, 7], dtype=np.int64),
        "flag": [True, False, True, True, False],
        "small": np.array([1, 2, 3, 4, 5], dtype=np.int32),
        "name": ["a", "é ✓", "", None, "x\ny"],
        "mixed": ["a", 1, 2.5, None, math.nan],
        "strategy": pd.Categorical(["s2", "s1", "s2", "s1", "s1"], categories=["s2", "s1"]),
    })  # fmt: skip
    back = loads(dumps(frame, RUN, "per_sample"), codec.FRAME, RUN, "per_sample")
    same_bits(back, frame)
    assert list(back["strategy"].cat.categories) == ["s2", "s1"]
    assert back["small"].dtype == np.int32 and back["mixed"].tolist()[1] == 1
    empty = pd.DataFrame([], columns=["patient", "day"])
    same_bits(loads(dumps(empty, RUN, "e"), codec.FRAME, RUN, "e"), empty)


def test_a_simulate_chunk_round_trips():
    job = _Job(SCENARIO, SEED, 0, True, 20, 0, "simpy")
    frames, events = _simulate_chunk(job, (0, 12))
    back_frames, back_events = loads(dumps((frames, events), RUN, KEY), codec.CHUNK, RUN, KEY)
    for a, b in zip(back_frames, frames, strict=True):
        same_bits(a, b)
    assert back_events == events and sum(map(len, events)) > 12
    assert all(type(e) is tuple for log in back_events for e in log)


def test_what_cannot_be_stored_exactly_is_refused_when_writing():
    with pytest.raises(TypeError, match="default index"):
        dumps(pd.DataFrame({"a": [1.0]}, index=[5]), RUN, KEY)
    with pytest.raises(TypeError, match="dtype"):
        dumps(pd.DataFrame({"a": pd.array([1, None], dtype="Int64")}), RUN, KEY)
    with pytest.raises(TypeError, match="object columns"):
        dumps(pd.DataFrame({"a": [[1, 2]]}), RUN, KEY)
    with pytest.raises(TypeError, match="every counted column"):
        dumps({"a": Moments({"cost": 1}, {}, {})}, RUN, KEY)
    with pytest.raises(TypeError, match="cannot store a set"):
        dumps({1, 2}, RUN, KEY)


# -- resuming gives the same bits ----------------------------------------------------------------


def test_a_resumed_psa_equals_an_uninterrupted_one(reference, tmp_path, monkeypatch):
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    run_psa(whole)
    interrupt_after(monkeypatch, 7)
    with pytest.raises(KeyboardInterrupt):
        run_psa(resumed)
    tasks = sorted((resumed / "tasks").glob("*.ckpt"))
    assert len(tasks) == 7
    for path in tasks[::3]:
        path.unlink()  # lost: run again
    for a, b in zip(run_psa(resumed), reference, strict=True):
        same_bits(a, b)
    for name in ("per_sample.csv", "drawn.csv", "per_sample.ckpt", "drawn.ckpt"):
        assert (resumed / name).read_bytes() == (whole / name).read_bytes(), name
    for a, b in zip(run_psa(resumed), reference, strict=True):  # the finished run, as stored
        same_bits(a, b)


def test_a_resumed_simulation_equals_an_uninterrupted_one(tmp_path, monkeypatch):
    kwargs = {"trace": True, "batch_size": 10, "engine": "simpy"}
    reference = simulate(SCENARIO, 35, SEED, **kwargs)
    interrupt_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        simulate(SCENARIO, 35, SEED, checkpoint=tmp_path, **kwargs)
    (tmp_path / "tasks" / "0-10.ckpt").unlink()
    for _ in range(2):  # resumed from tasks, then returned as stored
        again = simulate(SCENARIO, 35, SEED, checkpoint=tmp_path, **kwargs)
        same_bits(again.patients, reference.patients)
        same_bits(again.events, reference.events)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "events.ckpt", "manifest.json", "patients.ckpt", "tasks"]  # fmt: skip


# -- nothing planted runs ------------------------------------------------------------------------


class Planted:
    """A pickle that creates ``marker`` when unpickled."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_planted_pickle_is_refused_never_run(finished, tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Planted(marker))
    pickle.loads(payload)  # the payload works ...
    assert marker.exists()
    marker.unlink()
    victim = tmp_path / "victim"
    shutil.copytree(finished, victim)
    for path in [victim / "tasks" / "1-0.ckpt", victim / "per_sample.ckpt"]:
        path.write_bytes(payload)
    json_manifest = json.loads((victim / "manifest.json").read_text())
    assert json_manifest["complete"]
    with pytest.raises(CheckpointUnreadable, match="per_sample.ckpt: it does not start like"):
        run_psa(victim)  # ... but is never unpickled
    ckpt = Checkpoint(victim, json_manifest["identity"])
    with pytest.raises(CheckpointUnreadable, match=rf"1-0.ckpt: .*{ADVICE}"):
        ckpt.load(["1-0"])
    assert not marker.exists()


def test_a_folder_of_the_old_pickle_format_is_refused(finished, tmp_path):
    marker = tmp_path / "pwned"
    manifest = json.loads((finished / "manifest.json").read_text())
    old = {"format": 1, "identity": manifest["identity"], "complete": False}
    shutil.rmtree(finished)
    (finished / "tasks").mkdir(parents=True)
    (finished / "manifest.json").write_text(json.dumps(old))
    with pytest.raises(CheckpointUnreadable, match="written by an older hemodel .format 1."):
        run_psa(finished)
    (finished / "tasks" / "1-0.pkl").write_bytes(pickle.dumps(Planted(marker)))
    with pytest.raises(
        CheckpointUnreadable, match=rf"1-0.pkl: it was written by an older .*{ADVICE}"
    ):
        run_psa(finished)
    assert not marker.exists()


# -- damaged, foreign or crafted files -------------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "does not match its SHA-256 hash"),
        (lambda b: b[: len(b) // 2], "does not match its SHA-256 hash"),
        (lambda b: b"", "does not start like a hemodel checkpoint"),
        (
            lambda b: b.replace(b"checkpoint 2", b"checkpoint 3", 1),
            "format 3; this hemodel reads 2",
        ),
    ],
    ids=["flipped bit", "truncated", "empty", "future format"],
)
def test_a_damaged_task_file_is_refused(finished, damage, message):
    manifest = json.loads((finished / "manifest.json").read_text())
    path = finished / "tasks" / "2-10.ckpt"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CheckpointUnreadable, match=message) as caught:
        Checkpoint(finished, manifest["identity"]).load(["2-10"])
    assert str(caught.value).startswith(f"cannot resume from {path}: ")
    assert str(caught.value).endswith(f"Delete the folder {finished}, or give a new one.")


def test_files_of_another_run_or_task_are_refused(finished, tmp_path):
    other = tmp_path / "other"
    psa.run_psa(SCENARIO, SAMPLES, PATIENTS, SEED + 1, checkpoint=other, chunk_size=CHUNK)
    identity = json.loads((finished / "manifest.json").read_text())["identity"]
    shutil.copy(other / "tasks" / "1-0.ckpt", finished / "tasks" / "1-0.ckpt")
    shutil.copy(finished / "tasks" / "2-0.ckpt", finished / "tasks" / "3-0.ckpt")
    ckpt = Checkpoint(finished, identity)
    with pytest.raises(CheckpointUnreadable, match="another run or task .key '1-0'"):
        ckpt.load(["1-0"])
    with pytest.raises(CheckpointUnreadable, match="another run or task .key '2-0'"):
        ckpt.load(["3-0"])
    with pytest.raises(CheckpointUnreadable, match="holds a 'moments', not a 'chunk'"):
        ckpt.load(["2-0"], codec.CHUNK)


def test_a_task_file_that_is_a_fifo_is_refused_without_waiting(finished):
    identity = json.loads((finished / "manifest.json").read_text())["identity"]
    path = finished / "tasks" / "1-0.ckpt"
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(CheckpointUnreadable, match="1-0.ckpt: it is not a regular file"):
        Checkpoint(finished, identity).load(["1-0"])


def split(data: bytes) -> tuple[dict, bytes]:
    """The header and the arrays' bytes of a file."""
    first, body = data.split(b"\n", 1)
    head_len = int(first.split()[-1])
    return json.loads(body[:head_len]), body[head_len:]


@pytest.mark.parametrize(
    ("header", "sizes"),
    [
        ({"content": {"a": ["cost", "qaly"]}}, None),  # more columns than sizes
        ({"content": {"a": [7]}}, None),  # a column name that is not a string
        ({"content": ["a"]}, None),
        ({"content": {"a": "cost"}}, None),
        ({"arrays": [["|O", 1], ["<i8", 1], ["<i8", 1], ["<f8", 2]]}, None),
        ({"arrays": [["<f8", 1], ["<i8", 1], ["<i8", 1], ["<f8", 2]]}, None),
        ({"arrays": [["<i8", 1], ["<i8", 1], ["<i8", 1], ["<f8", 10**12]]}, None),
        ({"arrays": "x"}, None),
        ({}, (-5, 1, 1)),  # a negative count
        ({}, (2, -1, 3)),  # a negative number of parts
        ({}, (2, 1, -2)),
        ({}, (2, 3, -1)),  # more parts than stored
        ({}, (2, 2**62, 2**62)),  # parts that would overflow
    ],
)
def test_crafted_moments_with_a_valid_hash_are_refused(header, sizes):
    data = dumps({"a": Moments({"cost": 2}, {"cost": (1.0,)}, {"cost": (1.5,)})}, RUN, KEY)
    fields, arrays = split(data)
    assert loads(rehash(fields, arrays), codec.MOMENTS, RUN, KEY)["a"].squares == {"cost": (1.5,)}
    if sizes is not None:
        arrays = np.array(sizes, dtype="<i8").tobytes() + arrays[24:]
    with pytest.raises(Unreadable, match="not what hemodel writes"):
        loads(rehash({**fields, **header}, arrays), codec.MOMENTS, RUN, KEY)


def test_deeply_nested_json_is_refused():
    head = f'{{"kind":"moments","run":"{RUN}","key":"{KEY}","arrays":[],"content":'.encode()
    data = rehash(head + b"[" * 100_000 + b"]" * 100_000 + b"}", b"")
    with pytest.raises(Unreadable, match=r"not what hemodel writes \(RecursionError\)"):
        loads(data, codec.MOMENTS, RUN, KEY)


def test_a_crafted_frame_is_refused():
    frame = pd.DataFrame({"flag": [True, False], "s": pd.Categorical(["a", "b"])})
    header, arrays = split(dumps(frame, RUN, "f"))
    assert loads(rehash(header, arrays), codec.FRAME, RUN, "f").equals(frame)
    for bad in [b"\x02" + arrays[1:], arrays + b"\0"]:  # a bool of 2; bytes left over
        with pytest.raises(Unreadable, match="not what hemodel writes"):
            loads(rehash(header, bad), codec.FRAME, RUN, "f")
    header["content"]["columns"][1]["categories"] = ["a"]  # code 1 out of range
    with pytest.raises(Unreadable, match="not what hemodel writes"):
        loads(rehash(header, arrays), codec.FRAME, RUN, "f")


@pytest.mark.parametrize(
    "manifest",
    ["{", "[]", '{"format": 2}', '{"format": 9, "identity": {}}'],
    ids=["truncated", "a list", "no hash", "newer"],
)
def test_a_damaged_manifest_is_refused(finished, manifest):
    identity = json.loads((finished / "manifest.json").read_text())["identity"]
    (finished / "manifest.json").write_text(manifest)
    with pytest.raises(CheckpointUnreadable, match=rf"manifest.json: .*{ADVICE}"):
        Checkpoint(finished, identity)


def test_a_hand_edited_manifest_is_refused(finished):
    text = (finished / "manifest.json").read_text()
    (finished / "manifest.json").write_text(text.replace('"complete": true', '"complete": false'))
    with pytest.raises(CheckpointUnreadable, match="does not match its SHA-256 hash"):
        run_psa(finished)


def test_missing_outputs_of_a_finished_run_are_refused(finished):
    (finished / "drawn.ckpt").unlink()
    with pytest.raises(CheckpointUnreadable, match="drawn.ckpt: the manifest says the run fin"):
        run_psa(finished)


# -- another run ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"seed": SEED + 1}, f"seed: {SEED} in the checkpoint, {SEED + 1} now"),
        ({"patients": PATIENTS + 1}, "patients"),
        ({"samples": SAMPLES + 1}, "samples"),
        ({"chunk_size": CHUNK + 1}, "chunk_size"),
        ({"engine": "simpy"}, "engine: 'array' in the checkpoint, 'simpy' now"),
        ({"scenario": scenario_from_dict(tiny_dict(), name="x")}, "scenario_hash"),
    ],
)
def test_a_checkpoint_of_another_run_is_refused(finished, change, field):
    kwargs = {"scenario": SCENARIO, "samples": SAMPLES, "patients": PATIENTS, "seed": SEED,
              "chunk_size": CHUNK, **change}  # fmt: skip
    with pytest.raises(CheckpointMismatch, match=field):
        psa.run_psa(checkpoint=finished, **kwargs)


def test_a_checkpoint_of_another_version_is_refused(finished, monkeypatch):
    monkeypatch.setattr(psa, "__version__", "99.0")
    with pytest.raises(CheckpointMismatch, match="hemodel_version: .* '99.0' now"):
        run_psa(finished)
