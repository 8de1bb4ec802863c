"""Shared test helpers (keep small: fixtures used by more than one test module)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
_TINY = yaml.safe_load((ROOT / "scenarios" / "tiny.yaml").read_text())


def tiny_dict(overrides: dict | None = None, /, **changes) -> dict:
    """``scenarios/tiny.yaml`` as plain data with dotted-path overrides applied.

    ``tiny_dict({"natural_history.other_progression": {"distribution": "never"}})`` or
    ``tiny_dict(**{"lab.capacity": 2})``; missing intermediate mappings are created. The result
    is a fresh deep copy; validate it with :func:`hemodel.scenario_from_dict`.
    """
    data = copy.deepcopy(_TINY)
    for dotted, value in {**(overrides or {}), **changes}.items():
        node = data
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = copy.deepcopy(value)
    return data


@pytest.fixture(scope="session")
def tiny():
    """Factory fixture: ``tiny(overrides)`` → tiny.yaml as data with overrides (see tiny_dict)."""
    return tiny_dict
