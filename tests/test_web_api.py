"""btm serve: the JSON contract, the security rules and the store, through Starlette's TestClient.

The counts the API returns are checked against an independent reader (openpyxl counting the
cells of the marker columns), not only against btm's own importer.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import time

import pytest
from _web_support import (
    AUTH,
    BASE,
    HANDTYPED,
    TOKEN,
    TRIAL,
    XSS,
    make_app,
    multipart,
    test_client,
    trial_with_unknown_column,
    xss_csv,
)

pytest.importorskip("starlette")
pytest.importorskip("multipart")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture(scope="module")
def client(data_dir):
    app = make_app(data_dir)
    with test_client(app) as c:
        yield c


@pytest.fixture()
def browser(client):
    """The same app, signed in the way a browser is: the cookie set by ?token=, no Authorization header."""
    client.cookies.clear()
    r = client.get(f"/?token={TOKEN}", follow_redirects=False)
    assert r.status_code == 303
    yield client
    client.cookies.clear()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)


def upload(client, path, name=None, **fields):
    with open(path, "rb") as fh:
        return client.post("/api/studies", headers=AUTH, data=fields, files=[("files", (name or path.name, fh.read()))])


def marker_cells(path, sheet=None, header_row=1, marker_cols=()):
    """(non-blank, blank) cells of the given columns under the header, read with openpyxl."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    ws = wb[sheet] if sheet else wb.worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    header = [str(c).strip() if c is not None else "" for c in rows[header_row - 1]]
    idx = [header.index(h) for h in marker_cols]
    full = blank = 0
    for r in rows[header_row:]:
        if all(c is None or str(c).strip() == "" for c in r):
            continue
        for j in idx:
            v = r[j] if j < len(r) else None
            if v is None or str(v).strip() == "":
                blank += 1
            else:
                full += 1
    wb.close()
    return full, blank


# ---------------------------------------------------------------------------------------------
# the contract


def test_create_study_counts_match_an_independent_reader(client):
    r = upload(client, TRIAL, title="Trial")
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= {"id", "url", "counts", "files"}
    assert body["url"] == f"{BASE}/studies/{body['id']}"
    assert r.headers["location"] == body["url"]
    c = body["counts"]
    full, blank = marker_cells(TRIAL, marker_cols=["PINP (µg/L)", "CTX-1 (ng/L)", "BALP (µg/L)", "Osteocalcin (µg/L)", "TRAP-5b (U/L)"])
    assert c["read"] == full + blank
    assert c["loaded"] + c["rejected"] == full and c["blank"] == blank
    assert c["loaded"] == 1469
    (f,) = body["files"]
    assert f["name"] == "trial_exercise.xlsx" and f["status"] == "ok" and len(f["sha256"]) == 64

    s = client.get(f"/api/studies/{body['id']}", headers=AUTH)
    assert s.status_code == 200
    sj = s.json()
    assert sj["counts"] == c and sj["rejected"] == [] and sj["title"] == "Trial"
    assert sj["files"][0]["name"] == "trial_exercise.xlsx"


