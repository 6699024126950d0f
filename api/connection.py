"""One WebSocket client: a bounded send queue drained by its own sender thread, heartbeat and inbound limits."""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from wsproto.events import Ping

from api import protocol as p
from settings import Settings

log = logging.getLogger(__name__)


@dataclass
class WsStats:
    """Counters shared by every connection of one hub (read by /metrics)."""

    connections_opened: int = 0
    connections_closed: int = 0
    # Totals of connections that have closed; live ones keep their own counters.
    messages_sent: int = 0
    frames_sent: int = 0
    bytes_sent: int = 0
    messages_dropped: int = 0
    slow_closes: int = 0
    heartbeat_closes: int = 0
    errors_sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class SerializedSocket:
    """Wraps the raw socket under a simple-websocket connection so that every write is whole and alone.

    simple-websocket writes from two threads (our sender, and its own reader answering pings and closes) with
    plain ``socket.send``, which may also write only part of a large frame. One lock and ``sendall`` keep frames
    from interleaving or being cut.
    """

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._lock = threading.Lock()

    def send(self, data: bytes) -> int:
        with self._lock:
            self._sock.sendall(data)
        return len(data)

    def try_send(self, data: bytes) -> int:
        """Write what the socket takes at once, never waiting: 0 when another write is under way or it is full.

        Under gevent the wrapped socket is gevent's, whose ``send`` would wait for room; its real socket
        (``_sock``, already non-blocking) is written instead.
        """
        if not self._lock.acquire(blocking=False):
            return 0
        try:
            raw = getattr(self._sock, "_sock", self._sock)
            sent: int = raw.send(data, socket.MSG_DONTWAIT)
            return sent
        except (BlockingIOError, InterruptedError):
            return 0
        finally:
            self._lock.release()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class Connection:
    """A client of one dialect with its subscriptions and its own sender thread.

    ``enqueue`` is called from the bus (feed thread) and the receiving thread; it never blocks. When the queue is
    full the oldest message is dropped, so an envelope client sees a jump in ``seq``. A client that keeps its queue
    full for ``stall_seconds`` is closed with 1008. The sender writes ready-made WebSocket frames straight to the
    socket, several per system call when they have piled up, so the bytes encoded once by the hub are only
    wrapped, never re-encoded, per client.
    """

    def __init__(self, ws: Any, dialect: str, settings: Settings, stats: WsStats, batch: bool = False,
                 stall_seconds: float = 5.0) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.ws = ws
        self.dialect = dialect
        self.numbered = dialect == p.ENVELOPE
        self.batch = batch and self.numbered
        self.batch_interval = settings.ws_batch_interval
        self.maxlen = settings.ws_send_queue_size
        self.stats = stats
        self.stall_seconds = stall_seconds
        self.subscriptions: set[p.Subscription] = set()
        self.authenticated = True
        self._queue: deque[bytes] = deque()
        # A plain lock for the queue and an event to wake the sender only when it is idle: waking a thread per
        # message (a Condition) was the largest cost of fan-out after the socket writes themselves.
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = True
        # The unsent tail of a frame written directly by ``enqueue``; the sender writes it before anything else.
        self._partial = b""
        self._try_send = getattr(getattr(ws, "sock", None), "try_send", None)
        self._seq = 0
        # Written only under the lock or by the sender thread; the hub sums them for /metrics.
        self.messages_sent = 0
        self.frames_sent = 0
        self.bytes_sent = 0
        self.dropped = 0
        self._full_since: float | None = None
        self.closed = False
        self.close_code: int | None = None
        self._sender = threading.Thread(target=self._send_loop, name=f"ws-send-{self.id}", daemon=True)
        # Inbound rate limit: a token bucket refilled at max_messages_per_second, with a burst of twice that.
        self._rate = settings.ws_max_messages_per_second
        self._tokens = 2 * self._rate
        self._tokens_at = time.monotonic()
        self.rate_violations = 0
        self.last_heard = time.monotonic()

    def start(self) -> None:
        self._sender.start()

    # -- outbound --------------------------------------------------------------------------------------------------

    def enqueue(self, body: bytes) -> None:
        wake = False
        with self._lock:
            if self.closed:
                return
            if self.numbered:
                self._seq += 1
                body = p.with_seq(body, self._seq)
            if self._idle and not self._queue and not self.batch and self._try_send is not None:
                # Fast path: with nothing queued and the sender idle, write at once from this thread without
                # waiting; waking a sender per message costs more than the write itself.
                frame = p.text_frame(body)
                try:
                    sent = self._try_send(frame)
                except OSError:
                    self._close_locked(None, "")
                    return
                if sent:
                    self.messages_sent += 1
                    self.frames_sent += 1
                    self.bytes_sent += len(frame)
                    if sent == len(frame):
                        return
                    self._partial = frame[sent:]
                    self._idle = False
                    wake = True
                    body = b""
            if body and len(self._queue) >= self.maxlen:
                self._queue.popleft()
                self.dropped += 1
                now = time.monotonic()
                if self._full_since is None:
                    self._full_since = now
                elif now - self._full_since > self.stall_seconds:
                    self.stats.add(slow_closes=1)
                    self._close_locked(p.CloseCode.POLICY_VIOLATION, "client too slow: reconnect and resubscribe")
                    return
            else:
                self._full_since = None
            if body:
                self._queue.append(body)
                wake = self._idle
                self._idle = False
        if wake:
            self._wake.set()

    def send(self, kind: p.MessageType, data: Any, channel: p.Channel | None = None,
             timestamp: float | None = None) -> None:
        """Queue a message of this connection's dialect (envelope or flat)."""
        if self.numbered:
            self.enqueue(p.encode_envelope(kind, data, channel, timestamp))
        else:
            self.enqueue(p.encode_flat({"type": kind.value, **data,
                                        "timestamp": p.iso_ms(time.time() if timestamp is None else timestamp)}))

    def send_error(self, code: p.ErrorCode, message: str) -> None:
        self.stats.add(errors_sent=1)
        self.send(p.MessageType.ERROR, p.error_data(code, message))

    def _take(self) -> tuple[bytes, list[bytes]] | None:
        """The unsent tail of a direct write and everything queued, waiting while there is nothing; None once
        the connection is closed."""
        while True:
            self._wake.wait()
            if self.closed:
                return None
            if self.batch and self.batch_interval > 0:
                # Gather what arrives in the next batch interval into one frame: the browser component loses
                # messages that arrive in quick succession, so fewer, larger frames are safer and cheaper.
                time.sleep(self.batch_interval)
            with self._lock:
                if self._queue or self._partial:
                    items = list(self._queue)
                    self._queue.clear()
                    partial, self._partial = self._partial, b""
                    return partial, items
                self._idle = True
                self._wake.clear()

    def _send_loop(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            partial, items = taken
            if self.batch and len(items) > 1:
                frames = p.text_frame(p.batch_frame(items))
                count = 1
            else:
                frames = b"".join(p.text_frame(item) for item in items)
                count = len(items)
            frames = partial + frames
            try:
                if not self.ws.connected:
                    raise ConnectionError("closed")
                self.ws.sock.send(frames)
            except OSError as exc:
                log.debug("send to %s failed: %s", self.id, exc)
                self.close()
                return
            self.messages_sent += len(items)
            self.frames_sent += count
            self.bytes_sent += len(frames)

    # -- inbound -------------------------------------------------------------------------------------------------

    def allow_inbound(self) -> bool:
        now = time.monotonic()
        self.last_heard = now
        self._tokens = min(2 * self._rate, self._tokens + (now - self._tokens_at) * self._rate)
        self._tokens_at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        self.rate_violations += 1
        return False

    # -- heartbeat -----------------------------------------------------------------------------------------------

    def heartbeat(self, now: float, interval: float) -> bool:
        """Ping the client; False when it has been silent (no message, no pong) for three intervals."""
        if getattr(self.ws, "pong_received", False):
            self.ws.pong_received = False
            self.last_heard = now
        if now - self.last_heard > 3 * interval:
            return False
        try:
            if self.ws.connected:
                self.ws.sock.send(self.ws.ws.send(Ping()))
        except OSError:
            self.close()
        return True

    # -- closing -------------------------------------------------------------------------------------------------

    def close(self, code: p.CloseCode | None = None, reason: str = "") -> None:
        with self._lock:
            self._close_locked(code, reason)

    def _close_locked(self, code: p.CloseCode | None, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_code = int(code) if code is not None else None
        self._queue.clear()
        self._wake.set()
        if code is not None:
            # Closing the socket wakes the receiving thread (its receive() raises ConnectionClosed). It runs on its
            # own thread because this may be the feed thread, which must never wait on a client.
            threading.Thread(target=self._close_socket, args=(int(code), reason), daemon=True).start()

    def _close_socket(self, code: int, reason: str) -> None:
        try:
            self.ws.close(reason=code, message=reason)
        except Exception:
            log.debug("close of %s failed", self.id, exc_info=True)
