"""The report of the default scenario holds every section a reviewer expects, every table
names its units, the page is self-contained, and the Excel workbook holds numbers and charts."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from openpyxl import load_workbook

from hemodel.commands.main import main
from hemodel.present.report import ANALYSES, choose_analyses
from hemodel.present.report_text import CHEERS_2022

from ..conftest import ROOT

HEADINGS = (
    "Contents",
    "Executive summary",
    "Decision problem",
    "Strategies",
    "Model",
    "Inputs and sources",
    "Base case",
    "Sequential incremental analysis",
    "Survival and state occupancy",
    "Testing-interval sweep",
    "Deterministic sensitivity analysis",
    "Two-way",
    "Threshold price",
    "Budget impact",
    "Probabilistic sensitivity analysis",
    "Validation",
    "Convergence",
    "CHEERS 2022 checklist",
    "Manifest",
)

#: A header names its unit when it holds one of these (or the table has a Unit column).
UNITS = re.compile(
    r"USD|QALY|LYs|months|weeks|days|years|%|probability|Year|/ patient|per |patients|"
    r"\bn\b|\(n\)|hazard ratio|Unit"
)
#: Cells that are amounts of money or counts: digits grouped by thousands.
THOUSANDS = re.compile(r"^−?-?\d{1,3}(,\d{3})+(\.\d+)?$")


class _Tables(HTMLParser):
    """Headings (h1-h3) and tables (header row, body rows) of a page."""

    def __init__(self):
        super().__init__()
        self.headings, self.tables = [], []
        self._cell, self._text, self._in_heading = None, "", False

    def handle_starttag(self, tag, attrs):
        if tag in ("h1", "h2", "h3"):
            self._in_heading, self._text = True, ""
        elif tag == "table":
            self.tables.append({"header": [], "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("th", "td"):
            self._cell, self._text = tag, ""

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3") and self._in_heading:
            self.headings.append(self._text.strip())
            self._in_heading = False
        elif tag in ("th", "td") and self._cell:
            where = self.tables[-1]
            (where["header"] if tag == "th" else where["rows"][-1]).append(self._text.strip())
            self._cell = None

    def handle_data(self, data):
        self._text += data


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    code = main(["report", "serena6_us", "--patients", "300", "--dsa-patients", "200",
                 "--psa-samples", "20", "--psa-patients", "50", "--validation-patients", "300",
                 "--skip", "evsi", "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    return out


def test_every_section_is_there_and_self_contained(report):
    page = (report / "report.html").read_text(encoding="utf-8")
    parsed = _Tables()
    parsed.feed(page)
    for heading in HEADINGS:
        assert any(heading in h for h in parsed.headings), heading
    sources = re.findall(r'src="([^"]+)"', page)
    assert len(sources) >= 15 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in page and "https://" not in page
    assert "ASSUMPTION" in page and "Sanders 2016" in page
    assert "At USD 100,000 per QALY" in page and "At USD 150,000 per QALY" in page


def test_every_table_names_its_units(report):
    parsed = _Tables()
    parsed.feed((report / "report.html").read_text(encoding="utf-8"))
    assert len(parsed.tables) >= 15
    for table in parsed.tables:
        header = table["header"]
        if header in (["Item", "Value"], ["Item", "Topic", "Where reported"]):
            continue  # the problem, manifest and CHEERS tables: units inside the values
        if header[:2] == ["Strategy", "Description"]:
            continue  # the strategies: words, units in the text
        assert any(UNITS.search(h) for h in header), header
        for j, name in enumerate(header):
            column = [row[j] for row in table["rows"] if len(row) == len(header)]
            money = [c for c in column if c not in ("—", "")]
            if money and all(THOUSANDS.match(c) for c in money):
                assert UNITS.search(name), (name, header)


def test_cheers_checklist_points_to_sections(report):
    page = (report / "report.html").read_text(encoding="utf-8")
    assert len(CHEERS_2022) == 28
    for number, topic, _ in CHEERS_2022:
        assert f"<td>{number}</td>" in page and topic.split(",")[0] in page
    assert re.search(r"Section \d+: Probabilistic sensitivity analysis", page)
    assert page.count("not produced by the model") == 7  # items 1, 4, 19, 21, 25, 27, 28


def test_workbook_holds_numbers_charts_and_the_manifest(report):
    book = load_workbook(report / "report.xlsx")
    for sheet in ("manifest", "inputs", "summary", "frontier", "ce_plane", "ceac", "dsa",
                  "budget_totals", "validation_targets"):  # fmt: skip
        assert sheet in book.sheetnames, sheet
    summary = book["summary"]
    headers = [c.value for c in summary[1]]
    assert any("USD" in str(h) for h in headers)
    assert all(c.data_type == "n" for c in summary["C"][1:])  # numbers, not text
    assert book["ce_plane"]._charts and book["ceac"]._charts
    manifest = {r[0].value: r[1].value for r in book["manifest"].iter_rows() if r[0].value}
    text = " ".join(map(str, manifest))
    assert "USD" in map(str, manifest.values()) and "2025" in map(str, manifest.values())
    assert "iscount" in text  # the discount rates


def test_sections_can_be_chosen():
    assert choose_analyses(None, None) == ANALYSES
    assert choose_analyses(["psa", "base"], None) == ("base", "psa")
    assert choose_analyses(None, ["psa", "validation"]) == tuple(
        a for a in ANALYSES if a not in ("psa", "validation")
    )
    with pytest.raises(ValueError, match="unknown report section 'tornado'"):
        choose_analyses(["tornado"], None)


def test_only_some_sections(tmp_path):
    out = tmp_path / "quick"
    code = main(["report", str(ROOT / "scenarios" / "tiny.yaml"), "--only", "base,budget",
                 "--patients", "60", "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Base case" in page and "Probabilistic sensitivity analysis</h2>" not in page
    assert "no population: block" in page  # tiny has none: the section says what to add
    assert main(["report", "tiny", "--only", "tornado", "--out", str(out)]) == 2
