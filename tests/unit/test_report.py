"""The HTML report is self-contained and complete; the Excel workbook opens with pandas."""

from __future__ import annotations

import re

import pandas as pd

from hemodel.commands.main import main

from ..conftest import ROOT


def test_report_html_and_excel(tmp_path):
    """`hemodel report` with a PSA and a sweep: every section present, images embedded as
    data URIs (nothing fetched from the internet), inputs listed with sources, and an Excel
    workbook with one sheet per table."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        f"extends: {ROOT / 'scenarios' / 'tiny.yaml'}\n"
        "assays:\n  blood_test:\n    sensitivity:\n      value: 0.9\n"
        "      psa: {dist: beta, mean: 0.9, sd: 0.04}\n      source: Smith 2024\n"
        "sweeps:\n  grid:\n    base: blood_test_q12w\n    every: [6 weeks, 12 weeks]\n"
    )
    out = tmp_path / "rep"
    code = main(["report", str(scenario), "--patients", "60", "--psa-samples", "20",
                 "--psa-patients", "20", "--sweep", "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    page = (out / "report.html").read_text()
    for heading in (
        "Strategies",
        "Inputs and sources",
        "Base case",
        "Efficiency frontier",
        "Probabilistic sensitivity analysis",
        "Testing-interval sweep",
        "Manifest",
    ):
        assert heading in page, heading
    sources = re.findall(r'src="([^"]+)"', page)
    assert len(sources) >= 6 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in page and "https://" not in page
    assert "Smith 2024" in page and "ASSUMPTION" in page
    sheets = pd.read_excel(out / "report.xlsx", sheet_name=None)
    for name in (
        "inputs",
        "strategies",
        "summary",
        "incremental",
        "frontier",
        "psa_samples",
        "ceac",
        "evpi",
        "sweep",
        "manifest",
    ):
        assert name in sheets, name
    inputs = sheets["inputs"].set_index("parameter")
    assert inputs.loc["assays.blood_test.sensitivity", "source"] == "Smith 2024"
    assert len(sheets["summary"]) == 4
