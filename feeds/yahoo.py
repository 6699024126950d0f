"""YahooSource: quotes, history and option chains from Yahoo Finance through yfinance, with hard call limits.

Every network access goes through :meth:`YahooSource._fetch` (``kind`` in ``"info"``, ``"history"``,
``"options"``), which hands it to a client object (feeds/yahoo_client.py): ``YFinanceClient`` in production,
recorded frames in tests. It adds what yfinance lacks:

- a hard wall-clock limit on the network call itself (``call_timeout``, the settings' ``source_timeout``):
  yfinance ignores its ``timeout`` for the cookie/crumb requests and can block 90–130 s, so the call runs on a
  small pool of daemon worker threads (feeds.breaker.DeadlineCaller) and we stop waiting at the limit with
  SourceTimeout. The worker may linger until yfinance returns; once every worker lingers, calls fail at once.
  Because the source limits its own calls (``limits_own_calls``), FailoverSource does not wrap it in a second
  limit that would also time the local waits below;
- a minimum spacing between two calls for the same symbol (``min_interval``, waits with the injected sleep). The
  wait for a slot, like the wait for a free worker, is capped (``max_wait``, default one ``min_interval``):
  beyond it the call is not made and SourceBusy is raised at once. That is our own throttling, not a provider
  failure, so FailoverSource skips the source without counting it against the breaker, and no caller — the
  feed thread included — waits in line behind a burst of requests;
- single flight: a request identical to one already on its way to Yahoo waits for that one's answer instead of
  asking again (a burst of REST calls for the same chart, the feed's quote and a REST quote);
- exponential backoff after Yahoo's rate limit (``YFRateLimitError`` or an HTTP 429): for ``backoff`` seconds
  (2 s, doubling up to 5 min, or longer if Yahoo's Retry-After says so; reset by a success) calls raise
  RateLimited at once instead of reaching Yahoo;
- translation of errors: an unknown ticker → UnknownSymbol, an empty frame or any other failure → SourceError.

History without ``end`` (or with an ``end`` not in the past) is asked with yfinance's ``period=`` string, so that
Yahoo answers with its last N trading days: "1d" on a Sunday is Friday's session, not an empty weekend window that
would count as a failure. An empty answer to such a request is a failure. With an ``end`` in the past the window
is computed (``start``/``end``) and may legitimately hold nothing (a weekend, before the symbol listed): that is
an answer (no candles), not a failure. Yahoo's intraday limits are checked before calling: 1-minute bars only
within the last 30 days and at most 7 days per request; 5/15/30-minute bars within the last 60 days; hourly (and
4-hour, resampled from hourly) within 730 days. Beyond them — including an ``end`` older than Yahoo keeps, even
with ``max`` — UnsupportedRequest (REST 400). ``max`` with an intraday timeframe means as far back as Yahoo keeps.
Daily candles are stamped at 00:00 UTC of their exchange date (Timeframe.bucket_start), intraday ones at their
real open time.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from yfinance import exceptions as yf_errors

from feeds.breaker import DEFAULT_CALL_TIMEOUT, DeadlineCaller
from feeds.errors import RateLimited, SourceBusy, SourceTimeout
from feeds.models import Candle, OptionChain, Period, Quote, Timeframe, parse_symbol
from feeds.options import (
    DEFAULT_RATE,
    OptionKind,
    contract_from_market,
    median,
    year_fraction,
)
from feeds.replay import resample_candles, select_window
from feeds.source import SourceError, UnknownSymbol, UnsupportedRequest
from feeds.yahoo_client import YahooClient, YFinanceClient

log = logging.getLogger(__name__)

DAY = 86_400
# (yfinance interval, width we resample to or None, how far back Yahoo keeps it, longest span per request).
_PLAN: dict[Timeframe, tuple[str, int | None, int | None, int | None]] = {
    Timeframe.M1: ("1m", None, 30 * DAY, 7 * DAY),
    Timeframe.M5: ("5m", None, 60 * DAY, None),
    Timeframe.M15: ("15m", None, 60 * DAY, None),
    Timeframe.M30: ("30m", None, 60 * DAY, None),
    Timeframe.H1: ("1h", None, 730 * DAY, None),
    Timeframe.H4: ("1h", 4 * 3600, 730 * DAY, None),
    Timeframe.D1: ("1d", None, None, None),
}
_OHLC = ["Open", "High", "Low", "Close"]
# Yahoo fills impliedVolatility with placeholders (1e-05 and the like) for contracts without a live quote.
MIN_IMPLIED_VOL = 0.001
# Words in Yahoo's own explanation of an empty chart that mean "no such ticker".
_UNKNOWN_HINTS = ("delisted", "not found", "no data found", "invalid symbol")
# Spacing slots kept per symbol before the ones already in the past are dropped.
_MAX_SLOTS = 1024
# How long a call may wait for a free worker (all busy with other symbols' calls) before it is refused as busy.
_WORKER_WAIT = 1.0
_MAX_PERIOD = Period.parse("max")
# Longer "Nd" periods are asked by start date: the longest range docs/protocol.md names is 5y, a window that long
# cannot be empty for a listed symbol, and Yahoo's acceptance of any longer custom range is not documented.
_LONGEST_RANGE_DAYS = 1826


def _number(value: Any) -> float | None:
    """A finite float or None (Yahoo uses NaN, None, 0 and strings for "unknown")."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _positive(value: Any) -> float | None:
    number = _number(value)
    return number if number is not None and number > 0 else None


