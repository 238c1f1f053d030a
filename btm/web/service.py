"""What the pages and the API do, once: take uploads, check files, build reports.

The server process only moves bytes and rows of the catalog; everything that reads a
spreadsheet runs in the worker pool through :mod:`btm.web._engine`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from .. import __version__
from . import _engine
from .jobs import Busy, JobPool
from .store import UPLOAD_SUFFIXES, Store, StoredUpload

__all__ = ["Service", "UploadRejected", "clean_name"]

MAX_NAME = 200
MAX_MAPPING_BYTES = 1024 * 1024


class UploadRejected(Exception):
    """An upload the server will not take (type, size, mapping); ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def clean_name(name: str | None) -> str:
    """A file name fit to show: no folders, no control or invisible format characters, at most 200 characters.

    The result is only ever shown or written into outputs as text; it is never used as a path.
    """
    text = str(name or "")
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(ch for ch in unicodedata.normalize("NFC", text) if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    text = " ".join(text.split()).strip(" .")
    if not text:
        return "upload"
    if len(text) > MAX_NAME:
        stem, dot, suffix = text.rpartition(".")
        suffix = dot + suffix if dot and len(suffix) <= 10 else ""
        text = text[: MAX_NAME - len(suffix) - 1] + "…" + suffix
    return text


def suffix_of(name: str) -> str:
    return Path(name).suffix.lower() if "." in name else ""


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name (2)``, ``name (3)`` … when a file of that name is already in the study."""
    if name not in taken:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    k = 2
    while True:
        cand = f"{stem} ({k}).{suffix}" if dot else f"{stem} ({k})"
        if cand not in taken:
            return cand
        k += 1


@dataclass
class Settings:
    max_upload_mb: float = 200.0
    max_files: int = 50


@dataclass
class Service:
    store: Store
    pool: JobPool
    settings: Settings = field(default_factory=Settings)
    _checks: dict[str, asyncio.Task] = field(default_factory=dict)
    _builds: dict[tuple[str, str], asyncio.Task] = field(default_factory=dict)
    _describe: dict[str, dict[str, Any]] = field(default_factory=dict)
    flash: dict[str, list[str]] = field(default_factory=dict)

    # -- uploads -----------------------------------------------------------------------------

    def validate_upload_names(self, uploads: list[Any]) -> list[str]:
        if not uploads:
            raise UploadRejected("no file was sent: choose one or more spreadsheets (field 'files')")
        if len(uploads) > self.settings.max_files:
            raise UploadRejected(f"{len(uploads)} files in one upload; at most {self.settings.max_files}")
        names = []
        for up in uploads:
            name = clean_name(getattr(up, "filename", ""))
            if suffix_of(name) not in UPLOAD_SUFFIXES:
                raise UploadRejected(
                    f"{name}: not a spreadsheet btm reads (accepted: {', '.join(UPLOAD_SUFFIXES)})", status=415
                )
            names.append(name)
        return names

    async def save_uploads(self, uploads: list[Any], names: list[str]) -> list[StoredUpload]:
        saved: list[StoredUpload] = []
        limit = int(self.settings.max_upload_mb * 1024**2)
        try:
            for up, name in zip(uploads, names, strict=True):
                await up.seek(0)
                saved.append(await run_in_threadpool(self.store.save_upload, up.file, suffix_of(name), max_bytes=limit))
        except BaseException:
            for s in saved:
                self.store.remove_upload(s.stored_name)
            raise
        finally:
            for up in uploads:
                await up.close()
        return saved

    async def read_mapping_upload(self, upload: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """A mapping TOML sent with the files: (sheet entries, top-level settings); invalid -> 422."""
        from ..errors import MappingError
        from ..io.mapping import mapping_from_dict

        data = await upload.read(MAX_MAPPING_BYTES + 1)
        await upload.close()
        if len(data) > MAX_MAPPING_BYTES:
            raise UploadRejected("the mapping file is larger than 1 MB", status=413)
        try:
            raw = tomllib.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UploadRejected(f"mapping: not valid TOML ({exc})", status=422) from None
        try:
            m = mapping_from_dict(raw, source="mapping")
        except MappingError as exc:
            raise UploadRejected(str(exc), status=422) from None
        # the sheet entries as written (every key a mapping file has, research layouts included), JSON-safe
        entries = json.loads(json.dumps(list(raw.get("sheets") or []), default=str))
        top = {"dayfirst": m.dayfirst, "decimal": m.decimal, "timepoint_order": list(m.timepoint_order), "baseline": m.baseline,
               "unit_aliases": dict(m.unit_aliases)}
        return entries, top

    # -- jobs: common arguments ----------------------------------------------------------------

    def _import_settings(self, study: dict[str, Any]) -> dict[str, Any]:
        o = study.get("options") or {}
        return {"dayfirst": o.get("dayfirst"), "decimal": o.get("decimal") or None, "unit_aliases": o.get("unit_aliases") or {},
                "max_mb": self.settings.max_upload_mb}

    def _file_job(self, f: dict[str, Any]) -> dict[str, Any]:
        return {"path": str(self.store.upload_path(f["stored_name"])), "original": f["original_name"], "entries": f["mapping"]}

    # -- checking one file (pages) -------------------------------------------------------------

    def schedule_check(self, sid: str, fid: str) -> None:
        old = self._checks.get(fid)
        if old is not None and not old.done():
            return
        self.store.set_file_state(fid, "queued")
        self._checks[fid] = asyncio.get_running_loop().create_task(self._check(sid, fid))

    def checking(self, fid: str) -> bool:
        t = self._checks.get(fid)
        return t is not None and not t.done()

    async def _check(self, sid: str, fid: str) -> None:
        study = self.store.study(sid)
        f = self.store.file(sid, fid)
        if study is None or f is None:
            return
        job = {
            **self._file_job(f), **self._import_settings(study),
            "profiles": [{"id": p["id"], "name": p["name"], "signature": p["signature"], "header_row": p["header_row"], "entry": p["entry"]}
                         for p in self.store.mappings()[:500]],
            "rejected_xlsx": str(self.store.check_path(fid).with_suffix(".rejected.xlsx")),
        }
        self.store.set_file_state(fid, "checking")
        try:
            result = await self.pool.run(_engine.check_file, job)
        except (Busy, TimeoutError, RuntimeError) as exc:
            result = {"ok": False, "error": str(exc), "kind": type(exc).__name__}
        except asyncio.CancelledError:
            self.store.set_file_state(fid, "queued")
            raise
        result["checked"] = _now()
        await run_in_threadpool(self.store.write_json, self.store.check_path(fid), result)
        if not result.get("ok"):
            self.store.set_file_state(fid, "failed", error=result.get("error"))
        elif not result.get("readable"):
            self.store.set_file_state(fid, "failed", counts=result.get("counts"), error=result.get("error"))
        else:
            self.store.set_file_state(fid, "checked", counts=result.get("counts"))
        for a in result.get("applied_profiles") or []:
            self.store.audit(sid, "mapping profile applied", file_sha256=f["sha256"],
                             detail={"file": f["original_name"], "sheet": a["sheet"], "profile": a["profile_name"], "profile_id": a["profile_id"]})

    def check_result(self, fid: str) -> dict[str, Any] | None:
        return self.store.read_json(self.store.check_path(fid))

    # -- adding files to a study ---------------------------------------------------------------

    async def add_uploads(self, sid: str, uploads: list[Any], *, check: bool = True) -> tuple[list[str], list[dict[str, Any]]]:
        """Store uploads in a study and start their checks: (new file ids, re-uploads that were not added)."""
        names = self.validate_upload_names(uploads)
        saved = await self.save_uploads(uploads, names)
        taken = {f["original_name"] for f in self.store.files(sid) if f["state"] != "discarded"}
        new, duplicates = [], []
        for name, up in zip(names, saved, strict=True):
            shown = unique_name(name, taken)
            fid, prior = self.store.add_file(sid, shown, up)
            if prior is not None:
                duplicates.append({"name": name, "sha256": up.sha256, "size": up.size, "status": "duplicate",
                                   "duplicate_of": prior["original_name"], "uploaded": prior["uploaded"]})
                continue
            taken.add(shown)
            new.append(fid)
            if check:
                self.schedule_check(sid, fid)
        return new, duplicates

    # -- the API: one request imports and commits ---------------------------------------------

    async def api_create(self, form: Any) -> tuple[int, dict[str, Any]]:
        """``POST /api/studies``: import the files, and only if something could be read, create the study."""
        req = await self._api_request(form)
        saved = await self.save_uploads(req.uploads, req.names)
        try:
            plan = _plan(req, saved, self.store)
            settings = {"dayfirst": req.top.get("dayfirst"), "decimal": req.top.get("decimal"),
                        "unit_aliases": req.top.get("unit_aliases") or {}, "max_mb": self.settings.max_upload_mb}
            result = await self.pool.run(_engine.import_files, {"files": plan.jobs, **settings})
            problem = _api_problem(req, result)
        except BaseException:
            for s in saved:
                self.store.remove_upload(s.stored_name)
            raise
        if problem is not None:
            for s in saved:
                self.store.remove_upload(s.stored_name)
            return 422, problem
        options = {"control": req.control, "baseline": req.baseline, "timepoint_order": req.top.get("timepoint_order") or [],
                   "dayfirst": req.top.get("dayfirst"), "decimal": req.top.get("decimal"), "unit_aliases": req.top.get("unit_aliases") or {}}
        sid = self.store.create_study(req.title, options)
        files = await self._commit_api_files(sid, plan, saved, result)
        return 201, {"id": sid, "counts": self.store.study_counts(sid), "files": files}

    async def _api_request(self, form: Any) -> _ApiRequest:
        uploads = [u for u in form.getlist("files") if hasattr(u, "filename")]
        names = self.validate_upload_names(uploads)
        entries: list[dict[str, Any]] = []
        top: dict[str, Any] = {}
        mapping_upload = form.get("mapping")
        if mapping_upload is not None and hasattr(mapping_upload, "filename"):
            entries, top = await self.read_mapping_upload(mapping_upload)
        elif isinstance(mapping_upload, str) and mapping_upload.strip():
            raise UploadRejected("send the mapping as a file (a TOML file in field 'mapping')", status=422)
        title = clean_text(form.get("title"), 200) or (names[0] if len(names) == 1 else f"{len(names)} files")
        baseline = clean_text(form.get("baseline"), 200) or (top.get("baseline") or "")
        return _ApiRequest(uploads, names, entries, top, title, clean_text(form.get("control"), 200), baseline)

    async def _commit_api_files(self, sid: str, plan: _Plan, saved: list[StoredUpload], result: dict[str, Any]) -> list[dict[str, Any]]:
        per_file = {f["name"]: f for f in result["files"]}
        rejected = _by_file(result.get("rejected") or [])
        warnings = _by_file(result.get("warnings") or [])
        out = []
        for k, up in enumerate(saved):
            first = plan.first_of[up.sha256]
            if first != k:  # the same content twice in one request
                dup = plan.shown[first]
                out.append({"name": plan.shown[k], "sha256": up.sha256, "size": up.size, "status": "duplicate", "duplicate_of": dup})
                self.store.remove_upload(up.stored_name)
                self.store.audit(sid, "re-upload refused", file_sha256=up.sha256, detail={"file": plan.shown[k], "same_as": dup})
                continue
            name = plan.shown[k]
            info = per_file.get(name, {})
            fid, _ = self.store.add_file(sid, name, up, state="checking", mapping=plan.entries[k])
            readable = info.get("status") == "ok"
            check = {"ok": True, "readable": readable, "error": info.get("error", ""), "counts": info.get("counts"),
                     "rejected": rejected.get(name, [])[: _engine.MAX_LISTED], "n_rejected": len(rejected.get(name, [])),
                     "warnings": warnings.get(name, []), "n_warnings": len(warnings.get(name, [])), "sheets": [], "via": "api",
                     "checked": _now()}
            await run_in_threadpool(self.store.write_json, self.store.check_path(fid), check)
            await run_in_threadpool(_engine.write_rejected_xlsx, check["rejected"], self.store.check_path(fid).with_suffix(".rejected.xlsx"))
            if readable:
                self.store.set_file_state(fid, "checked", counts=info.get("counts"))
                self.store.confirm_file(sid, fid)
            else:
                self.store.set_file_state(fid, "failed", counts=info.get("counts"), error=info.get("error"))
            out.append({"id": fid, "name": name, "sha256": up.sha256, "size": up.size,
                        "status": "ok" if readable else "unreadable", "error": info.get("error", ""), "counts": info.get("counts")})
        return out

    async def api_add(self, sid: str, form: Any) -> tuple[int, dict[str, Any]]:
        """``POST /api/studies/{id}/files``: check and confirm more files; a re-upload is reported, not added."""
        uploads = [u for u in form.getlist("files") if hasattr(u, "filename")]
        new, duplicates = await self.add_uploads(sid, uploads, check=False)
        for fid in new:
            self.schedule_check(sid, fid)
        files = []
        for fid in new:
            await self._checks[fid]
            f = self.store.file(sid, fid)
            if f["state"] == "checked":
                self.store.confirm_file(sid, fid)
                f = self.store.file(sid, fid)
            files.append(self.file_summary(f))
        return 201, {"id": sid, "counts": self.store.study_counts(sid), "files": files + duplicates}

    def file_summary(self, f: dict[str, Any]) -> dict[str, Any]:
        return {"id": f["id"], "name": f["original_name"], "sha256": f["sha256"], "size": f["size"], "uploaded": f["uploaded"],
                "state": f["state"], "status": "ok" if f["state"] in ("checked", "confirmed") else f["state"],
                "counts": f["counts"], "error": f["error"] or ""}

    # -- building the report -------------------------------------------------------------------

    def run_key(self, sid: str) -> tuple[str, dict[str, Any]] | None:
        study = self.store.study(sid)
        files = self.store.files(sid, states=("confirmed",))
        if study is None or not files:
            return None
        o = study["options"]
        material = {"files": [(f["sha256"], f["original_name"], f["mapping"]) for f in files], "options": o,
                    "title": study["title"], "btm": __version__, "engine": 1}
        key = hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:32]
        job = {
            "files": [self._file_job(f) for f in files], "options": self._analysis_options(o), **self._import_settings(study),
            "title": study["title"],
        }
        return key, job

    def _analysis_options(self, o: dict[str, Any]) -> dict[str, Any]:
        out = {k: o.get(k) for k in ("control", "baseline", "timepoint_order", "test", "adjust", "between", "rcv", "arm_types", "population")}
        out["ranges_paths"] = [str(self.store.upload_path(r["stored"])) for r in o.get("ranges") or []]
        return out

    def building(self, sid: str) -> bool:
        return any(s == sid and not t.done() for (s, _), t in self._builds.items())

    def start_build(self, sid: str) -> asyncio.Task | None:
        rk = self.run_key(sid)
        if rk is None:
            return None
        key, job = rk
        task = self._builds.get((sid, key))
        if task is not None and not task.done():
            return task
        run = self.store.run_for(sid, key)
        if run is not None and run["state"] == "done" and (self.store.run_dir(run["id"]) / "report.xlsx").is_file():
            return None
        task = asyncio.get_running_loop().create_task(self._build(sid, key, job))
        self._builds[(sid, key)] = task
        return task

    async def ensure_report(self, sid: str) -> dict[str, Any] | None:
        """The run of the study's current files and options, built now if needed (None: no confirmed file)."""
        task = self.start_build(sid)
        if task is not None:
            await asyncio.shield(task)
        rk = self.run_key(sid)
        if rk is None:
            return None
        return self.store.run_for(sid, rk[0]) or self.store.latest_run(sid)

    async def _build(self, sid: str, key: str, job: dict[str, Any]) -> None:
        study = self.store.study(sid) or {}
        files = self.store.files(sid, states=("confirmed",))
        detail = {"options": study.get("options"), "files": [{"file": f["original_name"], "sha256": f["sha256"], "mapping": f["mapping"]} for f in files]}
        run_id = self.store.start_run(sid, key, detail)
        outdir = self.store.run_dir(run_id)
        job = {**job, "outdir": str(outdir)}
        try:
            result = await self.pool.run(_engine.build_study, job)
        except (Busy, TimeoutError, RuntimeError) as exc:
            result = {"ok": False, "error": str(exc)}
        if result.get("ok"):
            self.store.finish_run(run_id, summary=result["summary"])
        else:
            self.store.finish_run(run_id, error=result.get("error") or "the analysis failed")

    # -- options page --------------------------------------------------------------------------

    async def describe(self, sid: str) -> dict[str, Any]:
        """Arms, visits, baseline and control detected from the confirmed files (cached per file set)."""
        study = self.store.study(sid)
        files = self.store.files(sid, states=("confirmed",))
        if study is None or not files:
            return {"ok": False, "error": "no confirmed file yet"}
        key = hashlib.sha256(json.dumps([(f["sha256"], f["mapping"]) for f in files] + [self._import_settings(study)], sort_keys=True, default=str).encode()).hexdigest()
        if key in self._describe:
            return self._describe[key]
        job = {"files": [self._file_job(f) for f in files], **self._import_settings(study)}
        try:
            result = await self.pool.run(_engine.describe_study, job)
        except (Busy, TimeoutError, RuntimeError) as exc:
            return {"ok": False, "error": str(exc)}
        if result.get("ok"):
            self._describe[key] = result
        return result

    async def save_ranges_upload(self, upload: Any) -> dict[str, Any]:
        names = [clean_name(getattr(upload, "filename", ""))]
        if suffix_of(names[0]) != ".csv":
            raise UploadRejected(f"{names[0]}: reference intervals must be a .csv file (columns as reference_ranges/intervals.csv)", status=415)
        (saved,) = await self.save_uploads([upload], names)
        result = await self.pool.run(_engine.probe_ranges, {"path": str(self.store.upload_path(saved.stored_name)), "original": names[0]})
        if not result.get("ok"):
            self.store.remove_upload(saved.stored_name)
            raise UploadRejected(f"{names[0]}: {result.get('error')}", status=422)
        return {"stored": saved.stored_name, "original": names[0], "sha256": saved.sha256, "n": result["n"], "markers": result["markers"]}

    def add_flash(self, sid: str, messages: list[str]) -> None:
        if messages:
            self.flash.setdefault(sid, []).extend(messages)

    def pop_flash(self, sid: str) -> list[str]:
        return self.flash.pop(sid, [])

    async def close(self) -> None:
        for t in [*self._checks.values(), *self._builds.values()]:
            if not t.done():
                t.cancel()


def duplicate_note(d: dict[str, Any]) -> str:
    """What the page says about a re-upload."""
    return (f"{d['name']} is already in this study: the same file (SHA-256 {d['sha256'][:12]}…) was uploaded as "
            f"{d['duplicate_of']} on {_when(d['uploaded'])}; it was not added again.")


@dataclass
class _ApiRequest:
    uploads: list[Any]
    names: list[str]
    entries: list[dict[str, Any]]
    top: dict[str, Any]
    title: str
    control: str
    baseline: str


@dataclass
class _Plan:
    jobs: list[dict[str, Any]]  # the files to import (first copy of each content)
    shown: list[str]  # name shown for each upload (unique in the request)
    entries: list[list[dict[str, Any]]]  # mapping entries for each upload
    first_of: dict[str, int]  # sha256 -> index of its first upload


def _plan(req: _ApiRequest, saved: list[StoredUpload], store: Store) -> _Plan:
    import fnmatch

    first_of: dict[str, int] = {}
    shown: list[str] = []
    taken: set[str] = set()
    entries = []
    jobs = []
    for k, (name, up) in enumerate(zip(req.names, saved, strict=True)):
        first_of.setdefault(up.sha256, k)
        shown.append(unique_name(name, taken))
        taken.add(shown[-1])
        entries.append([e for e in req.entries if fnmatch.fnmatch(name, e.get("file") or "*")])
        if first_of[up.sha256] == k:
            jobs.append({"path": str(store.upload_path(up.stored_name)), "original": shown[-1], "entries": entries[-1]})
    return _Plan(jobs, shown, entries, first_of)


def _api_problem(req: _ApiRequest, result: dict[str, Any]) -> dict[str, Any] | None:
    """The 422 body when nothing could be read or a named control/baseline is not in the data."""
    if not result.get("ok"):
        return {"error": result.get("error", "the files could not be read"), "kind": result.get("kind", "")}
    groups, tps = result.get("groups") or [], result.get("timepoints") or []
    if req.control and req.control not in groups:
        return {"error": f"control {req.control!r} is not an arm of the data (arms: {', '.join(groups) or 'none'})"}
    if req.baseline and req.baseline not in tps:
        return {"error": f"baseline {req.baseline!r} is not a timepoint of the data (timepoints: {', '.join(tps) or 'none'})"}
    return None


def _by_file(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        out.setdefault(rec["file"], []).append(rec)
    return out


def clean_text(value: Any, n: int) -> str:
    """A form field as one line of text of at most ``n`` characters (files and control characters dropped)."""
    if not isinstance(value, str):
        return ""
    text = "".join(ch for ch in value if unicodedata.category(ch) not in ("Cc", "Cf") or ch == " ")
    return " ".join(text.split())[:n]


def _now() -> str:
    from .store import now

    return now()


def _when(iso: str) -> str:
    return iso.replace("T", " ")[:16]
