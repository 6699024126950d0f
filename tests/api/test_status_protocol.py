"""The ``status`` message, named once in api/protocol.py and encoded for each dialect as the other messages are."""

from __future__ import annotations

import orjson
import pytest

from api import protocol as p
from feeds.watchdog import DataState, SymbolStatus

STATUS = SymbolStatus("AAPL", DataState.STALLED, 1_705_314_598.12, "the feed has completed no update for 2.0 s")
FIELDS = {"state": "stalled", "symbol": "AAPL", "since": "2024-01-15T10:29:58.120Z",
          "reason": "the feed has completed no update for 2.0 s"}


def test_envelope_status_has_no_channel_and_takes_a_seq() -> None:
    body = p.encode_status(p.ENVELOPE, STATUS, 1_705_314_600.0)
    message = orjson.loads(p.with_seq(body, 7))
    assert message == {"seq": 7, "type": "status", "timestamp": "2024-01-15T10:30:00.000Z", "data": FIELDS}


@pytest.mark.parametrize("dialect", [p.FLAT_PRICE, p.FLAT_CANDLES])
def test_flat_status_has_its_fields_at_the_top(dialect: str) -> None:
    message = orjson.loads(p.encode_status(dialect, STATUS, 1_705_314_600.0))
    assert message == {"type": "status", **FIELDS, "timestamp": "2024-01-15T10:30:00.000Z"}


def test_every_state_is_a_wire_value() -> None:
    assert [s.value for s in DataState] == ["live", "stale", "no_data", "stalled"]
    assert p.MessageType.STATUS.value == "status"
