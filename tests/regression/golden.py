"""Golden regression files: per-strategy summaries of the teaching scenarios.

Regenerate only after a deliberate change to the model, and say why in the commit:
    python tests/regression/golden.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hemodel.run.simulation import simulate
from hemodel.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = {"tiny": 600, "tiny_lab": 300}  # scenario → patients
SEED = 2024


def summary(name: str) -> pd.DataFrame:
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    return simulate(scenario, patients=CASES[name], seed=SEED).summary()


if __name__ == "__main__":
    GOLDEN.mkdir(exist_ok=True)
    for case in CASES:
        summary(case).to_csv(GOLDEN / f"{case}_summary.csv", index=False, float_format="%.17g")
        print("wrote", GOLDEN / f"{case}_summary.csv")
