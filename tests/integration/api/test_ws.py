"""The WebSocket against a real API process and the test stack's Redis: updates published the way the market
job publishes them (RedisWriter) reach exactly the subscribed clients; a client that stops reading is dropped
with close code 4001 while the others keep receiving everything."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.protocol import State
from websockets.sync.client import ClientConnection, connect
from websockets.uri import parse_uri

from integration.api.test_api_support import ARTIFACTS, api_server, create_key
from marketpulse.config import Settings
from marketpulse.stack.manager import Stack
from marketpulse.stores.redis_store import RedisWriter, redis_section

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(stack: Stack, settings: Settings) -> Iterator[str]:
    with api_server(settings, ARTIFACTS / "ws-api.log", ws_queue_size="32", ws_heartbeat_s="0.5") as base:
        yield base.replace("http://", "ws://") + "/v1/ws"


@pytest.fixture(scope="module")
def key(settings: Settings, stack: Stack) -> str:
    return create_key(settings, "test_ws")[1]


@pytest.fixture
def writer(settings: Settings) -> Iterator[RedisWriter]:
    writer = RedisWriter(redis_section(settings), settings.stream.redis_ttl_s)
    yield writer
    writer.close()


def _symbol() -> str:
    return "W" + uuid.uuid4().hex[:6].upper()


def _subscribe(ws: ClientConnection, **request: Any) -> dict[str, Any]:
    ws.send(json.dumps({"op": "subscribe", **request}))
    while True:
        reply = json.loads(ws.recv(timeout=5))
        if reply["type"] != "heartbeat":
            return dict(reply)


def _data(ws: ClientConnection, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """The next `count` data messages (heartbeats skipped)."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < count:
        message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if message["type"] == "data":
            out.append(message)
    return out


