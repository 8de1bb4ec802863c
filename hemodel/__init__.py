"""hemodel: discrete-event health-economic modelling of ctDNA-guided therapy switching.

The public API is ``__all__``. Names load on first use (PEP 562), so ``import hemodel`` and
commands that only read a scenario (``hemodel check``) do not pay for the simulation stack.
The layers below are described in ``docs/architecture.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

#: Public name → the module that defines it.
_API = {
    "Results": "hemodel.run.results",
    "simulate": "hemodel.run.simulation",
    "ScenarioError": "hemodel.scenario.problems",
    "default_scenario_path": "hemodel.scenario.bundled",
    "load_scenario": "hemodel.scenario.load",
    "parameters": "hemodel.scenario.load",
    "scenario_from_dict": "hemodel.scenario.load",
    "scenario_hash": "hemodel.scenario.load",
    "with_values": "hemodel.scenario.load",
}

__all__ = [
    "Results",
    "ScenarioError",
    "default_scenario_path",
    "load_scenario",
    "parameters",
    "scenario_from_dict",
    "scenario_hash",
    "simulate",
    "with_values",
]

if TYPE_CHECKING:  # for editors and type checkers; at run time names load on first use
    from .run.results import Results
    from .run.simulation import simulate
    from .scenario.bundled import default_scenario_path
    from .scenario.load import (
        load_scenario,
        parameters,
        scenario_from_dict,
        scenario_hash,
        with_values,
    )
    from .scenario.problems import ScenarioError


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'hemodel' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
