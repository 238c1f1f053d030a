"""The pages lab staff use: studies → upload → preview → map → check and confirm → options → results."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from . import _engine, views
from .app import ctx_of, download, safe_filename, study_or_404
from .service import clean_text, duplicate_note

PAGE_SIZE = 100
STAT_CHOICES = {
    "test": [("t", "paired t-test on log values (default)"), ("wilcoxon", "Wilcoxon signed-rank")],
    "adjust": [("holm", "Holm (default)"), ("bh", "Benjamini–Hochberg")],
    "between": [("ancova", "ANCOVA on log values (default)"), ("welch", "Welch t-test on log ratios"), ("mannwhitney", "Mann–Whitney on % change")],
    "rcv": [("lognormal", "log-normal reference change value (default)"), ("lsc", "symmetric least significant change")],
}


@functools.lru_cache(maxsize=8)

def _load_table(path: str, mtime: float) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def load_table(folder: Path, name: str) -> list[dict[str, Any]]:
    p = folder / f"{name}.json"
    try:
        return _load_table(str(p), os.path.getmtime(p))
    except FileNotFoundError:
        return []


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def file_or_404(store: Any, sid: str, fid: str) -> dict[str, Any]:
    f = store.file(sid, fid)
    if f is None or f["state"] == "discarded":
        raise HTTPException(404, "this file is not in the study")
    return f


def pending(files: list[dict[str, Any]]) -> bool:
    return any(f["state"] in ("queued", "checking") for f in files)

# -- home ------------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    web, store, service = ctx_of(request)
    studies = await run_in_threadpool(store.studies)
    return web.page(request, "home.html", {"studies": studies})


async def new_study(request: Request) -> Response:
    web, store, service = ctx_of(request)
    form = await web.form(request)
    try:
        uploads = [u for u in form.getlist("files") if hasattr(u, "filename") and u.filename]
        names = service.validate_upload_names(uploads)
        title = clean_text(form.get("title"), 200) or (names[0] if len(names) == 1 else f"Study of {len(names)} files")
        sid = store.create_study(title)
        new, duplicates = await service.add_uploads(sid, uploads)
    finally:
        await form.close()
    service.add_flash(sid, [duplicate_note(d) for d in duplicates])
    if len(new) == 1 and not duplicates:
        return redirect(str(request.url_for("file_preview", sid=sid, fid=new[0])))
    return redirect(str(request.url_for("study_page", sid=sid)))

# -- study -----------------------------------------------------------------------------------


async def study_page(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid = request.path_params["sid"]
    s = study_or_404(store, sid)
    files = [f for f in store.files(sid) if f["state"] != "discarded"]
    rk = service.run_key(sid)
    run = store.run_for(sid, rk[0]) if rk else None
    latest = store.latest_run(sid)
    return web.page(request, "study.html", {
        "study": s, "files": files, "notes": service.pop_flash(sid), "counts": store.study_counts(sid),
        "audit": list(reversed(store.audit_log(sid)))[:200], "run": run, "latest": latest,
        "building": service.building(sid), "refresh": pending(files) or service.building(sid),
        "n_confirmed": sum(f["state"] == "confirmed" for f in files), "n_checked": sum(f["state"] == "checked" for f in files),
        "step": _step(files, run),
    })


async def add_files(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid = request.path_params["sid"]
    study_or_404(store, sid)
    form = await web.form(request)
    try:
        uploads = [u for u in form.getlist("files") if hasattr(u, "filename") and u.filename]
        new, duplicates = await service.add_uploads(sid, uploads)
    finally:
        await form.close()
    service.add_flash(sid, [duplicate_note(d) for d in duplicates])
    if len(new) == 1 and not duplicates:
        return redirect(str(request.url_for("file_preview", sid=sid, fid=new[0])))
    return redirect(str(request.url_for("study_page", sid=sid)))

# -- one file: preview, map, check -------------------------------------------------------------


def file_context(service: Any, sid: str, fid: str) -> dict[str, Any]:
    store = service.store
    s = study_or_404(store, sid)
    f = file_or_404(store, sid, fid)
    check = service.check_result(fid) if f["state"] not in ("queued", "checking") else None
    return {"study": s, "file": f, "check": check, "refresh": f["state"] in ("queued", "checking"),
            "profiles": {p["id"]: p for p in store.mappings()}}


async def file_preview(request: Request) -> Response:
    web, store, service = ctx_of(request)
    ctx = file_context(service, request.path_params["sid"], request.path_params["fid"])
    return web.page(request, "preview.html", {**ctx, "step": 2})


async def file_check(request: Request) -> Response:
    web, store, service = ctx_of(request)
    ctx = file_context(service, request.path_params["sid"], request.path_params["fid"])
    return web.page(request, "check.html", {**ctx, "step": 3})


def map_context(service: Any, sid: str, fid: str, request: Request, *, header_row: int | None = None, sheet: str | None = None) -> dict[str, Any]:
    ctx = file_context(service, sid, fid)
    check = ctx["check"]
    if not check or not check.get("sheets"):
        raise HTTPException(409, "the file has not been read yet: wait for the check to finish")
    sheets = [s for s in check["sheets"] if s.get("top")]
    if not sheets:
        raise HTTPException(409, "no sheet of this file has any cells to map")
    name = sheet if sheet is not None else request.query_params.get("sheet")
    chosen = next((s for s in sheets if s["sheet"] == name), None)
    if chosen is None:
        chosen = next((s for s in sheets if s["status"] != "table" or any(c["state"] == "unknown" for c in s.get("columns", []))), sheets[0])
    if header_row is None:
        try:
            header_row = int(request.query_params.get("header_row") or chosen.get("header_row") or 1)
        except ValueError:
            header_row = int(chosen.get("header_row") or 1)
    header_row = min(max(header_row, 1), len(chosen["top"]))
    header = chosen["top"][header_row - 1]
    entry = next((e for e in ctx["file"]["mapping"] if e.get("sheet") == chosen["sheet"]), None)
    detected = {c["index"]: c for c in chosen.get("columns", [])} if chosen.get("header_row") == header_row else {}
    from ..io.layout import classify_header, split_header
    from ..markers import catalog

    cols = []
    for j, text in enumerate(header):
        samples = [r[j] for r in chosen["top"][header_row : header_row + 4] if j < len(r) and r[j]]
        role, marker, unit = "", "", ""
        if entry and text in (entry.get("columns") or {}):
            v = entry["columns"][text]
            role, marker = ("marker", v) if v in catalog() else (v, "")
            unit = (entry.get("units") or {}).get(text, "")
        elif j in detected:
            d = detected[j]
            role, marker = d["role"], d["marker"]
            unit = d["unit"] if d.get("unit_source") != "header" else ""
            if role.startswith("unit_of_"):
                role = "unit"
        elif text:
            hc = classify_header(text)
            role, marker = hc.role, hc.marker
            if role == "time":
                role = "timepoint"
        if role in ("derived", "lookalike"):
            role = "ignore"  # not read unless the person says otherwise
        elif role not in views.ROLE_LABELS:
            role = ""
        header_unit = split_header(text)[1] if text else ""
        cols.append({"index": j, "letter": _engine._letter(j), "header": text, "role": role or ("ignore" if not text else ""),
                     "marker": marker, "unit": unit, "header_unit": header_unit, "samples": samples,
                     "lod": (entry.get("lod") or {}).get(marker, "") if entry and marker else ""})
    markers = [{"id": m.id, "name": m.name, "units": list(dict.fromkeys(u for meas in m.measures for u in (meas.unit, *meas.units)))}
               for m in catalog().values()]
    return {**ctx, "sheets": sheets, "sheet": chosen, "header_row": header_row, "columns": cols, "markers": markers,
            "entry": entry or {}, "roles": views.ROLE_LABELS, "errors": [], "step": 2,
            "profile_name": f"{ctx['file']['original_name']}" + (f" – {chosen['sheet']}" if chosen["sheet"] else "")}


async def file_map(request: Request) -> Response:
    web, store, service = ctx_of(request)
    ctx = map_context(service, request.path_params["sid"], request.path_params["fid"], request)
    return web.page(request, "map.html", ctx)


async def file_map_save(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid, fid = request.path_params["sid"], request.path_params["fid"]
    form = await web.form(request)
    try:
        header_row = int(form.get("header_row") or 1)
    except ValueError:
        header_row = 1
    ctx = map_context(service, sid, fid, request, header_row=header_row, sheet=str(form.get("sheet") or ""))
    if form.get("action") == "reload":
        url = str(request.url_for("file_map", sid=sid, fid=fid)) + "?" + urlencode({"sheet": ctx["sheet"]["sheet"], "header_row": ctx["header_row"]})
        return redirect(url)
    entry, errors = _entry_from_form(form, ctx)
    if errors:
        for c in ctx["columns"]:  # show what was chosen, with the errors
            c["role"] = str(form.get(f"role_{c['index']}") or c["role"])
            c["marker"] = str(form.get(f"marker_{c['index']}") or c["marker"])
            c["unit"] = str(form.get(f"unit_{c['index']}") or "")
            c["lod"] = str(form.get(f"lod_{c['index']}") or "")
        return web.page(request, "map.html", {**ctx, "errors": errors}, status=422)
    f = ctx["file"]
    entries = [e for e in f["mapping"] if e.get("sheet") != entry["sheet"]] + [entry]
    profile = None
    if form.get("save_profile"):
        name = clean_text(form.get("profile_name"), 120) or ctx["profile_name"]
        sig = ctx["sheet"]["top_signatures"][ctx["header_row"] - 1]
        mid = store.save_mapping(name, sig, ctx["header_row"], {k: v for k, v in entry.items() if k != "sheet"})
        profile = f"{name} (#{mid})"
    store.set_file_mapping(sid, fid, entries, profile=profile)
    service.schedule_check(sid, fid)
    return redirect(str(request.url_for("file_preview", sid=sid, fid=fid)))


async def file_confirm(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid, fid = request.path_params["sid"], request.path_params["fid"]
    await web.form(request)
    file_or_404(store, sid, fid)
    if not store.confirm_file(sid, fid):
        raise HTTPException(409, "only a file that has been checked can be added; wait for the check, or check it again")
    f = store.file(sid, fid)
    left = [x for x in store.files(sid) if x["state"] in ("queued", "checking", "checked")]
    if not left:
        return redirect(str(request.url_for("options_page", sid=sid)))
    service.add_flash(sid, [f"{f['original_name']}: {(f['counts'] or {}).get('loaded', 0)} results added to the study."])
    return redirect(str(request.url_for("study_page", sid=sid)))


async def file_discard(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid, fid = request.path_params["sid"], request.path_params["fid"]
    await web.form(request)
    f = file_or_404(store, sid, fid)
    store.discard_file(sid, fid)
    service.add_flash(sid, [f"{f['original_name']} was removed from the study (the audit log keeps the record)."])
    return redirect(str(request.url_for("study_page", sid=sid)))


async def file_recheck(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid, fid = request.path_params["sid"], request.path_params["fid"]
    await web.form(request)
    file_or_404(store, sid, fid)
    service.schedule_check(sid, fid)
    return redirect(str(request.url_for("file_preview", sid=sid, fid=fid)))


async def file_rejected(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid, fid = request.path_params["sid"], request.path_params["fid"]
    f = file_or_404(store, sid, fid)
    return download(store.check_path(fid).with_suffix(".rejected.xlsx"), safe_filename(Path(f["original_name"]).stem, "-rejected.xlsx"),
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


async def file_mapping_toml(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid, fid = request.path_params["sid"], request.path_params["fid"]
    f = file_or_404(store, sid, fid)
    check = service.check_result(fid) or {}
    text = _mapping_toml(f, check)
    return Response(text, media_type="application/toml; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="{safe_filename(Path(f["original_name"]).stem, "-mapping.toml")}"',
        "cache-control": "no-store"})


async def import_settings(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid = request.path_params["sid"]
    s = study_or_404(store, sid)
    form = await web.form(request)
    dayfirst = {"day": True, "month": False}.get(str(form.get("dayfirst") or ""))
    decimal = str(form.get("decimal") or "") if form.get("decimal") in (".", ",") else None
    options = {**s["options"], "dayfirst": dayfirst, "decimal": decimal}
    if (options.get("dayfirst"), options.get("decimal")) != (s["options"].get("dayfirst"), s["options"].get("decimal") or None):
        store.set_options(sid, options)
        for f in store.files(sid):
            if f["state"] not in ("discarded",):
                service.schedule_check(sid, f["id"])
        service.add_flash(sid, ["Import settings changed: every file is read again; confirm each file again after checking it."])
    back = str(form.get("next") or "")
    if not back.startswith(f"/studies/{sid}"):
        back = str(request.url_for("study_page", sid=sid))
    return redirect(back)

# -- options and results ---------------------------------------------------------------------


async def options_page(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid = request.path_params["sid"]
    s = study_or_404(store, sid)
    files = store.files(sid, states=("confirmed",))
    if not files:
        raise HTTPException(409, "add at least one checked file to the study first (Confirm on the file's check page)")
    described = await service.describe(sid)
    from ..evidence import EXERCISE_TYPES, POPULATIONS

    return web.page(request, "options.html", {
        "study": s, "o": s["options"], "d": described, "types": EXERCISE_TYPES, "populations": POPULATIONS,
        "stats": STAT_CHOICES, "errors": [], "step": 4,
    })


async def options_save(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid = request.path_params["sid"]
    s = study_or_404(store, sid)
    form = await web.form(request)
    try:
        described = await service.describe(sid)
        from ..evidence import EXERCISE_TYPES, POPULATIONS

        groups = described.get("groups") or []
        tps = described.get("timepoints") or []
        o = dict(s["options"])
        errors = []
        control = clean_text(form.get("control"), 200)
        if control and control not in groups:
            errors.append(f"control arm {control!r} is not an arm of the data")
        baseline = clean_text(form.get("baseline"), 200)
        order_text = str(form.get("timepoint_order") or "")
        order = [clean_text(t, 200) for t in order_text.split(",") if clean_text(t, 200)]
        unknown = [t for t in order if t not in tps]
        if unknown:
            errors.append(f"timepoint order: {', '.join(repr(t) for t in unknown)} not found in the data (found: {', '.join(tps)})")
        if order and order == list(tps):
            order = []  # the detected order: keep following the data
        if baseline and baseline not in tps:
            errors.append(f"baseline {baseline!r} is not a timepoint of the data")
        arm_types = {}
        for k, g in enumerate(groups):
            t = str(form.get(f"arm_{k}") or "")
            if t and t not in EXERCISE_TYPES:
                errors.append(f"arm {g!r}: unknown exercise type")
            elif t and t != (described.get("arm_types") or {}).get(g):
                arm_types[g] = t
        population = str(form.get("population") or "")
        if population and population not in POPULATIONS:
            errors.append("unknown population")
        for key, choices in STAT_CHOICES.items():
            v = str(form.get(key) or choices[0][0])
            if v not in {c for c, _ in choices}:
                errors.append(f"{key}: unknown choice")
            o[key] = v
        ranges = [] if form.get("remove_ranges") else list(o.get("ranges") or [])
        up = form.get("ranges")
        if up is not None and hasattr(up, "filename") and up.filename:
            try:
                ranges = [await service.save_ranges_upload(up)]
            except Exception as exc:  # shown on the form
                from .service import UploadRejected

                if not isinstance(exc, UploadRejected):
                    raise
                errors.append(str(exc))
        title = clean_text(form.get("title"), 200) or s["title"]
    finally:
        await form.close()
    o.update(control=control, baseline=baseline, timepoint_order=order, arm_types=arm_types, population=population, ranges=ranges)
    if errors:
        return web.page(request, "options.html", {
            "study": {**s, "title": title}, "o": o, "d": described, "types": EXERCISE_TYPES, "populations": POPULATIONS,
            "stats": STAT_CHOICES, "errors": errors, "step": 4}, status=422)
    store.set_options(sid, o, title=title)
    service.start_build(sid)
    return redirect(str(request.url_for("results_page", sid=sid)))


async def results_page(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid = request.path_params["sid"]
    s = study_or_404(store, sid)
    rk = service.run_key(sid)
    if rk is None:
        raise HTTPException(409, "add at least one checked file to the study first (Confirm on the file's check page)")
    run = store.run_for(sid, rk[0])
    if run is None or run["state"] == "running" or service.building(sid):
        if not service.building(sid) and (run is None or run["state"] != "running"):
            latest = store.latest_run(sid)
            if latest is not None and latest["state"] == "failed" and latest["key"] == rk[0]:
                return web.page(request, "results.html", {"study": s, "run": latest, "failed": True, "step": 5})
            service.start_build(sid)
        return web.page(request, "results.html", {"study": s, "run": None, "failed": False, "refresh": True, "step": 5})
    folder = store.run_dir(run["id"])
    tab = request.query_params.get("tab", "summary")
    summary = run["summary"] or {}
    ctx: dict[str, Any] = {"study": s, "run": run, "failed": False, "summary": summary, "tab": tab, "step": 5,
                           "charts": views.chart(summary.get("headline") or []),
                           "figures_ok": _has_matplotlib(), "base": str(request.url_for("results_page", sid=sid))}
    q = request.query_params
    if tab in ("results", "changes", "problems"):
        name = {"results": "results", "changes": "changes", "problems": "rejected"}[tab]
        rows = await run_in_threadpool(load_table, folder, name)
        filters = {k: q.get(k, "") for k in ("subject", "marker", "status", "group", "direction")}
        rows = _filter(rows, filters)
        try:
            page = max(1, int(q.get("page", "1")))
        except ValueError:
            page = 1
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        page = min(page, pages)
        ctx.update(rows=rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], n_rows=len(rows), page=page, pages=pages, filters=filters,
                   query={k: v for k, v in filters.items() if v})
        if tab == "problems":
            ctx["warnings"] = (await run_in_threadpool(load_table, folder, "warnings"))[:1000]
    return web.page(request, "results.html", ctx)


async def study_rejected(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid = request.path_params["sid"]
    s = study_or_404(store, sid)
    run = await service.ensure_report(sid)
    if run is None or run["state"] != "done":
        raise HTTPException(409, "no report yet: run the analysis on the Options page")
    return download(store.run_dir(run["id"]) / "rejected.xlsx", safe_filename(s["title"], "-rejected.xlsx"),
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


async def study_figures(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid = request.path_params["sid"]
    s = study_or_404(store, sid)
    run = await service.ensure_report(sid)
    if run is None or run["state"] != "done":
        raise HTTPException(409, "no report yet: run the analysis on the Options page")
    target = store.run_dir(run["id"]) / "figures.zip"
    if not target.is_file():
        rk = service.run_key(sid)
        job = {**rk[1], "zip": str(target)}
        result = await service.pool.run(_engine.write_figures_zip, job)
        if not result.get("ok"):
            raise HTTPException(422, result.get("error") or "the figures could not be drawn")
    return download(target, safe_filename(s["title"], "-figures.zip"), "application/zip")

# -- mapping profiles ------------------------------------------------------------------------


async def mappings_page(request: Request) -> Response:
    web, store, service = ctx_of(request)
    return web.page(request, "mappings.html", {"profiles": store.mappings()})


async def mapping_toml(request: Request) -> Response:
    web, store, service = ctx_of(request)
    mid = request.path_params["mid"]
    p = store.mapping(mid)
    if p is None:
        raise HTTPException(404, "no such mapping profile")
    from ..io.mapping import mapping_to_toml

    rec = {"file": "*", "sheet": "", **p["entry"]}
    rec.setdefault("layout", "wide")
    rec.setdefault("columns", {})
    text = f"# btm mapping profile {p['name']!r}, saved {views.fmt_time(p['created'])}\n" + mapping_to_toml([_for_toml(rec)])
    return Response(text, media_type="application/toml; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="{safe_filename(p["name"], ".toml")}"', "cache-control": "no-store"})


ROUTES = [
    Route("/", home, methods=["GET"], name="home"),
    Route("/studies", new_study, methods=["POST"], name="new_study"),
    Route("/studies/{sid:str}", study_page, methods=["GET"], name="study_page"),
    Route("/studies/{sid:str}/files", add_files, methods=["POST"], name="add_files"),
    Route("/studies/{sid:str}/import-settings", import_settings, methods=["POST"], name="import_settings"),
    Route("/studies/{sid:str}/files/{fid:str}", file_preview, methods=["GET"], name="file_preview"),
    Route("/studies/{sid:str}/files/{fid:str}/map", file_map, methods=["GET"], name="file_map"),
    Route("/studies/{sid:str}/files/{fid:str}/map", file_map_save, methods=["POST"], name="file_map_save"),
    Route("/studies/{sid:str}/files/{fid:str}/check", file_check, methods=["GET"], name="file_check"),
    Route("/studies/{sid:str}/files/{fid:str}/confirm", file_confirm, methods=["POST"], name="file_confirm"),
    Route("/studies/{sid:str}/files/{fid:str}/discard", file_discard, methods=["POST"], name="file_discard"),
    Route("/studies/{sid:str}/files/{fid:str}/recheck", file_recheck, methods=["POST"], name="file_recheck"),
    Route("/studies/{sid:str}/files/{fid:str}/rejected.xlsx", file_rejected, methods=["GET"], name="file_rejected"),
    Route("/studies/{sid:str}/files/{fid:str}/mapping.toml", file_mapping_toml, methods=["GET"], name="file_mapping_toml"),
    Route("/studies/{sid:str}/options", options_page, methods=["GET"], name="options_page"),
    Route("/studies/{sid:str}/options", options_save, methods=["POST"], name="options_save"),
    Route("/studies/{sid:str}/results", results_page, methods=["GET"], name="results_page"),
    Route("/studies/{sid:str}/rejected.xlsx", study_rejected, methods=["GET"], name="study_rejected"),
    Route("/studies/{sid:str}/figures.zip", study_figures, methods=["GET"], name="study_figures"),
    Route("/mappings", mappings_page, methods=["GET"], name="mappings"),
    Route("/mappings/{mid:int}.toml", mapping_toml, methods=["GET"], name="mapping_toml"),
]


def _step(files: list[dict[str, Any]], run: dict[str, Any] | None) -> int:
    if run is not None and run["state"] == "done":
        return 5
    if any(f["state"] == "confirmed" for f in files) and not any(f["state"] in ("queued", "checking", "checked") for f in files):
        return 4
    if any(f["state"] in ("checked", "failed") for f in files):
        return 3
    return 2 if files else 1


def _has_matplotlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _filter(rows: list[dict[str, Any]], f: dict[str, str]) -> list[dict[str, Any]]:
    out = rows
    if f.get("subject"):
        needle = f["subject"].casefold()
        out = [r for r in out if needle in str(r.get("subject_id", "")).casefold()]
    for key, col in (("marker", "marker"), ("status", "status"), ("group", "group"), ("direction", "direction")):
        if f.get(key):
            want = f[key]
            out = [r for r in out if str(r.get(col) or ("no interval" if col == "status" else "")) == want]
    return out


def _for_toml(rec: dict[str, Any]) -> dict[str, Any]:
    out = dict(rec)
    out.setdefault("header_row", 1)
    out.setdefault("units", {})
    return out


def _mapping_toml(f: dict[str, Any], check: dict[str, Any]) -> str:
    """The file's mapping as a mapping file: the entries saved on the Map page, else what btm detected."""
    from ..io.mapping import mapping_to_toml

    recs = []
    if f["mapping"]:
        for e in f["mapping"]:
            rec = {"file": "*", **e}
            rec.setdefault("layout", "wide")
            rec.setdefault("columns", {})
            recs.append(_for_toml(rec))
    else:
        for rec in check.get("drafts") or check.get("layouts") or []:
            recs.append({**rec, "file": "*"})
    head = f"# mapping for {f['original_name']!r} (btm serve); use it with: btm import FILES --mapping THIS_FILE\n"
    return head + mapping_to_toml(recs)


