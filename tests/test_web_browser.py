"""btm serve in a real browser: Debian's headless Chromium, driven by Selenium through chromedriver.

The walk a lab technician makes: open the printed address → upload a spreadsheet with a column
btm does not know → preview → map it → check the rejected value → confirm → options → results →
download the Excel report. A screenshot of each page is saved in ``tests/output/web/`` (look at
them). Without Chromium the test is skipped, except where ``BTM_REQUIRE_BROWSER=1`` (set by
``.ci/run``), where a missing browser is a failure.
"""

from __future__ import annotations

import base64
import os
import shutil
import time
from pathlib import Path

import pytest
from _web_support import ROOT, UNKNOWN_HEADER, Server, trial_with_unknown_column

OUT = ROOT / "tests" / "output" / "web"
CHROMIUM = os.environ.get("BTM_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("BTM_CHROMEDRIVER", "/usr/bin/chromedriver")


def _need(reason: str) -> None:
    if os.environ.get("BTM_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser test required (BTM_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _need("selenium is not installed (pip install -e '.[test]')")
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not (Path(exe).is_file() and os.access(exe, os.X_OK)):
            _need(f"{exe} not found (apt-get install chromium chromium-driver)")
    downloads = tmp_path_factory.mktemp("downloads")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900",
              "--no-first-run", "--disable-extensions", "--disable-background-networking"):
        opts.add_argument(a)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    d.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    d.downloads = downloads
    d.set_page_load_timeout(120)
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("browser-workspace"))
    yield s
    assert s.stop() == 0


def shot(d, name: str) -> Path:
    """A full-page screenshot (the whole height, not just the window)."""
    OUT.mkdir(parents=True, exist_ok=True)
    h = d.execute_script("return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": min(max(int(h), 700), 6000), "deviceScaleFactor": 1, "mobile": False})
    try:
        data = d.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
    finally:
        d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    path = OUT / f"{name}.png"
    path.write_bytes(base64.b64decode(data))
    return path


def wait_for(d, text_gone: str | None = None, text_present: str | None = None, timeout: float = 120) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        src = d.page_source
        if (text_gone is None or text_gone not in src) and (text_present is None or text_present in src):
            return
        time.sleep(0.3)
    raise AssertionError(f"page did not reach its state (gone {text_gone!r}, present {text_present!r}): {d.current_url}")


def test_upload_preview_map_check_options_results_download(driver, served, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    d = driver
    if OUT.exists():
        shutil.rmtree(OUT)
    version = d.capabilities.get("browserVersion", "?")
    print(f"\nbrowser: Chromium {version}")
    data = trial_with_unknown_column(tmp_path / "site_b_export.xlsx", seed=11)

    # 1. the printed address signs in and lands on the home page
    d.get(served.url)
    assert "?token=" not in d.current_url  # the token left the address bar
    assert d.find_element(By.TAG_NAME, "h1").text == "Bone turnover marker studies"
    shot(d, "01_home")

    # upload through the drop zone's file input (the page's JavaScript sends it with a progress bar)
    d.find_element(By.ID, "title").send_keys("Site B trial")
    d.find_element(By.CSS_SELECTOR, "form[data-upload] input[type=file]").send_keys(str(data))
    d.find_element(By.CSS_SELECTOR, "form[data-upload] button[type=submit]").click()
    wait_for(d, text_present="Preview: site_b_export.xlsx")
    wait_for(d, text_gone="btm is reading the file")

    # 2. preview: the unknown column is pointed out
    body = d.find_element(By.TAG_NAME, "main").text
    assert "1 column(s) not recognised" in body and UNKNOWN_HEADER in body
    shot(d, "02_preview")

    # 3. map it: role "marker", marker PINP; the unit comes from its header
    d.find_element(By.LINK_TEXT, "Map columns").click()
    wait_for(d, text_present="What does each column hold?")
    row = d.find_element(By.XPATH, f"//tr[td/b[text()='{UNKNOWN_HEADER}']]")
    role = Select(row.find_element(By.CSS_SELECTOR, "select[name^=role_]"))
    role.select_by_value("marker")
    Select(row.find_element(By.CSS_SELECTOR, "select[name^=marker_]")).select_by_value("PINP")
    shot(d, "03_map")
    d.find_element(By.CSS_SELECTOR, "button[value=save]").click()
    wait_for(d, text_present="Preview: site_b_export.xlsx")
    wait_for(d, text_gone="btm is reading the file")
    assert "Marker: PINP" in d.find_element(By.TAG_NAME, "main").text
    assert "not recognised" not in d.find_element(By.TAG_NAME, "main").text
    shot(d, "04_preview_mapped")

    # 4. check: counts, the rejected value with its cell, then confirm
    d.find_element(By.PARTIAL_LINK_TEXT, "Next: check the values").click()
    wait_for(d, text_present="Rejected values (1)")
    main = d.find_element(By.TAG_NAME, "main").text
    assert "Results!D26" in main and "haemolysed" in main and "49\nloaded" in main
    shot(d, "05_check")
    d.find_element(By.CSS_SELECTOR, "form[action$='/confirm'] button").click()

    # 5. options: btm proposes the control arm; choose it explicitly
    wait_for(d, text_present="Options for the analysis")
    Select(d.find_element(By.ID, "control")).select_by_visible_text("Control")
    shot(d, "06_options")
    d.find_element(By.CSS_SELECTOR, "form[action$='/options'] button[type=submit]").click()

    # 6. results, then the report download
    wait_for(d, text_gone="Analysing the study", text_present="Download the Excel report", timeout=180)
    main = d.find_element(By.TAG_NAME, "main").text
    assert "Change from Baseline in each arm" in main and "Resistance" in main and "PINP" in main
    assert d.find_elements(By.CSS_SELECTOR, ".chart svg rect")  # the charts were drawn
    shot(d, "07_results")
    d.find_element(By.LINK_TEXT, "Each result").click()
    wait_for(d, text_present="Interval used, and why")
    shot(d, "08_each_result")
    d.find_element(By.LINK_TEXT, "Summary").click()
    wait_for(d, text_present="Download the Excel report")
    d.find_element(By.LINK_TEXT, "Download the Excel report").click()
    report = None
    t0 = time.time()
    while time.time() - t0 < 120 and report is None:
        done = [p for p in d.downloads.iterdir() if p.suffix == ".xlsx"]
        report = done[0] if done else None
        time.sleep(0.3)
    assert report is not None, f"no report downloaded: {list(d.downloads.iterdir())}"
    from openpyxl import load_workbook

    wb = load_workbook(report, read_only=True)
    assert {"Summary", "Results", "Changes", "Rejected"} <= set(wb.sheetnames)
    wb.close()
    shutil.copy(report, OUT / "report.xlsx")

    # the study page with its audit log
    d.find_element(By.LINK_TEXT, "Site B trial").click()
    wait_for(d, text_present="Audit log")
    log = d.find_element(By.TAG_NAME, "main").text
    for action in ("file uploaded", "mapping saved", "file confirmed", "options saved", "report written"):
        assert action in log
    shot(d, "09_study")
    assert len(list(OUT.glob("*.png"))) == 9
