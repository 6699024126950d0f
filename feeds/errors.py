"""Source errors beyond those of feeds/source.py: rate limits, local throttling, hard time-outs and "no source
could answer"."""

from __future__ import annotations

from feeds.source import SourceError


class RateLimited(SourceError):
    """The provider said "too many requests"; ``retry_after`` is how long it asked us to wait, when it said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceBusy(SourceError):
    """We did not ask the provider: our own throttling (per-symbol spacing, a full worker queue) had no free slot
    soon enough. Not the provider's failure, so FailoverSource skips the source without counting it against its
    circuit breaker; ``retry_after`` is when a slot should be free, when known."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceTimeout(SourceError):
    """A call did not finish within its hard wall-clock limit; the worker thread running it may still linger."""


class NoSourceAvailable(SourceError):
    """Every source failed (or was skipped by its circuit breaker or its own throttling) and the cache has nothing
    (REST answers 503). ``retry_after``: the soonest a skipped source said it could answer, when one did."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
