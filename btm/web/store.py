"""The workspace of ``btm serve``: one folder with uploads, outputs and a SQLite catalog.

Layout of the folder::

    catalog.sqlite3          studies, files, mapping profiles, runs, audit log (schema below)
    uploads/<random>.<ext>   uploaded files, under generated names, never modified
    checks/<file id>.json    what the check of one file found (preview, counts, rejected values)
    runs/<run id>/           outputs of one analysis: report.xlsx, tidy.csv, rejected.xlsx, …
    tmp/                     partial writes, renamed into place when complete

The catalog uses the standard library's ``sqlite3`` in WAL mode with one short transaction per
change, so two browser tabs (or two users of one PC) can work at once without corrupting it. Its
schema is versioned by ``PRAGMA user_version`` and upgraded by :data:`MIGRATIONS` in order; a
workspace written by a newer btm is refused rather than damaged. The audit log is append-only
(triggers refuse UPDATE and DELETE).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BTMError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Store", "StoreError", "default_data_dir"]


class StoreError(BTMError):
    """The workspace folder cannot be used (unwritable, or written by a newer btm)."""


#: Upgrades of the catalog, in order: MIGRATIONS[k] takes a catalog from version k to k + 1.
MIGRATIONS: list[str] = [
    # 0 -> 1: the first schema
    """
    CREATE TABLE studies (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        options TEXT NOT NULL DEFAULT '{}'          -- JSON: analysis and import options
    );
    CREATE TABLE files (
        id TEXT PRIMARY KEY,
        study_id TEXT NOT NULL REFERENCES studies(id),
        original_name TEXT NOT NULL,                -- shown to people; never used as a path
        stored_name TEXT NOT NULL UNIQUE,           -- generated
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        uploaded TEXT NOT NULL,
        state TEXT NOT NULL,                        -- queued, checking, checked, failed, confirmed, discarded
        mapping TEXT NOT NULL DEFAULT '[]',         -- JSON: sheet entries of a mapping (file glob "*")
        counts TEXT,                                -- JSON: read, loaded, rejected, blank, ignored
        error TEXT,
        confirmed TEXT
    );
    CREATE INDEX files_study ON files(study_id);
    CREATE INDEX files_hash ON files(study_id, sha256);
    CREATE TABLE mappings (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        created TEXT NOT NULL,
        signature TEXT NOT NULL,                    -- SHA-256 of the normalised header cells
        header_row INTEGER NOT NULL,                -- Excel row of that header
        entry TEXT NOT NULL                         -- JSON: one sheet entry of a mapping file
    );
    CREATE INDEX mappings_signature ON mappings(signature);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        study_id TEXT NOT NULL REFERENCES studies(id),
        key TEXT NOT NULL,                          -- hash of files, mappings, options and btm version
        created TEXT NOT NULL,
        state TEXT NOT NULL,                        -- running, done, failed
        error TEXT,
        summary TEXT                                -- JSON: what the results page shows first
    );
    CREATE INDEX runs_study ON runs(study_id, key);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        study_id TEXT NOT NULL,
        time TEXT NOT NULL,
        action TEXT NOT NULL,
        file_sha256 TEXT,
        detail TEXT NOT NULL DEFAULT '{}',          -- JSON: file name, mapping, options …
        btm_version TEXT NOT NULL
    );
    CREATE INDEX audit_study ON audit(study_id, id);
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

#: File suffixes accepted for upload (the importer's own list).
UPLOAD_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv", ".tsv", ".txt")


def default_data_dir() -> Path:
    """The user's data folder for btm: XDG on Linux, Application Support on macOS, LOCALAPPDATA on Windows."""
    import sys

    home = Path.home()
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "share"
    return base / "btm" / "workspace"


def now() -> str:
    """The time now, local, to the second, ISO 8601 with the UTC offset."""
    return dt.datetime.now().astimezone().replace(microsecond=0).isoformat()


def _new_id(nbytes: int = 6) -> str:
    return secrets.token_hex(nbytes)


@dataclass(frozen=True)
class StoredUpload:
    stored_name: str
    sha256: str
    size: int