def _entry_from_form(form: Any, ctx: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The sheet entry a person chose on the Map page, and what is wrong with it."""
    from ..errors import UnitError
    from ..markers import catalog
    from ..units import resolve_unit

    markers = catalog()
    allowed = set(views.ROLE_LABELS)
    errors: list[str] = []
    columns: dict[str, str] = {}
    units: dict[str, str] = {}
    lod: dict[str, float] = {}
    seen: dict[str, str] = {}
    has_marker = False
    roles_present: set[str] = set()
    header_cols = ctx["columns"]
    for k, c in enumerate(header_cols):
        role = str(form.get(f"role_{c['index']}") or "")
        text = c["header"]
        if not text:
            continue
        if role not in allowed:
            errors.append(f"column {c['letter']} ({text}): choose what it holds")
            continue
        if role == "marker":
            m = str(form.get(f"marker_{c['index']}") or "")
            if m not in markers:
                errors.append(f"column {c['letter']} ({text}): choose the marker")
                continue
            columns[text] = m
            has_marker = True
            unit = clean_text(form.get(f"unit_{c['index']}"), 60)
            nxt = header_cols[k + 1] if k + 1 < len(header_cols) else None
            unit_next = nxt is not None and str(form.get(f"role_{nxt['index']}") or "") == "unit"
            if unit:
                try:
                    resolve_unit(unit, marker=m)
                except (UnitError, KeyError) as exc:
                    errors.append(f"column {c['letter']} ({text}): {exc}")
                    continue
                units[text] = unit
            elif not c["header_unit"] and not form.get("units_row") and not unit_next:
                errors.append(f"column {c['letter']} ({text}): no unit in the header; choose the unit of {m} (btm never guesses a unit)")
            raw_lod = str(form.get(f"lod_{c['index']}") or "").strip().replace(",", ".")
            if raw_lod:
                try:
                    v = float(raw_lod)
                    if not v > 0 or v != v or v == float("inf"):
                        raise ValueError
                    lod[m] = v
                except ValueError:
                    errors.append(f"column {c['letter']} ({text}): the detection limit must be a positive number")
        else:
            if role not in ("ignore", "unit") and role in seen and seen[role] != text:
                errors.append(f"columns {seen[role]!r} and {text!r} are both '{views.ROLE_LABELS[role]}': choose one")
                continue
            seen.setdefault(role, text)
            columns[text] = role
            roles_present.add(role)
    long_layout = "result" in roles_present and bool(roles_present & {"test_name", "test_code"})
    if not has_marker and not long_layout:
        errors.append("no marker column: mark at least one column as a marker result (or test name + result for a long layout)")
    if not roles_present & {"subject_id", "mrn", "sample_id"}:
        errors.append("no subject column: mark the column that identifies the subject (subject id, MRN or sample number)")
    entry: dict[str, Any] = {"sheet": ctx["sheet"]["sheet"], "header_row": ctx["header_row"], "columns": columns,
                             "layout": "long" if long_layout and not has_marker else "wide"}
    units_row = str(form.get("units_row") or "").strip()
    if units_row:
        try:
            u = int(units_row)
            if u <= ctx["header_row"]:
                raise ValueError
            entry["units_row"] = u
        except ValueError:
            errors.append("the units row must be a row number below the header row")
    tp = clean_text(form.get("timepoint"), 100)
    if tp:
        entry["timepoint"] = tp
    if units:
        entry["units"] = units
    if lod:
        entry["lod"] = lod
    return entry, errors