def _implied_vol(value: Any) -> float | None:
    number = _number(value)
    return number if number is not None and number >= MIN_IMPLIED_VOL else None


def _count(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def frame_to_candles(frame: Any, daily: bool) -> list[Candle]:
    """Candles from a yfinance history frame; SourceError if it is empty or not shaped like one."""
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise SourceError("yahoo returned an empty frame")
    missing = [c for c in [*_OHLC, "Volume"] if c not in frame.columns]
    if missing or not isinstance(frame.index, pd.DatetimeIndex):
        raise SourceError(f"yahoo frame has an unexpected shape (missing {missing or 'a DatetimeIndex'})")
    frame = frame.dropna(subset=_OHLC)
    if frame.empty:
        raise SourceError("yahoo returned a frame with no prices")
    index = frame.index if frame.index.tz is not None else frame.index.tz_localize("UTC")
    if daily:
        # A daily bar is labelled with its exchange-local date; stamp it 00:00 UTC of that date.
        days = pd.DatetimeIndex(index.tz_localize(None).normalize()).tz_localize("UTC")
        times = (days - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    else:
        times = (index.tz_convert("UTC") - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    volumes = frame["Volume"].fillna(0.0).to_numpy(dtype="float64")
    o, h, lo, c = (frame[col].to_numpy(dtype="float64") for col in _OHLC)
    return [
        Candle(int(t), float(o[i]), float(h[i]), float(lo[i]), float(c[i]), float(volumes[i]))
        for i, t in enumerate(times)
    ]


def _http_status(exc: BaseException) -> int | None:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def _is_rate_limit(exc: BaseException) -> bool:
    """yfinance's own rate-limit error, or an HTTP 429 that reached us as a requests/curl_cffi HTTPError."""
    return isinstance(exc, yf_errors.YFRateLimitError) or _http_status(exc) == 429


def _retry_after_header(exc: BaseException) -> float | None:
    """Seconds from the Retry-After header of the response behind ``exc``, when it gives a number."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    try:
        value = _number(headers.get("Retry-After"))
    except AttributeError:
        return None
    return value if value is not None and value > 0 else None


def _says_unknown(exc: yf_errors.YFPricesMissingError) -> bool:
    reason = (exc.yahoo_reason or "").lower()
    return any(hint in reason for hint in _UNKNOWN_HINTS)


class _Flight:
    """One call on its way to Yahoo, which identical requests wait for instead of asking again."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class YahooSource:
    """MarketSource on Yahoo Finance. Thread-safe (spacing, flights and backoff state are behind a lock)."""

    name = "yahoo"
    # FailoverSource calls it directly: _fetch puts the network call under call_timeout itself.
    limits_own_calls = True

    def __init__(
        self,
        client: YahooClient | None = None,
        *,
        cache_dir: str | Path | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        max_workers: int = 4,
        min_interval: float = 1.0,
        max_wait: float | None = None,
        backoff_base: float = 2.0,
        backoff_max: float = 300.0,
        rate: float = DEFAULT_RATE,
    ) -> None:
        if call_timeout <= 0:
            raise ValueError("call_timeout must be positive")
        self._client: YahooClient = client if client is not None else YFinanceClient(cache_dir, call_timeout)
        self._clock = clock
        self._sleep = sleep
        self.call_timeout = call_timeout
        self.min_interval = min_interval
        # One slot by default: a call may wait behind the one just made for its symbol, not behind a queue.
        self.max_wait = min_interval if max_wait is None else max_wait
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.rate = rate
        self._caller = DeadlineCaller("yahoo", max_workers)
        self._lock = threading.Lock()
        self._next_slot: dict[str, float] = {}
        self._flights: dict[tuple[Any, ...], _Flight] = {}
        self._backoff = 0.0
        self._blocked_until = 0.0
        self._stats = {"calls": 0, "errors": 0, "timeouts": 0, "rate_limited": 0, "throttled": 0, "coalesced": 0}
        self._last_error: str | None = None
        self._last_success: float | None = None

    # -- the seam ----------------------------------------------------------------------------------------------

    def _fetch(self, kind: str, symbol: str, *, empty_ok: bool = False, **kw: Any) -> Any:
        """The one place that reaches Yahoo: single flight, spacing, backoff, hard limit and error translation.

        ``empty_ok``: Yahoo's "no prices in that range" (YFPricesMissingError without an unknown-ticker reason) is
        an answer, returned as None, not a failure — for windows that may legitimately be empty.
        """
        key = (kind, symbol, empty_ok, tuple(sorted(kw.items())))
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
            else:
                self._stats["coalesced"] += 1
        if not leader:
            return self._join(flight)
        try:
            flight.result = self._fetch_once(kind, symbol, empty_ok, kw)
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()
        return flight.result

    def _join(self, flight: _Flight) -> Any:
        # The leader is bounded by its waits and the call limit; the margin covers its own bookkeeping.
        if not flight.done.wait(self.max_wait + _WORKER_WAIT + self.call_timeout + 1.0):
            raise SourceTimeout(f"yahoo: the identical call in flight gave no answer within {self.call_timeout:g} s")
        if flight.error is not None:
            # As concurrent.futures does: every waiter re-raises the one exception.
            raise flight.error
        return flight.result

    def _fetch_once(self, kind: str, symbol: str, empty_ok: bool, kw: dict[str, Any]) -> Any:
        wait = self._take_slot(symbol)
        if wait > 0:
            self._sleep(wait)
        try:
            result = self._caller.call(lambda: self._client.fetch(kind, symbol, **kw), self.call_timeout,
                                       queue_timeout=_WORKER_WAIT)
        except SourceBusy:
            with self._lock:
                self._stats["throttled"] += 1
                self._stats["calls"] -= 1  # counted when the slot was taken, but Yahoo was not asked
            raise
        except SourceTimeout as exc:
            self._failed("timeouts", exc)
            raise
        except Exception as exc:
            if _is_rate_limit(exc):
                wait = self._start_backoff(_retry_after_header(exc))
                self._failed("rate_limited", exc)
                raise RateLimited(f"yahoo {kind} {symbol}: too many requests; backing off {wait:.0f} s",
                                  retry_after=wait) from exc
            if empty_ok and isinstance(exc, yf_errors.YFPricesMissingError) and not _says_unknown(exc):
                result = None
            else:
                self._failed("errors", exc)
                raise self._translate(exc, kind, symbol) from exc
        with self._lock:
            self._backoff = 0.0
            self._last_success = self._clock()
        return result

    def _take_slot(self, symbol: str) -> float:
        """Reserve the symbol's next call slot; the seconds to wait for it. SourceBusy (nothing reserved) when
        that is beyond ``max_wait``, RateLimited while backing off."""
        with self._lock:
            now = self._clock()
            if now < self._blocked_until:
                wait = self._blocked_until - now
                raise RateLimited(f"yahoo: rate limited, not calling for another {wait:.0f} s", retry_after=wait)
            slot = max(now, self._next_slot.get(symbol, now))
            wait = slot - now
            if wait > self.max_wait:
                self._stats["throttled"] += 1
                raise SourceBusy(
                    f"yahoo: {symbol} was asked too often; its next free slot is in {wait:.1f} s, not calling",
                    retry_after=wait,
                )
            if len(self._next_slot) >= _MAX_SLOTS:
                self._next_slot = {k: v for k, v in self._next_slot.items() if v > now}
            self._next_slot[symbol] = slot + self.min_interval
            self._stats["calls"] += 1
            return wait

    def _start_backoff(self, asked: float | None) -> float:
        """Block calls for the next backoff (doubling from ``backoff_base``), or longer if Yahoo asked so."""
        with self._lock:
            self._backoff = self.backoff_base if not self._backoff else min(self._backoff * 2, self.backoff_max)
            wait = max(self._backoff, min(asked or 0.0, self.backoff_max))
            self._blocked_until = self._clock() + wait
            return wait

    def _failed(self, counter: str, exc: BaseException) -> None:
        with self._lock:
            self._stats[counter] += 1
            self._last_error = f"{type(exc).__name__}: {exc}"

    @staticmethod
    def _translate(exc: Exception, kind: str, symbol: str) -> Exception:
        """The SourceError (or UnknownSymbol/UnsupportedRequest) that an exception from yfinance stands for.
        Rate limits never get here: _fetch_once turns them into RateLimited and starts the backoff."""
        if isinstance(exc, (SourceError, UnsupportedRequest)):
            return exc
        if isinstance(exc, yf_errors.YFTzMissingError):
            return UnknownSymbol(f"yahoo does not know {symbol}")
        if isinstance(exc, yf_errors.YFPricesMissingError):
            if _says_unknown(exc):
                return UnknownSymbol(f"yahoo does not know {symbol}: {exc.yahoo_reason}")
            return SourceError(f"yahoo {kind} {symbol}: {exc}")
        if _http_status(exc) == 404:
            return UnknownSymbol(f"yahoo does not know {symbol} (HTTP 404)")
        if isinstance(exc, ValueError) and "Expiration" in str(exc):
            return UnsupportedRequest(str(exc))
        return SourceError(f"yahoo {kind} {symbol}: {type(exc).__name__}: {exc}")

    # -- MarketSource ------------------------------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote:
        symbol = parse_symbol(symbol)
        info = self._fetch("info", symbol)
        if not isinstance(info, dict):
            raise SourceError(f"yahoo info for {symbol} is not a dict")
        price = _positive(info.get("regularMarketPrice")) or _positive(info.get("currentPrice"))
        if price is None:
            # Yahoo answers an unknown ticker with an (almost) empty info dict: no quoteType, no price.
            if info.get("quoteType") in (None, "", "NONE"):
                raise UnknownSymbol(f"yahoo does not know {symbol}")
            raise SourceError(f"yahoo info for {symbol} has no price")
        previous = _positive(info.get("regularMarketPreviousClose")) or _positive(info.get("previousClose"))
        volume = _number(info.get("regularMarketVolume"))
        if volume is None:
            volume = _number(info.get("volume"))
        stamp = _positive(info.get("regularMarketTime"))
        return Quote(
            symbol=symbol,
            price=price,
            # Yahoo reports 0 for "no bid/ask" (closed market, indices, some futures).
            bid=_positive(info.get("bid")),
            ask=_positive(info.get("ask")),
            volume=volume or 0.0,
            previous_close=previous,
            timestamp=stamp if stamp is not None else self._clock(),
            source=self.name,
        )

    def history(
        self,
        symbol: str,
        period: Period,
        timeframe: Timeframe,
        end: float | None = None,
        limit: int | None = None,
    ) -> list[Candle]:
        symbol = parse_symbol(symbol)
        now = self._clock()
        if end is None or end >= now:
            return self._recent_history(symbol, period, timeframe, now, end, limit)
        return self._past_history(symbol, period, timeframe, now, end, limit)

    def _recent_history(
        self, symbol: str, period: Period, timeframe: Timeframe, now: float, end: float | None, limit: int | None
    ) -> list[Candle]:
        """A window up to now, asked by period so that Yahoo answers with its last trading days; empty = failure."""
        interval, resample_to, keeps, longest = _PLAN[timeframe]
        kw: dict[str, Any] = {"interval": interval, "start": None, "end": None, "period": period.name}
        # Yahoo chooses the window (its last N trading days): keep all of it rather than cut it to calendar days.
        window = _MAX_PERIOD
        if period.seconds is not None:
            self._check_limits(timeframe, interval, now - period.seconds, now, now, keeps, longest)
            if period.days is not None and period.days > _LONGEST_RANGE_DAYS:
                kw.update(start=timeframe.bucket_start(now - period.seconds), period=None)
                window = period
        elif keeps is not None:
            # "max" with an intraday timeframe: as far back as Yahoo keeps, and no more than one request holds.
            start = now - keeps if longest is None else max(now - keeps, now - longest)
            # Whole buckets, so that the first candle of a resampled timeframe is complete (but never further
            # back than Yahoo keeps).
            kw.update(start=int(max(timeframe.bucket_start(start), now - keeps)), period=None)
        frame = self._fetch("history", symbol, **kw)
        candles = frame_to_candles(frame, daily=timeframe is Timeframe.D1)
        if resample_to is not None:
            # Yahoo starts a range at the start of a trading day, so the first 4-hour bucket holds what that day
            # traded in it.
            candles = resample_candles(candles, resample_to)
        return select_window(candles, window, timeframe, now, end, limit)

    def _past_history(
        self, symbol: str, period: Period, timeframe: Timeframe, now: float, end: float, limit: int | None
    ) -> list[Candle]:
        """The window before ``end`` (in the past); it may legitimately hold no candle, which is no failure."""
        interval, resample_to, keeps, longest = _PLAN[timeframe]
        if keeps is not None and now - end >= keeps:
            raise UnsupportedRequest(
                f"Yahoo keeps {interval} bars for the last {keeps // DAY} days only, and end is "
                f"{(now - end) / DAY:.0f} days ago; ask {timeframe.value} candles with a more recent end, "
                f"or a wider timeframe"
            )
        if period.seconds is None:
            raw_start = None if keeps is None else now - keeps
            if longest is not None:
                raw_start = max(raw_start or 0.0, end - longest)
        else:
            raw_start = end - period.seconds
        kw: dict[str, Any] = {"interval": interval, "start": None, "end": math.ceil(end), "period": "max"}
        if raw_start is not None:
            self._check_limits(timeframe, interval, raw_start, end, now, keeps, longest)
            start: float = timeframe.bucket_start(raw_start)
            if keeps is not None:
                start = max(start, now - keeps)
            kw.update(start=int(start), period=None)
        frame = self._fetch("history", symbol, empty_ok=True, **kw)
        if frame is None or (isinstance(frame, pd.DataFrame) and frame.empty):
            return []
        candles = frame_to_candles(frame, daily=timeframe is Timeframe.D1)
        if resample_to is not None:
            candles = resample_candles(candles, resample_to)
        return select_window(candles, period, timeframe, now, end, limit)

    @staticmethod
    def _check_limits(
        timeframe: Timeframe,
        interval: str,
        start: float,
        reference: float,
        now: float,
        keeps: int | None,
        longest: int | None,
    ) -> None:
        if keeps is not None and now - start > keeps + 1:
            raise UnsupportedRequest(
                f"Yahoo keeps {interval} bars for the last {keeps // DAY} days only; "
                f"ask {timeframe.value} candles for a shorter or more recent period, or a wider timeframe"
            )
        if longest is not None and reference - start > longest + 1:
            raise UnsupportedRequest(
                f"Yahoo serves at most {longest // DAY} days of {interval} bars per request; "
                f"use a period of {longest // DAY}d or less, or a wider timeframe"
            )

    def options_chain(self, symbol: str, expiration: str | None = None) -> OptionChain:
        symbol = parse_symbol(symbol)
        raw = self._fetch("options", symbol, expiration=expiration)
        expirations = tuple(str(e) for e in (raw.get("expirations") or ()))
        if not expirations:
            raise UnsupportedRequest(f"Yahoo lists no options for {symbol}")
        chosen = expiration or expirations[0]
        if chosen not in expirations:
            raise UnsupportedRequest(f"no expiration {chosen} for {symbol}; available: {', '.join(expirations)}")
        underlying = raw.get("underlying") or {}
        spot = _positive(underlying.get("regularMarketPrice"))
        if spot is None:
            raise SourceError(f"yahoo option chain for {symbol} has no underlying price")
        t = year_fraction(self._clock(), chosen)
        sides = {}
        for kind, key in ((OptionKind.CALL, "calls"), (OptionKind.PUT, "puts")):
            frame = raw.get(key)
            if not isinstance(frame, pd.DataFrame):
                raise SourceError(f"yahoo option chain for {symbol} {chosen} has no {key}")
            rows = frame.to_dict("records")
            # Yahoo gives no per-contract history, so the chain side's median volume stands for "usual volume".
            typical = median(v for v in (_number(r.get("volume")) for r in rows) if v is not None)
            sides[kind] = tuple(
                contract_from_market(
                    kind=kind,
                    contract_symbol=str(r.get("contractSymbol")),
                    strike=float(r["strike"]),
                    spot=spot,
                    t=t,
                    implied_volatility=_implied_vol(r.get("impliedVolatility")),
                    last_price=_number(r.get("lastPrice")),
                    bid=_positive(r.get("bid")),
                    ask=_positive(r.get("ask")),
                    volume=_count(r.get("volume")),
                    open_interest=_count(r.get("openInterest")),
                    typical_volume=typical,
                    rate=self.rate,
                )
                for r in rows
                if _positive(r.get("strike")) is not None
            )
        return OptionChain(
            symbol=symbol,
            underlying_price=spot,
            expiration=chosen,
            expirations=expirations,
            calls=sides[OptionKind.CALL],
            puts=sides[OptionKind.PUT],
        )

    def health(self) -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            return {
                "name": self.name,
                "state": "rate_limited" if now < self._blocked_until else "ok",
                "backoff": self._backoff,
                "blocked_for": max(0.0, self._blocked_until - now),
                "last_error": self._last_error,
                "last_success": self._last_success,
                "lingering_calls": self._caller.lingering,
                **self._stats,
            }

    def close(self) -> None:
        self._caller.close()
