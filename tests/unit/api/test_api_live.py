"""The WebSocket fan-out hub without a network: channel splitting, field filters, and a full queue dropping
only its own client."""

from __future__ import annotations

import asyncio
import json

import pytest

from marketpulse.api.live import Client, LiveHub
from marketpulse.api.metrics import ApiMetrics
from marketpulse.api.routes.ws import SubscribeRequest, apply_request
from marketpulse.stores.pubsub import split_update

pytestmark = pytest.mark.unit

UPDATE = {
    "symbol": "AAPL",
    "tick.price": 185.25,
    "tick.ts": "2024-03-07T23:59:59+00:00",
    "bar_1m.close": 185.0,
    "bar_1m.ts": "2024-03-07T23:58:00+00:00",
    "bar_1s.close": 185.2,
    "ind.rsi_14": 61.5,
    "ind.macd": 0.12,
    "ind.ema_12": 184.0,
    "pred.prob_up": 0.61,
}


def test_an_update_splits_into_channels() -> None:
    parts = {(channel, data.get("interval")): data for channel, _, data in split_update(UPDATE)}
    assert set(parts) == {
        ("ticks", None),
        ("bars", "1min"),
        ("bars", "1s"),
        ("indicators", None),
        ("predictions", None),
    }
    assert parts[("indicators", None)] == {"rsi_14": 61.5, "macd": 0.12, "ema_12": 184.0}
    assert parts[("ticks", None)]["price"] == 185.25


def _client(size: int = 10) -> Client:
    return Client(key_id="k1", queue=asyncio.Queue(maxsize=size))


def _messages(client: Client) -> list[dict[str, object]]:
    out = []
    while not client.queue.empty():
        out.append(json.loads(client.queue.get_nowait()))
    return out


def test_subscriptions_filter_symbols_channels_and_fields() -> None:
    async def scenario() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        hub = LiveHub("redis://unused", ApiMetrics())
        rsi_macd, everything = _client(), _client()
        hub.add(rsi_macd)
        hub.add(everything)
        apply_request(
            rsi_macd,
            SubscribeRequest(op="subscribe", symbols=["AAPL"], channels=["indicators"], fields=["rsi_14", "macd"]),
            hub,
        )
        apply_request(everything, SubscribeRequest(op="subscribe", symbols=["*"], channels=["ticks"]), hub)
        hub.dispatch("mp:live:AAPL", json.dumps({**UPDATE, "published_at": 1700000000.5}))
        hub.dispatch("mp:live:IBM", json.dumps({**UPDATE, "symbol": "IBM"}))
        return _messages(rsi_macd), _messages(everything)

    rsi_macd, everything = asyncio.run(scenario())
    assert rsi_macd == [
        {
            "type": "data",
            "channel": "indicators",
            "symbol": "AAPL",
            "data": {"rsi_14": 61.5, "macd": 0.12},
            "published_at": 1700000000.5,  # when the stream wrote it: clients see the data's age
        }
    ]
    assert [(m["channel"], m["symbol"]) for m in everything] == [("ticks", "AAPL"), ("ticks", "IBM")]


def test_alerts_go_only_to_the_key_that_owns_them() -> None:
    async def scenario() -> tuple[int, int]:
        hub = LiveHub("redis://unused", ApiMetrics())
        mine, other = _client(), Client(key_id="k2", queue=asyncio.Queue(maxsize=10))
        for client in (mine, other):
            apply_request(client, SubscribeRequest(op="subscribe", symbols=["*"], channels=["alerts"]))
            hub.add(client)
        hub.dispatch("mp:alerts:k1", json.dumps({"symbol": "AAPL", "rule_id": "rule_1"}))
        return mine.queue.qsize(), other.queue.qsize()

    assert asyncio.run(scenario()) == (1, 0)


def test_a_full_queue_drops_that_client_and_not_the_others() -> None:
    async def scenario() -> tuple[bool, bool, int, float]:
        metrics = ApiMetrics()
        hub = LiveHub("redis://unused", metrics)
        slow, fast = _client(size=3), _client(size=100)
        for client in (slow, fast):
            apply_request(client, SubscribeRequest(op="subscribe", symbols=["AAPL"], channels=["ticks"]))
            hub.add(client)
        for i in range(10):
            hub.dispatch("mp:live:AAPL", json.dumps({"symbol": "AAPL", "tick.price": 100 + i}))
        dropped = metrics.registry.get_sample_value("marketpulse_ws_dropped_total", {"reason": "slow_consumer"})
        return slow.dropped.is_set(), fast.dropped.is_set(), fast.queue.qsize(), dropped or 0.0

    slow_dropped, fast_dropped, fast_received, dropped = asyncio.run(scenario())
    assert slow_dropped and not fast_dropped
    assert fast_received == 10
    assert dropped == 1.0


def test_the_index_follows_subscribe_unsubscribe_and_disconnect() -> None:
    async def scenario() -> list[int]:
        hub = LiveHub("redis://unused", ApiMetrics())
        client = _client(size=100)
        hub.add(client)
        sizes = []
        apply_request(client, SubscribeRequest(op="subscribe", symbols=["AAPL"], channels=["ticks"]), hub)
        hub.dispatch("mp:live:AAPL", json.dumps({"symbol": "AAPL", "tick.price": 1.0}))
        sizes.append(client.queue.qsize())
        apply_request(client, SubscribeRequest(op="unsubscribe", symbols=["AAPL"], channels=["ticks"]), hub)
        hub.dispatch("mp:live:AAPL", json.dumps({"symbol": "AAPL", "tick.price": 2.0}))
        sizes.append(client.queue.qsize())
        apply_request(client, SubscribeRequest(op="subscribe", symbols=["*"], channels=["ticks"]), hub)
        hub.remove(client)
        sizes.append(len(hub.index))
        return sizes

    assert asyncio.run(scenario()) == [1, 1, 0]  # nothing after unsubscribing; the index empties on disconnect


def test_a_connection_holds_at_most_the_configured_subscriptions() -> None:
    from marketpulse.config import ApiSettings

    async def scenario() -> int:
        hub = LiveHub("redis://unused", ApiMetrics(), ApiSettings(ws_max_subscriptions=4))
        client = _client()
        hub.add(client)
        apply_request(client, SubscribeRequest(op="subscribe", symbols=["AAPL", "IBM"], channels=["ticks"]), hub)
        with pytest.raises(ValueError, match="at most 4"):
            apply_request(client, SubscribeRequest(op="subscribe", symbols=["A", "B", "C"], channels=["ticks"]), hub)
        return len(client.subscriptions)

    assert asyncio.run(scenario()) == 2  # the refused request changed nothing


def test_unsubscribe_and_bad_symbols() -> None:
    client = _client()
    apply_request(client, SubscribeRequest(op="subscribe", symbols=["AAPL", "IBM"], channels=["bars", "ticks"]))
    reply = apply_request(client, SubscribeRequest(op="unsubscribe", symbols=["IBM"], channels=["bars", "ticks"]))
    assert {(s["symbol"], s["channel"]) for s in reply["subscriptions"]} == {("AAPL", "bars"), ("AAPL", "ticks")}
    with pytest.raises(ValueError, match="not symbols"):
        apply_request(client, SubscribeRequest(op="subscribe", symbols=["aapl"], channels=["ticks"]))
