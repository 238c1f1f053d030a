"""btm serve as a user starts it: a real uvicorn on 127.0.0.1, a bounded load test, the worker pool, the store.

Every request here goes to 127.0.0.1 on a port the server picked itself (``--port 0``); loops are
bounded in count and time, and each server is stopped by its own process id.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from _web_support import TRIAL, Server, multipart

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("served"))
    yield s
    assert s.stop() == 0


def test_the_first_line_is_the_address_and_the_page_needs_its_token(server):
    status, _, _ = server.request("GET", "/api/studies", headers={"Authorization": "Bearer nope"})
    assert status == 403
    con = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    con.request("GET", "/")
    assert con.getresponse().status == 401
    con.close()
    status, _, _ = server.request("GET", "/api/studies", headers={"Host": "attacker.example"})
    assert status == 403
    status, _, body = server.request("GET", "/api/studies")
    assert status == 200 and "studies" in json.loads(body)


@pytest.mark.slow
def test_twenty_concurrent_uploads_of_the_sample_trial(server):
    """Load test: 20 uploads at once, every response a correct 201 (bounded: one round, 300 s per request)."""
    body, ctype = multipart({"title": "load"}, [("files", b"trial_exercise.xlsx", TRIAL.read_bytes())])

    def one(k: int):
        t0 = time.perf_counter()
        status, headers, data = server.request("POST", "/api/studies", body=body, headers={"Content-Type": ctype})
        return k, status, json.loads(data), time.perf_counter() - t0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=20) as ex:
        results = list(ex.map(one, range(20)))
    wall = time.perf_counter() - t0
    ids = set()
    for k, status, data, _ in results:
        assert status == 201, (k, data)
        assert data["counts"] == {"read": 1470, "loaded": 1469, "rejected": 0, "blank": 1, "ignored": 0}, (k, data)
        assert data["files"][0]["status"] == "ok"
        ids.add(data["id"])
    assert len(ids) == 20  # twenty studies, none mixed up
    times = sorted(r[3] for r in results)
    print(f"\n20 concurrent uploads: all 201 in {wall:.1f} s; per request median {times[10]:.2f} s, max {times[-1]:.2f} s")
    status, _, listing = server.request("GET", "/api/studies")
    assert status == 200 and len({s["id"] for s in json.loads(listing)["studies"]} & ids) == 20
    sid = results[0][2]["id"]
    status, headers, data = server.request("GET", f"/api/studies/{sid}/report.xlsx")
    assert status == 200 and data[:2] == b"PK" and headers["content-disposition"].startswith("attachment")


def test_an_oversize_upload_is_stopped_while_streaming(tmp_path):
    """A chunked upload with no Content-Length gets 413 after about the limit, not after the whole body."""
    s = Server(tmp_path / "small", "--max-upload", "1")
    try:
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        sock.sendall(
            f"POST /api/studies HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\nAuthorization: Bearer {s.token}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        head = b'--b\r\nContent-Disposition: form-data; name="files"; filename="big.csv"\r\n\r\n'
        sock.sendall(b"%x\r\n%s\r\n" % (len(head), head))
        chunk = b"1," * 32768
        sent, answer = 0, b""
        sock.settimeout(0.05)
        for _ in range(800):  # at most 50 MB
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            except OSError:  # the server closed the connection after answering
                break
            try:
                answer += sock.recv(65536)
                if answer:
                    break
            except TimeoutError:
                pass
        sock.settimeout(10)
        try:
            while b"\r\n\r\n" not in answer:
                more = sock.recv(65536)
                if not more:
                    break
                answer += more
        except OSError:
            pass
        sock.close()
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert sent < 16 * 1024**2  # stopped near 1 MB (plus socket buffers), far below the 50 MB offered
        assert not any((tmp_path / "small" / "uploads").iterdir())
    finally:
        assert s.stop() == 0


def test_port_in_use_is_one_line_and_exit_1(server, tmp_path):
    r = subprocess.run([sys.executable, "-m", "btm", "serve", "--port", str(server.port), "--no-browser", "--data", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip().startswith("error: port") and "in use" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_binding_to_another_interface_warns():
    from btm.web.server import exposure_warning, is_loopback, url_host

    assert exposure_warning("127.0.0.1", []) is None and exposure_warning("::1", []) is None and exposure_warning("localhost", []) is None
    w = exposure_warning("0.0.0.0", [])
    assert w.startswith("warning:") and "--allow-host" in w and "token" in w
    assert "--allow-host" not in exposure_warning("0.0.0.0", ["lab-pc"])
    assert exposure_warning("192.168.1.20", []).startswith("warning:")
    assert is_loopback("127.0.0.2") and not is_loopback("10.0.0.1")
    assert url_host("0.0.0.0") == "127.0.0.1" and url_host("::") == "[::1]" and url_host("::1") == "[::1]"


def test_btm_help_does_not_import_the_web_stack():
    code = "import sys, btm.cli; btm.cli.build_parser(); print('starlette' in sys.modules, 'uvicorn' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "False False"


def test_default_data_folder(monkeypatch, tmp_path):
    from btm.web.store import default_data_dir

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "btm" / "workspace"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/not/allowed")
    assert default_data_dir() == Path.home() / ".local" / "share" / "btm" / "workspace"


# ---------------------------------------------------------------------------------------------
# the worker pool: a crash or a runaway job does not take the page down


def test_pool_recovers_from_a_crashed_worker_and_a_runaway_job():
    from btm.web import _engine
    from btm.web.jobs import JobPool

    async def scenario():
        pool = JobPool(workers=1, warm=False, timeout=60)
        try:
            assert await pool.run(abs, -3) == 3
            with pytest.raises(RuntimeError, match="worker process stopped"):
                await pool.run(os._exit, 3)
            assert await pool.run(abs, -4) == 4  # a fresh worker
            with pytest.raises(TimeoutError, match="longer than"):
                await pool.run(time.sleep, 30, timeout=1.5)
            assert await pool.run(abs, -5) == 5
            out = await pool.run(_engine.check_file, {"path": "/nonexistent/x.xlsx", "original": "mine.xlsx", "entries": []})
            assert out == {"ok": False, "error": "mine.xlsx: file not found", "kind": "InputFileError"}
        finally:
            pool.close()

    asyncio.run(scenario())


def test_pool_is_bounded():
    from btm.web.jobs import Busy, JobPool

    async def scenario():
        pool = JobPool(workers=1, queue=2, warm=False)
        try:
            running = [asyncio.ensure_future(pool.run(time.sleep, 1.0)) for _ in range(2)]
            await asyncio.sleep(0.05)
            with pytest.raises(Busy):
                await pool.run(abs, 1)
            await asyncio.gather(*running)
        finally:
            pool.close()

    asyncio.run(scenario())


# ---------------------------------------------------------------------------------------------
# the store


def test_store_schema_is_versioned_and_a_newer_one_is_refused(tmp_path):
    import sqlite3

    from btm.web.store import SCHEMA_VERSION, Store, StoreError

    Store(tmp_path)
    con = sqlite3.connect(tmp_path / "catalog.sqlite3")
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer btm"):
        Store(tmp_path)


def test_store_survives_concurrent_writers(tmp_path):
    """Two 'tabs' (threads, each with its own connections) adding files and audit entries at once."""
    import io

    from btm.web.store import Store

    store = Store(tmp_path)
    sid = store.create_study("concurrent")
    errors = []

    def writer(k: int):
        try:
            for i in range(25):
                up = store.save_upload(io.BytesIO(f"{k},{i}\n".encode()), ".csv")
                store.add_file(sid, f"f{k}-{i}.csv", up)
                store.audit(sid, "note", detail={"k": k, "i": i})
        except Exception as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(store.files(sid)) == 100
    assert sum(e["action"] == "note" for e in store.audit_log(sid)) == 100
    # another process reads a consistent catalog at the same time
    r = subprocess.run([sys.executable, "-c", f"from btm.web.store import Store; print(len(Store({str(tmp_path)!r}).files({sid!r})))"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "100"


def test_readme_documents_the_contract_and_every_flag():
    import re as _re

    from btm.cli import build_parser
    from btm.web import api

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    sub = next(a for a in build_parser()._actions if getattr(a, "choices", None) and "serve" in a.choices).choices["serve"]
    for action in sub._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert f"`{flag}" in readme, flag
    for route in api.ROUTES:
        path = _re.sub(r"\{sid:str\}", "{id}", route.path)
        assert path in readme, path
    assert "![The results page of btm serve](tests/data/web/serve_results.png)" in readme
    assert (Path(__file__).resolve().parent / "data" / "web" / "serve_results.png").stat().st_size < 150_000
