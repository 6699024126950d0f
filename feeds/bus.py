"""The event bus: the only way events leave the feed thread (in-process here; Redis pub/sub when scaled out).

Topics are dotted strings: ``market_data.AAPL``, ``ticks.AAPL``, ``candles.AAPL.1m``, ``signals.AAPL``.
Subscribers register a handler for a topic prefix ("" receives everything).

Thread rules:
- ``publish`` may be called from any thread; in practice only the feed thread publishes.
- Handlers run synchronously on the publisher's thread, in subscription order. They must not block: a handler
  only encodes and appends to its own bounded queue (see ``EventQueue``) and returns. The feed thread therefore
  never waits on a client.
- A handler that raises is logged with its traceback and counted in ``handler_errors``; the other handlers and
  the publisher carry on.
- ``subscribe``/``unsubscribe`` may be called from any thread at any time; a publish already under way uses the
  handler list as it was when it started (copy-on-write).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[str, Any], None]


@dataclass(frozen=True, slots=True)
class _Subscription:
    prefix: str
    handler: Handler


class InProcessBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: tuple[_Subscription, ...] = ()
        self.published = 0
        self.handler_errors = 0

    def subscribe(self, handler: Handler, prefix: str = "") -> Callable[[], None]:
        """Register ``handler(topic, event)`` for topics starting with ``prefix``; returns the unsubscribe call."""
        subscription = _Subscription(prefix, handler)
        with self._lock:
            self._subscriptions = (*self._subscriptions, subscription)

        def unsubscribe() -> None:
            with self._lock:
                self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

        return unsubscribe

    def publish(self, topic: str, event: Any) -> None:
        self.published += 1
        for subscription in self._subscriptions:
            if topic.startswith(subscription.prefix):
                try:
                    subscription.handler(topic, event)
                except Exception:
                    self.handler_errors += 1
                    log.exception("bus handler for %r failed on %s", subscription.prefix, topic)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def close(self) -> None:
        with self._lock:
            self._subscriptions = ()


class EventQueue:
    """A bounded queue fed by a bus handler: when full, the oldest event is dropped and counted.

    ``put`` never blocks (it is called on the publisher's thread); ``get`` blocks the consumer up to a timeout.
    """

    def __init__(self, maxlen: int) -> None:
        self._items: deque[tuple[str, Any]] = deque()
        self._maxlen = maxlen
        self._ready = threading.Condition()
        self.dropped = 0

    def put(self, topic: str, event: Any) -> None:
        with self._ready:
            if len(self._items) >= self._maxlen:
                self._items.popleft()
                self.dropped += 1
            self._items.append((topic, event))
            self._ready.notify()

    def get(self, timeout: float | None = None) -> tuple[str, Any] | None:
        with self._ready:
            if not self._items and not self._ready.wait_for(lambda: bool(self._items), timeout):
                return None
            return self._items.popleft()

    def __len__(self) -> int:
        return len(self._items)
