"""The small interface every market-data source implements, and the errors sources raise."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from feeds.models import Candle, InvalidInput, OptionChain, Period, Quote, Timeframe


class SourceError(Exception):
    """A source could not answer (network, provider, parsing). Failover moves on to the next source."""


class UnknownSymbol(SourceError):
    """The source knows no such ticker (REST answers 404)."""


class UnsupportedRequest(InvalidInput):
    """The request is well-formed but outside what the source can serve (REST answers 400)."""

    def __init__(self, message: str) -> None:
        super().__init__("unsupported_request", message)


@runtime_checkable
class MarketSource(Protocol):
    """What the feed thread and the REST routes need from a provider.

    ``history`` returns candles oldest first whose open time lies in the ``period`` before ``end`` (default: now,
    and then the forming candle is included); with ``end`` only candles that open strictly before it; with
    ``limit`` only the newest ``limit`` of those.
    """

    name: str

    def quote(self, symbol: str) -> Quote: ...

    def history(
        self,
        symbol: str,
        period: Period,
        timeframe: Timeframe,
        end: float | None = None,
        limit: int | None = None,
    ) -> list[Candle]: ...

    def options_chain(self, symbol: str, expiration: str | None = None) -> OptionChain: ...

    def health(self) -> dict[str, Any]: ...
