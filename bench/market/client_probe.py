"""Latency as a client sees it: a Redis pub/sub subscriber (`PSUBSCRIBE mp:live:*`) in its own process that, for
every value the market job publishes, records the receive time minus the value's event time:

- `tick`:   `tick.ts`, the event time of the symbol's newest tick in the batch;
- `bar_1s`: `bar_1s.last_ts`, the event time of the bar's last tick (the bar's close, not its start);
- `bar_1m`: `bar_1m.last_ts`, likewise for the 1 min bar;
- `pred`:   `pred.feature_ts` + 1 min, the end of the bar the prediction was made from.

Each value counts once, at its first receipt (a value republished unchanged is not a new sample). The synthetic
producer stamps ticks with the wall clock at emission, so event time ≈ Kafka CreateTime on this machine.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import time
from array import array
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

#: Published field -> (sample kind, seconds added to the field's time to get the value's event time).
EVENT_FIELDS: dict[str, tuple[str, float]] = {
    "tick.ts": ("tick", 0.0),
    "bar_1s.last_ts": ("bar_1s", 0.0),
    "bar_1m.last_ts": ("bar_1m", 0.0),
    "pred.feature_ts": ("pred", 60.0),
}
CHANNEL_PATTERN = "mp:live:*"


def event_seconds(value: object) -> float | None:
    """Epoch seconds of a published timestamp: ISO-8601 text, or an epoch number in s, ms, µs or ns."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
        for scale in (1.0, 1e3, 1e6, 1e9):  # the first scale that lands after 2001 and before 2286
            if number / scale < 1e10:
                return number / scale if number / scale > 1e9 else None
        return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment.timestamp() if moment.tzinfo is not None else None
    return None


class FirstReceipts:
    """Turns published messages into samples, keeping only each (symbol, kind) value's first receipt."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], object] = {}

    def samples(self, message: Mapping[str, Any], received: float) -> Iterator[tuple[str, float, float]]:
        """(kind, event time in epoch s, receive - event in s) of each new value in the message."""
        symbol = str(message.get("symbol", ""))
        for name, (kind, offset_s) in EVENT_FIELDS.items():
            raw = message.get(name)
            if raw is None or self._last.get((symbol, kind)) == raw:
                continue
            self._last[(symbol, kind)] = raw
            event = event_seconds(raw)
            if event is not None:
                yield kind, event + offset_s, received - (event + offset_s)


class Records:
    """Samples per kind as two compact arrays (event time, latency): 16 bytes a sample, for minutes of load."""

    def __init__(self) -> None:
        self.by_kind: dict[str, tuple[array[float], array[float]]] = {}

    def add(self, kind: str, event: float, latency: float) -> None:
        events, latencies = self.by_kind.setdefault(kind, (array("d"), array("d")))
        events.append(event)
        latencies.append(latency)

    def window(self, since: float, until: float, events_from: float) -> dict[str, list[float]]:
        """kind -> latencies of the values received in [since, until] (epoch s), the same span as the job's own
        samples (so a backlog shows here as it does there), of events at or after `events_from` (the start of
        this window's load: a bar left open by an earlier load is not this load's latency)."""
        return {
            kind: [
                lat
                for ev, lat in zip(events, latencies, strict=True)
                if ev >= events_from and since <= ev + lat <= until
            ]
            for kind, (events, latencies) in self.by_kind.items()
        }

    def drop_until(self, until: float) -> None:
        """Forget the samples received up to `until` (a window already reported)."""
        for kind, (events, latencies) in list(self.by_kind.items()):
            keep = [i for i, (ev, lat) in enumerate(zip(events, latencies, strict=True)) if ev + lat > until]
            self.by_kind[kind] = (array("d", (events[i] for i in keep)), array("d", (latencies[i] for i in keep)))


def _probe_main(redis_url: str, commands: Any, replies: Any) -> None:
    """Child process: subscribe, record, and answer ("window", since, until) requests until ("stop",)."""
    import orjson
    import redis

    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    pubsub.psubscribe(CHANNEL_PATTERN)
    receipts, records = FirstReceipts(), Records()
    counts = {"messages": 0, "undecodable": 0}
    replies.put({"ready": time.time()})
    next_check = 0.0
    while True:
        message = pubsub.get_message(timeout=0.2)
        received = time.time()
        if message is not None:
            counts["messages"] += 1
            try:
                for kind, event, latency in receipts.samples(orjson.loads(message["data"]), received):
                    records.add(kind, event, latency)
            except (orjson.JSONDecodeError, TypeError):
                counts["undecodable"] += 1
        if received < next_check:
            continue
        next_check = received + 0.2
        with contextlib.suppress(queue.Empty):
            command = commands.get_nowait()
            if command[0] == "stop":
                break
            replies.put({"samples": records.window(*command[1:]), **counts})
            records.drop_until(command[2])
    pubsub.close()
    client.close()


class ClientProbe:
    """The subscriber process: start(), then window(since, until) per latency window, then stop()."""

    def __init__(self, redis_url: str) -> None:
        ctx = mp.get_context("spawn")
        self.commands, self.replies = ctx.Queue(), ctx.Queue()
        self.process = ctx.Process(
            target=_probe_main, args=(redis_url, self.commands, self.replies), name="bench-client-probe", daemon=True
        )

    def start(self, timeout_s: float = 60) -> ClientProbe:
        self.process.start()
        self.replies.get(timeout=timeout_s)
        return self

    @property
    def pid(self) -> int:
        return self.process.pid or -1

    def window(self, since: float, until: float, events_from: float, timeout_s: float = 60) -> dict[str, Any]:
        """{"samples": kind -> latencies, "messages": n, "undecodable": n}: see Records.window."""
        self.commands.put(("window", since, until, events_from))
        return dict(self.replies.get(timeout=timeout_s))

    def stop(self) -> None:
        if self.process.is_alive():
            self.commands.put(("stop",))
            self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(10)