def test_report_and_tidy_downloads(client):
    from openpyxl import load_workbook

    sid = upload(client, TRIAL, title="Downloads").json()["id"]
    r = client.get(f"/api/studies/{sid}/report.xlsx", headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"].startswith("attachment")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.content[:2] == b"PK"
    wb = load_workbook(io.BytesIO(r.content), read_only=True)
    assert {"Summary", "Results", "Changes", "Rejected", "Methods"} <= set(wb.sheetnames)
    wb.close()
    t = client.get(f"/api/studies/{sid}/tidy.csv", headers=AUTH)
    assert t.status_code == 200 and t.headers["content-disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(t.content.decode("utf-8-sig"))))
    assert len(rows) == 1469
    assert {r["source_file"] for r in rows} == {"trial_exercise.xlsx"}  # the name people gave, never the stored one
    st = client.get(f"/api/studies/{sid}", headers=AUTH).json()
    assert st["report"]["state"] == "ready" and st["report"]["analysis"] == "trial"


def test_rejected_values_name_their_cell_subject_and_visit(client):
    from openpyxl import load_workbook

    body = upload(client, HANDTYPED).json()
    assert body["counts"]["rejected"] == 4
    rej = client.get(f"/api/studies/{body['id']}", headers=AUTH).json()["rejected"]
    ws = load_workbook(HANDTYPED, data_only=True).active
    by_cell = {r["cell"]: r for r in rej}
    assert set(by_cell) == {"Sheet1!F13", "Sheet1!G9", "Sheet1!G15", "Sheet1!H17"}
    for cell, r in by_cell.items():
        assert str(ws[cell.split("!")[1]].value) == r["raw_value"]  # the raw text is the cell's own
        assert r["reason"] and r["file"] == "handtyped_lab_sheet.xlsx"
    assert by_cell["Sheet1!F13"]["subject_id"] == "023" and by_cell["Sheet1!F13"]["timepoint"] == "post"


def test_mapping_file_field_reads_a_layout_btm_cannot_detect(client):
    from btm.io import read_results
    from btm.io.mapping import load_mapping

    data = ROOT_DATA / "mapping_german.xlsx"
    toml = (ROOT_DATA / "mapping_german.toml").read_bytes()
    expected = read_results([data], mapping=load_mapping(ROOT_DATA / "mapping_german.toml"))
    r = client.post("/api/studies", headers=AUTH, files=[("files", (data.name, data.read_bytes())), ("mapping", ("map.toml", toml))])
    assert r.status_code == 201, r.text
    assert r.json()["counts"]["loaded"] == len(expected.data) > 0
    bad = client.post("/api/studies", headers=AUTH, files=[("files", (data.name, data.read_bytes())), ("mapping", ("map.toml", b"[[sheets]]\nnope = 1\n"))])
    assert bad.status_code == 422 and "nope" in bad.json()["error"]


def test_control_and_baseline_are_checked_against_the_data(client):
    r = upload(client, TRIAL, control="Nobody")
    assert r.status_code == 422 and "Nobody" in r.json()["error"] and "Control" in r.json()["error"]
    r = upload(client, TRIAL, baseline="Week 99")
    assert r.status_code == 422 and "Week 99" in r.json()["error"]
    r = upload(client, TRIAL, control="Control", baseline="Baseline", title="Options")
    assert r.status_code == 201
    opts = client.get(f"/api/studies/{r.json()['id']}", headers=AUTH).json()["options"]
    assert opts["control"] == "Control" and opts["baseline"] == "Baseline"


def test_unreadable_files(client, tmp_path):
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"this is not a workbook")
    r = upload(client, junk)
    assert r.status_code == 422
    msg = r.json()["error"]
    assert "junk.xlsx" in msg and "uploads" not in msg  # the upload's own name, not the generated path
    # one good and one bad file: the study is made, the bad file is listed with its reason
    with open(TRIAL, "rb") as fh:
        r = client.post("/api/studies", headers=AUTH, files=[("files", ("trial.xlsx", fh.read())), ("files", ("junk.xlsx", junk.read_bytes()))])
    assert r.status_code == 201
    files = {f["name"]: f for f in r.json()["files"]}
    assert files["trial.xlsx"]["status"] == "ok" and files["junk.xlsx"]["status"] == "unreadable" and files["junk.xlsx"]["error"]
    r = client.post("/api/studies", headers=AUTH, files=[("files", ("notes.docx", b"PK\x03\x04"))])
    assert r.status_code == 415 and ".xlsx" in r.json()["error"]
    r = client.post("/api/studies", headers=AUTH, data={"title": "x"})
    assert r.status_code == 400


def test_reupload_is_detected_by_content_hash(client):
    body = upload(client, TRIAL, title="Re-upload").json()
    sid = body["id"]
    with open(TRIAL, "rb") as fh:
        r = client.post(f"/api/studies/{sid}/files", headers=AUTH, files=[("files", ("renamed copy.xlsx", fh.read()))])
    assert r.status_code == 201
    (f,) = r.json()["files"]
    assert f["status"] == "duplicate" and f["duplicate_of"] == "trial_exercise.xlsx" and f["uploaded"]
    assert r.json()["counts"] == body["counts"]  # nothing counted twice
    # the same file twice in one request: imported once
    data = TRIAL.read_bytes()
    r = client.post("/api/studies", headers=AUTH, files=[("files", ("a.xlsx", data)), ("files", ("b.xlsx", data))])
    assert [f["status"] for f in r.json()["files"]] == ["ok", "duplicate"]
    assert r.json()["counts"]["loaded"] == 1469
    # a different file is added
    with open(HANDTYPED, "rb") as fh:
        r = client.post(f"/api/studies/{sid}/files", headers=AUTH, files=[("files", ("hand.xlsx", fh.read()))])
    assert r.json()["files"][0]["status"] == "ok"
    assert r.json()["counts"]["loaded"] == body["counts"]["loaded"] + 41


def test_audit_log_is_append_only_and_complete(client, data_dir):
    body = upload(client, TRIAL, title="Audit").json()
    sid = body["id"]
    client.get(f"/api/studies/{sid}/report.xlsx", headers=AUTH)
    with open(TRIAL, "rb") as fh:
        client.post(f"/api/studies/{sid}/files", headers=AUTH, files=[("files", ("again.xlsx", fh.read()))])
    log = client.get(f"/api/studies/{sid}/audit", headers=AUTH).json()["audit"]
    actions = [e["action"] for e in log]
    for a in ("study created", "file uploaded", "file confirmed", "analysis started", "report written", "re-upload refused"):
        assert a in actions, actions
    sha = body["files"][0]["sha256"]
    assert any(e["file_sha256"] == sha for e in log if e["action"] == "file confirmed")
    started = next(e for e in log if e["action"] == "analysis started")
    assert "options" in started["detail"] and started["detail"]["files"][0]["sha256"] == sha
    assert all(e["btm_version"] and e["time"] for e in log)
    con = sqlite3.connect(data_dir / "catalog.sqlite3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE audit SET action = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM audit")
    con.close()


def test_unknown_study_is_404(client):
    assert client.get("/api/studies/nope", headers=AUTH).status_code == 404
    assert client.get("/api/studies/nope/report.xlsx", headers=AUTH).status_code == 404


# ---------------------------------------------------------------------------------------------
# token, Host, CSRF


def test_token_is_required(client):
    client.cookies.clear()
    r = client.get("/api/studies")
    assert r.status_code == 401 and "token" in r.json()["error"] and r.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/studies", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/api/studies", headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.get("/").status_code == 401
    assert client.get("/?token=wrong", follow_redirects=False).status_code == 403
    assert client.get("/api/studies", headers=AUTH).status_code == 200
    assert client.get("/api/studies", params={"token": TOKEN}).status_code == 200
    client.cookies.clear()


def test_query_token_sets_a_strict_httponly_cookie_and_is_removed_from_the_address(client):
    client.cookies.clear()
    r = client.get(f"/studies/abc?token={TOKEN}&x=1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/studies/abc?x=1"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert client.get("/").status_code == 200  # the cookie alone signs in
    client.cookies.clear()


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "LOCALHOST", "[::1]:8765", "127.0.0.1"])
def test_local_hosts_are_allowed(client, host):
    assert client.get("/api/studies", headers={**AUTH, "Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.evil.example", "127.0.0.1@evil.example", "127.0.0.1/x", "", "[::1"])
