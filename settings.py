"""One frozen dataclass of settings, built from environment variables and command-line flags.

Where market data comes from (``load_settings``):

- ``--feed``/``TICKSTREAM_FEED`` and ``TICKSTREAM_SOURCES`` both unset: the real sources whose API keys are set, in
  the order polygon, alpaca (``POLYGON_API_KEY``; ``ALPACA_API_KEY`` and ``ALPACA_SECRET_KEY``); with no key, the
  simulated market. Only one of the two Alpaca keys is an error rather than a silent fallback to the simulation.
- ``--feed yahoo`` without ``TICKSTREAM_SOURCES``: Yahoo first, then those keyed sources as its failover.
- ``TICKSTREAM_SOURCES``: exactly that chain; a source in it without its keys stops start-up naming them.
- The simulation is never part of a chain, and keys never turn ``--feed sim`` or ``--feed replay`` into anything else.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from feeds.models import InvalidInput, Timeframe, parse_symbol

DEFAULT_SYMBOLS = ("AAPL", "MSFT", "GC=F", "BTC-USD", "^GSPC")
FEEDS = ("sim", "yahoo", "replay")
# Sources a failover chain may hold (TICKSTREAM_SOURCES). The simulated market is not one of them: it never stands
# in for real data; it is chosen alone with --feed sim. Replay serves the past on its own clock, so it runs alone.
LIVE_SOURCES = ("yahoo", "polygon", "alpaca")
CHAIN_SOURCES = (*LIVE_SOURCES, "replay")
# Sources enabled by their API keys alone, in failover order.
KEYED_SOURCES = ("polygon", "alpaca")
# Replay without --interval: one feed sample per this many replayed seconds (a 1-minute candle forms in ~10 visible
# steps), between MIN_UPDATE_INTERVAL and the default 1 s. Candles are whole at any interval (feeds/replay.py).
REPLAY_SAMPLE_SECONDS = 6.0
MIN_UPDATE_INTERVAL = 0.05
# WebSocket profiles (TICKSTREAM_WS_PROFILE, /ws?profile=): what a connection receives before it subscribes.
WS_PROFILES = ("tickstream", "aria")
DEFAULT_UPDATE_INTERVAL = 1.0
# What each source needs before it can be used: (settings field, environment variable).
SOURCE_REQUIREMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "polygon": (("polygon_api_key", "POLYGON_API_KEY"),),
    "alpaca": (("alpaca_api_key", "ALPACA_API_KEY"), ("alpaca_secret_key", "ALPACA_SECRET_KEY")),
    "replay": (("replay_dir", "TICKSTREAM_REPLAY_DIR"),),
}


def _secret() -> Any:
    return field(default=None, repr=False)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    debug: bool = False
    feed: str = "sim"
    # Failover chain for --feed yahoo|replay, tried in order (TICKSTREAM_SOURCES=yahoo,polygon); empty: the feed alone.
    sources: tuple[str, ...] = ()
    # The sources of ``sources`` that are there because their API keys are set, not because they were named.
    keyed_sources: tuple[str, ...] = ()
    # Hard wall-clock limit (seconds) on one call to a source in the failover chain.
    source_timeout: float = 10.0
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    default_timeframe: Timeframe = Timeframe.M1
    # Seconds between feed ticks; 0.05 is supported. Replay derives it from the speed unless it is given.
    update_interval: float = DEFAULT_UPDATE_INTERVAL
    seed: int = 42
    data_dir: Path = Path("data")
    cache_dir: Path = Path("data/cache")
    replay_dir: Path | None = None
    replay_speed: float = 60.0
    max_tracked_symbols: int = 200
    ws_heartbeat_interval: float = 30.0
    # How long the server gathers messages for a ?batch=1 connection before sending one frame.
    ws_batch_interval: float = 0.1
    ws_send_queue_size: int = 2000
    ws_max_subscriptions: int = 100
    ws_max_message_bytes: int = 65_536
    ws_max_messages_per_second: float = 50.0
    redis_url: str | None = _secret()
    polygon_api_key: str | None = _secret()
    alpaca_api_key: str | None = _secret()
    alpaca_secret_key: str | None = _secret()
    auth_tokens: tuple[str, ...] = field(default=(), repr=False)
    jwt_secret: str | None = _secret()
    # Registers a bare Flask JSON route (/bench/peer) that bench/rest.py compares the REST routes against.
    bench_peer_route: bool = False
    # --dev: Flask's development server with its reloader instead of gevent (the production stack).
    dev: bool = False
    # WebSocket connections held at once, in all and per client address; more are refused (HTTP 503) before
    # the upgrade.
    max_connections: int = 10_000
    max_connections_per_address: int = 500
    # Proxies (addresses or networks) whose X-Forwarded-For names the client; from anyone else it is ignored.
    trusted_proxies: tuple[str, ...] = ()
    # The simulated market prices any well-formed ticker (tests and demos), not only its shipped universe.
    sim_any_symbol: bool = False
    # Symbols the feed did not already stream that one connection, or one client address, may bring in.
    max_new_symbols_per_connection: int = 20
    max_new_symbols_per_address: int = 50
    # Origins (besides the server's own and loopback ones) allowed to change state and open WebSockets; "*": any.
    cors_origins: tuple[str, ...] = ()
    # Channels a /ws connection receives until its first subscribe (e.g. "dashboard,trades"), and the profile.
    ws_default_channels: tuple[str, ...] = ()
    ws_profile: str = "tickstream"
    # Origins allowed to put /embed/... pages in an iframe (CSP frame-ancestors); empty: the server's own only.
    embed_origins: tuple[str, ...] = ()
    # Host names served (api/security.py): on a loopback bind the loopback names plus these; elsewhere these
    # (empty or "*": any).
    allowed_hosts: tuple[str, ...] = ()
    # Rate limits per client address and route group (api/rate_limits.py): "group=limit ..." over the defaults, or
    # "off"; empty: the defaults.
    rate_limits: str = ""
    # Paper broker (docs/trading.md): starting cash, fill model, short selling.
    paper_cash: float = 100_000.0
    paper_slippage_bps: float = 0.0
    paper_max_volume_share: float = 1.0
    paper_commission_per_order: float = 0.0
    paper_commission_per_share: float = 0.0
    paper_allow_short: bool = False

    @property
    def default_symbol(self) -> str:
        return self.symbols[0]

    @property
    def source_chain(self) -> tuple[str, ...]:
        """The failover chain for a real-data feed: ``sources`` or, when none are listed, the feed alone."""
        if self.feed == "sim":
            return ()
        return self.sources or (self.feed,)


# Environment variable → field. The seed names (POLYGON_API_KEY, REDIS_URL, …) are kept as the design lists them.
_ENV_NAMES: dict[str, str] = {
    "HOST": "host",
    "PORT": "port",
    "TICKSTREAM_DEBUG": "debug",
    "TICKSTREAM_FEED": "feed",
    "TICKSTREAM_SOURCES": "sources",
    "TICKSTREAM_SOURCE_TIMEOUT": "source_timeout",
    "TICKSTREAM_SYMBOLS": "symbols",
    "TICKSTREAM_DEFAULT_TIMEFRAME": "default_timeframe",
    "TICKSTREAM_UPDATE_INTERVAL": "update_interval",
    "TICKSTREAM_SEED": "seed",
    "TICKSTREAM_DATA_DIR": "data_dir",
    "TICKSTREAM_CACHE_DIR": "cache_dir",
    "TICKSTREAM_REPLAY_DIR": "replay_dir",
    "TICKSTREAM_REPLAY_SPEED": "replay_speed",
    "TICKSTREAM_MAX_TRACKED_SYMBOLS": "max_tracked_symbols",
    "WS_HEARTBEAT_INTERVAL": "ws_heartbeat_interval",
    "TICKSTREAM_WS_BATCH_INTERVAL": "ws_batch_interval",
    "TICKSTREAM_WS_SEND_QUEUE_SIZE": "ws_send_queue_size",
    "TICKSTREAM_WS_MAX_SUBSCRIPTIONS": "ws_max_subscriptions",
    "TICKSTREAM_WS_MAX_MESSAGE_BYTES": "ws_max_message_bytes",
    "TICKSTREAM_WS_MAX_MESSAGES_PER_SECOND": "ws_max_messages_per_second",
    "REDIS_URL": "redis_url",
    "POLYGON_API_KEY": "polygon_api_key",
    "ALPACA_API_KEY": "alpaca_api_key",
    "ALPACA_SECRET_KEY": "alpaca_secret_key",
    "TICKSTREAM_AUTH_TOKENS": "auth_tokens",
    "TICKSTREAM_JWT_SECRET": "jwt_secret",
    "TICKSTREAM_BENCH_PEER_ROUTE": "bench_peer_route",
    "TICKSTREAM_DEV": "dev",
    "TICKSTREAM_MAX_CONNECTIONS": "max_connections",
    "TICKSTREAM_MAX_CONNECTIONS_PER_ADDRESS": "max_connections_per_address",
    "TICKSTREAM_TRUSTED_PROXIES": "trusted_proxies",
    "TICKSTREAM_SIM_ANY_SYMBOL": "sim_any_symbol",
    "TICKSTREAM_MAX_NEW_SYMBOLS_PER_CONNECTION": "max_new_symbols_per_connection",
    "TICKSTREAM_MAX_NEW_SYMBOLS_PER_ADDRESS": "max_new_symbols_per_address",
    "TICKSTREAM_CORS_ORIGINS": "cors_origins",
    "TICKSTREAM_WS_DEFAULT_CHANNELS": "ws_default_channels",
    "TICKSTREAM_WS_PROFILE": "ws_profile",
    "TICKSTREAM_EMBED_ORIGINS": "embed_origins",
    "TICKSTREAM_ALLOWED_HOSTS": "allowed_hosts",
    "TICKSTREAM_RATE_LIMITS": "rate_limits",
    "TICKSTREAM_PAPER_CASH": "paper_cash",
    "TICKSTREAM_PAPER_SLIPPAGE_BPS": "paper_slippage_bps",
    "TICKSTREAM_PAPER_MAX_VOLUME_SHARE": "paper_max_volume_share",
    "TICKSTREAM_PAPER_COMMISSION_PER_ORDER": "paper_commission_per_order",
    "TICKSTREAM_PAPER_COMMISSION_PER_SHARE": "paper_commission_per_share",
    "TICKSTREAM_PAPER_ALLOW_SHORT": "paper_allow_short",
}


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _cast(name: str, raw: Any) -> Any:
    """Turn a raw value (string from the environment, or already typed) into the field's type."""
    if raw is None:
        return None
    if name in ("port", "seed", "max_tracked_symbols", "ws_send_queue_size", "ws_max_subscriptions",
                "ws_max_message_bytes", "max_connections", "max_connections_per_address",
                "max_new_symbols_per_connection", "max_new_symbols_per_address"):
        return int(raw)
    if name in ("update_interval", "replay_speed", "ws_heartbeat_interval", "ws_batch_interval",
                "ws_max_messages_per_second", "source_timeout", "paper_cash", "paper_slippage_bps",
                "paper_max_volume_share", "paper_commission_per_order", "paper_commission_per_share"):
        return float(raw)
    if name in ("debug", "bench_peer_route", "dev", "sim_any_symbol", "paper_allow_short"):
        return raw if isinstance(raw, bool) else _parse_bool(str(raw))
    if name in ("sources", "keyed_sources"):
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        return tuple(dict.fromkeys(str(s).strip().lower() for s in items if str(s).strip()))
    if name in ("data_dir", "cache_dir", "replay_dir"):
        return Path(raw)
    if name == "symbols":
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        return tuple(dict.fromkeys(parse_symbol(s) for s in items if str(s).strip()))
    if name in ("trusted_proxies", "cors_origins", "embed_origins", "allowed_hosts"):
        # Space- or comma-separated lists.
        items = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw)
        return tuple(dict.fromkeys(str(s).strip() for s in items if str(s).strip()))
    if name == "ws_default_channels":
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        return tuple(dict.fromkeys(str(s).strip().lower() for s in items if str(s).strip()))
    if name == "auth_tokens":
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        return tuple(s.strip() for s in items if s.strip())
    if name == "default_timeframe":
        return Timeframe.parse(raw)
    if name in ("redis_url", "polygon_api_key", "alpaca_api_key", "alpaca_secret_key", "jwt_secret"):
        return str(raw) or None
    return str(raw)


