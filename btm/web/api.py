"""The JSON API of ``btm serve`` (the contract scripts and LIS integrations use; README: "btm serve")."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .app import ctx_of, download, safe_filename, study_or_404


def urls(request: Request, sid: str) -> dict[str, str]:
    return {
        "url": str(request.url_for("study_page", sid=sid)),
        "report_xlsx": str(request.url_for("api_report", sid=sid)),
        "tidy_csv": str(request.url_for("api_tidy", sid=sid)),
    }


def report_state(service: Any, sid: str) -> dict[str, Any]:
    store = service.store
    rk = service.run_key(sid)
    if rk is None:
        return {"state": "no data", "error": "no confirmed file"}
    run = store.run_for(sid, rk[0])
    if service.building(sid):
        return {"state": "running"}
    if run is None:
        failed = store.latest_run(sid)
        if failed is not None and failed["state"] == "failed":
            return {"state": "failed", "error": failed["error"]}
        return {"state": "not built", "note": "GET the report to build it"}
    if run["state"] == "done":
        s = run["summary"] or {}
        return {"state": "ready", "analysis": s.get("analysis"), "message": s.get("message", ""), "notes": s.get("notes", [])}
    return {"state": run["state"], "error": run.get("error")}


async def list_studies(request: Request) -> Response:
    web, store, service = ctx_of(request)
    rows = await run_in_threadpool(store.studies)
    return JSONResponse({"studies": [
        {"id": s["id"], "title": s["title"], "created": s["created"], "updated": s["updated"], "files": s["n_files"],
         "counts": s["counts"], **urls(request, s["id"])} for s in rows
    ]})


async def create_study(request: Request) -> Response:
    web, store, service = ctx_of(request)
    form = await web.form(request)
    try:
        status, body = await service.api_create(form)
    finally:
        await form.close()
    if status == 201:
        body = {**body, **urls(request, body["id"])}
        return JSONResponse(body, status_code=201, headers={"location": body["url"]})
    return JSONResponse(body, status_code=status)


async def add_files(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid = request.path_params["sid"]
    study_or_404(store, sid)
    form = await web.form(request)
    try:
        status, body = await service.api_add(sid, form)
    finally:
        await form.close()
    return JSONResponse({**body, **urls(request, sid)}, status_code=status)


async def get_study(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid = request.path_params["sid"]
    s = study_or_404(store, sid)
    files = store.files(sid)
    rejected: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    n_rejected = 0
    for f in files:
        if f["state"] != "confirmed":
            continue
        check = await run_in_threadpool(service.check_result, f["id"]) or {}
        rejected += check.get("rejected") or []
        warnings += check.get("warnings") or []
        n_rejected += int(check.get("n_rejected") or 0)
    return JSONResponse({
        "id": sid, "title": s["title"], "created": s["created"], "updated": s["updated"], **urls(request, sid),
        "counts": store.study_counts(sid),
        "files": [service.file_summary(f) for f in files if f["state"] != "discarded"],
        "rejected": rejected, "n_rejected": n_rejected, "warnings": warnings,
        "options": {k: v for k, v in s["options"].items() if k != "ranges"},
        "report": report_state(service, sid),
    })


async def built(service: Any, sid: str) -> Any:
    study_or_404(service.store, sid)
    run = await service.ensure_report(sid)
    if run is None:
        raise HTTPException(409, "the study has no confirmed file yet")
    if run["state"] != "done":
        raise HTTPException(422, run.get("error") or "the analysis failed")
    return run


async def report(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid = request.path_params["sid"]
    run = await built(service, sid)
    title = (store.study(sid) or {}).get("title", "btm")
    return download(store.run_dir(run["id"]) / "report.xlsx", safe_filename(title, "-report.xlsx"),
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


async def tidy(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid = request.path_params["sid"]
    run = await built(service, sid)
    title = (store.study(sid) or {}).get("title", "btm")
    return download(store.run_dir(run["id"]) / "tidy.csv", safe_filename(title, "-tidy.csv"), "text/csv; charset=utf-8")


async def audit(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid = request.path_params["sid"]
    study_or_404(store, sid)
    return JSONResponse({"audit": store.audit_log(sid)})


async def status(request: Request) -> Response:
    web, store, service = ctx_of(request)
    sid = request.path_params["sid"]
    study_or_404(store, sid)
    files = store.files(sid)
    return JSONResponse({
        "files": [{"id": f["id"], "name": f["original_name"], "state": f["state"]} for f in files if f["state"] != "discarded"],
        "pending": sum(f["state"] in ("queued", "checking") for f in files),
        "building": service.building(sid), "queue": service.pool.pending,
    })


ROUTES = [
    Route("/api/studies", list_studies, methods=["GET"]),
    Route("/api/studies", create_study, methods=["POST"], name="api_create"),
    Route("/api/studies/{sid:str}", get_study, methods=["GET"], name="api_study"),
    Route("/api/studies/{sid:str}/files", add_files, methods=["POST"]),
    Route("/api/studies/{sid:str}/report.xlsx", report, methods=["GET"], name="api_report"),
    Route("/api/studies/{sid:str}/tidy.csv", tidy, methods=["GET"], name="api_tidy"),
    Route("/api/studies/{sid:str}/audit", audit, methods=["GET"]),
    Route("/api/studies/{sid:str}/status", status, methods=["GET"], name="api_status"),
]
