"""CPU-heavy work (seeding trackers, whole-history analysis) on real OS threads, never on the event loop.

Under gevent (``python app.py``, gunicorn's gevent worker) every ``threading.Thread`` is a greenlet: a computation
of half a second on one would stop every connection for that long. Work handed to ``run`` goes to a small pool of
native threads (gevent's own thread pool, which the waiting greenlet waits on cooperatively); the interpreter
switches threads every few milliseconds (``sys.getswitchinterval``), so the event loop keeps running meanwhile.
Without gevent (``--dev``, tests in threads) a plain ThreadPoolExecutor does the same for callers on any thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# Native threads for CPU work: the machine kind this runs on has few cores, and the GIL lets one run at a time.
WORKERS = 2

_executor: Executor | None = None
_executor_lock = threading.Lock()


def gevent_patched() -> bool:
    """True when the process runs on gevent (monkey-patched by ``python app.py`` or a gevent gunicorn worker)."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return bool(monkey.is_module_patched("threading"))


def executor() -> Executor:
    """The process's pool of native threads for CPU work (made on first use)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            if gevent_patched():
                from gevent.threadpool import ThreadPoolExecutor as NativeThreadPoolExecutor

                _executor = NativeThreadPoolExecutor(max_workers=WORKERS)
            else:
                _executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="tickstream-cpu")
        return _executor


def run(function: Callable[..., T], *args: object) -> T:
    """Run ``function(*args)`` on a native worker thread and return its result (or raise its exception); the
    calling thread or greenlet waits without holding up the others."""
    return executor().submit(function, *args).result()