def _quiet(ws: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    """Data messages arriving within `seconds` (expected: none)."""
    got = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            message = json.loads(ws.recv(timeout=deadline - time.monotonic()))
        except TimeoutError:
            break
        if message["type"] == "data":
            got.append(message)
    return got


def test_no_key_no_socket(server: str) -> None:
    with pytest.raises((InvalidStatus, ConnectionClosed)), connect(server) as ws:
        ws.recv(timeout=5)
    with pytest.raises((InvalidStatus, ConnectionClosed)), connect(server + "?api_key=mpk_bad") as ws:
        ws.recv(timeout=5)


def test_clients_get_only_their_symbols_channels_and_fields(server: str, key: str, writer: RedisWriter) -> None:
    aapl, ibm = _symbol(), _symbol()
    with (
        connect(server, additional_headers={"X-API-Key": key}) as rsi_only,
        connect(server, additional_headers={"X-API-Key": key}) as ticks_all,
    ):
        reply = _subscribe(rsi_only, symbols=[aapl], channels=["indicators"], fields=["rsi_14", "macd"])
        assert reply["subscriptions"] == [{"symbol": aapl, "channel": "indicators", "fields": ["macd", "rsi_14"]}]
        _subscribe(ticks_all, symbols=[aapl, ibm], channels=["ticks"])
        time.sleep(0.3)
        for symbol in (aapl, ibm):
            writer.update_latest(
                {
                    symbol: {
                        "tick.price": 101.5,
                        "tick.ts": "2024-03-07T15:00:00+00:00",
                        "ind.ts": "2024-03-07T14:59:00+00:00",
                        "ind.rsi_14": 55.0,
                        "ind.macd": 0.2,
                        "ind.ema_12": 100.0,
                        "bar_1m.close": 101.0,
                    }
                }
            )
        (indicators,) = _data(rsi_only, 1)
        published_at = indicators.pop("published_at")  # when the stream's writer published it (unix s)
        assert 0 <= time.time() - published_at < 30
        assert indicators == {
            "type": "data",
            "channel": "indicators",
            "symbol": aapl,
            "data": {"ts": "2024-03-07T14:59:00+00:00", "rsi_14": 55.0, "macd": 0.2},
        }
        assert _quiet(rsi_only, 0.5) == []  # nothing of IBM, no ticks, no bars
        ticks = _data(ticks_all, 2)
        assert [(m["channel"], m["symbol"], m["data"]["price"]) for m in ticks] == [
            ("ticks", aapl, 101.5),
            ("ticks", ibm, 101.5),
        ]


def test_idle_connections_get_heartbeats_and_pings_get_pongs(server: str, key: str) -> None:
    with connect(server, additional_headers={"X-API-Key": key}) as ws:
        first = json.loads(ws.recv(timeout=3))
        assert first["type"] == "heartbeat" and first["ts"] > 0
        ws.send('{"op": "ping"}')
        replies = [json.loads(ws.recv(timeout=3))["type"] for _ in range(2)]
        assert "pong" in replies
        ws.send('{"op": "subscribe", "symbols": ["bad symbol"]}')
        replies = [json.loads(ws.recv(timeout=3)) for _ in range(2)]
        assert any(r["type"] == "error" and "not symbols" in r["message"] for r in replies)


class StuckClient:
    """A WebSocket client on a raw socket with a tiny receive buffer that stops reading after subscribing, as a
    stuck program would; websockets' sans-I/O protocol parses what it finally reads."""

    def __init__(self, url: str, key: str) -> None:
        host, port = url.removeprefix("ws://").split("/")[0].split(":")
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect((host, int(port)))
        self.protocol = ClientProtocol(parse_uri(url), max_size=None)
        request = self.protocol.connect()
        request.headers["X-API-Key"] = key
        self.protocol.send_request(request)
        self._flush()
        while self.protocol.state is State.CONNECTING:
            self.protocol.receive_data(self.sock.recv(65536))
        assert self.protocol.handshake_exc is None, self.protocol.handshake_exc

    def _flush(self) -> None:
        self.sock.sendall(b"".join(self.protocol.data_to_send()))

    def send(self, text: str) -> None:
        self.protocol.send_text(text.encode())
        self._flush()

    def read_until_closed(self, timeout_s: float) -> int | None:
        """Read everything until the server's close frame; its code (None if the socket ended without one)."""
        self.sock.settimeout(timeout_s)
        while self.protocol.close_rcvd is None:
            data = self.sock.recv(1 << 20)
            if not data:
                return None
            self.protocol.receive_data(data)
            self.protocol.events_received()
        return self.protocol.close_rcvd.code

    def close(self) -> None:
        self.sock.close()


def _dropped(base: str) -> float:
    text = httpx.get(base.replace("ws://", "http://").removesuffix("/v1/ws") + "/metrics").text
    line = next(
        (x for x in text.splitlines() if x.startswith('marketpulse_ws_dropped_total{reason="slow_consumer"}')), ""
    )
    return float(line.split()[-1]) if line else 0.0


def test_a_slow_client_is_dropped_and_the_others_get_everything(server: str, key: str, writer: RedisWriter) -> None:
    symbol = _symbol()
    padding = "x" * 32_000  # large messages fill the stuck client's socket buffers quickly
    dropped_before = _dropped(server)
    stuck = StuckClient(server, key)
    try:
        stuck.send(json.dumps({"op": "subscribe", "symbols": [symbol], "channels": ["ticks"]}))
        with connect(server, additional_headers={"X-API-Key": key}, max_size=2**22) as fast:
            _subscribe(fast, symbols=[symbol], channels=["ticks"])
            time.sleep(0.3)
            sent, received = 0, []
            while _dropped(server) == dropped_before:
                assert sent < 2000, "the stuck client was never dropped"
                for _ in range(16):
                    writer.update_latest({symbol: {"tick.price": float(sent), "tick.note": padding}})
                    sent += 1
                received += _data(fast, 16)  # the fast client keeps reading and is never dropped
            # Dropped: reading now, the stuck client gets what its buffers held, then close code 4001.
            assert stuck.read_until_closed(timeout_s=20) == 4001
            for _ in range(32):  # and the others go on receiving
                writer.update_latest({symbol: {"tick.price": float(sent), "tick.note": padding}})
                sent += 1
            received += _data(fast, 32)
        assert [m["data"]["price"] for m in received] == [float(i) for i in range(sent)]
    finally:
        stuck.close()
