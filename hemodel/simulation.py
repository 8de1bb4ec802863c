"""``simulate()``: run every strategy of a scenario on a common cohort."""

from __future__ import annotations

import datetime as _dt
import sys

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import __version__
from .cohort import draw_cohort
from .engine import run_strategy
from .model import build_inputs
from .results import Results
from .scenario import load_scenario, scenario_hash
from .schema import Scenario


def simulate(
    scenario: Scenario | str,
    patients: int = 1000,
    seed: int = 1,
    *,
    sample: int = 0,
    first_patient: int = 0,
    trace: bool = False,
    progress: bool | None = False,
    batch_size: int = 1000,
    budget_years: int = 0,
) -> Results:
    """Simulate ``patients`` patients through every strategy of ``scenario``.

    All strategies see the same patients (common random numbers): patient ``i`` has the
    same latent natural history everywhere, keyed by ``(seed, sample, i)``.
    ``first_patient`` offsets the patient numbers (to run a cohort in parts).
    ``trace=True`` records every event in :attr:`Results.events`.
    ``progress``: ``True`` shows a progress bar, ``None`` shows it only on a terminal.
    ``budget_years`` > 0 adds undiscounted costs by year since start and category
    (columns ``cost_y<year>_<category>``) for budget impact analysis.
    """
    if isinstance(scenario, str):
        scenario = load_scenario(scenario)
    if patients < 1:
        raise ValueError("patients must be at least 1")
    inputs = build_inputs(scenario)
    cohort = draw_cohort(inputs, np.arange(first_patient, first_patient + patients), seed, sample)
    show = progress if progress is not None else sys.stderr.isatty()
    bar = tqdm(
        total=patients * len(inputs.strategies),
        unit="patient-strategy",
        disable=not show,
        desc=scenario.name,
        leave=False,
    )
    events: list | None = [] if trace else None
    frames = []
    with bar:
        for plan in inputs.strategies:
            frame = run_strategy(
                inputs, plan, cohort, seed, sample, events, batch_size, bar.update, budget_years
            )
            frame.insert(0, "strategy", plan.name)
            frame.insert(0, "patient", cohort.ids)
            frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table["strategy"] = pd.Categorical(table["strategy"], categories=list(scenario.strategies))
    trace_frame = pd.DataFrame(
        events or [], columns=["patient", "strategy", "day", "event", "detail"]
    )
    metadata = {
        "scenario": scenario.name,
        "scenario_hash": scenario_hash(scenario),
        "seed": seed,
        "sample": sample,
        "patients": patients,
        "first_patient": first_patient,
        "hemodel_version": __version__,
        "currency": scenario.currency,
        "price_year": scenario.price_year,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return Results(
        patients=table,
        reference=scenario.reference,
        wtp=scenario.willingness_to_pay[0].value,
        currency=scenario.currency,
        metadata=metadata,
        events=trace_frame,
    )