class Store:
    """The workspace: folders and catalog. Safe to use from several threads and processes."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        try:
            for sub in ("", "uploads", "checks", "runs", "tmp"):
                (self.root / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.root}: cannot create the workspace folder ({exc.strerror or exc})") from None
        self.db_path = self.root / "catalog.sqlite3"
        self._migrate()

    # -- catalog -----------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.db_path, timeout=30, isolation_level=None, check_same_thread=False)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("PRAGMA busy_timeout=30000")
        return con

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT, rolled back on any error)."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        con = self._connect()
        try:
            return [dict(r) for r in con.execute(sql, args).fetchall()]
        finally:
            con.close()

    def _migrate(self) -> None:
        try:
            with self.tx() as con:
                version = con.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.db_path}: written by a newer btm (catalog version {version}, this btm knows "
                        f"{SCHEMA_VERSION}); upgrade btm or use another --data folder"
                    )
                for k in range(version, SCHEMA_VERSION):
                    for statement in _statements(MIGRATIONS[k]):
                        con.execute(statement)
                    con.execute(f"PRAGMA user_version = {k + 1}")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.db_path}: the catalog cannot be opened ({exc})") from None

    # -- studies -----------------------------------------------------------------------------

    def create_study(self, title: str, options: dict[str, Any] | None = None) -> str:
        sid = _new_id()
        t = now()
        with self.tx() as con:
            con.execute(
                "INSERT INTO studies (id, title, created, updated, options) VALUES (?, ?, ?, ?, ?)",
                (sid, title, t, t, json.dumps(options or {})),
            )
            _audit(con, sid, "study created", detail={"title": title, "options": options or {}})
        return sid

    def study(self, sid: str) -> dict[str, Any] | None:
        rows = self._read("SELECT * FROM studies WHERE id = ?", (sid,))
        if not rows:
            return None
        s = rows[0]
        s["options"] = json.loads(s["options"])
        return s

    def studies(self) -> list[dict[str, Any]]:
        rows = self._read(
            """SELECT s.*, COUNT(f.id) AS n_files,
                      SUM(CASE WHEN f.state = 'confirmed' THEN 1 ELSE 0 END) AS n_confirmed
               FROM studies s LEFT JOIN files f ON f.study_id = s.id AND f.state != 'discarded'
               GROUP BY s.id ORDER BY s.updated DESC"""
        )
        for s in rows:
            s["options"] = json.loads(s["options"])
            s["counts"] = self.study_counts(s["id"])
        return rows

    def set_options(self, sid: str, options: dict[str, Any], *, title: str | None = None) -> None:
        with self.tx() as con:
            if title is not None:
                con.execute("UPDATE studies SET options = ?, title = ?, updated = ? WHERE id = ?", (json.dumps(options), title, now(), sid))
            else:
                con.execute("UPDATE studies SET options = ?, updated = ? WHERE id = ?", (json.dumps(options), now(), sid))
            _audit(con, sid, "options saved", detail={"options": options, **({"title": title} if title is not None else {})})

    def touch(self, con: sqlite3.Connection, sid: str) -> None:
        con.execute("UPDATE studies SET updated = ? WHERE id = ?", (now(), sid))

    # -- uploads and files -------------------------------------------------------------------

    def save_upload(self, source: Any, suffix: str, *, max_bytes: int | None = None) -> StoredUpload:
        """Copy an open binary file into ``uploads/`` under a generated name; hash while copying."""
        if suffix not in UPLOAD_SUFFIXES:
            raise StoreError(f"unsupported suffix {suffix!r}")
        digest = hashlib.sha256()
        size = 0
        name = secrets.token_hex(16) + suffix
        tmp = self.root / "tmp" / (name + ".part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                while block := source.read(1 << 20):
                    size += len(block)
                    if max_bytes is not None and size > max_bytes:
                        raise StoreError("upload larger than the limit")
                    digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.root / "uploads" / name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return StoredUpload(name, digest.hexdigest(), size)

    def upload_path(self, stored_name: str) -> Path:
        p = self.root / "uploads" / stored_name
        if p.parent != self.root / "uploads" or "/" in stored_name or "\\" in stored_name:
            raise StoreError("invalid stored name")
        return p

    def remove_upload(self, stored_name: str) -> None:
        self.upload_path(stored_name).unlink(missing_ok=True)

    def add_file(self, sid: str, original: str, up: StoredUpload, *, state: str = "queued", mapping: list[dict[str, Any]] | None = None) -> tuple[str, dict[str, Any] | None]:
        """Register an upload in a study; ``(file id, None)``, or ``("", earlier file)`` for a re-upload.

        A re-upload (same SHA-256 as a file of the study that is not discarded) is not added; the
        upload is removed and the earlier file returned, so the caller can say when it came.
        """
        with self.tx() as con:
            prior = con.execute(
                "SELECT * FROM files WHERE study_id = ? AND sha256 = ? AND state != 'discarded' ORDER BY uploaded LIMIT 1",
                (sid, up.sha256),
            ).fetchone()
            if prior is not None:
                _audit(con, sid, "re-upload refused", file_sha256=up.sha256,
                       detail={"file": original, "same_as": prior["original_name"], "uploaded": prior["uploaded"]})
                self.remove_upload(up.stored_name)
                return "", dict(prior)
            fid = _new_id()
            con.execute(
                """INSERT INTO files (id, study_id, original_name, stored_name, sha256, size, uploaded, state, mapping)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (fid, sid, original, up.stored_name, up.sha256, up.size, now(), state, json.dumps(mapping or [])),
            )
            _audit(con, sid, "file uploaded", file_sha256=up.sha256, detail={"file": original, "bytes": up.size})
            self.touch(con, sid)
        return fid, None

    def file(self, sid: str, fid: str) -> dict[str, Any] | None:
        rows = self._read("SELECT * FROM files WHERE id = ? AND study_id = ?", (fid, sid))
        return _file_row(rows[0]) if rows else None

    def files(self, sid: str, *, states: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        rows = self._read("SELECT * FROM files WHERE study_id = ? ORDER BY uploaded, rowid", (sid,))
        out = [_file_row(r) for r in rows]
        return [f for f in out if states is None or f["state"] in states]

    def set_file_state(self, fid: str, state: str, *, counts: dict[str, Any] | None = None, error: str | None = None) -> None:
        with self.tx() as con:
            con.execute(
                "UPDATE files SET state = ?, counts = COALESCE(?, counts), error = ? WHERE id = ?",
                (state, None if counts is None else json.dumps(counts), error, fid),
            )

    def set_file_mapping(self, sid: str, fid: str, entries: list[dict[str, Any]], *, profile: str | None = None) -> None:
        with self.tx() as con:
            row = con.execute("SELECT sha256, original_name FROM files WHERE id = ? AND study_id = ?", (fid, sid)).fetchone()
            con.execute("UPDATE files SET mapping = ?, state = 'queued' WHERE id = ?", (json.dumps(entries), fid))
            _audit(con, sid, "mapping saved", file_sha256=row["sha256"] if row else None,
                   detail={"file": row["original_name"] if row else "", "mapping": entries, "profile": profile})

    def confirm_file(self, sid: str, fid: str) -> bool:
        """Add a checked file to the study's data (audit logged); False if it was not checked."""
        with self.tx() as con:
            row = con.execute("SELECT * FROM files WHERE id = ? AND study_id = ?", (fid, sid)).fetchone()
            if row is None or row["state"] != "checked":
                return False
            con.execute("UPDATE files SET state = 'confirmed', confirmed = ? WHERE id = ?", (now(), fid))
            _audit(con, sid, "file confirmed", file_sha256=row["sha256"],
                   detail={"file": row["original_name"], "mapping": json.loads(row["mapping"]), "counts": json.loads(row["counts"] or "{}")})
            self.touch(con, sid)
        return True

    def discard_file(self, sid: str, fid: str) -> bool:
        with self.tx() as con:
            row = con.execute("SELECT * FROM files WHERE id = ? AND study_id = ?", (fid, sid)).fetchone()
            if row is None or row["state"] == "discarded":
                return False
            con.execute("UPDATE files SET state = 'discarded' WHERE id = ?", (fid,))
            _audit(con, sid, "file removed from the study", file_sha256=row["sha256"], detail={"file": row["original_name"]})
            self.touch(con, sid)
        return True

    def interrupted_files(self) -> list[dict[str, Any]]:
        """Files left queued or being checked by a server that stopped."""
        return [_file_row(r) for r in self._read("SELECT * FROM files WHERE state IN ('queued', 'checking')")]

    # -- per-file check results -------------------------------------------------------------

    def check_path(self, fid: str) -> Path:
        return self.root / "checks" / f"{fid}.json"

    def write_json(self, path: Path, data: Any) -> None:
        """Write JSON atomically (temporary file in ``tmp/``, then rename)."""
        tmp = self.root / "tmp" / (secrets.token_hex(8) + ".json.part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False, default=str)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def read_json(self, path: Path) -> Any:
        try:
            with open(path, encoding="utf-8") as fh:
                return json.load(fh)
        except FileNotFoundError:
            return None

    # -- mapping profiles --------------------------------------------------------------------

    def save_mapping(self, name: str, signature: str, header_row: int, entry: dict[str, Any]) -> int:
        with self.tx() as con:
            cur = con.execute(
                "INSERT INTO mappings (name, created, signature, header_row, entry) VALUES (?, ?, ?, ?, ?)",
                (name, now(), signature, header_row, json.dumps(entry)),
            )
            return int(cur.lastrowid)

    def mappings(self) -> list[dict[str, Any]]:
        rows = self._read("SELECT * FROM mappings ORDER BY id DESC")
        for r in rows:
            r["entry"] = json.loads(r["entry"])
        return rows

    def mapping(self, mid: int) -> dict[str, Any] | None:
        rows = self._read("SELECT * FROM mappings WHERE id = ?", (mid,))
        if not rows:
            return None
        rows[0]["entry"] = json.loads(rows[0]["entry"])
        return rows[0]

    # -- runs --------------------------------------------------------------------------------

    def run_dir(self, run_id: int) -> Path:
        return self.root / "runs" / str(int(run_id))

    def start_run(self, sid: str, key: str, detail: dict[str, Any]) -> int:
        with self.tx() as con:
            cur = con.execute("INSERT INTO runs (study_id, key, created, state) VALUES (?, ?, ?, 'running')", (sid, key, now()))
            _audit(con, sid, "analysis started", detail=detail)
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, *, summary: dict[str, Any] | None = None, error: str | None = None) -> None:
        with self.tx() as con:
            con.execute(
                "UPDATE runs SET state = ?, error = ?, summary = ? WHERE id = ?",
                ("failed" if error else "done", error, None if summary is None else json.dumps(summary, default=str), run_id),
            )
            row = con.execute("SELECT study_id FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row:
                _audit(con, row["study_id"], "analysis failed" if error else "report written",
                       detail={"run": run_id, **({"error": error} if error else {})})

    def run_for(self, sid: str, key: str) -> dict[str, Any] | None:
        rows = self._read("SELECT * FROM runs WHERE study_id = ? AND key = ? AND state != 'failed' ORDER BY id DESC LIMIT 1", (sid, key))
        return _run_row(rows[0]) if rows else None

    def latest_run(self, sid: str) -> dict[str, Any] | None:
        rows = self._read("SELECT * FROM runs WHERE study_id = ? ORDER BY id DESC LIMIT 1", (sid,))
        return _run_row(rows[0]) if rows else None

    def fail_interrupted_runs(self) -> None:
        with self.tx() as con:
            con.execute("UPDATE runs SET state = 'failed', error = 'the server stopped during the analysis; run it again' WHERE state = 'running'")

    # -- audit -------------------------------------------------------------------------------

    def audit(self, sid: str, action: str, *, file_sha256: str | None = None, detail: dict[str, Any] | None = None) -> None:
        with self.tx() as con:
            _audit(con, sid, action, file_sha256=file_sha256, detail=detail)

    def audit_log(self, sid: str) -> list[dict[str, Any]]:
        rows = self._read("SELECT * FROM audit WHERE study_id = ? ORDER BY id", (sid,))
        for r in rows:
            r["detail"] = json.loads(r["detail"])
        return rows

    # -- counts ------------------------------------------------------------------------------

    def study_counts(self, sid: str) -> dict[str, int]:
        """read, loaded, rejected, blank and ignored over the study's confirmed files."""
        total = {"read": 0, "loaded": 0, "rejected": 0, "blank": 0, "ignored": 0}
        for f in self.files(sid, states=("confirmed",)):
            for k in total:
                total[k] += int((f["counts"] or {}).get(k, 0))
        return total


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (a trigger body's ';' stays inside its statement)."""
    out, buf = [], []
    for line in script.splitlines():
        buf.append(line)
        joined = "\n".join(buf).strip()
        if joined and sqlite3.complete_statement(joined):
            out.append(joined)
            buf = []
    rest = "\n".join(buf).strip()
    if rest:
        out.append(rest)
    return out


def _audit(con: sqlite3.Connection, sid: str, action: str, *, file_sha256: str | None = None, detail: dict[str, Any] | None = None) -> None:
    from .. import __version__

    con.execute(
        "INSERT INTO audit (study_id, time, action, file_sha256, detail, btm_version) VALUES (?, ?, ?, ?, ?, ?)",
        (sid, now(), action, file_sha256, json.dumps(detail or {}, ensure_ascii=False, default=str), __version__),
    )


def _file_row(r: dict[str, Any]) -> dict[str, Any]:
    r = dict(r)
    r["mapping"] = json.loads(r["mapping"] or "[]")
    r["counts"] = json.loads(r["counts"]) if r["counts"] else None
    return r


def _run_row(r: dict[str, Any]) -> dict[str, Any]:
    r = dict(r)
    r["summary"] = json.loads(r["summary"]) if r["summary"] else None
    return r
