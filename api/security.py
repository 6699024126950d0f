"""Request-level security rules on every route (pages, REST, WebSocket upgrades): which ``Host`` names are served,
and the security headers of every answer (Content-Security-Policy but its ``frame-ancestors``, which
api/frame_policy.py owns; X-Content-Type-Options; Referrer-Policy).

A server bound to a loopback address answers only requests that name it ``localhost``, ``127.0.0.1`` or ``[::1]``
(any port): a web page the user opens elsewhere cannot reach it through a rebinding DNS name (DNS rebinding makes
``evil.example`` resolve to 127.0.0.1, but the browser still sends ``Host: evil.example``). On other binds
TICKSTREAM_ALLOWED_HOSTS lists the names (default: any). See docs/security.md.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
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


# Browsers' own default, written out so that every browser and every embedding context applies it: same-origin
# requests carry the whole URL, other origins only ours (no path, no query: an embed token or a symbol never leaks
# to a linked site), and an https page sends nothing to an http one.
REFERRER_POLICY = "strict-origin-when-cross-origin"
# The sources besides scripts. style-src needs 'unsafe-inline': Dash components and Plotly set style attributes and
# insert <style> elements at run time, which no hash can name (styles cannot run code). Plotly draws images and
# exports through data: and blob: URLs. 'self' in connect-src covers the page's own ws:// and wss:// (CSP 3).
BASE_DIRECTIVES = (
    "default-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
)
_INLINE_SCRIPT = re.compile(r"<script(?P<attributes>[^>]*)>(?P<body>.*?)</script>", re.IGNORECASE | re.DOTALL)
# Script types a browser runs (a JSON data block such as Dash's _dash-config is not run, so CSP does not apply).
_RUN_TYPES = ("", "text/javascript", "application/javascript", "module")
_TYPE = re.compile(r"""\btype\s*=\s*["']?([^"'\s>]*)""", re.IGNORECASE)


def script_hash(body: str) -> str:
    """The CSP source that allows an inline script with exactly this text.

    >>> script_hash("var renderer = new DashRenderer();")
    "'sha256-jZlsGVOhUAIcH+4PVs7QuGZkthRMgvT2n0ilH6/zTM0='"
    """
    return f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"


def inline_script_hashes(html: str) -> list[str]:
    """The hashes of the inline scripts a browser would run in ``html`` (not those with ``src``, not data blocks).

    >>> inline_script_hashes('<script>a()</script><script src="/x.js"></script><script type="application/json">{}'
    ...                      '</script>') == [script_hash("a()")]
    True
    """
    hashes = []
    for match in _INLINE_SCRIPT.finditer(html):
        attributes = match.group("attributes")
        kind = _TYPE.search(attributes)
        if "src=" in attributes.lower() or (kind and kind.group(1).lower() not in _RUN_TYPES):
            continue
        hashes.append(script_hash(match.group("body")))
    return hashes


def content_security_policy(script_hashes: Iterable[str]) -> str:
    """The policy (without ``frame-ancestors``) for pages whose only inline scripts have ``script_hashes``.

    >>> content_security_policy(["'sha256-x'"]).split("; ")[:2]
    ["default-src 'self'", "script-src 'self' 'sha256-x'"]
    """
    scripts = " ".join(["script-src", "'self'", *dict.fromkeys(script_hashes)])
    return "; ".join([BASE_DIRECTIVES[0], scripts, *BASE_DIRECTIVES[1:]])


def init_security_headers(server: Flask, script_hashes: Callable[[], Sequence[str]]) -> None:
    """Security headers on every answer. ``script_hashes`` gives the hashes of the inline scripts the pages may run
    (Dash's renderer and clientside callbacks, the page template's own); it is asked once, at the first answer,
    when Dash has registered every page's callbacks. api/frame_policy.py adds ``frame-ancestors`` to the same header;
    whichever hook runs first, the two combine (this one puts its directives before a policy already set)."""
    policy: list[str] = []

    @server.after_request
    def _security_headers(response: Response) -> Response:
        if not policy:
            policy.append(content_security_policy(script_hashes()))
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", REFERRER_POLICY)
        existing = headers.get("Content-Security-Policy")
        headers["Content-Security-Policy"] = policy[0] if existing is None else f"{policy[0]}; {existing}"
        return response
