"""Which engine runs a simulation: the SimPy engine (the reference model: any lab, event
traces) or the array engine (unlimited lab only, about fifty times faster). Both give the same
outcome table. ``"auto"`` takes the array engine when the lab is unlimited and no event trace
is asked for, the SimPy engine otherwise. (No heavy imports: the command line catches
:class:`EngineChoiceError` without loading the engines.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model.inputs import ModelInputs

ENGINES = ("auto", "simpy", "array")
#: Patients per batch by default: the SimPy engine keeps its event heap shallow, the array
#: engine keeps its arrays long enough to pay for NumPy's per-call cost (memory stays
#: about 2× the batch's outcome table).
BATCH_SIZE = {"simpy": 1000, "array": 10_000}


class EngineChoiceError(ValueError):
    """The requested engine cannot run this scenario (or the name is unknown)."""


def choose(engine: str, inputs: ModelInputs, trace: bool = False) -> str:
    """``"simpy"`` or ``"array"`` for a requested ``engine``; :class:`EngineChoiceError` if
    it cannot run."""
    if engine not in ENGINES:
        raise EngineChoiceError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    finite = inputs.lab_capacity is not None
    if engine == "auto":
        return "simpy" if finite or trace else "array"
    if engine == "array" and finite:
        raise EngineChoiceError(
            f"the array engine models an unlimited lab only, and this scenario's lab has a "
            f"capacity of {inputs.lab_capacity} tests: use engine 'simpy' or 'auto'"
        )
    if engine == "array" and trace:
        raise EngineChoiceError(
            "the array engine records no event trace: use engine 'simpy' or 'auto'"
        )
    return engine
