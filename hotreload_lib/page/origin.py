"""Which site's page a request comes from: the one trust step every hot reload route takes before
anything else (server.py on the webui's app, and the standalone `watch --port` answering `apply`).
Only the request's headers are read, so it serves any HTTP server: Starlette's and the stdlib's.
"""
from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


class Headers(Protocol):
    """A request's headers, names case-insensitive (Starlette's Headers, http.server's message)."""

    def get(self, name: str, default: str = ..., /) -> str | None: ...


def _host_and_port(netloc: str, scheme: str) -> tuple[str, int] | None:
    """(host, port) of `netloc`, the port of `scheme` when it names none; None when it is no address."""
    parts = urlsplit("//" + netloc)
    try:
        port = parts.port
    except ValueError:  # not a number
        return None
    if not parts.hostname:
        return None
    return parts.hostname, port if port is not None else DEFAULT_PORTS[scheme]


def cross_site(headers: Headers, *, changes_state: bool = False) -> str:
    """Why the request comes from another site's page, or "" when it does not. A browser names the
    page that made a request in `Origin` (on every cross-origin fetch and EventSource) and tells
    `Sec-Fetch-Site`; a same-origin GET, a typed address, curl or a script send neither, or say so.
    The Host is compared with the origin's scheme's default port: behind a TLS proxy the page is
    https while the webui itself is plain http. A request that `changes_state` is refused from a
    page of the same site but another origin too (another port or subdomain: "same-site")."""
    fetch_site = (headers.get("sec-fetch-site", "") or "").strip().lower()
    if fetch_site == "cross-site" or (changes_state and fetch_site == "same-site"):
        return f"the browser says it comes from another site's page (Sec-Fetch-Site: {fetch_site})"
    origin = headers.get("origin")
    if origin is None:
        return ""
    host = headers.get("host", "") or ""
    page = urlsplit(origin)
    scheme = page.scheme.lower()
    if scheme in DEFAULT_PORTS:
        address = _host_and_port(page.netloc, scheme)
        if address is not None and address == _host_and_port(host, scheme):
            return ""
    return f"it comes from a page of {origin[:200]}, not of this server ({host[:200]})"


def refusal_message(why: str) -> str:
    """What a refused request is told (status 403), `why` from cross_site()."""
    return f"Cross-site request refused: {why}. The hot reload routes answer only the webui's own page."
