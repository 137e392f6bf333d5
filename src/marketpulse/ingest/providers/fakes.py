"""Loopback fakes of the provider WebSockets: their real wire formats, replaying recorded frames.

A recording is a .jsonl file with one server frame per line exactly as received (a malformed frame stays
malformed). The fakes check credentials like the real services, send only the symbols a connection has
subscribed, and can drop the connection once mid-stream. The replay position is shared by all connections,
so after a drop the next connection continues where the last one stopped (no frame sent twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from marketpulse.ingest.providers.base import QuietLogger

log = logging.getLogger(__name__)
# The fakes see credentials in requests and frames, so their websockets logs stay above DEBUG too.
_WS_LOGGER = QuietLogger(log, {})

#: Close code of a deliberate drop: "service restart", as providers send when they cycle a server.
DROP_CODE = 1012
#: Credentials the fakes accept (never valid anywhere else).
FAKE_KEY, FAKE_SECRET = "fake-key", "fake-secret"
#: Recordings that ship with the package (package data), one `<provider>.jsonl` per provider.
RECORDINGS = Path(__file__).parent / "recordings"


def default_recording(provider: str) -> Path:
    """The shipped recording the fake of provider replays unless told otherwise."""
    return RECORDINGS / f"{provider}.jsonl"


def load_recording(path: Path) -> list[str]:
    """The frames of a recording, one per non-blank line."""
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def with_key(item: Any, key: str, value: object) -> Any:
    """A copy of a JSON object with key set (anything that is not an object is returned as is)."""
    return {**item, key: value} if isinstance(item, dict) else item


@dataclass
class Subscriptions:
    """What one connection has subscribed: channel -> symbols (Finnhub has the one channel "trades")."""

    channels: dict[str, set[str]] = field(default_factory=dict)
    authenticated: bool = False
    first: asyncio.Event = field(default_factory=asyncio.Event)

    def symbols(self, channel: str) -> set[str]:
        return self.channels.setdefault(channel, set())

    def wants(self, channel: str, symbol: object) -> bool:
        chosen = self.channels.get(channel, set())
        return symbol in chosen or "*" in chosen

    def any(self) -> bool:
        return any(self.channels.values())


class FakeProviderServer(ABC):
    """A loopback WebSocket server replaying a recording; use as `async with Fake(...) as fake: fake.url`."""

    def __init__(
        self,
        recording: Sequence[str],
        *,
        interval_s: float = 0.005,
        drop_after: int | None = None,
        loop: bool = False,
        settle_s: float = 0.05,
        retime: bool = False,
    ) -> None:
        self.frames = list(recording)
        self.retime = retime
        self.interval_s = interval_s
        self.drop_after = drop_after
        self.loop = loop
        self.settle_s = settle_s
        self.cursor = 0
        #: Frames sent, in order, over all connections (after subscription filtering).
        self.sent: list[str] = []
        #: Monotonic time of every handshake, accepted or refused (to observe a client's backoff).
        self.attempts: list[float] = []
        #: Subscriptions of the latest connection.
        self.subscriptions = Subscriptions()
        #: Set when the recording has been replayed to its end (never, with loop=True).
        self.exhausted = asyncio.Event()
        self.drops = 0
        self._server: Server | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> Self:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._process_request, logger=_WS_LOGGER, compression=None
        )
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def url(self) -> str:
        """ws:// base URL of the fake (each provider's settings say what to append)."""
        return f"ws://127.0.0.1:{self.port}"

    # --- what each fake defines -----------------------------------------------------------------

    @abstractmethod
    def refuse(self, request: Request) -> tuple[HTTPStatus, str] | None:
        """Refuse the HTTP upgrade (status, body), or None to accept."""

    async def greet(self, ws: ServerConnection) -> None:
        """Frames the server sends right after the upgrade."""

    @abstractmethod
    async def on_message(self, ws: ServerConnection, message: str, subs: Subscriptions) -> None:
        """Answer one client frame (auth, subscribe, unsubscribe)."""

    @abstractmethod
    def filter(self, frame: str, subs: Subscriptions) -> str | None:
        """The frame as this connection would see it (only subscribed symbols), or None if nothing is left."""

    @abstractmethod
    def stamp_now(self, frame: str) -> str:
        """The frame with every trade time set to now (for demos: a looped recording then looks live)."""

    # --- the server -----------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.attempts.append(time.monotonic())
        refusal = self.refuse(request)
        return None if refusal is None else connection.respond(*refusal)

    async def _handle(self, ws: ServerConnection) -> None:
        subs = self.subscriptions = Subscriptions()
        streamer = asyncio.create_task(self._stream(ws, subs))
        try:
            await self.greet(ws)
            async for message in ws:
                await self.on_message(ws, message if isinstance(message, str) else message.decode(), subs)
        except ConnectionClosed:
            pass
        finally:
            streamer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await streamer

    async def _stream(self, ws: ServerConnection, subs: Subscriptions) -> None:
        # Wait for the first subscription, then briefly for the rest of a per-symbol burst (Finnhub).
        await subs.first.wait()
        await asyncio.sleep(self.settle_s)
        with contextlib.suppress(ConnectionClosed):
            while await self._next(ws, subs):
                await asyncio.sleep(self.interval_s)

    async def _next(self, ws: ServerConnection, subs: Subscriptions) -> bool:
        """Send the frame at the cursor if this connection wants it; False when the stream should end."""
        if self.cursor >= len(self.frames):
            if not self.loop:
                self.exhausted.set()
                return False
            self.cursor = 0
        frame = self.filter(self.frames[self.cursor], subs)
        if frame is not None and self.retime:
            frame = self.stamp_now(frame)
        if frame is not None:
            await ws.send(frame)  # if the client is gone this raises and the cursor stays: resent next time
            self.sent.append(frame)
        self.cursor += 1
        if frame is not None and self.drop_after is not None and len(self.sent) == self.drop_after:
            self.drops += 1
            await ws.close(DROP_CODE, "service restart")
            return False
        return True
