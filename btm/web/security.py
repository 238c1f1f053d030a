"""The rules that keep ``btm serve`` safe on a shared PC: Host allowlist, token, CSRF, headers, size.

Pure ASGI middleware, applied outermost first:

1. :class:`Guard` — every response gets the security headers (CSP, nosniff, no framing, no
   referrer, no caching); a request whose ``Host`` is not on the allowlist (localhost, 127.0.0.1,
   [::1] and ``--allow-host`` names) gets 403 (DNS rebinding); a request without the token gets
   401 and one with a wrong token 403. The token is accepted as ``Authorization: Bearer TOKEN`` or,
   once, as ``?token=`` in the address, which sets an HttpOnly, SameSite=Strict cookie (the page
   then redirects to the same address without the token, so it stays out of history and logs).
   Tokens are compared in constant time. A state-changing request authenticated by the cookie
   must come from this site (its ``Origin``, when sent, is an allowed host) and carry the CSRF
   token (checked by the endpoints, :func:`check_csrf`).
2. :class:`BodyLimit` — a request body over the upload limit gets 413: at once when its
   ``Content-Length`` says so, else as soon as the bytes read exceed it (never read whole).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

__all__ = ["BodyLimit", "Guard", "SECURITY_HEADERS", "TooLarge", "check_csrf", "csrf_token", "normalise_host"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
PUBLIC_PREFIXES = ("/static/",)  # assets shipped with btm: no data, no token needed
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def normalise_host(text: str) -> str:
    """The host part of a ``Host`` header or a name, lower case, IPv6 in brackets, port removed.

    ``"LocalHost:8765"`` -> ``"localhost"``; ``"[::1]:80"`` -> ``"[::1]"``; ``"::1"`` -> ``"[::1]"``.
    Returns ``""`` for anything malformed.
    """
    t = text.strip().lower()
    if not t:
        return ""
    if t.startswith("["):
        end = t.find("]")
        if end < 0:
            return ""
        rest = t[end + 1 :]
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return ""
        return t[: end + 1]
    if t.count(":") > 1:  # a bare IPv6 address (as given to --allow-host)
        return f"[{t}]"
    host, _, port = t.partition(":")
    if port and not port.isdigit():
        return ""
    if not host or any(c in host for c in "/\\@?#% \t"):
        return ""
    return host


def csrf_token(token: str) -> str:
    """The CSRF token of this server's session: an HMAC of the access token (never the token itself)."""
    return hmac.new(token.encode(), b"btm-csrf-v1", hashlib.sha256).hexdigest()


def check_csrf(scope_state: dict[str, Any], supplied: str | None, token: str) -> bool:
    """True when the request needs no CSRF token or carries the right one.

    Only the cookie is an ambient credential a foreign page could make the browser send; a request
    that carries the token itself (Bearer header, or ``?token=``) cannot be forged without it.
    """
    if scope_state.get("auth") in ("bearer", "query"):
        return True
    return bool(supplied) and hmac.compare_digest(str(supplied).encode(), csrf_token(token).encode())


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers") or []:
        if k == name:
            return v.decode("latin-1")
    return None


async def _send_simple(send: Send, status: int, body: bytes, *, content_type: bytes, extra: Iterable[tuple[bytes, bytes]] = ()) -> None:
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"), *extra],
    })
    await send({"type": "http.response.body", "body": body})


def _is_api(scope: Scope) -> bool:
    return str(scope.get("path", "")).startswith("/api/")


