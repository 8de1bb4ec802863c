"""One patient's pathway under one monitoring strategy, as a SimPy process.

First line (AI + CDK4/6 inhibitor): clinic visits, imaging every ``imaging_every`` days
(progression is *detected* at the first scan at or after true progression), ctDNA draws
from ``draw_start`` every ``draw_every`` days, lab results, and a therapy switch on a positive
result (at once or at the next visit). True progression is the earlier of progression by
other mechanisms and ESR1-driven progression; a switch multiplies the ESR1-driven hazard
(and, with ``acts_on: all_progression``, the other one of a mutation carrier) from the switch
on, optionally until its effect wanes (cumulative-hazard budget, see
:func:`time_with_hazard_ratio`). A test finds the mutation when it is detectable by the
assay (:mod:`hemodel.model.kinetics`), with the assay's sensitivity.
After detected progression: optional ESR1 test at progression, second-line therapy
(targeted if that test is positive) until second progression, later lines until death.
Background death competes throughout. All times are days from the patient's 1L start.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from ..model.economics import Timeline
from ..model.kinetics import detectable_from
from ..scenario.hazards import time_with_hazard_ratio
from .lab import Test

INF = math.inf


def next_on_grid(t: float, every: float) -> float:
    """First of ``every, 2·every, …`` (days) at or after ``t``; a relative tolerance of 1e-9
    absorbs float error so that ``t`` on the grid maps to itself."""
    if math.isinf(t):
        return INF
    return max(1, math.ceil(t / every - 1e-9)) * every


class Patient:
    """State and SimPy process of one patient (index ``i`` within the cohort arrays)."""

    def __init__(self, sim, i: int):
        self.sim = sim
        self.i = i
        self.id = int(sim.cohort.ids[i])
        self.origin = float(sim.cohort.entry[i])
        self.pending: list[Test] = []
        self.tests: list[Test] = []
        self.waiting = False
        self.process: simpy.Process | None = None
        self.timeline: Timeline | None = None
        self.first_positive = INF
        self.fp_switch = False
        self.progression_test: Test | None = None
        self.lead_time = math.nan

    # -- biology ---------------------------------------------------------------------
    def _effect(self, switch: float) -> tuple[float, float]:
        """Hazard ratio of this strategy's switch and the day its effect ends."""
        sw = self.sim.plan.switch
        if sw is None or switch == INF:
            return 1.0, INF
        return sw.hazard_ratio, switch + sw.effect_duration

    def first_progression(self, switch: float) -> float:
        """True first progression (days) when switched at ``switch`` (inf: never): the
        earlier of ESR1-driven progression (on the patient's clock, ``esr1_scale`` times the
        law's) and progression by other mechanisms."""
        c, i, nh = self.sim.cohort, self.i, self.sim.inputs.natural_history
        emerged = c.emergence[i]
        other = c.other_progression[i]
        if math.isinf(emerged):
            return other
        hr, until = self._effect(switch)
        scale = c.esr1_scale[i]
        esr1 = emerged + scale * time_with_hazard_ratio(
            nh.esr1_progression,
            c.esr1_budget[i],
            (switch - emerged) / scale,
            hr,
            (until - emerged) / scale,
        )
        if hr != 1.0 and self.sim.plan.switch.acts_on_all:  # from when both apply
            since = max(switch, emerged)
            other = time_with_hazard_ratio(nh.other_progression, c.other_budget[i], since, hr,
                                           until)  # fmt: skip
        return min(other, esr1)

    def detectable(self, t: float, t1: float, delays: tuple[np.ndarray, np.ndarray]) -> bool:
        """Whether an assay whose :func:`~hemodel.model.kinetics.detection_delays` are
        ``delays`` detects the mutation at day ``t``, true first progression being at ``t1``."""
        emerged = self.sim.cohort.emergence[self.i]
        if emerged > t:
            return False
        before, after = delays[0][self.i], delays[1][self.i]
        return float(detectable_from(emerged, t1, before, after)) <= t

    # -- lab --------------------------------------------------------------------------
    def deliver(self, test: Test) -> None:
        """Called by a finite lab when a result is ready."""
        self.pending.append(test)
        if self.waiting:
            self.process.interrupt()

    def trace(self, t: float, event: str, detail: str = "") -> None:
        if self.sim.trace is not None:
            self.sim.trace.append((self.id, self.sim.plan.name, t, event, detail))

    # -- process ----------------------------------------------------------------------
    def run(self):
        sim, env, i = self.sim, self.sim.env, self.i
        c, plan, inputs = sim.cohort, sim.plan, sim.inputs
        if self.origin > 0:
            yield env.timeout(self.origin)
        self.trace(0.0, "start_first_line")
        horizon = inputs.horizon
        background = c.background_death[i]
        # untreated course after first progression: second progression, then disease death
        law2 = inputs.natural_history.second_progression
        gap2 = time_with_hazard_ratio(law2, c.second_budget[i], INF, 1.0)
        gap_death = gap2 + c.disease_death_after[i]
        emergence = c.emergence[i]
        switch_plan = plan.switch
        testing = plan.draw_every is not None
        k = 0
        now = 0.0
        switch = INF
        planned_switch = INF
        events: list[tuple[float, str, float]] = []

        no_switch_detection = next_on_grid(self.first_progression(INF), plan.imaging_every)
        while True:
            t1 = self.first_progression(switch)
            d1 = next_on_grid(t1, plan.imaging_every)
            end1 = min(background, t1 + gap_death, horizon)  # first line ends by death
            t_draw = plan.draw_start + k * plan.draw_every if testing else INF
            t_result = min((t.result_time for t in self.pending), default=INF)
            t = min(end1, d1, t_draw, t_result, planned_switch)
            if t > now:
                self.waiting = True
                try:
                    yield env.timeout(t - now)
                    now = t
                except simpy.Interrupt:
                    now = env.now - self.origin
                    continue
                finally:
                    self.waiting = False
            if t_draw <= now:  # a draw on the last day of follow-up counts, as a visit does
                events.extend(self._draw(k, now, emergence, t1))
                k += 1
            if d1 <= now or end1 <= now:
                break
            ready = sorted(
                (x for x in self.pending if x.result_time <= now),
                key=lambda x: (x.result_time, x.index),
            )
            for test in ready:
                self.pending.remove(test)
                self.trace(now, "result", "positive" if test.positive else "negative")
                # lead time: from the first true positive to the scan that would have seen
                # progression without any switch (only if it comes before that scan)
                first_tp = test.true_positive and math.isnan(self.lead_time)
                if first_tp and now < no_switch_detection:
                    self.lead_time = no_switch_detection - now
                if not test.positive or switch < INF or planned_switch < INF:
                    continue
                self.first_positive = min(self.first_positive, now)
                baseline = emergence == 0.0 and test.true_positive
                if baseline and not switch_plan.switch_baseline_mutations:
                    testing = testing and switch_plan.continue_testing
                    continue
                self.fp_switch = not test.true_positive
                if switch_plan.at_next_visit:
                    planned_switch = next_on_grid(now, plan.visit_every)
                else:
                    planned_switch = now
                testing = testing and switch_plan.continue_testing
            if planned_switch <= now:
                switch, planned_switch = now, INF
                self.trace(now, "switch", switch_plan.therapy)

        # ---- after first line ----------------------------------------------------------
        t1 = self.first_progression(switch)
        d1 = next_on_grid(t1, plan.imaging_every)
        death = min(background, t1 + gap_death)
        end = min(death, horizon)
        died = death <= horizon
        if t1 < end:
            self.trace(float(t1), "true_progression")
        second_start = INF
        targeted = False
        t2 = t1 + gap2  # untreated; replaced below once second-line therapy is known
        if t2 < end and d1 >= end:
            self.trace(float(t2), "second_progression")  # before progression was detected
        if d1 < end:
            self.trace(d1, "progression_detected")
            second_start = d1
            if plan.progression_assay is not None:
                found = self.detectable(d1, t1, sim.progression_delays)
                test = sim.progression_test(self, d1, emergence <= d1, found)
                self.progression_test = test
                events.append((d1, "testing", plan.progression_assay.cost))
                events.append((d1, "phlebotomy", inputs.prices.venipuncture))
                if sim.lab.finite:
                    self.waiting = False
                    sim.lab.submit(self, test)
                    while test not in self.pending:
                        self.waiting = True
                        try:
                            yield env.event()  # never fires: woken by the lab's interrupt
                        except simpy.Interrupt:
                            self.waiting = False
                    self.pending.remove(test)
                    now = test.result_time
                else:
                    now = test.result_time
                    yield env.timeout(now - d1)
                second_start = test.result_time
                targeted = test.positive
                self.trace(now, "progression_test", "positive" if targeted else "negative")
            effect = inputs.targeted_2l_hr if targeted and emergence <= d1 else 1.0
            t2 = t1 + time_with_hazard_ratio(law2, c.second_budget[i], second_start - t1, effect)
            death = min(background, t2 + c.disease_death_after[i])
            died = death <= horizon
            end = min(death, horizon)
            now = max(now, d1)
            if now < t2 < end:
                yield env.timeout(t2 - now)
                now = t2
                self.trace(t2, "second_progression")
        if end > now:
            yield env.timeout(end - now)
        if emergence <= end:  # latent biology: recorded once the end of follow-up is known
            self.trace(float(emergence), "esr1_emerges" if emergence > 0 else "esr1_at_start")
        if died:
            cause = "disease" if end < background else "background"
            self.trace(end, "death", cause)
        self.timeline = Timeline(
            end=end,
            died=died,
            emergence=emergence,
            switch=switch,
            true_progression=t1,
            detected_progression=d1,
            second_line_start=second_start,
            targeted_second_line=targeted,
            second_progression=t2,
            events=events,
        )

    def _draw(self, k: int, now: float, emergence: float, t1: float) -> list:
        """Blood draw number ``k`` at day ``now``: sends a test to the lab, returns its costs
        as (day, category, cost) triples."""
        sim, plan, prices = self.sim, self.sim.plan, self.sim.inputs.prices
        found = self.detectable(now, t1, sim.monitoring_delays)
        test = sim.monitoring_test(self, k, now, emergence <= now, found)
        self.tests.append(test)
        sim.lab.submit(self, test)
        self.trace(now, "draw", f"test {k + 1}")
        on_visit = abs(now / plan.visit_every - round(now / plan.visit_every)) < 1e-9
        costs = [(now, "testing", plan.assay.cost), (now, "phlebotomy", prices.venipuncture)]
        if not on_visit:
            costs.append((now, "phlebotomy", prices.phlebotomy_visit))
        return costs