def test_foreign_hosts_are_refused_even_with_the_token(client, host):
    r = client.get("/api/studies", headers={**AUTH, "Host": host})
    assert r.status_code == 403


def test_allow_host(tmp_path):
    app = make_app(tmp_path, allowed_hosts=["lab-pc.local", "::2"], warm_workers=False)
    with test_client(app) as c:
        assert c.get("/api/studies", headers={**AUTH, "Host": "lab-pc.local:8765"}).status_code == 200
        assert c.get("/api/studies", headers={**AUTH, "Host": "[::2]:8765"}).status_code == 200
        assert c.get("/api/studies", headers={**AUTH, "Host": "other.local"}).status_code == 403


def test_forms_need_the_csrf_token(browser):
    page = browser.get("/")
    csrf = csrf_of(page.text)
    files = [("files", ("t.xlsx", TRIAL.read_bytes()))]
    assert browser.post("/studies", data={"title": "x"}, files=files, follow_redirects=False).status_code == 403
    assert browser.post("/studies", data={"csrf_token": "0" * 64}, files=files, follow_redirects=False).status_code == 403
    r = browser.post("/studies", data={"csrf_token": csrf}, files=files, follow_redirects=False, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    r = browser.post("/studies", data={"csrf_token": csrf}, files=files, follow_redirects=False, headers={"Origin": "null"})
    assert r.status_code == 403
    # the cookie also does not let the API be used without the CSRF token
    assert browser.post("/api/studies", files=files).status_code == 403
    r = browser.post("/studies", data={"csrf_token": csrf}, files=files, follow_redirects=False, headers={"Origin": BASE})
    assert r.status_code == 303
    wait_checked(browser, r.headers["location"])
    page = browser.get(r.headers["location"] + "/check").text
    assert page.count("<form") == page.count('name="csrf_token"') >= 3  # every form carries it


def test_security_headers_on_every_response(client):
    for r in (client.get("/api/studies", headers=AUTH), client.get("/"), client.get("/static/style.css"),
              client.get("/api/studies", headers={**AUTH, "Host": "evil.example"})):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in r.headers["content-security-policy"] and "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"


# ---------------------------------------------------------------------------------------------
# hostile uploads


@pytest.mark.parametrize(
    ("raw_name", "shown"),
    [
        (b"../../etc/passwd.csv", "passwd.csv"),
        (b"..\\..\\windows\\system.ini.csv", "system.ini.csv"),
        (b"/etc/cron.d/x.csv", "x.csv"),
        (b"a\x00b.csv", "ab.csv"),
        (b"\xe2\x80\xaeusc.exe.csv", "usc.exe.csv"),  # right-to-left override dropped
        ("Ünïcødé – 骨代謝.csv".encode(), "Ünïcødé – 骨代謝.csv"),
        (b"x" * 3000 + b".csv", None),
    ],
    ids=["dotdot", "backslash", "absolute", "nul", "rtl-override", "unicode", "very-long"],
)
def test_hostile_file_names_are_never_paths(client, data_dir, raw_name, shown):
    content = b"Subject ID,Visit,PINP (ug/L)\nS1,pre,40\nS1,post,45\n"
    body, ctype = multipart({}, [("files", raw_name, content)])
    before = set((data_dir / "uploads").iterdir())
    r = client.post("/api/studies", headers={**AUTH, "Content-Type": ctype}, content=body)
    assert r.status_code == 201, r.text
    name = r.json()["files"][0]["name"]
    if shown is not None:
        assert name == shown
    assert len(name) <= 200 and name.endswith(".csv") and "/" not in name and "\x00" not in name
    added = set((data_dir / "uploads").iterdir()) - before
    assert len(added) == 1 and re.fullmatch(r"[0-9a-f]{32}\.csv", next(iter(added)).name)
    assert not (data_dir.parent / "etc").exists() and not (data_dir / "etc").exists()
    tidy = client.get(f"/api/studies/{r.json()['id']}/tidy.csv", headers=AUTH).content.decode("utf-8-sig")
    assert name in tidy or len(name) > 100  # provenance shows the cleaned name


def test_a_file_name_longer_than_multipart_headers_allow_is_a_clear_400(client):
    body, ctype = multipart({}, [("files", b"x" * 5000 + b".csv", b"a,b\n")])
    r = client.post("/api/studies", headers={**AUTH, "Content-Type": ctype}, content=body)
    assert r.status_code == 400 and r.json()["error"]


def test_markup_in_cells_and_names_is_escaped(browser, tmp_path):
    path = xss_csv(tmp_path / "x.csv")
    csrf = csrf_of(browser.get("/").text)
    r = browser.post("/studies", data={"csrf_token": csrf, "title": XSS},
                     files=[("files", ('<svg onload=alert(3)>.csv', path.read_bytes()))], follow_redirects=False)
    assert r.status_code == 303
    preview = wait_checked(browser, r.headers["location"])
    check = browser.get(r.headers["location"] + "/check").text
    mapping = browser.get(r.headers["location"] + "/map").text
    sid = r.headers["location"].split("/studies/")[1].split("/")[0]
    study = browser.get(f"/studies/{sid}").text
    for page in (preview, check, mapping, study):
        assert "<script>alert" not in page and "<img src=x" not in page and "<svg onload" not in page and "<b onmouseover" not in page
    assert "&lt;script&gt;alert(" in preview  # the subject id is shown, as text
    assert "&lt;img src=x onerror=alert(1)&gt;" in preview  # so is the header
    assert "&lt;script&gt;alert(" in check  # the rejected value
    assert "&lt;svg onload=alert(3)&gt;.csv" in study
    # through to the results: every tab shows the ids as text
    browser.post(r.headers["location"] + "/confirm", data={"csrf_token": csrf})
    browser.post(f"/studies/{sid}/options", data={"csrf_token": csrf})
    t0 = time.time()
    while "Analysing the study" in (page := browser.get(f"/studies/{sid}/results").text) and time.time() - t0 < 120:
        time.sleep(0.3)
    assert "Download the Excel report" in page
    for tab in ("summary", "results", "changes", "problems"):
        text = browser.get(f"/studies/{sid}/results?tab={tab}").text
        assert "<script>alert" not in text and "<svg onload" not in text and "<b onmouseover" not in text, tab
    assert "&lt;script&gt;alert(" in browser.get(f"/studies/{sid}/results?tab=results").text
    listing = client_json(browser, f"/api/studies/{sid}")
    assert any(r["raw_value"] == XSS for r in listing["rejected"])  # the JSON keeps the text as it was


def wait_checked(client, url, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        page = client.get(url)
        if "btm is reading the file" not in page.text:
            return page.text
        time.sleep(0.3)
    raise AssertionError("the check did not finish")


def test_oversize_upload_is_refused_before_it_is_read(tmp_path):
    app = make_app(tmp_path, max_upload_mb=1, warm_workers=False)
    sent = 0

    def body():
        nonlocal sent
        head = b'--b\r\nContent-Disposition: form-data; name="files"; filename="big.csv"\r\n\r\n'
        yield head
        for _ in range(800):  # 50 MB in 64 KB pieces, if it were all read
            sent += 1
            yield b"1," * 32768

    with test_client(app) as c:
        r = c.post("/api/studies", headers={**AUTH, "Content-Length": str(50 * 1024**2)}, content=b"x" * 10)
        assert r.status_code == 413 and "1 MB" in r.json()["error"]
        r = c.post("/api/studies", headers={**AUTH, "Content-Type": "multipart/form-data; boundary=b"}, content=body())
        assert r.status_code == 413  # (TestClient buffers the body; test_web_server checks a real socket stops early)
    assert not any((tmp_path / "uploads").iterdir())


# ---------------------------------------------------------------------------------------------
# the workflow of the pages: map an unknown column, profile reuse


def test_map_an_unknown_column_and_reuse_the_profile(browser, tmp_path):
    first = trial_with_unknown_column(tmp_path / "site_a.xlsx", seed=1)
    csrf = csrf_of(browser.get("/").text)
    r = browser.post("/studies", data={"csrf_token": csrf, "title": "Site A"}, files=[("files", (first.name, first.read_bytes()))], follow_redirects=False)
    file_url = r.headers["location"]
    preview = wait_checked(browser, file_url)
    assert "not recognised" in preview and "In-house assay 7" in preview
    mapping = browser.get(file_url + "/map").text
    idx = {m.group(2): m.group(1) for m in re.finditer(r'<tr class="[^"]*">\s*<td class="cell">([A-Z]+)</td>\s*<td><b>([^<]+)</b>', mapping)}
    assert "In-house assay 7 (µg/L)" in idx
    form = {"csrf_token": csrf, "sheet": "Results", "header_row": "1", "action": "save", "save_profile": "1", "profile_name": "Site A export",
            "role_0": "subject_id", "role_1": "group", "role_2": "timepoint", "role_3": "marker", "marker_3": "CTX1",
            "role_4": "marker", "marker_4": "PINP"}
    bad = browser.post(file_url + "/map", data={**form, "marker_4": ""})
    assert bad.status_code == 422 and "choose the marker" in bad.text
    r = browser.post(file_url + "/map", data=form, follow_redirects=False)
    assert r.status_code == 303
    wait_checked(browser, file_url)
    check = browser.get(file_url + "/check").text
    loaded = int(re.search(r"<b>(\d+)</b><span>loaded", check).group(1))
    assert loaded == 24 * 2 + 1  # CTX and PINP of 24 samples, PINP of S099 (its CTX is rejected)
    assert "Results!D26" in check and "haemolysed" in check
    r = browser.post(file_url + "/confirm", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("/options")
    # a later file with the same header gets the profile without any mapping
    second = trial_with_unknown_column(tmp_path / "site_a_march.xlsx", seed=2)
    r = browser.post("/studies", data={"csrf_token": csrf, "title": "Site A March"}, files=[("files", (second.name, second.read_bytes()))], follow_redirects=False)
    preview = wait_checked(browser, r.headers["location"])
    assert "Site A export" in preview and "was applied" in preview
    assert "Marker: PINP" in preview
    toml = browser.get("/mappings").text
    mid = re.search(r'href="/mappings/(\d+)\.toml"', toml).group(1)
    t = browser.get(f"/mappings/{mid}.toml")
    assert t.status_code == 200 and t.headers["content-disposition"].startswith("attachment")
    import tomllib

    from btm.io.mapping import mapping_from_dict

    m = mapping_from_dict(tomllib.loads(t.text))  # the same TOML as --mapping
    assert m.sheets[0].columns["In-house assay 7 (µg/L)"] == "PINP"


def test_options_and_results_pages(browser, tmp_path):
    path = trial_with_unknown_column(tmp_path / "opts.xlsx", seed=3)
    csrf = csrf_of(browser.get("/").text)
    r = browser.post("/studies", data={"csrf_token": csrf}, files=[("files", (path.name, path.read_bytes()))], follow_redirects=False)
    file_url = r.headers["location"]
    wait_checked(browser, file_url)
    browser.post(file_url + "/confirm", data={"csrf_token": csrf})
    sid = file_url.split("/studies/")[1].split("/")[0]
    opts = browser.get(f"/studies/{sid}/options")
    assert opts.status_code == 200 and "Control" in opts.text and "Resistance" in opts.text
    bad = browser.post(f"/studies/{sid}/options", data={"csrf_token": csrf, "baseline": "Week 99"})
    assert bad.status_code == 422 and "Week 99" in bad.text
    r = browser.post(f"/studies/{sid}/options", data={"csrf_token": csrf, "control": "Control", "arm_1": "resistance", "test": "wilcoxon"}, follow_redirects=False)
    assert r.status_code == 303
    t0 = time.time()
    while "Analysing the study" in (page := browser.get(r.headers["location"]).text) and time.time() - t0 < 120:
        time.sleep(0.3)
    assert "Download the Excel report" in page and "CTX1" in page
    # codes in the report's plain words (the control arm's literature expectation)
    evidence = browser.get(f"/studies/{sid}/results?tab=evidence").text
    for text in (page, evidence):
        assert "<td>no change</td>" in text and "<td>no_change</td>" not in text
    for tab in ("results", "changes", "arms", "evidence", "problems"):
        assert browser.get(f"/studies/{sid}/results?tab={tab}").status_code == 200
    assert "haemolysed" in browser.get(f"/studies/{sid}/results?tab=problems").text
    st = browser.get(f"/api/studies/{sid}", headers=AUTH).json()
    assert st["options"]["test"] == "wilcoxon" and st["options"]["control"] == "Control"


ROOT_DATA = TRIAL.parents[1] / "tests" / "data"


def test_the_token_redirect_stays_on_this_site(client):
    client.cookies.clear()
    for path, expected in (("/%2F%2Fevil.example/x", "/evil.example/x"), ("/a%0d%0aSet-Cookie:%20x=1", "/a%0D%0ASet-Cookie%3A%20x%3D1")):
        r = client.get(f"{path}?token={TOKEN}", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == expected
        assert "x=1" not in r.headers.get("set-cookie", "").replace(TOKEN, "")
    client.cookies.clear()


def test_drafted_mapping_toml_survives_control_characters_in_headers():
    import tomllib

    from btm.io.mapping import mapping_from_dict, mapping_to_toml

    header = "PINP\r(µg/L) \x01 \"quoted\" \\ tab\tend"
    text = mapping_to_toml([{"file": "*", "sheet": "S", "header_row": 1, "layout": "wide", "columns": {header: "PINP"}, "units": {header: "µg/L"}}])
    m = mapping_from_dict(tomllib.loads(text))
    assert m.sheets[0].columns == {header: "PINP"}


RESEARCH = ROOT_DATA / "research"


@pytest.mark.parametrize(
    ("name", "mapping"),
    [
        ("sample_data/analyser_cobas_export.xlsx", None),
        ("sample_data/lis_long_export.csv", None),
        ("sample_data/european_semicolon.csv", None),
        ("sample_data/research_timepoints.xlsx", None),
        ("tests/data/research/band_markers_over_visits.xlsx", None),
        ("tests/data/research/band_visits_over_markers.xlsx", None),
        ("tests/data/research/visit_suffix.csv", None),
        ("tests/data/research/unreadable/teaching_months.csv", "tests/data/research/unreadable/teaching_months.toml"),
    ],
)
def test_the_api_imports_what_the_library_imports(client, name, mapping):
    """Counts and rejected cells through the web equal ``read_results`` on the same file (and mapping)."""
    from btm.io import read_results
    from btm.io.mapping import load_mapping

    root = TRIAL.parents[1]
    path = root / name
    if not path.exists():
        pytest.skip(f"{name} is not in this checkout")
    m = load_mapping(root / mapping) if mapping else None
    expected = read_results([path], mapping=m)
    files = [("files", (path.name, path.read_bytes()))]
    if mapping:
        files.append(("mapping", ("map.toml", (root / mapping).read_bytes())))
    r = client.post("/api/studies", headers=AUTH, files=files)
    assert r.status_code == 201, r.text
    got = r.json()["counts"]
    row = expected.files.iloc[0]
    assert [got[k] for k in ("read", "loaded", "rejected", "blank")] == [int(row[k]) for k in ("read", "loaded", "rejected", "blank")]
    st = client.get(f"/api/studies/{r.json()['id']}", headers=AUTH).json()
    assert st["n_rejected"] == len(expected.rejected)
    tidy = client.get(f"/api/studies/{r.json()['id']}/tidy.csv", headers=AUTH)
    assert tidy.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(tidy.content.decode("utf-8-sig"))))) == len(expected.data)


BAD = sorted(p for p in (ROOT_DATA / "bad").iterdir() if p.suffix in (".xlsx", ".xls", ".ods", ".csv")) if (ROOT_DATA / "bad").is_dir() else []


@pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
def test_hostile_spreadsheets_get_an_answer_never_a_crash(client, path):
    """Every file of tests/data/bad (zip bombs, XXE, encrypted, truncated …): 201 or 422 with one line, as the CLI."""
    from btm.errors import InputFileError
    from btm.io import read_results

    try:
        expected = read_results([path])
    except InputFileError:
        expected = None
    r = client.post("/api/studies", headers=AUTH, files=[("files", (path.name, path.read_bytes()))])
    if expected is None:
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert path.name in err and "\n" not in err and "/uploads/" not in err
    else:
        assert r.status_code == 201, r.text
        assert r.json()["counts"]["loaded"] == len(expected.data)


def client_json(client, url):
    r = client.get(url, headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()


def test_files_left_unchecked_by_a_stopped_server_are_checked_at_start(tmp_path):
    """A server killed mid-check: the next start checks the file again; a run left 'running' is marked failed."""
    import io as _io

    from btm.web.store import Store

    store = Store(tmp_path)
    sid = store.create_study("interrupted")
    with open(HANDTYPED, "rb") as fh:
        up = store.save_upload(_io.BytesIO(fh.read()), ".xlsx")
    fid, _ = store.add_file(sid, "hand.xlsx", up, state="checking")
    run_id = store.start_run(sid, "k", {})
    app = make_app(tmp_path)
    with test_client(app) as c:
        t0 = time.time()
        while store.file(sid, fid)["state"] in ("queued", "checking") and time.time() - t0 < 120:
            time.sleep(0.2)
        assert store.file(sid, fid)["state"] == "checked"
        assert store.file(sid, fid)["counts"]["rejected"] == 4
        assert c.get(f"/api/studies/{sid}", headers=AUTH).status_code == 200
    assert store.latest_run(sid)["id"] == run_id and store.latest_run(sid)["state"] == "failed"