def _wants_json(scope: Scope) -> bool:
    return _is_api(scope) or "application/json" in (_header(scope, b"accept") or "")


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>btm: {title}</title>
<link rel="stylesheet" href="/static/style.css"></head><body><main class="narrow"><h1>{title}</h1><p>{text}</p></main></body></html>"""


async def deny(scope: Scope, send: Send, status: int, message: str, *, title: str = "", extra: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """A one-line error: JSON ``{"error": ...}`` for the API, a short page for a browser."""
    if _wants_json(scope):
        body = json.dumps({"error": message}).encode()
        await _send_simple(send, status, body, content_type=b"application/json", extra=extra)
    else:
        import html

        page = _PAGE.format(title=html.escape(title or message), text=html.escape(message))
        await _send_simple(send, status, page.encode(), content_type=b"text/html; charset=utf-8", extra=extra)


class Guard:
    """Security headers, Host allowlist, token (Bearer or cookie), same-origin for state changes."""

    def __init__(self, app: ASGIApp, *, token: str, allowed_hosts: Iterable[str] = (), cookie_name: str = "btm_token") -> None:
        self.app = app
        self.token = token
        self.allowed = {normalise_host(h) for h in (*LOCAL_HOSTS, *allowed_hosts)} - {""}
        self.cookie_name = cookie_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []), *((k, v) for k, v in SECURITY_HEADERS if k not in names)]}
            await send(message)

        host = normalise_host(_header(scope, b"host") or "")
        if host not in self.allowed:
            await deny(scope, send_with_headers, 403, "this address is not allowed: open btm from the link that 'btm serve' printed "
                       "(or start it with --allow-host NAME)", title="Forbidden host")
            return
        path = str(scope.get("path", ""))
        if path.startswith(PUBLIC_PREFIXES) or path == "/favicon.ico":
            await self.app(scope, receive, send_with_headers)
            return
        state = scope.setdefault("state", {})
        method = scope.get("method", "GET")
        auth = _header(scope, b"authorization")
        query = scope.get("query_string", b"").decode("latin-1")
        pairs = parse_qsl(query, keep_blank_values=True)
        query_token = next((v for k, v in pairs if k == "token"), None)
        cookie = SimpleCookie()
        try:
            cookie.load(_header(scope, b"cookie") or "")
        except Exception:  # a malformed cookie header is no cookie
            cookie = SimpleCookie()
        cookie_token = cookie[self.cookie_name].value if self.cookie_name in cookie else None

        if auth is not None:
            scheme, _, value = auth.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                await deny(scope, send_with_headers, 401, "use 'Authorization: Bearer TOKEN' with the token 'btm serve' printed",
                           title="Token needed", extra=[(b"www-authenticate", b"Bearer")])
                return
            if not self._ok(value.strip()):
                await deny(scope, send_with_headers, 403, "wrong token", title="Wrong token")
                return
            state["auth"] = "bearer"
        elif query_token is not None:
            if not self._ok(query_token):
                await deny(scope, send_with_headers, 403, "wrong token: open the link that 'btm serve' printed", title="Wrong token")
                return
            state["auth"] = "query"
            set_cookie = (b"set-cookie", self._cookie_header())
            if method in SAFE_METHODS and not _is_api(scope):
                rest = urlencode([(k, v) for k, v in pairs if k != "token"])
                # the same page, never '//other.host' and never a raw CR/LF: the path is re-quoted
                location = "/" + quote(path.lstrip("/\\"), safe="/") + (f"?{rest}" if rest else "")
                await _send_simple(send_with_headers, 303, b"", content_type=b"text/plain",
                                   extra=[(b"location", location.encode("ascii")), set_cookie])
                return
            await self.app(scope, receive, _add_header(send_with_headers, set_cookie))
            return
        elif cookie_token is not None:
            if not self._ok(cookie_token):
                await deny(scope, send_with_headers, 403, "this page's sign-in is from another btm server: open the link that 'btm serve' printed",
                           title="Wrong token")
                return
            state["auth"] = "cookie"
            if method not in SAFE_METHODS:
                origin = _header(scope, b"origin")
                if origin is not None and origin != "null" and normalise_host(origin.split("://", 1)[-1].split("/", 1)[0]) not in self.allowed:
                    await deny(scope, send_with_headers, 403, "request from another site refused", title="Forbidden")
                    return
                if origin == "null":
                    await deny(scope, send_with_headers, 403, "request from another site refused", title="Forbidden")
                    return
        else:
            await deny(scope, send_with_headers, 401, "a token is needed: open the link that 'btm serve' printed "
                       "(http://…/?token=…), or send 'Authorization: Bearer TOKEN'", title="Token needed",
                       extra=[(b"www-authenticate", b"Bearer")])
            return
        await self.app(scope, receive, send_with_headers)

    def _ok(self, supplied: str) -> bool:
        return hmac.compare_digest(supplied.encode("utf-8", "replace"), self.token.encode())

    def _cookie_header(self) -> bytes:
        return f"{self.cookie_name}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()


def _add_header(send: Send, header: tuple[bytes, bytes]) -> Send:
    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), header]}
        await send(message)

    return wrapped


class TooLarge(Exception):
    """The request body exceeded the upload limit while it was being read."""


class BodyLimit:
    """413 for request bodies over ``max_bytes``, decided from Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, limit_mb: float | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.limit_mb = limit_mb if limit_mb is not None else max_bytes / 1024**2

    def message(self) -> str:
        return f"the upload is larger than {self.limit_mb:g} MB; split it into smaller files or restart btm serve with --max-upload MB"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await deny(scope, send, 400, "invalid Content-Length")
                return
            if declared > self.max_bytes:
                await deny(scope, send, 413, self.message(), title="File too large", extra=[(b"connection", b"close")])
                return
        seen = 0
        started = False

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise TooLarge()
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracking_send)
        except TooLarge:
            if not started:
                await deny(scope, send, 413, self.message(), title="File too large", extra=[(b"connection", b"close")])
