"""The client's address: ``X-Forwarded-For`` is believed only from the proxies in TICKSTREAM_TRUSTED_PROXIES."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Proxies in a row that are believed at most: a longer chain of trusted hops is a configuration to look at.
MAX_TRUSTED_HOPS = 8


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """``10.0.0.5``, ``10.1.0.0/16``, ``::1`` → networks; ValueError naming a bad entry."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"TICKSTREAM_TRUSTED_PROXIES: {entry!r} is not an IP address or network") from None
    return tuple(networks)


def is_trusted(address: str | None, networks: Sequence[Network]) -> bool:
    if not address or not networks:
        return False
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in networks)


def trusted_hops(remote_addr: str | None, forwarded_for: str | None, networks: Sequence[Network]) -> int:
    """How many proxies, from the one that connected to us leftwards through ``X-Forwarded-For``, are trusted: the
    client is the address just before them. 0 when the peer is not a trusted proxy (the header is ignored)."""
    if not is_trusted(remote_addr, networks):
        return 0
    hops = 1
    chain = [part.strip() for part in (forwarded_for or "").split(",") if part.strip()]
    # The rightmost entry was added by the proxy that connected to us; each trusted one may have been forwarded by
    # another trusted proxy further left.
    for address in reversed(chain[1:]):
        if hops >= MAX_TRUSTED_HOPS or not is_trusted(address, networks):
            break
        hops += 1
    return min(hops, len(chain)) if chain else 0


class TrustedProxyFix:
    """WSGI middleware: werkzeug's ProxyFix applied with as many hops as the request came through trusted proxies,
    so ``request.remote_addr`` (and the scheme and host) are the client's; from anyone else nothing changes."""

    def __init__(self, app: Callable[..., Any], trusted: Iterable[str]) -> None:
        self.app = app
        self.networks = parse_networks(trusted)
        self._fixes = {hops: ProxyFix(app, x_for=hops, x_proto=1, x_host=1) for hops in range(1, MAX_TRUSTED_HOPS + 1)}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        hops = trusted_hops(environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR"), self.networks)
        if hops:
            return self._fixes[hops](environ, start_response)
        return self.app(environ, start_response)
