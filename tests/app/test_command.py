"""``hemodel app`` refuses what it cannot serve with one message and an exit code, before
starting a server (the browser tests start it for real)."""

from __future__ import annotations

import builtins
import socket

import pytest

from hemodel.commands.main import main


def test_a_broken_scenario_is_reported_with_its_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: tiny.yaml\ncosts:\n  imaging: -5\n")
    assert main(["app", str(bad), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml:3: costs.imaging" in err and "Traceback" not in err


def test_a_port_in_use_is_named(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["app", "tiny", "--port", str(port), "--no-browser"]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err


def test_a_port_beyond_65535_is_refused(capsys):
    assert main(["app", "--port", "70000", "--no-browser"]) == 2
    assert "--port must be at most 65535" in capsys.readouterr().err


def test_without_shiny_it_says_what_to_install(monkeypatch, capsys):
    real = builtins.__import__

    def no_shiny(name, *args, **kwargs):
        if name == "shiny" or name.startswith("shiny."):
            raise ImportError("No module named 'shiny'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_shiny)
    assert main(["app", "--no-browser"]) == 1
    assert "pip install 'hemodel[app]'" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["0", "x"])
def test_a_port_must_be_a_positive_number(port, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["app", "--port", port])
    assert exit_.value.code == 2
