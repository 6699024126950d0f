"""Rate-limited logging for repeated errors: the first of a kind at once, then at most one line per period with a count.

A disk that fills up, a provider that is down or a replay that ended fail on every call, many times a second; one
full traceback per failure buries everything else in the log. ``LogThrottle.log`` lets the first record of each
*kind* (a short string the caller chooses, e.g. ``"cache write OSError"``) through with its traceback, then drops the
same kind until ``period`` seconds have passed, when it logs one line that says how many were left out meanwhile.
The clock is injected so tests move it instead of waiting.

Threads: any thread may call ``log``. The number of kinds remembered is bounded (oldest forgotten first).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_PERIOD = 60.0
MAX_KINDS = 256


@dataclass(slots=True)
class _Kind:
    last_logged: float
    suppressed: int = 0


class LogThrottle:
    """Logs each kind of repeated message at most once per ``period`` seconds, with the count of those left out."""

    def __init__(self, logger: logging.Logger, period: float = DEFAULT_PERIOD,
                 clock: Callable[[], float] = time.monotonic, max_kinds: int = MAX_KINDS) -> None:
        if period <= 0:
            raise ValueError("period must be positive")
        self.logger = logger
        self.period = period
        self._clock = clock
        self._max_kinds = max_kinds
        self._kinds: OrderedDict[str, _Kind] = OrderedDict()
        self._lock = threading.Lock()

    def log(self, level: int, kind: str, message: str, *args: Any, exc_info: Any = None) -> bool:
        """Log ``message % args`` unless this kind was logged less than ``period`` ago; True when it was logged.

        The first record of a kind keeps ``exc_info`` (its traceback); the later once-per-period lines are one line
        each, ending with how many records of the kind were left out since the previous one.
        """
        now = self._clock()
        with self._lock:
            seen = self._kinds.get(kind)
            if seen is not None and now - seen.last_logged < self.period:
                seen.suppressed += 1
                return False
            suppressed = seen.suppressed if seen is not None else 0
            first = seen is None
            self._kinds[kind] = _Kind(last_logged=now)
            self._kinds.move_to_end(kind)
            while len(self._kinds) > self._max_kinds:
                self._kinds.popitem(last=False)
        if not self.logger.isEnabledFor(level):
            return True
        if suppressed:
            message = f"{message} ({suppressed} more like it since the previous report)"
        self.logger.log(level, message, *args, exc_info=exc_info if first else None)
        return True

    def warning(self, kind: str, message: str, *args: Any, exc_info: Any = None) -> bool:
        return self.log(logging.WARNING, kind, message, *args, exc_info=exc_info)

    def error(self, kind: str, message: str, *args: Any, exc_info: Any = None) -> bool:
        return self.log(logging.ERROR, kind, message, *args, exc_info=exc_info)
