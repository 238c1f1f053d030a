"""``btm serve``: a web page on this computer for lab staff — upload, check, map, report.

Modules, in the order a request meets them: :mod:`~btm.web.server` (binds the socket, prints the
address with its token, runs uvicorn), :mod:`~btm.web.security` (Host allowlist, token, CSRF,
headers, upload size), :mod:`~btm.web.app` (the Starlette app), :mod:`~btm.web.pages` and
:mod:`~btm.web.api` (the pages and the JSON contract), :mod:`~btm.web.service` (uploads, checks
and reports, shared by both), :mod:`~btm.web.store` (the workspace folder and its SQLite
catalog), :mod:`~btm.web.jobs` (the worker pool) and :mod:`~btm.web._engine` (the only module that
calls btm's library; it runs in the workers and returns plain data).

Nothing here is imported by ``import btm``; the command line imports it only for ``btm serve``.
"""
