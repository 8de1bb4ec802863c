"""The ctDNA laboratory.

``UnlimitedLab``: no queue; a result returns ``transport + turnaround`` days after the draw,
computed at once (no SimPy events, so it is fast).
``FiniteLab``: a SimPy ``PriorityResource`` with ``capacity`` tests in process at once.
Samples queue first come, first served; ties at the same instant go to the lower patient
number, so results do not depend on the order processes were created in.
"""

from __future__ import annotations

import simpy


class Test:
    """One blood test: drawn at ``drawn`` (patient days), processed by the lab."""

    __slots__ = (
        "index",
        "drawn",
        "positive",
        "true_positive",
        "transport",
        "service",
        "queue",
        "result_time",
    )

    def __init__(
        self,
        index: int,
        drawn: float,
        positive: bool,
        true_positive: bool,
        transport: float,
        service: float,
    ):
        self.index = index
        self.drawn = drawn
        self.positive = positive
        self.true_positive = true_positive
        self.transport = transport
        self.service = service
        self.queue = 0.0
        self.result_time = drawn + transport + service  # updated by a finite lab

    @property
    def lab_wait(self) -> float:
        """Days from draw to result: transport + queue + processing."""
        return self.result_time - self.drawn


class UnlimitedLab:
    finite = False

    def submit(self, patient, test: Test) -> None:
        patient.pending.append(test)


class FiniteLab:
    finite = True

    def __init__(self, env: simpy.Environment, capacity: int):
        self.env = env
        self.resource = simpy.PriorityResource(env, capacity=capacity)

    def submit(self, patient, test: Test) -> None:
        self.env.process(self._process(patient, test))

    def _process(self, patient, test: Test):
        env = self.env
        if test.transport > 0:
            yield env.timeout(test.transport)
        arrived = env.now
        with self.resource.request(priority=(arrived, patient.id)) as request:
            yield request
            test.queue = env.now - arrived
            yield env.timeout(test.service)
        test.result_time = env.now - patient.origin
        patient.deliver(test)
