"""Client frame headers read off the raw byte stream, so a frame announcing more than the size limit is refused
the moment its header arrives, not after its payload (which may never come) has been read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class InboundFrameScanner:
    """Follows the frames a client sends (RFC 6455 section 5.2) through any split of the stream into reads.

    ``feed(data)`` returns the payload length announced by the first frame header that exceeds ``limit`` (once;
    the connection is then being closed), else None. It keeps following the stream after that, so that
    ``close_received`` tells when the client's close frame has arrived: a server that has sent its close reads on
    until then, or the client, still sending the rest of a large frame, would be reset instead of closed.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._header = bytearray()
        self._skip = 0  # payload bytes of the current frame still to come
        self._opcode = 0
        self.tripped = False
        self.close_received = False

    def feed(self, data: bytes | bytearray | memoryview) -> int | None:
        oversize = None
        view = memoryview(data)
        while view and not self.close_received:
            if self._skip:
                step = min(self._skip, len(view))
                self._skip -= step
                view = view[step:]
                if not self._skip:
                    self._frame_done()
                continue
            need = self._header_size()
            take = min(need - len(self._header), len(view))
            self._header += view[:take]
            view = view[take:]
            if len(self._header) < need or need != self._header_size():
                continue  # more of this header to come (its size grew once the length byte was seen)
            length = self._payload_length()
            self._opcode = self._header[0] & 0x0F
            self._header.clear()
            if self.limit > 0 and length > self.limit and not self.tripped:
                self.tripped = True
                oversize = length
            self._skip = length
            if not length:
                self._frame_done()
        return oversize

    def _frame_done(self) -> None:
        if self._opcode == 0x8:
            self.close_received = True

    def _header_size(self) -> int:
        """Bytes of the current header as far as known: 2, then with the extended length and the mask key."""
        if len(self._header) < 2:
            return 2
        second = self._header[1]
        size = 2 + {126: 2, 127: 8}.get(second & 0x7F, 0)
        return size + (4 if second & 0x80 else 0)

    def _payload_length(self) -> int:
        code = self._header[1] & 0x7F
        if code == 126:
            return int.from_bytes(self._header[2:4], "big")
        if code == 127:
            return int.from_bytes(self._header[2:10], "big")
        return code


def guard_inbound_frames(ws: Any, limit: int, on_oversize: Callable[[int], None]) -> InboundFrameScanner:
    """Call ``on_oversize(length)`` as soon as a frame header from the client of ``ws`` (simple-websocket) announces
    more than ``limit`` bytes. simple-websocket checks the size only as the payload arrives, so a header announcing
    2^62 bytes followed by silence would hold the connection until the heartbeat gives up.

    The hook sits on wsproto's ``receive_data``, which simple-websocket's reader calls with every chunk it reads:
    unlike the socket, it sees the chunk the reader may already be waiting for when the connection is set up.
    """
    protocol = ws.ws
    scanner = InboundFrameScanner(limit)
    receive_data = protocol.receive_data

    def scanned(data: bytes | None) -> None:
        if data:
            length = scanner.feed(data)
            if length is not None:
                on_oversize(length)
        receive_data(data)

    protocol.receive_data = scanned
    return scanner
