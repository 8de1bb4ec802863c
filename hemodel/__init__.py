"""hemodel: discrete-event health-economic modelling of ctDNA-guided therapy switching."""

__version__ = "0.1.0"

from .run.results import Results  # noqa: E402
from .run.simulation import simulate  # noqa: E402
from .scenario.load import (
    ScenarioError,
    default_scenario_path,
    load_scenario,
    parameters,
    scenario_from_dict,
    scenario_hash,
    with_values,
)

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
