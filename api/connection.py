"""One WebSocket client: a bounded send queue drained by its own sender thread, heartbeat and inbound limits."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wsproto.events import Ping
from wsproto.utilities import LocalProtocolError

from api import protocol as p
from api.frame_guard import InboundFrameScanner, guard_inbound_frames
from api.socket_writer import SerializedSocket
from settings import Settings

log = logging.getLogger(__name__)

# How long a closing connection may take to get its close frame onto the wire before the TCP connection is cut.
CLOSE_TIMEOUT_SECONDS = 2.0
# Inbound rate violations are counted over this sliding window; more than RATE_VIOLATIONS_TO_CLOSE in it closes.
RATE_WINDOW_SECONDS = 10.0
RATE_VIOLATIONS_TO_CLOSE = 100
SLOW_REASON = "client too slow: reconnect and resubscribe"


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
    # Connections cut at the TCP level because even their close frame could not be written in time.
    aborted_connections: int = 0
    heartbeat_closes: int = 0
    errors_sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class Connection:
    """A client of one dialect with its subscriptions and its own sender thread.

    ``enqueue`` is called from the bus (feed thread) and the receiving thread; it never blocks. When the queue is
    full the oldest message is dropped, so an envelope client sees a jump in ``seq``. The sender writes ready-made
    WebSocket frames to the socket (``SerializedSocket``), several per system call when they have piled up, so the
    bytes encoded once by the hub are only wrapped, never re-encoded, per client.

    A client is too slow, and is closed with 1008, when its socket has taken no byte for ``stall_seconds`` while
    data waits, or when its queue has stayed full (dropping) for ``stall_seconds``. The sender thread does the
    closing: it drops the data not yet begun, finishes a frame that is partly written, then writes the close frame;
    if that cannot happen within ``close_timeout`` it cuts the TCP connection instead (``aborted``), so the client
    never receives anything but whole frames.
    """

    def __init__(self, ws: Any, dialect: str, settings: Settings, stats: WsStats, batch: bool = False,
                 stall_seconds: float = 5.0, close_timeout: float = CLOSE_TIMEOUT_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.id = uuid.uuid4().hex[:12]
        # The client's address (set by the hub; counts against TICKSTREAM_MAX_CONNECTIONS_PER_ADDRESS).
        self.address = ""
        self.ws = ws
        if not isinstance(getattr(ws, "sock", None), SerializedSocket):
            ws.sock = SerializedSocket(ws.sock)
        self.sock: SerializedSocket = ws.sock
        self.sock.on_pending = self._wake_sender
        # What the client sends, followed frame by frame (api/frame_guard.py); None for a test double.
        self.inbound: InboundFrameScanner | None = None
        if getattr(ws, "ws", None) is not None:
            self.inbound = guard_inbound_frames(ws, settings.ws_max_message_bytes, self._refuse_oversize)
        self.dialect = dialect
        self.numbered = dialect == p.ENVELOPE
        self.batch = batch and self.numbered
        self.batch_interval = settings.ws_batch_interval
        self.maxlen = settings.ws_send_queue_size
        self.maxlen_bytes = settings.ws_max_message_bytes
        self.stats = stats
        self.stall_seconds = stall_seconds
        self.close_timeout = close_timeout
        self.clock = clock
        self.subscriptions: set[p.Subscription] = set()
        # The profile's rewrite of this connection's messages (api/profiles.py), applied before numbering.
        self.adapt: Callable[[bytes], bytes] | None = None
        self.authenticated = True
        self._queue: deque[bytes] = deque()
        # A plain lock for the queue and an event to wake the sender only when it is idle: waking a thread per
        # message (a Condition) was the largest cost of fan-out after the socket writes themselves.
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = True
        self._seq = 0
        # Written only under the lock; the hub sums them for /metrics.
        self.messages_sent = 0
        self.frames_sent = 0
        self.bytes_sent = 0
        self.dropped = 0
        self._full_since: float | None = None
        self.closed = False
        self.close_code: int | None = None
        self.close_reason = ""
        self.aborted = False
        self._sender = threading.Thread(target=self._send_loop, name=f"ws-send-{self.id}", daemon=True)
        # Inbound rate limit: a token bucket refilled at max_messages_per_second, with a burst of twice that.
        self._rate = settings.ws_max_messages_per_second
        self._tokens = 2 * self._rate
        self._tokens_at = clock()
        # Times of recent violations (a sliding window): occasional bursts over a long life never add up to a close.
        self._violations: deque[float] = deque()
        self.last_heard = clock()

    def start(self) -> None:
        self._sender.start()

    def join_sender(self, timeout: float) -> None:
        if self._sender.is_alive() and self._sender is not threading.current_thread():
            self._sender.join(timeout)

    # -- outbound --------------------------------------------------------------------------------------------------

    def enqueue(self, body: bytes) -> None:
        if self.adapt is not None:
            body = self.adapt(body)
        wake = False
        with self._lock:
            if self.closed:
                return
            if self.numbered:
                self._seq += 1
                body = p.with_seq(body, self._seq)
            if self._idle and not self._queue and not self.batch:
                # Fast path: with nothing queued and the sender idle, write at once from this thread without
                # waiting; waking a sender per message costs more than the write itself.
                frame = p.text_frame(body)
                try:
                    left = self.sock.try_send(frame)
                except OSError:
                    self._close_locked(None, "")
                    return
                if left is not None:
                    self.messages_sent += 1
                    self.frames_sent += 1
                    self.bytes_sent += len(frame)
                    self._full_since = None
                    if not left:
                        return
                    # The rest of the frame waits for room: the sender writes it before anything else.
                    self._idle = False
                    wake = True
                    body = b""
            if body and len(self._queue) >= self.maxlen:
                self._queue.popleft()
                self.dropped += 1
                now = self.clock()
                if self._full_since is None:
                    self._full_since = now
                elif now - self._full_since > self.stall_seconds:
                    self.stats.add(slow_closes=1)
                    self._close_locked(p.CloseCode.POLICY_VIOLATION, SLOW_REASON)
                    return
            elif body:
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

    def _wake_sender(self) -> None:
        with self._lock:
            self._idle = False
        self._wake.set()

    def _take(self) -> list[bytes] | None:
        """Everything queued (possibly nothing, when only the socket holds bytes back), waiting while there is
        no work; None once the connection is closed."""
        while True:
            self._wake.wait()
            if self.closed:
                return None
            if self.batch and self.batch_interval > 0:
                # Gather what arrives in the next batch interval into one frame: the browser component loses
                # messages that arrive in quick succession, so fewer, larger frames are safer and cheaper.
                time.sleep(self.batch_interval)
            with self._lock:
                if self._queue or self.sock.pending:
                    items = list(self._queue)
                    self._queue.clear()
                    return items
                self._idle = True
                self._wake.clear()

    def _send_loop(self) -> None:
        try:
            while True:
                items = self._take()
                if items is None:
                    return
                if items:
                    if self.batch and len(items) > 1:
                        frames = p.text_frame(p.batch_frame(items))
                        lengths = [len(frames)]
                    else:
                        parts = [p.text_frame(item) for item in items]
                        frames = b"".join(parts)
                        lengths = [len(part) for part in parts]
                    self.sock.write(frames, lengths)
                    with self._lock:
                        self.messages_sent += len(items)
                        self.frames_sent += len(lengths)
                        self.bytes_sent += len(frames)
                if not self._drain():
                    return
        except OSError as exc:
            log.debug("send to %s failed: %s", self.id, exc)
            self.close()
        finally:
            self._finish_close()

    def _drain(self) -> bool:
        """Write what the socket holds back, waiting for room; False once the connection is closing."""
        sock = self.sock
        progress_at = self.clock()
        written = sock.written
        while True:
            sock.flush()
            if not sock.pending:
                return True
            if self.closed:
                return False
            now = self.clock()
            if sock.written != written:
                written, progress_at = sock.written, now
            elif now - progress_at >= self.stall_seconds:
                self.stats.add(slow_closes=1)
                self.close(p.CloseCode.POLICY_VIOLATION, SLOW_REASON)
                return False
            sock.wait_writable(min(0.25, max(0.01, self.stall_seconds - (now - progress_at))))

    def _finish_close(self) -> None:
        """On the sender thread, once closed: write the close frame on a frame boundary, or cut the connection."""
        code = self.close_code
        if code is None or self.sock.shut:
            return
        self.sock.discard_unstarted()
        try:
            self.ws.close(reason=code, message=self.close_reason)
        except Exception:  # ConnectionClosed when the client got there first; wsproto refusing a second close
            log.debug("close of %s failed", self.id, exc_info=True)
        # Wake the receiving thread (waiting in simple-websocket's receive, which now sees the connection closed):
        # it releases the connection's subscriptions at once, while the close frame is still being written.
        event = getattr(self.ws, "event", None)
        if event is not None:
            event.set()
        if not self.sock.drain(self.clock() + self.close_timeout):
            self.abort()

    def abort(self) -> None:
        """Cut the TCP connection (the close frame could not be written): the client sees the stream end."""
        if not self.sock.shut:
            self.aborted = True
            self.stats.add(aborted_connections=1)
            self.sock.shutdown()

    # -- inbound -------------------------------------------------------------------------------------------------

    def allow_inbound(self) -> bool:
        now = self.clock()
        self.last_heard = now
        self._tokens = min(2 * self._rate, self._tokens + (now - self._tokens_at) * self._rate)
        self._tokens_at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        self._violations.append(now)
        return False

    @property
    def rate_violations(self) -> int:
        """Inbound messages refused for the rate limit in the last RATE_WINDOW_SECONDS."""
        horizon = self.clock() - RATE_WINDOW_SECONDS
        while self._violations and self._violations[0] < horizon:
            self._violations.popleft()
        return len(self._violations)

    @property
    def flooding(self) -> bool:
        return self.rate_violations > RATE_VIOLATIONS_TO_CLOSE

    def _refuse_oversize(self, length: int) -> None:
        self.close(p.CloseCode.MESSAGE_TOO_BIG,
                   f"frame of {length} bytes is over the limit of {self.maxlen_bytes} bytes")

    # -- heartbeat -----------------------------------------------------------------------------------------------

    def heartbeat(self, now: float, interval: float) -> bool:
        """Ping the client; False when it has been silent (no message, no pong) for three intervals."""
        if self.closed:
            return True  # already on its way out: neither pinged nor counted again
        if getattr(self.ws, "pong_received", False):
            self.ws.pong_received = False
            self.last_heard = now
        if now - self.last_heard > 3 * interval:
            return False
        try:
            if self.ws.connected and not self.closed:
                self.sock.send(self.ws.ws.send(Ping()))
        except (OSError, LocalProtocolError):
            self.close()
        return True

    # -- closing -------------------------------------------------------------------------------------------------

    def close(self, code: p.CloseCode | None = None, reason: str = "") -> None:
        """Stop sending; with a code, the sender writes the close frame (or cuts the connection). Never waits."""
        with self._lock:
            self._close_locked(code, reason)

    def _close_locked(self, code: p.CloseCode | None, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_code = int(code) if code is not None else None
        self.close_reason = reason
        self._queue.clear()
        self._wake.set()
