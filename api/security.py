"""Request-level security rules on every route (pages, REST, WebSocket upgrades): which ``Host`` names are served.

A server bound to a loopback address answers only requests that name it ``localhost``, ``127.0.0.1`` or ``[::1]``
(any port): a web page the user opens elsewhere cannot reach it through a rebinding DNS name (DNS rebinding makes
``evil.example`` resolve to 127.0.0.1, but the browser still sends ``Host: evil.example``). On other binds
TICKSTREAM_ALLOWED_HOSTS lists the names (default: any). See docs/security.md.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Flask, Response, request

from api.errors import error_response
from settings import Settings

# The names a loopback-bound server answers to. The IPv6 one is kept without brackets: that is how urlsplit gives it.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
ANY_HOST = "*"


def is_loopback_bind(host: str) -> bool:
    """Is the server listening on a loopback address only?

    >>> [is_loopback_bind(h) for h in ("127.0.0.1", "127.0.0.5", "::1", "localhost", "0.0.0.0", "10.0.0.5", "::")]
    [True, True, True, True, False, False, False]
    """
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_name(host: str) -> str | None:
    """The name of a ``Host`` header value without its port, lower case; None when it is not a well-formed host.

    >>> [host_name(h) for h in ("LocalHost:8000", "[::1]:8000", "127.0.0.1", "a b", "x:notaport", "")]
    ['localhost', '::1', '127.0.0.1', None, None, None]
    """
    text = host.strip()
    if not text or any(c.isspace() or c in "/?#@\\" for c in text):
        return None
    try:
        parts = urlsplit(f"//{text}")
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        return None
    return parts.hostname or None


def allowed_hosts(bind_host: str, configured: Iterable[str]) -> tuple[str, ...]:
    """The host names served: on a loopback bind the loopback names plus ``configured``; on other binds
    ``configured`` alone, where empty (or ``*``) means any (returned as ``()``).

    >>> allowed_hosts("127.0.0.1", ())
    ('localhost', '127.0.0.1', '::1')
    >>> allowed_hosts("127.0.0.1", ["Dash.Example:443"])
    ('localhost', '127.0.0.1', '::1', 'dash.example')
    >>> allowed_hosts("0.0.0.0", ())
    ()
    >>> allowed_hosts("0.0.0.0", ["tickstream.internal", "[::1]"])
    ('tickstream.internal', '::1')
    """
    names = [name for name in (host_name(entry) if entry != ANY_HOST else ANY_HOST for entry in configured) if name]
    if ANY_HOST in names:
        return ()
    if is_loopback_bind(bind_host):
        names = [*LOOPBACK_NAMES, *names]
    return tuple(dict.fromkeys(names))


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """May a request with this ``Host`` header be served? ``allowed`` empty: any well-formed host. A name that starts
    with a dot (``.example.com``) allows its subdomains.

    >>> host_allowed("127.0.0.1:8000", LOOPBACK_NAMES), host_allowed("[::1]:9", LOOPBACK_NAMES)
    (True, True)
    >>> host_allowed("rebind.evil.example:8000", LOOPBACK_NAMES), host_allowed("localhost.evil.example", LOOPBACK_NAMES)
    (False, False)
    >>> host_allowed("a.example.com", (".example.com",)), host_allowed("example.com", (".example.com",))
    (True, False)
    """
    name = host_name(host)
    if name is None:
        return False
    names = tuple(allowed)
    if not names:
        return True
    return any(name == entry or (entry.startswith(".") and name.endswith(entry)) for entry in names)


def init_security(server: Flask, settings: Settings) -> None:
    """Refuse requests for foreign ``Host`` names with 400 before any other rule or route (call first)."""
    allowed = allowed_hosts(settings.host, settings.allowed_hosts)

    @server.before_request
    def _refuse_foreign_hosts() -> Response | None:
        # request.host is the client's Host header, or X-Forwarded-Host when a trusted proxy sent one (ProxyFix).
        host = request.host
        if host_allowed(host, allowed):
            return None
        names = ", ".join("[::1]" if name == "::1" else name for name in allowed)
        return error_response(400, "host_not_allowed",
                              f"this server does not answer to the host {host[:100]!r}; allowed: {names} (any port; "
                              "other names are set with TICKSTREAM_ALLOWED_HOSTS)")