def _validate(settings: Settings) -> Settings:
    if settings.feed not in FEEDS:
        raise ValueError(f"feed must be one of {', '.join(FEEDS)}, got {settings.feed!r}")
    if not settings.symbols:
        raise ValueError("at least one symbol is needed")
    if settings.update_interval <= 0:
        raise ValueError("update_interval must be positive")
    if settings.replay_speed <= 0:
        raise ValueError("replay_speed must be positive")
    if not 0 < settings.port < 65536:
        raise ValueError("port must be in 1..65535")
    if settings.feed == "replay" and settings.replay_dir is None:
        raise ValueError("--feed replay needs --replay-dir (or TICKSTREAM_REPLAY_DIR)")
    if settings.source_timeout <= 0:
        raise ValueError("source_timeout must be positive")
    for name in ("max_connections", "max_connections_per_address", "max_new_symbols_per_connection",
                 "max_new_symbols_per_address"):
        if getattr(settings, name) < 0:
            raise ValueError(f"{name} must not be negative")
    for entry in settings.trusted_proxies:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"TICKSTREAM_TRUSTED_PROXIES: {entry!r} is not an IP address or network") from None
    for name in ("paper_cash", "paper_slippage_bps", "paper_commission_per_order", "paper_commission_per_share"):
        if getattr(settings, name) < 0:
            raise ValueError(f"{name} must not be negative")
    if not 0 < settings.paper_max_volume_share <= 1:
        raise ValueError("paper_max_volume_share must be in (0, 1]")
    if settings.ws_profile not in WS_PROFILES:
        raise ValueError(f"TICKSTREAM_WS_PROFILE must be one of {', '.join(WS_PROFILES)}, got {settings.ws_profile!r}")
    check_sources(settings)
    return settings


def keyed_sources(typed: Mapping[str, Any]) -> tuple[str, ...]:
    """The sources of KEYED_SOURCES whose keys are all among ``typed`` settings, in order.

    Raises ValueError when a source has only some of its keys: half a configuration is a mistake to point out,
    not a reason to fall back to the simulation.
    """
    enabled = []
    for name in KEYED_SOURCES:
        requirements = SOURCE_REQUIREMENTS[name]
        present = [env for field_name, env in requirements if typed.get(field_name)]
        if len(present) == len(requirements):
            enabled.append(name)
        elif present:
            missing = [env for field_name, env in requirements if not typed.get(field_name)]
            raise ValueError(f"{' and '.join(present)} is set but {' and '.join(missing)} is not: source {name} "
                             "needs both")
    return tuple(enabled)


def replay_interval(speed: float) -> float:
    """Feed interval for a replay at ``speed``: REPLAY_SAMPLE_SECONDS of replay time, clamped to 0.05-1 s
    (60× → 0.1 s, 600× → 0.05 s, 1× → 1 s). Non-positive speeds are left to validation (the 1 s default)."""
    if speed <= 0:
        return DEFAULT_UPDATE_INTERVAL
    return min(DEFAULT_UPDATE_INTERVAL, max(MIN_UPDATE_INTERVAL, REPLAY_SAMPLE_SECONDS / speed))


