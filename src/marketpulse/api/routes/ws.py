"""`/v1/ws`: live updates per symbol and channel, with field filters, heartbeats and slow-client dropping.

Protocol (JSON text frames):
  -> {"op": "subscribe", "symbols": ["AAPL"], "channels": ["indicators"], "fields": ["rsi_14", "macd"]}
  <- {"type": "subscribed", "subscriptions": [{"symbol": "AAPL", "channel": "indicators", "fields": [...]}]}
  -> {"op": "unsubscribe", "symbols": ["AAPL"], "channels": ["indicators"]}
  -> {"op": "ping"}                                   <- {"type": "pong"}
  <- {"type": "data", "channel": "indicators", "symbol": "AAPL", "data": {"ts": ..., "rsi_14": ..., "macd": ...}}
  <- {"type": "heartbeat", "ts": <unix seconds>}     after `api.ws_heartbeat_s` without other traffic
  <- {"type": "error", "message": ...}              for a bad request (the connection stays open)
Symbols may be "*" (every symbol). Channels: ticks, bars, indicators, predictions, sentiment, alerts (alerts are
those of the connection's own key). Close codes: 1008 no or bad key; 4001 the client read too slowly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field, ValidationError

from marketpulse.api.auth import API_KEY_HEADER, Authenticator, UnauthenticatedError
from marketpulse.api.live import ALL_SYMBOLS, SLOW_CONSUMER_CLOSE, Channel, Client, LiveHub
from marketpulse.contracts.market import SYMBOL_PATTERN
from marketpulse.errors import MarketPulseError

log = logging.getLogger(__name__)
router = APIRouter(tags=["live"])
_SYMBOL = re.compile(SYMBOL_PATTERN)
POLICY_VIOLATION_CLOSE = 1008
SLOW_CLOSE_TIMEOUT_S = 30.0
ALL_CHANNELS: tuple[Channel, ...] = ("ticks", "bars", "indicators", "predictions", "sentiment", "alerts")


class SubscribeRequest(BaseModel):
    op: str = Field(pattern="^(subscribe|unsubscribe|ping)$")
    symbols: list[str] = Field(default_factory=list, max_length=1000)
    channels: list[Channel] = Field(default_factory=lambda: list(ALL_CHANNELS))
    fields: list[str] | None = Field(None, max_length=100)


def _validate_symbols(symbols: list[str]) -> None:
    bad = [s for s in symbols if s != ALL_SYMBOLS and not _SYMBOL.match(s)]
    if bad:
        raise ValueError(f"not symbols: {', '.join(bad[:5])} (upper-case tickers or '*')")


def apply_request(client: Client, request: SubscribeRequest, hub: LiveHub | None = None) -> dict[str, Any]:
    """Change the client's subscriptions (and the hub's index of them); returns the reply to send."""
    if request.op == "ping":
        return {"type": "pong"}
    _validate_symbols(request.symbols)
    before = set(client.subscriptions)
    fields = frozenset(request.fields) if request.fields is not None else None
    for symbol in request.symbols:
        for channel in request.channels:
            if request.op == "subscribe":
                client.subscriptions[(symbol, channel)] = fields
            else:
                client.subscriptions.pop((symbol, channel), None)
    limit = hub.settings.ws_max_subscriptions if hub is not None else None
    if limit is not None and len(client.subscriptions) > limit:
        for key in set(client.subscriptions) - before:  # all or nothing: the request is refused whole
            del client.subscriptions[key]
        raise ValueError(f"at most {limit} (symbol, channel) subscriptions per connection; ask for fewer")
    if hub is not None:
        hub.reindex(client, before)
    listed = [
        {"symbol": s, "channel": c, "fields": sorted(f) if f is not None else None}
        for (s, c), f in sorted(client.subscriptions.items())
    ]
    return {"type": "subscribed" if request.op == "subscribe" else "unsubscribed", "subscriptions": listed}


async def _send_loop(websocket: WebSocket, client: Client) -> None:
    """Queue -> socket (the hub queues heartbeats into idle clients' queues)."""
    while True:
        await websocket.send_text(await client.queue.get())


async def _receive_loop(websocket: WebSocket, client: Client, hub: LiveHub) -> None:
    while True:
        raw = await websocket.receive_text()
        try:
            request = SubscribeRequest.model_validate(json.loads(raw))
            reply = apply_request(client, request, hub)
        except (ValueError, ValidationError) as exc:
            reply = {"type": "error", "message": str(exc)[:500]}
        try:
            client.queue.put_nowait(json.dumps(reply))
        except asyncio.QueueFull:
            client.dropped.set()


@router.websocket("/v1/ws")
async def live(websocket: WebSocket) -> None:
    """Authenticated by `X-API-Key` header or `api_key` query parameter (read scope)."""
    authenticator: Authenticator = websocket.app.state.authenticator
    settings = websocket.app.state.settings
    plain = websocket.headers.get(API_KEY_HEADER) or websocket.query_params.get("api_key")
    try:
        key = await authenticator.authenticate(plain, websocket.client.host if websocket.client else None)
        if not key.allows("read"):
            raise UnauthenticatedError("the WebSocket needs the 'read' scope")
    except UnauthenticatedError as exc:
        await websocket.close(code=POLICY_VIOLATION_CLOSE, reason=str(exc)[:120])
        return
    except MarketPulseError as exc:  # key store down: try again later
        await websocket.close(code=1013, reason=str(exc)[:120])
        return
    hub: LiveHub = websocket.app.state.hub
    await websocket.accept()
    client = Client(key_id=key.key_id, queue=asyncio.Queue(maxsize=settings.api.ws_queue_size))
    hub.add(client)
    tasks = [
        asyncio.create_task(_send_loop(websocket, client)),
        asyncio.create_task(_receive_loop(websocket, client, hub)),
        asyncio.create_task(client.dropped.wait()),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.remove(client)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                await task
    if client.dropped.is_set():
        # Nothing more is queued for it; the close frame goes out once the client reads what its socket
        # buffers hold, or never (after the timeout the server stops waiting; the buffers are bounded).
        with contextlib.suppress(TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
            await asyncio.wait_for(
                websocket.close(code=SLOW_CONSUMER_CLOSE, reason="slow consumer: messages not read in time"),
                SLOW_CLOSE_TIMEOUT_S,
            )
