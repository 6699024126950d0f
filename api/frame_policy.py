"""Who may put Tickstream pages in an iframe: ``Content-Security-Policy: frame-ancestors`` on every response —
the origins of TICKSTREAM_EMBED_ORIGINS (and the app itself) for the embed routes (/embed/...), the app itself
only for everything else."""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import Flask, Response, request

from settings import Settings

EMBED_PREFIX = "/embed/"
SELF = "'self'"
# A CSP host-source as an operator writes it: scheme://host[:port] (host may start with *.), or a bare scheme
# (https:), or *. Anything else (a ';' or ',' that would start another directive, quotes, paths) is dropped.
_SOURCE = re.compile(r"^(\*|[a-z][a-z0-9+.-]*:|[a-z][a-z0-9+.-]*://(\*\.)?[a-z0-9.-]+(:(\d{1,5}|\*))?/?)$",
                     re.IGNORECASE)


def valid_sources(origins: Iterable[str]) -> list[str]:
    """The well-formed sources of ``origins``, in order, without repeats or a trailing slash.

    >>> valid_sources(["https://portal.example", "http://a.b:8080/", "bad; script-src *", "https://portal.example"])
    ['https://portal.example', 'http://a.b:8080']
    """
    out: list[str] = []
    for origin in origins:
        text = origin.strip()
        if _SOURCE.match(text):
            text = text.rstrip("/") if "://" in text else text
            if text not in out:
                out.append(text)
    return out


def frame_ancestors(path: str, embed_origins: Iterable[str]) -> str:
    """The ``frame-ancestors`` directive for a response to ``path``.

    >>> frame_ancestors("/embed/chart/AAPL", ["https://portal.example"])
    "frame-ancestors 'self' https://portal.example"
    >>> frame_ancestors("/signals", ["https://portal.example"])
    "frame-ancestors 'self'"
    """
    if path.startswith(EMBED_PREFIX):
        return " ".join(["frame-ancestors", SELF, *valid_sources(embed_origins)])
    return f"frame-ancestors {SELF}"


def init_frame_policy(server: Flask, settings: Settings) -> None:
    origins = tuple(valid_sources(settings.embed_origins))

    @server.after_request
    def _frame_ancestors(response: Response) -> Response:
        directive = frame_ancestors(request.path, origins)
        existing = response.headers.get("Content-Security-Policy")
        if existing is None:
            response.headers["Content-Security-Policy"] = directive
        elif "frame-ancestors" not in existing:
            response.headers["Content-Security-Policy"] = f"{existing}; {directive}"
        return response
