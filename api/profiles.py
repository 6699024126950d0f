"""/ws connection defaults: the channels a client receives before its first subscribe, and the profile's shapes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import orjson

from api import protocol as p
from settings import WS_PROFILES, Settings

# The broadcast set of the ARIA PRO design: every streamed symbol's ticks, the signals, orders, ideas and payloads.
ARIA_CHANNELS = (p.ALL_TICKS, p.Subscription(p.Channel.SIGNALS), p.Subscription(p.Channel.ORDERS),
                 p.Subscription(p.Channel.IDEAS), p.Subscription(p.Channel.PAYLOADS))
# Channel names read from one ?channels= value: more than every channel twice is not a list anyone means.
MAX_CHANNEL_NAMES = 2 * len(p.Channel)
_SIGNAL_PREFIX = b'{"type":"signal",'


@dataclass(frozen=True, slots=True)
class Defaults:
    """What a /ws connection gets before it subscribes: routes (no ``subscribed`` answers), a rewrite of its
    messages (None: as encoded), and the errors its query earned."""

    subscriptions: tuple[p.Subscription, ...] = ()
    adapt: Callable[[bytes], bytes] | None = None
    errors: tuple[p.ProtocolError, ...] = ()


class ConfidenceInPercent:
    """Rewrites encoded envelope ``signal`` messages with ``data.confidence`` in percent (0.875 → 87.5), as the ARIA
    PRO design shows it; every other message passes as it is.

    One instance serves every aria connection: the hub shares one encoding of an event among connections, so the
    last rewrite is kept and the next connection handed the same bytes gets it without decoding again.
    """

    def __init__(self) -> None:
        self._last: tuple[bytes, bytes] | None = None

    def __call__(self, body: bytes) -> bytes:
        if not body.startswith(_SIGNAL_PREFIX):
            return body
        last = self._last
        if last is not None and last[0] is body:
            return last[1]
        message = orjson.loads(body)
        data = message.get("data")
        if isinstance(data, dict):
            confidence = data.get("confidence")
            if isinstance(confidence, int | float) and not isinstance(confidence, bool):
                data["confidence"] = round(confidence * 100, 2)
        out = orjson.dumps(message)
        self._last = (body, out)
        return out


CONFIDENCE_IN_PERCENT = ConfidenceInPercent()


def parse_channels(names: Iterable[str]) -> tuple[tuple[p.Subscription, ...], tuple[p.ProtocolError, ...]]:
    """Default routes for channel names (``dashboard,trades``), and an error for each name that cannot be one.

    ``ticks`` means the ticks of every streamed symbol; ``market_data`` and ``candles`` need a symbol, so they are
    subscribed (or given as ``?subscribe=market_data:AAPL``), not defaulted.

    >>> parse_channels(["alerts", "ticks"])[0] == (p.Subscription(p.Channel.ALERTS), p.ALL_TICKS)
    True
    >>> parse_channels(["nope"])[1][0].code.value
    'unknown_channel'
    """
    subscriptions: list[p.Subscription] = []
    errors: list[p.ProtocolError] = []
    cleaned = [n.strip().lower() for n in names if n.strip()]
    if len(cleaned) > MAX_CHANNEL_NAMES:
        errors.append(p.ProtocolError(p.ErrorCode.UNKNOWN_CHANNEL,
                                      f"channels: at most {MAX_CHANNEL_NAMES} names; the rest are ignored"))
    known = ", ".join(c.value for c in p.Channel)
    for name in dict.fromkeys(cleaned[:MAX_CHANNEL_NAMES]):
        try:
            channel = p.Channel(name)
        except ValueError:
            errors.append(p.ProtocolError(p.ErrorCode.UNKNOWN_CHANNEL,
                                          f"channels: unknown channel {name[:40]!r}; channels: {known}"))
            continue
        if channel is p.Channel.TICKS:
            subscriptions.append(p.ALL_TICKS)
        elif channel in p.SYMBOL_CHANNELS:
            errors.append(p.ProtocolError(p.ErrorCode.INVALID_SYMBOL,
                                          f"channels: {channel.value!r} needs a symbol; subscribe to it, or use "
                                          f"?subscribe={channel.value}:SYMBOL"))
        else:
            subscriptions.append(p.Subscription(channel))
    return tuple(subscriptions), tuple(errors)


def check_settings(settings: Settings) -> None:
    """Raise ValueError when TICKSTREAM_WS_DEFAULT_CHANNELS names something that cannot be a default channel."""
    _, errors = parse_channels(settings.ws_default_channels)
    if errors:
        raise ValueError(f"TICKSTREAM_WS_DEFAULT_CHANNELS: {errors[0].message.removeprefix('channels: ')}")


def _profile_channels(profile: str) -> tuple[p.Subscription, ...] | None:
    """A profile's own default routes; None when it has none and leaves the choice to the channel settings."""
    return ARIA_CHANNELS if profile == "aria" else None


def connection_defaults(channels: str | None, profile: str | None, settings: Settings) -> Defaults | str:
    """The defaults of one /ws connection from its ``?channels=`` and ``?profile=`` values (None: not given), or
    the reason to refuse it (an unknown profile).

    The nearest choice wins: the connection's ``channels``, then its ``profile``'s channels, then
    TICKSTREAM_WS_DEFAULT_CHANNELS, then TICKSTREAM_WS_PROFILE's channels. The profile (the connection's, else the
    server's) also decides the shape of the messages: ``aria`` gives ``signal.confidence`` in percent.
    """
    if profile is not None and profile.strip().lower() not in WS_PROFILES:
        return f"unknown profile {profile[:40]!r}; profiles: {', '.join(WS_PROFILES)}"
    chosen = profile.strip().lower() if profile is not None else settings.ws_profile
    errors: tuple[p.ProtocolError, ...] = ()
    if channels is not None:
        subscriptions, errors = parse_channels(channels.split(","))
    elif _profile_channels(chosen) is not None and (profile is not None or not settings.ws_default_channels):
        subscriptions = _profile_channels(chosen) or ()
    else:
        subscriptions, _ = parse_channels(settings.ws_default_channels)
    return Defaults(subscriptions, CONFIDENCE_IN_PERCENT if chosen == "aria" else None, errors)
