"""One frozen dataclass of settings, built from environment variables and command-line flags."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from feeds.models import InvalidInput, Timeframe, parse_symbol

DEFAULT_SYMBOLS = ("AAPL", "MSFT", "GC=F", "BTC-USD", "^GSPC")
FEEDS = ("sim", "yahoo", "replay")


def _secret() -> Any:
    return field(default=None, repr=False)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    debug: bool = False
    feed: str = "sim"
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    default_timeframe: Timeframe = Timeframe.M1
    # Seconds between feed ticks; 0.05 is supported.
    update_interval: float = 1.0
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

    @property
    def default_symbol(self) -> str:
        return self.symbols[0]


# Environment variable → field. The seed names (POLYGON_API_KEY, REDIS_URL, …) are kept as the design lists them.
_ENV_NAMES: dict[str, str] = {
    "HOST": "host",
    "PORT": "port",
    "TICKSTREAM_DEBUG": "debug",
    "TICKSTREAM_FEED": "feed",
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
                "ws_max_message_bytes"):
        return int(raw)
    if name in ("update_interval", "replay_speed", "ws_heartbeat_interval", "ws_batch_interval",
                "ws_max_messages_per_second"):
        return float(raw)
    if name == "debug":
        return raw if isinstance(raw, bool) else _parse_bool(str(raw))
    if name in ("data_dir", "cache_dir", "replay_dir"):
        return Path(raw)
    if name == "symbols":
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        return tuple(dict.fromkeys(parse_symbol(s) for s in items if str(s).strip()))
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
    if not 0 < settings.port < 65536:
        raise ValueError("port must be in 1..65535")
    if settings.feed == "replay" and settings.replay_dir is None:
        raise ValueError("--feed replay needs --replay-dir (or TICKSTREAM_REPLAY_DIR)")
    return settings


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
    settings = Settings(**typed)
    if "cache_dir" not in typed:
        settings = replace(settings, cache_dir=settings.data_dir / "cache")
    return _validate(settings)


def parse_cli(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(prog="python app.py", description="Tickstream: live market dashboard and stream")
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1, env HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8000, env PORT)")
    parser.add_argument("--feed", choices=FEEDS, help="market source (default sim, env TICKSTREAM_FEED)")
    parser.add_argument("--symbols", help="comma-separated symbols to stream, e.g. AAPL,MSFT,GC=F")
    parser.add_argument("--interval", dest="update_interval", type=float, help="seconds between ticks (default 1)")
    parser.add_argument("--seed", type=int, help="seed of the simulated market (default 42)")
    parser.add_argument("--data-dir", dest="data_dir", help="where state is kept (default ./data)")
    parser.add_argument("--replay-dir", dest="replay_dir", help="folder of CSV/Parquet files for --feed replay")
    parser.add_argument("--speed", dest="replay_speed", type=float, help="replay speed multiplier (default 60)")
    parser.add_argument("--debug", action="store_true", default=None, help="Dash debug mode")
    args = parser.parse_args(argv)
    try:
        return load_settings(env, **{k: v for k, v in vars(args).items() if v is not None})
    except ValueError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits
