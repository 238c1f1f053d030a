"""``btm serve``: bind a socket, print the address with its token, run the app with uvicorn."""

from __future__ import annotations

import ipaddress
import secrets
import socket
import sys
import threading
from pathlib import Path

from ..errors import BTMError

__all__ = ["exposure_warning", "is_loopback", "serve", "url_host"]


def is_loopback(host: str) -> bool:
    """True for addresses only this computer can reach (127.0.0.0/8, ::1, localhost)."""
    h = host.strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def url_host(host: str) -> str:
    """The host to print in the address: a wildcard bind is reached locally as 127.0.0.1 / [::1]."""
    h = host.strip("[]")
    if h in ("", "0.0.0.0"):
        return "127.0.0.1"
    if h == "::":
        return "[::1]"
    if ":" in h:
        return f"[{h}]"
    return h


def exposure_warning(host: str, allow_hosts: list[str]) -> str | None:
    """The warning printed when the page can be reached from other computers (None on loopback)."""
    if is_loopback(host):
        return None
    wildcard = host.strip("[]") in ("", "0.0.0.0", "::")
    return (
        f"warning: btm serve listens on {host}, so other computers can reach it; anyone with the address and its "
        "token can read and upload data. Use --host 127.0.0.1 unless that is what you want."
        + (" Add --allow-host NAME for the name or address the other computers use." if wildcard and not allow_hosts else "")
    )


def _bind(host: str, port: int) -> socket.socket:
    h = host.strip("[]")
    family = socket.AF_INET6 if ":" in h else socket.AF_INET
    if h == "localhost":
        h, family = "127.0.0.1", socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if sys.platform != "win32":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((h, port))
    except OSError as exc:
        sock.close()
        if port and exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise BTMError(f"port {port} is in use (another btm serve?); choose another with --port N, or --port 0 for any free port") from None
        raise BTMError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    data: str | Path | None = None,
    open_browser: bool = True,
    max_upload_mb: float = 200.0,
    allow_hosts: list[str] | None = None,
    workers: int | None = None,
) -> int:
    """Run the web page until interrupted. The first line on stdout is the address with the token."""
    import uvicorn

    from .app import create_app
    from .store import default_data_dir

    if max_upload_mb <= 0:
        raise BTMError("--max-upload must be a positive number of MB")
    folder = Path(data).expanduser() if data else default_data_dir()
    allowed = list(allow_hosts or [])
    token = secrets.token_urlsafe(32)
    sock = _bind(host, port)
    actual = sock.getsockname()[1]
    note = exposure_warning(host, allow_hosts or [])
    if note:
        print(note, file=sys.stderr)
    if not is_loopback(host) and host.strip("[]") not in ("", "0.0.0.0", "::"):
        allowed.append(host)  # the address it listens on is how others reach it
    app = create_app(folder, token=token, allowed_hosts=allowed, max_upload_mb=max_upload_mb, workers=workers,
                     cookie_name=f"btm_token_{actual}")
    url = f"http://{url_host(host)}:{actual}/?token={token}"
    print(url, flush=True)
    print(f"btm serve: workspace {app.web.data_dir}; uploads up to {max_upload_mb:g} MB; press Ctrl+C to stop", file=sys.stderr, flush=True)
    if open_browser:
        threading.Timer(0.8, _open, args=(url,)).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=5,
                            server_header=False, date_header=False, h11_max_incomplete_event_size=64 * 1024)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C after its graceful shutdown: that is how one stops btm serve
        pass
    finally:
        sock.close()
    print("btm serve: stopped", file=sys.stderr)
    return 0


def _open(url: str) -> None:
    import webbrowser

    try:
        webbrowser.open(url)
    except Exception:  # no browser on this machine: the address is printed anyway
        pass
