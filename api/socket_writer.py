"""The only writer of one client WebSocket: whole frames, in order, from any thread, and no call ever waits."""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# Kernel send buffer of a client socket. Left to autotuning it grows to megabytes (tcp_wmem), which a client that
# has stopped reading fills for many seconds before anything looks stalled; 64 KiB still holds far more than one
# round trip of this stream, and bounds the memory a stalled client holds in the kernel.
SEND_BUFFER_BYTES = 64 * 1024
# Control frames (pongs, pings, close replies) that may wait behind a stalled socket before it is cut: a client
# that sends pings but never reads must not grow the server's memory.
MAX_PENDING_BYTES = 4 * 1024 * 1024

class SerializedSocket:
    """The only writer of one client socket: whole WebSocket frames, in order, and no call ever waits.

    Three threads write to a client: our sender, simple-websocket's reader (pongs, the reply to a close) and the
    heartbeat (pings). Every write is appended here as a whole frame to one pending buffer, under one lock, and
    written with non-blocking sends; what the socket does not take at once stays pending and goes first on the
    next flush. Waiting for room (``wait_writable``) never holds the lock, so a stalled client holds up nobody.

    Once ``shutdown`` has run nothing more is written, and the connection is cut in both directions. Under
    Werkzeug the server writes an HTTP response onto the socket after the WebSocket handler returns; on a cut
    socket that write fails instead of landing after (or inside) a frame.
    """

    def __init__(self, sock: Any, send_buffer: int = SEND_BUFFER_BYTES) -> None:
        self._sock = sock
        # Under gevent the wrapped socket is gevent's, whose ``send`` would wait for room; its real socket
        # (``_sock``, already non-blocking) is written instead. MSG_DONTWAIT makes a blocking socket's send return.
        self._raw = getattr(sock, "_sock", sock)
        self._lock = threading.Lock()
        self._out = bytearray()
        # Lengths of the frames in ``_out``, oldest first; ``_head_sent`` bytes of the first are already written.
        self._lengths: deque[int] = deque()
        self._head_sent = 0
        self.written = 0
        self.shut = False
        self._close_requested = False
        # Called (without the lock) when a write from another thread left bytes pending: wakes the sender.
        self.on_pending: Callable[[], None] | None = None
        if send_buffer:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
            except (OSError, AttributeError):
                log.debug("cannot set SO_SNDBUF", exc_info=True)

    @property
    def pending(self) -> int:
        """Bytes accepted but not yet written to the socket."""
        return len(self._out)

    @property
    def mid_frame(self) -> bool:
        """True while a frame is partly on the wire: nothing else may be written before its rest."""
        return self._head_sent > 0

    # -- writes (any thread; never wait) ---------------------------------------------------------------------

    def try_send(self, frame: bytes) -> int | None:
        """Write one whole frame now if nothing is pending; None when it was not taken at all (the caller keeps
        it), else the number of its bytes left pending (0: all written), which the next ``flush`` writes first."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._out or self.shut:
                return None
            try:
                sent: int = self._raw.send(frame, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return None
            if not sent:
                return None
            self.written += sent
            if sent < len(frame):
                self._out += memoryview(frame)[sent:]
                self._lengths.append(len(frame))
                self._head_sent = sent
            return len(frame) - sent
        finally:
            self._lock.release()

    def write(self, frames: bytes, lengths: list[int]) -> None:
        """Append whole frames (``lengths`` their sizes) behind what is pending and write what the socket takes."""
        with self._lock:
            if self.shut:
                return
            self._out += frames
            self._lengths.extend(lengths)
            self._flush_locked()

    def send(self, data: bytes) -> int:
        """simple-websocket's and the heartbeat's writes (one whole frame each): appended and flushed as far as
        the socket takes them now. Raises OSError when the connection is broken, as a socket would."""
        with self._lock:
            if self.shut or not data:
                return len(data)
            self._out += data
            self._lengths.append(len(data))
            self._flush_locked()
            overflow = len(self._out) > MAX_PENDING_BYTES
            pending = bool(self._out)
        if overflow:
            log.info("client socket holds more than %d unsent bytes; cutting it", MAX_PENDING_BYTES)
            self.shutdown()
        elif pending and self.on_pending is not None:
            self.on_pending()
        return len(data)

    def flush(self) -> None:
        """Write what the socket takes now; raises OSError when the connection is broken."""
        with self._lock:
            if not self.shut:
                self._flush_locked()

    def _flush_locked(self) -> None:
        out = self._out
        while out:
            try:
                sent = self._raw.send(out, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            if not sent:
                return
            del out[:sent]
            self.written += sent
            sent += self._head_sent
            lengths = self._lengths
            while lengths and sent >= lengths[0]:
                sent -= lengths.popleft()
            self._head_sent = sent

    def discard_unstarted(self) -> int:
        """Drop the pending frames not yet begun (a closing connection's data); keep the rest of a frame that is
        partly on the wire, so that the next frame (the close) starts on a frame boundary. Returns frames dropped."""
        with self._lock:
            if not self._lengths:
                return 0
            keep = self._lengths[0] - self._head_sent if self._head_sent else 0
            dropped = len(self._lengths) - (1 if keep else 0)
            del self._out[keep:]
            head = self._lengths[0]
            self._lengths.clear()
            if keep:
                self._lengths.append(head)
            return dropped

    # -- waiting and ending -----------------------------------------------------------------------------------

    def wait_writable(self, timeout: float) -> bool:
        """Wait (without the lock) until the socket takes more bytes, at most ``timeout`` seconds.

        ``select.poll`` has no descriptor limit and is cooperative under gevent's monkey-patching.
        """
        try:
            fd = self._raw.fileno()
        except OSError:
            return False
        if fd < 0 or self.shut:
            return False
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return bool(poller.poll(max(0.0, timeout) * 1000))

    def drain(self, deadline: float) -> bool:
        """Flush until nothing is pending (True) or ``deadline`` (monotonic) passes or the socket breaks (False)."""
        while True:
            try:
                with self._lock:
                    if self.shut:
                        return False
                    self._flush_locked()
                    if not self._out:
                        return True
            except OSError:
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.wait_writable(min(remaining, 0.25))

    def shutdown(self) -> None:
        """Cut the TCP connection both ways; nothing pending is written, and nothing is ever written again."""
        with self._lock:
            if self.shut:
                return
            self.shut = True
            self._out.clear()
            self._lengths.clear()
            self._head_sent = 0
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self._close_requested:
            self._really_close()

    def close(self) -> None:
        """simple-websocket closes the socket when its reader ends, which may be while our sender still writes
        (or could let the descriptor be reused under it). The close waits for ``shutdown``, which the handler
        always runs at the end; then the web server closes its own reference as usual."""
        if self.shut:
            self._really_close()
        else:
            self._close_requested = True

    def _really_close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            log.debug("close of a client socket failed", exc_info=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)