def check_sources(settings: Settings) -> None:
    """Raise ValueError naming what is wrong with the source choice (unknown name, mixing, a missing key)."""
    unknown = [s for s in settings.sources if s not in (*CHAIN_SOURCES, "sim")]
    if unknown:
        raise ValueError(f"TICKSTREAM_SOURCES: unknown source(s) {', '.join(unknown)}; "
                         f"use {', '.join(CHAIN_SOURCES)} (or sim alone)")
    if settings.feed == "sim":
        if settings.sources not in ((), ("sim",)):
            raise ValueError("the simulated market (--feed sim) is never mixed with other sources; choose --feed "
                             f"yahoo or replay to use TICKSTREAM_SOURCES={','.join(settings.sources)}")
        return
    chain = settings.source_chain
    if "sim" in chain:
        raise ValueError("TICKSTREAM_SOURCES: sim is never mixed into real data; use --feed sim on its own")
    if "replay" in chain and chain != ("replay",):
        raise ValueError("TICKSTREAM_SOURCES: replay serves the past on its own clock and cannot share a chain")
    if settings.feed == "replay" and chain != ("replay",):
        raise ValueError(f"--feed replay cannot use TICKSTREAM_SOURCES={','.join(chain)}")
    for name in chain:
        missing = [env for field_name, env in SOURCE_REQUIREMENTS.get(name, ()) if not getattr(settings, field_name)]
        if missing:
            raise ValueError(f"source {name} needs {' and '.join(missing)}, which is not set")


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from ``env`` (default: os.environ) with ``overrides`` (field names, typed or as strings) on top.

    The cache directory defaults to ``<data_dir>/cache`` unless it is given itself.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for env_name, field_name in _ENV_NAMES.items():
        if env_name in env and env[env_name] != "":
            values[field_name] = env[env_name]
    known = {f.name for f in fields(Settings)}
    for key, value in overrides.items():
        if key not in known:
            raise TypeError(f"unknown setting {key!r}")
        if value is not None:
            values[key] = value
    try:
        typed = {name: _cast(name, raw) for name, raw in values.items()}
    except InvalidInput as exc:
        raise ValueError(exc.message) from None
    if "feed" not in typed and typed.get("sources"):
        # Listing sources is choosing real data: the feed follows the chain instead of staying on the simulation.
        chain = typed["sources"]
        typed["feed"] = "sim" if chain == ("sim",) else "replay" if chain == ("replay",) else "yahoo"
    elif not typed.get("sources") and typed.get("feed") in (None, "yahoo"):
        keyed = keyed_sources(typed)
        if keyed:
            # The issue: Polygon and Alpaca are "enabled when" their keys are set; the simulation is the default
            # only "when nothing else is configured".
            typed["sources"] = (*(("yahoo",) if typed.get("feed") == "yahoo" else ()), *keyed)
            typed["keyed_sources"] = keyed
            typed["feed"] = "yahoo"
    if typed.get("feed") == "replay" and "update_interval" not in typed:
        typed["update_interval"] = replay_interval(typed.get("replay_speed", Settings.replay_speed))
    settings = Settings(**typed)
    if "cache_dir" not in typed:
        settings = replace(settings, cache_dir=settings.data_dir / "cache")
    return _validate(settings)


