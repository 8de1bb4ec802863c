"""Hostile scenario files end quickly in one clear message naming file and line: alias bombs
and recursive aliases, deep nesting, devices, pipes and huge files, control characters, and
``extends:`` names that are malformed or lead outside the scenario's folder (issue 12)."""

from __future__ import annotations

import errno
import os
import signal
import socket
import tempfile
import time
from pathlib import Path

import pytest

from hemodel.commands import main as cli
from hemodel.scenario import reader
from hemodel.scenario.load import ScenarioError, load_scenario, resolve_path
from hemodel.scenario.reader import MAX_BYTES, MAX_DEPTH, MAX_VALUES, read_doc

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "scenarios" / "tiny.yaml"


@pytest.fixture
def deadline():
    """Fail (instead of hanging) when the test body takes more than 10 s."""

    def expired(signum, frame):
        raise TimeoutError("took more than 10 s: reading blocked")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _problem(path: Path):
    """The one problem of loading ``path``, and the whole message."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith("invalid scenario (1 problem):\n"), message
    [problem] = info.value.problems
    return problem, message


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------ aliases
def _bomb(levels: int = 9, width: int = 9) -> str:
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    for k in range(1, levels):
        lines.append(f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_at_once_at_the_alias_that_crosses_the_budget(tmp_path):
    path = _write(tmp_path, "bomb.yaml", _bomb())  # 9**9 values once expanded
    start = time.perf_counter()
    problem, _ = _problem(path)
    assert time.perf_counter() - start < 0.5
    # a0..a4 and a5's list make 74,740 values; a5's first *a4 would add 66,430 more.
    assert (Path(problem.file).name, problem.line, problem.path) == ("bomb.yaml", 6, "a5.0")
    assert problem.message.startswith(
        f"aliases expand to more than {MAX_VALUES:,} values: *a4 repeats 66,430 values here"
    )


def test_aliases_within_the_budget_are_expanded(tmp_path):
    path = _write(tmp_path, "ok.yaml", _bomb(levels=4) + "b: &v {k: 1}\nc: *v\n")
    data = read_doc(path).data
    assert len(data["a3"]) == 9 and data["a3"][8][8][8] == ["x"] * 9
    assert data["c"] == {"k": 1} and data["c"] is not data["b"]


@pytest.mark.parametrize(
    ("text", "line", "name"),
    [
        ("name: x\nloop: &a [1, *a]\n", 2, "a"),  # a list holding itself
        ("name: x\nloop: &m\n  b: 1\n  c: *m\n", 4, "m"),  # a mapping holding itself
        ("name: x\nloop: &a\n  - - - *a\n", 3, "a"),  # through lists in between
        ("name: x\nloop: &a [&b [*a], *b]\n", 2, "a"),  # two anchors
        ("name: x\nloop: &k {*k : 1}\n", 2, "k"),  # as its own key
    ],
    ids=["list", "mapping", "nested", "two-anchors", "key"],
)
def test_recursive_aliases_are_refused_with_their_line(tmp_path, text, line, name):
    problem, message = _problem(_write(tmp_path, "loop.yaml", text))
    assert problem.line == line
    assert problem.message.startswith(f"recursive alias *{name}: it names a value that contains")
    assert "Recursion" not in message


def test_merge_keys_are_refused_even_when_recursive(tmp_path):
    problem, _ = _problem(_write(tmp_path, "merge.yaml", "name: x\nm: &m\n  b: 1\n  <<: *m\n"))
    assert (problem.line, problem.path) == (4, "m")
    assert problem.message.startswith("merge keys (<<) are not allowed")


# ------------------------------------------------------------------------ depth
def _nested(levels: int) -> str:
    """A mapping whose value ``x`` nests a scalar ``levels`` levels below the top."""
    return "x: " + "[" * (levels - 1) + "1" + "]" * (levels - 1) + "\n"


def test_nesting_up_to_the_limit_is_read_and_one_more_level_is_refused(tmp_path):
    data = read_doc(_write(tmp_path, "deep.yaml", _nested(MAX_DEPTH))).data
    for _ in range(MAX_DEPTH):
        [data] = data.values() if isinstance(data, dict) else data
    assert data == 1
    problem, _ = _problem(_write(tmp_path, "deeper.yaml", _nested(MAX_DEPTH + 1)))
    assert problem.line == 1
    assert problem.message.startswith(f"nested more than {MAX_DEPTH} levels deep")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[" * 100_000, 1),
        ("{" * 100_000, 1),
        ("- " * 100_000 + "1\n", 1),
        ("".join(" " * i + "k:\n" for i in range(200)), MAX_DEPTH + 1),
    ],
    ids=["brackets", "braces", "dashes", "indentation"],
)
def test_very_deep_nesting_is_refused_quickly_without_recursion_error(tmp_path, text, line):
    path = _write(tmp_path, "deep.yaml", text)
    start = time.perf_counter()
    problem, message = _problem(path)
    assert time.perf_counter() - start < 1.0
    assert problem.line == line
    assert "nested more than 50 levels deep" in problem.message
    assert "Recursion" not in message


def test_aliases_cannot_nest_deeper_than_the_limit(tmp_path):
    text = "l0: &l0 [1]\n" + "".join(f"l{k}: &l{k} [*l{k - 1}]\n" for k in range(1, 2000))
    problem, message = _problem(_write(tmp_path, "chain.yaml", text))
    assert problem.line == 50  # l49: [*l48] is 50 levels deep below the top mapping
    assert "nested more than 50 levels deep" in problem.message
    assert "Recursion" not in message


# ------------------------------------------------------------------------ files
@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/dev/zero", "a device (such as /dev/zero), not a regular file"),
        ("/dev/urandom", "a device (such as /dev/zero), not a regular file"),
    ],
)
def test_devices_are_never_read(target, expected, deadline):
    problem, _ = _problem(Path(target))
    assert (problem.file, problem.line, problem.message) == (target, None, expected)


def test_a_fifo_is_refused_without_blocking(tmp_path, deadline):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    problem, _ = _problem(fifo)
    assert problem.message == "a named pipe (FIFO), not a regular file"
    assert (tmp_path / "v.yaml").write_text("extends: pipe.yaml\n")
    problem, _ = _problem(tmp_path / "v.yaml")
    assert problem.message == "'pipe.yaml': a named pipe (FIFO), not a regular file"


def test_a_fifo_that_appears_after_the_check_does_not_block(tmp_path, deadline, monkeypatch):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    monkeypatch.setattr(reader, "file_problem", lambda path: None)  # the check is passed
    with pytest.raises(ScenarioError, match="a named pipe"):
        read_doc(fifo)


def test_a_socket_is_refused(deadline):
    folder = Path(tempfile.mkdtemp(prefix="hm"))  # short: a socket path has at most 107 bytes
    path = folder / "s.yaml"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        problem, _ = _problem(path)
    assert problem.message == "a socket, not a regular file"
    path.unlink()
    folder.rmdir()


def test_a_symlink_loop_is_named(tmp_path):
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    problem, _ = _problem(tmp_path / "a.yaml")
    assert problem.message.startswith("a symbolic link loop")
    assert cli.main(["check", str(tmp_path / "a.yaml")]) == 2


def test_a_folder_is_not_a_scenario(tmp_path):
    problem, _ = _problem(tmp_path)
    assert problem.message.startswith("a folder, not a scenario file")


def test_a_huge_file_is_refused_without_being_read(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:
        f.truncate(200_000_000)  # sparse: 200 MB that nobody writes or reads
    start = time.perf_counter()
    problem, _ = _problem(path)
    assert time.perf_counter() - start < 0.5
    assert problem.message.startswith(
        f"the file is 200,000,000 bytes, but a scenario file is at most {MAX_BYTES:,} bytes"
    )


def test_a_file_at_the_size_limit_is_read_and_one_byte_more_is_not(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "MAX_BYTES", 1000)
    path = _write(tmp_path, "limit.yaml", "name: x\n" + "#" * 992)
    assert read_doc(path).data == {"name": "x"}
    path.write_text("name: x\n" + "#" * 993)
    with pytest.raises(
        ScenarioError, match="the file is 1,001 bytes, but a scenario file is at most 1,000 bytes"
    ):
        read_doc(path)


def test_a_file_that_grows_after_the_check_is_read_no_further(tmp_path, monkeypatch):
    path = tmp_path / "growing.yaml"
    path.write_bytes(b"#" * (MAX_BYTES + 10))
    monkeypatch.setattr(reader, "file_problem", lambda path: None)
    real_fstat = os.fstat

    def fstat(fd: int) -> os.stat_result:  # the size when it was checked
        info = real_fstat(fd)
        return os.stat_result((*info[:6], 100, *info[7:10]))

    monkeypatch.setattr(reader.os, "fstat", fstat)
    with pytest.raises(ScenarioError, match=f"the file is {MAX_BYTES + 1:,} bytes"):
        read_doc(path)


def test_permission_denied_is_named(tmp_path, monkeypatch):
    path = _write(tmp_path, "secret.yaml", "name: x\n")

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(reader.os, "open", denied)
    problem, _ = _problem(path)
    assert (
        problem.message == "permission denied: you may not read this file (check its permissions)"
    )


@pytest.mark.parametrize("name", ["a\0b.yaml", "x" * 5000])
def test_impossible_names_on_the_command_line(name, capsys):
    assert cli.main(["check", name]) == 2
    err = capsys.readouterr().err
    assert err.startswith("invalid scenario (1 problem):")
    assert len(err) < 1000 and "Traceback" not in err
    assert "NUL character" in err or "too long" in err
    with pytest.raises(ScenarioError):
        resolve_path(name)


# ------------------------------------------------------------------------ characters
def test_a_control_character_is_named_with_line_and_column(tmp_path):
    text = TINY.read_text().splitlines(keepends=True)
    text[11] = text[11][:4] + "\x1b" + text[11][4:]
    path = tmp_path / "esc.yaml"
    path.write_text("".join(text), encoding="utf-8")
    problem, message = _problem(path)
    assert problem.line == 12
    assert problem.message == (
        "control character U+001B (ESC) on line 12, column 5: remove it (a scenario is plain text)"
    )
    assert "position" not in message


@pytest.mark.parametrize(
    ("char", "name"),
    [
        ("\x00", "NUL"),
        ("\x0c", "FF"),
        ("\x7f", "DEL"),
        ("\x85", "NEL"),
        ("\x9b", "CSI"),
        ("\ufeff", "BYTE ORDER MARK"),
        ("\ufffe", "NOT A CHARACTER"),
    ],
)
def test_control_characters_are_refused_before_parsing(tmp_path, char, name):
    path = _write(tmp_path, "c.yaml", f"name: x\ncurrency: 'U{char}SD'\n")
    problem, message = _problem(path)
    assert (problem.line, problem.path) == (2, "")
    assert problem.message.startswith(
        f"control character U+{ord(char):04X} ({name}) on line 2, column 13: remove it"
    )
    assert "position" not in message


def test_tabs_carriage_returns_and_a_leading_byte_order_mark_are_text(tmp_path):
    path = _write(tmp_path, "ok.yaml", "\ufeffname: 'a\tb'\r\nx: 1\r\n")
    assert read_doc(path).data == {"name": "a\tb", "x": 1}


# ------------------------------------------------------------------------ extends
def test_a_broken_parent_names_the_chain(tmp_path):
    _write(tmp_path, "base.yaml", "name: b\n\n\nx: 'a\x1bb'\n")
    _write(tmp_path, "mid.yaml", "# the middle\nextends: base.yaml\n")
    _write(tmp_path, "mine.yaml", "extends: mid.yaml\n")
    problem, message = _problem(tmp_path / "mine.yaml")
    assert (Path(problem.file).name, problem.line, problem.path) == ("mine.yaml", 1, "extends")
    assert message.endswith(
        "mine.yaml:1: extends: "
        f"{tmp_path / 'mid.yaml'}:2: extends: {tmp_path / 'base.yaml'}:4: "
        "control character U+001B (ESC) on line 4, column 6: remove it (a scenario is plain text)"
    )


@pytest.mark.parametrize(
    ("parent", "expected"),
    [
        ("bomb.yaml", "aliases expand to more than 100,000 values"),
        ("deep.yaml", "nested more than 50 levels deep"),
        ("loop.yaml", "recursive alias *a"),
    ],
)
def test_a_parent_gets_the_same_checks(tmp_path, parent, expected):
    _write(tmp_path, "bomb.yaml", _bomb())
    _write(tmp_path, "deep.yaml", "[" * 100_000)
    _write(tmp_path, "loop.yaml", "a: &a [*a]\n")
    _write(tmp_path, "mine.yaml", f"extends: {parent}\n")
    problem, _ = _problem(tmp_path / "mine.yaml")
    assert (problem.line, problem.path) == (1, "extends")
    assert problem.message.startswith(f"{tmp_path / parent}:")
    assert expected in problem.message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ('"a\\0b.yaml"', "'a\\x00b.yaml': the name contains a NUL character (\\0)"),
        ("x" * 5000, "the name is too long for the file system"),
        ("../secret.yaml", "is outside the folder of mine.yaml: a scenario may extend only"),
        ("{outside}", "is outside the folder of mine.yaml"),
        ("link.yaml", "is outside the folder of mine.yaml"),
        ("zero.yaml", "is outside the folder of mine.yaml"),
        ("loop1.yaml", "a symbolic link loop"),
        ("sub", "a folder, not a scenario file"),
    ],
    ids=["nul", "long", "dotdot", "absolute", "symlink-out", "symlink-dev", "loop", "folder"],
)
def test_extends_names_that_cannot_be_followed(tmp_path, name, expected):
    folder = tmp_path / "mine"
    folder.mkdir()
    secret = _write(tmp_path, "secret.yaml", "name: SECRET-VALUE\nstrategies: SECRET-VALUE\n")
    (folder / "link.yaml").symlink_to(secret)
    (folder / "zero.yaml").symlink_to("/dev/zero")
    (folder / "loop1.yaml").symlink_to(folder / "loop2.yaml")
    (folder / "loop2.yaml").symlink_to(folder / "loop1.yaml")
    (folder / "sub").mkdir()
    _write(folder, "mine.yaml", f"extends: {name.format(outside=secret)}\n")
    start = time.perf_counter()
    problem, message = _problem(folder / "mine.yaml")
    assert time.perf_counter() - start < 1.0
    assert (problem.line, problem.path) == (1, "extends")
    assert expected in problem.message
    assert "SECRET-VALUE" not in message
    assert len(message) < 700  # a 5,000-character name is cut


def test_extends_may_name_files_below_its_folder_and_bundled_scenarios(tmp_path):
    (tmp_path / "models").mkdir()
    _write(tmp_path / "models", "base.yaml", f"extends: {TINY}\nname: base\n")  # by path
    _write(tmp_path, "v1.yaml", "extends: models/base.yaml\n")
    _write(tmp_path, "v2.yaml", "extends: serena6_us.yaml\nname: by name\n")
    assert load_scenario(tmp_path / "v1.yaml").name == "base"
    assert load_scenario(tmp_path / "v2.yaml").name == "by name"


# ------------------------------------------------------------ files a scenario reads
def test_posterior_draws_outside_the_folder_are_never_read(tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("natural_history.esr1_emergence.probability\nSECRET-VALUE\n")
    (tmp_path / "models").mkdir()
    text = (f"extends: {TINY}\nuncertainty:\n  posterior:\n    draws: ../secret.csv\n"
            "    parameters: [natural_history.esr1_emergence.probability]\n")  # fmt: skip
    problem, message = _problem(_write(tmp_path / "models", "mine.yaml", text))
    assert problem.line == 4 and problem.path == "uncertainty.posterior.draws"
    assert "is outside the folder of the scenario file" in message
    assert "SECRET" not in message


def test_posterior_draws_that_are_a_device_are_refused(tmp_path, deadline):
    text = (f"extends: {TINY}\nuncertainty:\n  posterior:\n    draws: zero.csv\n"
            "    parameters: [natural_history.esr1_emergence.probability]\n")  # fmt: skip
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    problem, _ = _problem(_write(tmp_path, "mine.yaml", text))
    assert problem.path == "uncertainty.posterior.draws"
    assert "not a regular file" in problem.message or "device" in problem.message


def test_local_files_lists_what_a_scenario_reads_and_extends_name_refuses_the_way_up(tmp_path):
    from hemodel.scenario.load import extends_name, local_files

    (tmp_path / "models").mkdir()
    base = _write(tmp_path / "models", "base.yaml", "extends: tiny.yaml\nname: base\n")
    mine = _write(tmp_path, "mine.yaml", "extends: models/base.yaml\n")
    assert local_files(mine) == [mine.resolve(), base.resolve()]  # tiny: bundled, not listed
    assert local_files("tiny") == []
    assert extends_name(base, tmp_path) == "models/base.yaml"
    assert extends_name(TINY, tmp_path / "anywhere") == "tiny.yaml"
    with pytest.raises(ValueError, match="a scenario may extend only files in its own folder"):
        extends_name(mine, tmp_path / "models")


@pytest.mark.parametrize(
    "value, wanted",
    [
        ("!!float a variant", "cannot read 'a variant' as a number"),
        ("9" * 5000, "as a whole number (at most 4,300 digits)"),
        ("2024-13-45", "cannot read '2024-13-45' as a date (YYYY-MM-DD)"),
    ],
)
def test_values_yaml_cannot_construct_are_named(tmp_path, value, wanted):
    problem, message = _problem(_write(tmp_path, "mine.yaml", f"extends: {TINY}\nname: {value}\n"))
    assert (problem.line, problem.path) == (2, "name")
    assert wanted in problem.message and len(message) < 500


@pytest.mark.parametrize("name", [".", "..", "/"])
def test_folders_named_as_scenarios_or_parents_are_refused(tmp_path, name):
    with pytest.raises(ScenarioError, match="a folder, not a scenario file|outside the folder"):
        load_scenario(name)
    with pytest.raises(ScenarioError, match="a folder, not a scenario file|outside the folder"):
        load_scenario(_write(tmp_path, "mine.yaml", f"extends: '{name}'\n"))


def test_a_psa_without_spread_centred_elsewhere_is_a_warning_not_a_crash(tmp_path):
    from hemodel.scenario.load import check_scenario

    text = (f"extends: {TINY}\ncosts:\n  imaging: {{value: 500, psa: {{dist: lognormal, "
            "median: 400, sdlog: 1e-300}}\n")  # fmt: skip
    [warning] = check_scenario(_write(tmp_path, "mine.yaml", text)).warnings
    assert "median 400 is far (sd 0) from the value 500" in warning.message


@pytest.mark.parametrize("section", ["strategies", "trials", "studies"])
def test_names_longer_than_64_characters_are_refused_and_cut(tmp_path, section):
    from hemodel.scenario.load import check_scenario

    for long in ("a" * 65, "a" * 1000):  # YAML keys stop at 1,024 characters
        text = f"extends: {TINY}\n{section}:\n  {long}: {{}}\n"
        with pytest.raises(ScenarioError) as info:
            check_scenario(_write(tmp_path, "mine.yaml", text))
        message = str(info.value)
        assert "at most 64 characters" in message and len(message) < 2_000


def test_a_file_wrong_throughout_lists_ten_problems_and_counts_the_rest(tmp_path):
    text = f"extends: {TINY}\n" + "".join(f"unknown_{i}: 1\n" for i in range(40))
    with pytest.raises(ScenarioError) as info:
        load_scenario(_write(tmp_path, "mine.yaml", text))
    message = str(info.value)
    assert len(info.value.problems) == 40
    assert message.startswith("invalid scenario (40 problems):")
    assert message.count("unknown key") == 10 and message.endswith("… and 30 more: fix these first")


def test_a_long_tag_is_cut_in_its_message(tmp_path):
    text = "tag: !!python/name:os.system" + "x" * 100_000 + "\n"
    problem, message = _problem(_write(tmp_path, "mine.yaml", text))
    assert problem.line == 1 and "is not allowed" in message and len(message) < 500


def test_a_long_token_in_a_yaml_syntax_error_is_cut(tmp_path):
    text = "name: *id" + "x" * 100_000 + "\n"
    problem, message = _problem(_write(tmp_path, "mine.yaml", text))
    assert problem.line == 1 and "malformed YAML" in message and len(message) < 600
