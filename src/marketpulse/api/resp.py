"""A minimal pipelined Redis connection for the API's one hottest command (the latest-quote script).

redis-py's asyncio client spends ~60 us of Python per command (pool checkout, encoder, parser, events), more
than everything else the latest-quote route does. This is an `asyncio.Protocol` on one connection per process:
commands are written at once and matched to replies in order (Redis answers in order), so many requests share
the connection without a pool, and the RESP2 parser handles only what the script returns (bulk strings,
arrays, integers, nil, errors). Everything else in the API keeps using redis-py.

Failures raise redis-py's own ConnectionError / TimeoutError / ResponseError, so the API's error handlers map
them as for any Redis call (503); the next call reconnects.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from typing import Any, cast

from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Reply = bytes | int | list[Any] | None


class _Incomplete(Exception):
    """The buffer ends inside a reply: wait for more bytes."""


def encode_command(args: tuple[bytes | str | int | float, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def parse_reply(buffer: bytes | bytearray, pos: int) -> tuple[Reply | ResponseError, int]:
    """One RESP2 reply starting at `pos`: (value, position after it); raises _Incomplete."""
    end = buffer.find(b"\r\n", pos)
    if end < 0:
        raise _Incomplete
    kind, line = buffer[pos : pos + 1], bytes(buffer[pos + 1 : end])
    pos = end + 2
    if kind == b"$":
        length = int(line)
        if length < 0:
            return None, pos
        if len(buffer) < pos + length + 2:
            raise _Incomplete
        return bytes(buffer[pos : pos + length]), pos + length + 2
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, pos
        items: list[Any] = []
        for _ in range(count):
            item, pos = parse_reply(buffer, pos)
            items.append(item)
        return items, pos
    if kind == b":":
        return int(line), pos
    if kind == b"+":
        return line, pos
    if kind == b"-":
        return ResponseError(line.decode(errors="replace")), pos
    raise RedisConnectionError(f"unexpected RESP reply type {kind!r}")


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiters: deque[tuple[asyncio.Future[Any], float]] = deque()
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        pos = 0
        try:
            while pos < len(self.buffer):
                reply, pos = parse_reply(self.buffer, pos)
                future, _ = self.waiters.popleft()
                if not future.done():
                    if isinstance(reply, ResponseError):
                        future.set_exception(reply)
                    else:
                        future.set_result(reply)
        except _Incomplete:
            pass
        del self.buffer[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.fail_all(RedisConnectionError(f"Redis connection lost: {exc!r}"))

    def fail_all(self, exc: Exception) -> None:
        while self.waiters:
            future, _ = self.waiters.popleft()
            if not future.done():
                future.set_exception(exc)


def script_sha(script: bytes) -> str:
    return hashlib.sha1(script).hexdigest()  # Redis names scripts by their SHA-1


class PipelinedRedis:
    """`await call(*args)` over one shared connection; `evalsha` falls back to EVAL once after NOSCRIPT."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.options: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]
        self.ssl = url.startswith("rediss://")
        self.timeout_s = timeout_s
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._encoded: dict[tuple[str, tuple[str, ...], tuple[Any, ...]], bytes] = {}

    async def _connection(self) -> _Protocol:
        protocol = self._protocol
        if protocol is not None and not protocol.lost:
            return protocol
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._protocol is None or self._protocol.lost:
                self._protocol = await self._connect()
            return self._protocol

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        host, port = self.options.get("host", "localhost"), int(self.options.get("port", 6379))
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(_Protocol, host, port, ssl=self.ssl or None), self.timeout_s
            )
        except (OSError, TimeoutError) as exc:
            raise RedisConnectionError(f"Error connecting to {host}:{port}: {exc!r}") from exc
        if self.options.get("password"):
            auth = [a for a in (self.options.get("username"), self.options["password"]) if a]
            await self._send(protocol, ("AUTH", *auth))
        if self.options.get("db"):
            await self._send(protocol, ("SELECT", self.options["db"]))
        self._arm_watchdog()
        return protocol

    def _arm_watchdog(self) -> None:
        """Once a second: a reply older than the timeout closes the connection (its waiters fail)."""
        if self._watchdog is not None:
            return
        loop = asyncio.get_running_loop()

        def check() -> None:
            protocol = self._protocol
            if protocol is not None and protocol.waiters and protocol.waiters[0][1] < time.monotonic():
                protocol.fail_all(RedisTimeoutError(f"no reply from Redis in {self.timeout_s:g} s"))
                protocol.lost = True
                if protocol.transport is not None:
                    protocol.transport.abort()
            self._watchdog = loop.call_later(1.0, check)

        self._watchdog = loop.call_later(1.0, check)

    async def _send(self, protocol: _Protocol, args: tuple[Any, ...]) -> Any:
        return await self._write(protocol, encode_command(args))

    async def _write(self, protocol: _Protocol, command: bytes) -> Any:
        assert protocol.transport is not None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        protocol.waiters.append((future, time.monotonic() + self.timeout_s))
        protocol.transport.write(command)
        return await future

    async def call(self, *args: Any) -> Any:
        return await self._send(await self._connection(), args)

    async def evalsha(self, script: bytes, sha: str, keys: tuple[str, ...], args: tuple[Any, ...]) -> Any:
        """Run a Lua script by its SHA-1 (`script_sha`), loading it on first use or after a Redis restart.
        The encoded command is cached per (keys, args): the hot path repeats a bounded set of them."""
        command = self._encoded.get((sha, keys, args))
        if command is None:
            if len(self._encoded) > 50_000:
                self._encoded.clear()
            command = self._encoded[(sha, keys, args)] = encode_command(("EVALSHA", sha, len(keys), *keys, *args))
        try:
            return await self._write(await self._connection(), command)
        except ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            return await self.call("EVAL", script, len(keys), *keys, *args)  # loads it for the next calls

    async def aclose(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None