def parse_cli(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(prog="python app.py", description="Tickstream: live market dashboard and stream")
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1, env HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8000, env PORT)")
    parser.add_argument("--feed", choices=FEEDS,
                        help="market source: sim (default when no provider key is set), yahoo (live providers, chain "
                             "from TICKSTREAM_SOURCES) or replay (files from --replay-dir); env TICKSTREAM_FEED")
    parser.add_argument("--sources", help="failover chain for --feed yahoo, e.g. yahoo,polygon (env "
                                          "TICKSTREAM_SOURCES; default: the feed, then polygon/alpaca when their "
                                          "API keys are set)")
    parser.add_argument("--symbols", help="comma-separated symbols to stream, e.g. AAPL,MSFT,GC=F")
    parser.add_argument("--interval", dest="update_interval", type=float,
                        help="seconds between ticks (default 1; for replay 6 replayed seconds, 0.05-1 s)")
    parser.add_argument("--seed", type=int, help="seed of the simulated market (default 42)")
    parser.add_argument("--data-dir", dest="data_dir", help="where state is kept (default ./data)")
    parser.add_argument("--replay-dir", dest="replay_dir", help="folder of CSV/Parquet files for --feed replay")
    parser.add_argument("--speed", dest="replay_speed", type=float, help="replay speed multiplier (default 60)")
    parser.add_argument("--sim-any-symbol", dest="sim_any_symbol", action="store_true", default=None,
                        help="the simulated market prices any well-formed ticker, not only its shipped universe "
                             "(tests and demos; env TICKSTREAM_SIM_ANY_SYMBOL)")
    parser.add_argument("--debug", action="store_true", default=None, help="Dash debug mode")
    parser.add_argument("--dev", action="store_true", default=None,
                        help="development: Flask's server with its reloader instead of gevent (env TICKSTREAM_DEV)")
    args = parser.parse_args(argv)
    try:
        return load_settings(env, **{k: v for k, v in vars(args).items() if v is not None})
    except ValueError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits
