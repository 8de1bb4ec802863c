"""The analyst app driven in a real browser: Debian's Chromium through Playwright (no browser
download). ``.ci/run`` installs Chromium and sets HEMODEL_REQUIRE_BROWSER=1, so there a
missing browser fails these tests instead of skipping them.

Screenshots go to $HEMODEL_SCREENSHOTS (default: the test's temporary folder).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from hemodel.scenario.load import check_scenario

pytest.importorskip("shiny")
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    if os.environ.get("HEMODEL_REQUIRE_BROWSER"):
        raise RuntimeError("HEMODEL_REQUIRE_BROWSER is set but Chromium is not installed")
    pytest.skip("Chromium not installed (apt-get install chromium)", allow_module_level=True)

#: Flags for a headless Chromium on a machine without a network or a display.
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]  # fmt: skip
WAIT = 60_000  # ms: a first run on a loaded CI machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    """``hemodel app`` on the default scenario, as a user starts it."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hemodel", "app", "--no-browser", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the app did not start: {proc.stdout.read()}")
            time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url, tmp_path):
    context = browser.new_context(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(WAIT)
    pg.goto(app_url)
    pg.wait_for_selector("#incremental table")
    _idle(pg)
    yield pg
    context.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("HEMODEL_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _idle(pg) -> None:
    """Wait until Shiny has no computation pending and no visible output recalculating
    (outputs on hidden tabs wait, suspended, until their tab is shown)."""
    pg.wait_for_function(
        "() => !document.documentElement.classList.contains('shiny-busy') && !Array.from("
        "document.querySelectorAll('.recalculating')).some(e => e.offsetParent !== null)"
    )


def _opened(pg) -> None:
    """Wait until an accordion section has finished opening (its contents stop moving)."""
    pg.wait_for_selector(".accordion-collapse.show")
    pg.wait_for_function("() => !document.querySelector('.accordion-collapse.collapsing')")


def _icers(pg) -> dict[str, str]:
    """Strategy → ICER text of the table against the reference."""
    rows = pg.locator("#incremental table tbody tr")
    header = pg.locator("#incremental table thead th").all_inner_texts()
    col = next(i for i, h in enumerate(header) if h.startswith("ICER"))
    out = {}
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td").all_inner_texts()
        out[cells[0]] = cells[col]
    return out


def _number(text: str) -> float:
    return float(re.match(r"[-\d,.]+", text).group().replace(",", ""))


def test_the_default_scenario_opens_with_results(page, shots):
    icers = _icers(page)
    assert icers["imaging_only"] == "reference"
    assert set(icers) >= {"ctdna_q8w", "ctdna_q12w", "ddpcr_q8w", "test_at_progression"}
    assert "USD" in page.inner_text("#summary")
    assert "10,000 patients, seed 1" in page.inner_text("#base_status")
    assert "No changes" in page.inner_text("#change_list")
    page.screenshot(path=shots / "app_default.png")


def test_moving_the_test_cost_slider_changes_the_icer(page, shots):
    before = _number(_icers(page)["ctdna_q8w"])
    page.get_by_role("button", name="Assays").click()
    _opened(page)
    label = page.get_by_text("Guardant360: cost (USD per test)")
    slider = page.locator(".form-group", has=label)
    handle = slider.locator(".irs-handle.single")
    handle.wait_for(state="visible")
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    line = slider.locator(".irs-line").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(line["x"] + 5, box["y"] + box["height"] / 2, steps=8)  # to the low end
    page.mouse.up()
    page.wait_for_selector("#changes:has-text('Guardant360: cost')")
    assert "press Run" in page.inner_text("#base_status")
    page.get_by_role("button", name="Run base case").click()
    page.wait_for_function(
        "() => !document.querySelector('#base_status').innerText.includes('press Run')"
    )
    _idle(page)
    after = _number(_icers(page)["ctdna_q8w"])
    assert after < before  # a cheaper test, the same patients: a lower ICER
    assert "3,500 USD per test" in page.inner_text("#changes")
    page.screenshot(path=shots / "app_slider.png")


def test_a_broken_upload_shows_the_line_and_field(page, shots, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("extends: serena6_us.yaml\nassays:\n  guardant360:\n    sensitivity: 1.7\n")
    page.set_input_files("#upload", broken)
    problem = page.wait_for_selector("#problems")
    text = problem.inner_text()
    assert "broken.yaml:4" in text
    assert "assays.guardant360.sensitivity" in text
    assert "/tmp" not in text  # the user's file name, not the server's copy
    # the scenario in use is still the default, with its results
    assert _icers(page)["imaging_only"] == "reference"
    page.screenshot(path=shots / "app_broken_upload.png")


def test_the_downloaded_scenario_loads_with_the_changes(page, tmp_path):
    page.fill("input[id^='wtp_']", "120000")
    page.get_by_role("button", name="Strategies").click()
    _opened(page)
    every = page.locator("input[id^='every_'][id$='_3']")  # ctdna_q12w's testing interval
    every.fill("10")
    every.press("Tab")
    page.wait_for_selector("#changes:has-text('ctdna_q12w: testing interval')")
    with page.expect_download() as download:
        page.get_by_role("link", name="Edited scenario (YAML)").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name == "serena6_us_edited.yaml"
    scenario = check_scenario(path).scenario
    assert scenario.willingness_to_pay[0].value == 120000
    assert scenario.strategies["ctdna_q12w"].monitoring.every.days() == 70
    run = subprocess.run(
        [sys.executable, "-m", "hemodel", "check", str(path)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "OK" in run.stdout
    with page.expect_download() as report:
        page.get_by_role("link", name="HTML report").click()
    html = tmp_path / "report.html"
    report.value.save_as(html)
    text = html.read_text(encoding="utf-8")
    assert "SERENA-6 ctDNA monitoring (US payer) (edited)" in text
    assert "120,000" in text  # the edited willingness to pay
    with page.expect_download() as tables:
        page.get_by_role("link", name="Result tables (CSV, zip)").click()
    archive = tmp_path / "tables.zip"
    tables.value.save_as(archive)
    with zipfile.ZipFile(archive) as z:
        assert {"scenario.yaml", "summary.csv", "incremental.csv"} <= set(z.namelist())


def test_a_long_psa_can_be_cancelled_and_a_short_one_finishes(page, shots):
    page.get_by_role("tab", name="PSA").click()
    page.fill("#psa_samples", "5000")
    page.fill("#psa_patients", "2000")
    page.get_by_role("button", name="Run PSA").click()
    page.wait_for_selector(".shiny-progress-notification, .shiny-notification", timeout=WAIT)
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_selector("#error-PSA:has-text('cancelled')")
    page.fill("#psa_samples", "20")
    page.fill("#psa_patients", "200")
    page.get_by_role("button", name="Run PSA").click()
    page.wait_for_selector("#psa_table table")
    _idle(page)
    assert "P(cost-effective)" in page.inner_text("#psa_table")
    page.wait_for_selector("#psa_ceac img")
    page.screenshot(path=shots / "app_psa.png", full_page=True)
