"""The symbol universe over HTTP and WebSocket: the search route, 404 outside the universe (and the switch that lifts
it), currency pairs written without =X, and numbers on the wire with the instrument's decimals and whole volumes."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import requests
import websocket
from tests_support import WsClient, wait_for

PAIRS = {"EURUSD": "EURUSD=X", "GBPUSD": "GBPUSD=X", "USDJPY": "JPY=X", "AUDUSD": "AUDUSD=X", "USDCAD": "CAD=X",
         "USDCHF": "CHF=X", "NZDUSD": "NZDUSD=X"}
PRECISION = {"EURUSD": 5, "GBPUSD": 5, "USDJPY": 3, "AUDUSD": 5, "USDCAD": 5, "USDCHF": 5, "NZDUSD": 5, "AAPL": 2,
             "ES=F": 2}
PRICE_FIELDS = ("price", "bid", "ask", "spread", "change", "open", "high", "low", "close")


def exact(text: str) -> Any:
    """JSON with every non-integer number as the Decimal written on the wire (0.15000000000000568 stays that)."""
    return json.loads(text, parse_float=Decimal)


def decimals(value: Any) -> int:
    return max(0, -value.as_tuple().exponent) if isinstance(value, Decimal) else 0


def check_numbers(data: dict[str, Any], precision: int) -> None:
    for name in PRICE_FIELDS:
        if data.get(name) is not None:
            assert decimals(data[name]) <= precision, (name, data[name], data)
    if data.get("change_percent") is not None:
        assert decimals(data["change_percent"]) <= 4, data
    if "volume" in data:
        assert isinstance(data["volume"], int), data  # 1234, never 1234.0


def test_search_route(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(start_feed=False)
    url = server.base_url + "/api/v1/symbols"
    response = requests.get(url, params={"q": "aap", "limit": 10}, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    symbols = response.json()["symbols"]
    assert [s["symbol"] for s in symbols[:2]] == ["AAP", "AAPL"]
    assert symbols[1] == {"symbol": "AAPL", "name": "Apple Inc.", "asset_class": "equity", "tick_size": 0.01,
                          "precision": 2}
    futures = requests.get(url, params={"q": "gold"}, timeout=10).json()["symbols"]
    assert futures[0] == {"symbol": "GC=F", "name": "Gold Futures", "asset_class": "future", "tick_size": 0.1,
                          "precision": 1}
    assert len(futures) == 10  # the default limit
    assert requests.get(url, params={"q": "eurusd"}, timeout=10).json()["symbols"][0]["symbol"] == "EURUSD=X"
    assert len(requests.get(url, params={"q": "a", "limit": 3}, timeout=10).json()["symbols"]) == 3
    assert requests.get(url, params={"q": "no such company"}, timeout=10).json() == {"symbols": []}
    for params in ({}, {"q": ""}, {"q": "   "}, {"q": "x" * 51}, {"q": "a", "limit": 0}, {"q": "a", "limit": 51},
                   {"q": "a", "limit": "many"}):
        refused = requests.get(url, params=params, timeout=10)
        assert refused.status_code == 400, params
        assert refused.json()["error"]["code"] == "invalid_parameter", params


def test_symbols_outside_the_universe_are_404(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server()
    for path in ("/api/v1/market-data/ZZZZ", "/api/v1/market-data/ZZZZ/history",
                 "/api/v1/market-data/ZZZZ/options", "/api/v1/signals/symbol/ZZZZ"):
        response = requests.get(server.base_url + path, timeout=30)
        assert response.status_code == 404, path
        error = response.json()["error"]
        assert error["code"] == "unknown_symbol" and "ZZZZ" in error["message"], path
    assert requests.get(server.base_url + "/api/v1/market-data/MSFT", timeout=10).status_code == 200
    assert "ZZZZ" not in server.services.feed.symbols


def test_sim_any_symbol_keeps_pricing_any_ticker(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(sim_any_symbol="1")
    response = requests.get(server.base_url + "/api/v1/market-data/ZZZZ", timeout=10)
    assert response.status_code == 200 and response.json()["symbol"] == "ZZZZ"


def test_sim_any_symbol_flag_of_the_app(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--symbols", "AAPL", "--sim-any-symbol")
    assert requests.get(server.base_url + "/api/v1/market-data/ZZZZ", timeout=10).status_code == 200


def test_currency_pairs_over_rest(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(symbols="AAPL", start_feed=False)
    end = int(time.time()) // 3600 * 3600 - 86_400  # a fixed past window: both spellings give the same candles
    for written, listed in PAIRS.items():
        quote = requests.get(f"{server.base_url}/api/v1/market-data/{written.lower()}", timeout=10)
        assert quote.status_code == 200, quote.text
        body = exact(quote.text)
        assert body["symbol"] == written
        check_numbers(body, PRECISION[written])
        history = {}
        for symbol in (written, listed):
            response = requests.get(f"{server.base_url}/api/v1/market-data/{symbol}/history",
                                    params={"interval": "15m", "period": "5d", "end": end}, timeout=10)
            assert response.status_code == 200, response.text
            history[symbol] = exact(response.text)
        assert history[written]["symbol"] == written
        assert history[written]["data"] == history[listed]["data"] and len(history[written]["data"]) > 400
        for candle in history[written]["data"]:
            check_numbers(candle, PRECISION[written])
    eurusd = exact(requests.get(server.base_url + "/api/v1/market-data/EURUSD", timeout=10).text)
    assert Decimal("0.9") < eurusd["price"] < Decimal("1.3")
    assert max(decimals(eurusd[name]) for name in ("price", "bid", "ask")) == 5


def test_quotes_of_other_precisions_over_rest(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(start_feed=False)
    for symbol, precision in (("AAPL", 2), ("ES=F", 2)):
        for _ in range(20):
            check_numbers(exact(requests.get(f"{server.base_url}/api/v1/market-data/{symbol}", timeout=10).text),
                          precision)
        candles = exact(requests.get(f"{server.base_url}/api/v1/market-data/{symbol}/history",
                                     params={"interval": "1m", "period": "1d"}, timeout=10).text)["data"]
        for candle in candles:
            check_numbers(candle, precision)
        if symbol == "ES=F":
            assert all(candle["close"] % Decimal("0.25") == 0 for candle in candles)


def test_currency_pairs_and_precision_over_websocket(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(symbols="AAPL", update_interval="0.05")
    ws = websocket.create_connection(server.ws_url + "/ws", timeout=10)
    try:
        for symbol in ("EURUSD", "USDJPY", "AAPL"):
            for channel in ("market_data", "ticks"):
                ws.send(json.dumps({"type": "subscribe", "data": {"channel": channel, "symbol": symbol.lower()}}))
            ws.send(json.dumps({"type": "subscribe", "data": {"channel": "candles", "symbol": symbol,
                                                              "timeframe": "1m"}}))
        seen: dict[tuple[str, str], int] = {}

        def enough() -> bool:
            frame = exact(ws.recv())
            for message in frame["data"] if frame["type"] == "batch" else [frame]:
                data = message.get("data")
                if message["type"] not in ("market_data", "tick", "candle_update", "full_update"):
                    continue
                symbol = data["symbol"]
                assert symbol in PRECISION, message  # echoed as sent (upper-cased), never as EURUSD=X
                check_numbers(data, PRECISION[symbol])
                if "candle" in data:
                    check_numbers(data["candle"], PRECISION[symbol])
                key = (message["type"], symbol)
                seen[key] = seen.get(key, 0) + 1
            return all(seen.get((kind, s), 0) >= 5 for kind in ("market_data", "tick", "candle_update")
                       for s in ("EURUSD", "USDJPY", "AAPL"))

        wait_for(enough, 30, 0, "five quotes, ticks and candles of each symbol")
    finally:
        ws.close()
    assert {"EURUSD", "USDJPY"} <= set(server.services.feed.symbols)


def test_subscribing_to_a_symbol_outside_the_universe_is_refused_at_once(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(symbols="AAPL")
    client = WsClient(server.ws_url + "/ws")
    try:
        assert client.recv()["type"] == "welcome"
        client.send({"type": "subscribe", "data": {"channel": "market_data", "symbol": "ZZZZ"}})
        error = client.recv()
        assert error["type"] == "error" and error["data"]["code"] == "invalid_symbol"
        assert error["data"]["message"].startswith("unknown symbol") and "ZZZZ" in error["data"]["message"]
        client.send({"type": "subscribe", "data": {"channel": "market_data", "symbol": "MSFT"}})
        assert client.recv_until(lambda m: m["type"] == "subscribed")["data"]["symbol"] == "MSFT"
    finally:
        client.close()
    assert "ZZZZ" not in server.services.feed.symbols
    # A seed-dialect URL naming one is closed with 1008 and the reason.
    ws = websocket.create_connection(server.ws_url + "/ws/market/ZZZZ/1m", timeout=10)
    try:
        opcode, payload = ws.recv_data()
        while opcode != websocket.ABNF.OPCODE_CLOSE:
            opcode, payload = ws.recv_data()
        assert int.from_bytes(payload[:2], "big") == 1008 and b"ZZZZ" in payload
    finally:
        ws.close()
