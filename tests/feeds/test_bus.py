"""The in-process bus: prefix routing, isolation of failing handlers, bounded queues."""

from __future__ import annotations

import threading

from feeds.bus import EventQueue, InProcessBus


def test_prefix_routing_and_unsubscribe() -> None:
    bus = InProcessBus()
    got: list[tuple[str, object]] = []
    everything: list[str] = []
    stop = bus.subscribe(lambda topic, event: got.append((topic, event)), prefix="candles.AAPL")
    bus.subscribe(lambda topic, event: everything.append(topic))
    bus.publish("candles.AAPL.1m", 1)
    bus.publish("market_data.AAPL", 2)
    stop()
    bus.publish("candles.AAPL.1m", 3)
    assert got == [("candles.AAPL.1m", 1)]
    assert everything == ["candles.AAPL.1m", "market_data.AAPL", "candles.AAPL.1m"]


def test_a_failing_handler_does_not_stop_the_others() -> None:
    bus = InProcessBus()
    got: list[int] = []

    def broken(topic: str, event: object) -> None:
        raise RuntimeError("boom")

    bus.subscribe(broken)
    bus.subscribe(lambda topic, event: got.append(event))  # type: ignore[arg-type]
    bus.publish("x", 1)
    bus.publish("x", 2)
    assert got == [1, 2]
    assert bus.handler_errors == 2


def test_event_queue_drops_oldest_when_full() -> None:
    queue = EventQueue(maxlen=3)
    for i in range(5):
        queue.put("t", i)
    assert queue.dropped == 2
    assert [queue.get(0)[1] for _ in range(3)] == [2, 3, 4]  # type: ignore[index]
    assert queue.get(0.01) is None


def test_event_queue_wakes_a_waiting_consumer() -> None:
    queue = EventQueue(maxlen=10)
    got: list[object] = []
    consumer = threading.Thread(target=lambda: got.append(queue.get(5)))
    consumer.start()
    queue.put("t", "hello")
    consumer.join(5)
    assert got == [("t", "hello")]
