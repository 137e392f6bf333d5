"""Hostile input flood (issue 16, scenario 5): malformed records on every input topic, mixed with valid ones.

Ticks go to a ticks topic read by the market job, posts and articles to the two text topics read by the sentiment
job. Every bad record is one the producers' pydantic contract refuses (checked when it is made), so the goal is
exact: **every bad record in `<topic>.dlq` with an `mp.reason` header, every valid one processed, no job crash**.

Kinds of bad records: random bytes, truncated JSON, wrong types (strings for numbers, numbers/objects/booleans
for strings, a JSON array or scalar instead of an object, a wrong schema version), NaN/inf, negative and zero
prices and sizes, crossed quotes, timestamps far in the past or future or overflowing 64 bits, ~1 MB payloads,
unknown/malformed symbols, Unicode tricks (line separators, zero-width and full-width characters, homoglyphs,
NUL), SQL/CQL-looking strings, unknown extra fields, duplicate keys, deep nesting. Valid records carry
SQL-looking and Unicode text where the contract allows it (a tick's `source`, a post's text), so the stores must
take them as plain data.

    python -m bench.hostile_input --count 100000          # its own stack instance ('hostile', ports +53000)
    python -m bench.hostile_input --count 2000 --only ticks

Prints one row per job (bad records, dead-lettered, with a reason, valid, processed, verdict) and a JSON line.
`make chaos` can call `run_scenario(settings, count)` and read the returned rows.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.kafka_helpers import dead_letters

from marketpulse.config import Settings
from marketpulse.contracts import ContractError, Tick, from_wire, to_wire
from marketpulse.contracts.text import NewsArticle, SocialPost, TextItem

#: Ports of the hostile stack instance (the test stack uses +10000, the benches +30000 and +40000, chaos +46000).
PORT_OFFSET = 53_000
#: Size of the ~1 MB records: just under what the broker takes by default, so a DLQ copy with headers would exceed
#: librdkafka's message.max.bytes (this stopped the market job on every restart before DLQ_MAX_VALUE_BYTES).
BIG_RECORD = 1_048_000
#: Event times of the valid records: a fixed past session, so every record is on time and the bars are final.
START = datetime(2013, 3, 4, 14, 30, tzinfo=UTC)

SQLISH = [
    "'; DROP TABLE ticks; --",
    "AAPL' OR '1'='1",
    "1; DELETE FROM api_keys",
    "x') ; TRUNCATE marketpulse.bars ; --",
    "$(rm -rf /)",
    "${jndi:ldap://x/a}",
    "<script>alert(1)</script>",
]
UNICODE_SYMBOLS = [
    "AAPL\n",  # a final line terminator: Java's `$` matches before it
    "AAPL\r\n",
    "AAPL\u2028",  # line separator
    "AAPL\u0085",  # next line
    "AAPL\u200b",  # zero-width space
    "\u202eLPAA",  # right-to-left override
    "ＡＡＰＬ",  # full-width letters
    "АAPL",  # Cyrillic А
    "A\u0301APL",  # combining accent
    "AAPL\u0000",
    "\ufeffAAPL",  # byte-order mark
]


def _valid_tick(symbol: str, ts: datetime, rng: random.Random, source: str = "hostile") -> Tick:
    price = round(50 + rng.random() * 10, 4)
    return Tick(symbol=symbol, ts=ts, price=price, size=float(rng.randint(1, 500)), source=source)


def _tick_dict(rng: random.Random) -> dict[str, Any]:
    """A valid tick as the wire dict (to be broken)."""
    data: dict[str, Any] = json.loads(to_wire(_valid_tick("HOSTL", START, rng)))
    return data


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


Maker = tuple[str, Callable[[], bytes]]


def _bad_ticks(rng: random.Random) -> list[Maker]:
    """(kind, maker of one bad tick record) for every kind."""

    def field_set(name: str, value: Any, kind: str) -> Maker:
        def make() -> bytes:
            data = _tick_dict(rng)
            data[name] = value
            return _dumps(data)

        return kind, make

    def raw(kind: str, value: Callable[[], bytes]) -> Maker:
        return kind, value

    def truncated() -> bytes:
        wire = to_wire(_valid_tick("HOSTL", START, rng))
        return wire[: rng.randint(1, len(wire) - 1)]

    far_future_ns = int((datetime(2300, 1, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 10**9
    makers: list[Maker] = [
        raw("random-bytes", lambda: bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))),
        raw("random-bytes", lambda: b"\xff\xfe\x00" + bytes(rng.getrandbits(8) for _ in range(40))),
        raw("empty", lambda: b""),
        raw("truncated-json", truncated),
        raw("truncated-json", truncated),
        raw("not-an-object", lambda: b"[1,2,3]"),
        raw("not-an-object", lambda: b'"AAPL"'),
        raw("not-an-object", lambda: b"null"),
        raw("not-an-object", lambda: b"42"),
        field_set("price", "abc", "wrong-type"),
        field_set("size", "ten", "wrong-type"),
        field_set("seq", "x7", "wrong-type"),
        field_set("price", None, "wrong-type"),
        field_set("price", [1.0], "wrong-type"),
        field_set("symbol", 1234, "wrong-type"),
        field_set("symbol", ["AAPL"], "wrong-type"),
        field_set("source", 42, "wrong-type"),
        field_set("source", {"a": 1}, "wrong-type"),
        field_set("source", True, "wrong-type"),
        field_set("source", ["x"], "wrong-type"),
        field_set("bid", "x", "wrong-type"),
        field_set("ask", {"p": 1}, "wrong-type"),
        field_set("seq", 1.5, "wrong-type"),
        field_set("seq", -1, "negative"),
        field_set("ts", "yesterday", "wrong-type"),
        field_set("ts", 1.3623e18, "wrong-type"),
        field_set("ts", True, "wrong-type"),
        field_set("v", "1", "wrong-version"),
        field_set("v", 2, "wrong-version"),
        field_set("v", None, "wrong-version"),
        raw("nan-inf", lambda: _dumps(_tick_dict(rng)).replace(b'"price":', b'"price":NaN,"_":', 1)),
        raw("nan-inf", lambda: _dumps({**_tick_dict(rng)}).replace(b'"size":', b'"size":Infinity,"_":', 1)),
        field_set("price", "NaN", "nan-inf"),
        field_set("price", "Infinity", "nan-inf"),
        field_set("size", "-Infinity", "nan-inf"),
        raw("nan-inf", lambda: _tick_bytes_with(rng, "price", b"1e999")),
        raw("nan-inf", lambda: _tick_bytes_with(rng, "size", b"NaN")),
        field_set("price", -3.0, "negative"),
        field_set("price", 0, "negative"),
        field_set("size", -10.0, "negative"),
        field_set("size", 0.0, "negative"),
        field_set("bid", -1.0, "negative"),
        raw("crossed-quote", lambda: _dumps({**_tick_dict(rng), "bid": 11.0, "ask": 10.0})),
        field_set("ts", 0, "time-far-past"),
        field_set("ts", -1, "time-far-past"),
        field_set("ts", 1_362_407_400_000, "time-far-past"),  # milliseconds sent as ns: 1970
        field_set("ts", far_future_ns, "time-far-future"),
        field_set("ts", 2**63 + 5, "time-overflow"),
        field_set("ts", -(2**63) - 5, "time-overflow"),
        field_set("ts", 10**40, "time-overflow"),
        raw("big-payload", lambda: _padded(_tick_dict(rng), "pad")),
        raw("big-payload", lambda: _padded(_tick_dict(rng), "source")),
        raw("big-payload", lambda: b" " * (BIG_RECORD - 1) + b"{"),
        raw("big-payload", lambda: bytes(rng.getrandbits(8) for _ in range(4000)) * (BIG_RECORD // 4000)),
        field_set("symbol", "ZZZZZZZZZZZZZ", "unknown-symbol"),
        field_set("symbol", "aapl", "unknown-symbol"),
        field_set("symbol", "", "unknown-symbol"),
        field_set("symbol", "1ABC", "unknown-symbol"),
        field_set("source", "", "wrong-type"),
        field_set("source", "s" * 33, "too-long"),
        raw("extra-field", lambda: _dumps({**_tick_dict(rng), "note": "hi"})),
        raw("extra-field", lambda: _dumps({**_tick_dict(rng), "_corrupt_record": "x"})),
        raw("missing-field", lambda: _dumps({k: v for k, v in _tick_dict(rng).items() if k != "size"})),
        raw("missing-field", lambda: _dumps({k: v for k, v in _tick_dict(rng).items() if k != "symbol"})),
        raw("duplicate-key", lambda: _tick_bytes_with(rng, "price", b'12.0,"price":-1.0')),
        raw("duplicate-key", lambda: _tick_bytes_with(rng, "symbol", b'"HOSTL","symbol":"bad sym"')),
        raw("deep-nesting", lambda: b'{"v":1,"symbol":' + b"[" * 5000 + b"]" * 5000 + b"}"),
        raw("huge-number", lambda: _tick_bytes_with(rng, "price", b"1" * 5000)),
    ]
    makers += [field_set("symbol", text, "unicode-trick") for text in UNICODE_SYMBOLS]
    makers += [field_set("symbol", text, "sql-looking") for text in SQLISH]
    return makers


def _padded(data: dict[str, Any], name: str) -> bytes:
    """`data` as JSON of BIG_RECORD bytes, field `name` holding the filler."""
    data[name] = ""
    data[name] = "x" * (BIG_RECORD - len(_dumps(data)))
    return _dumps(data)


def _tick_bytes_with(rng: random.Random, name: str, literal: bytes) -> bytes:
    """A tick's wire bytes with field `name`'s value replaced by a raw JSON literal (for what json.dumps won't
    write: NaN, 1e999, duplicate keys)."""
    data = _tick_dict(rng)
    data[name] = "\x00PLACEHOLDER\x00"
    return _dumps(data).replace(b'"\\u0000PLACEHOLDER\\u0000"', literal)


def _contract_refuses(model: type[Any], raw: bytes) -> bool:
    try:
        from_wire(model, raw)
    except ContractError:
        return True
    return False


@dataclass
class Flood:
    """Records to produce to one topic, in order: (key, value, kind); kind None for a valid record."""

    topic: str
    records: list[tuple[bytes | None, bytes, str | None]] = field(default_factory=list)

    @property
    def bad(self) -> list[bytes]:
        return [value for _, value, kind in self.records if kind is not None]

    @property
    def kinds(self) -> Counter[str]:
        return Counter(kind for _, _, kind in self.records if kind is not None)


def tick_flood(topic: str, bad_count: int, valid_per_symbol: int, symbols: list[str], seed: int = 16) -> Flood:
    """`bad_count` bad ticks (every kind in turn, big payloads at most one in 200) mixed with valid ticks of
    `symbols`, one a second per symbol from START (some with SQL-looking or Unicode sources)."""
    rng = random.Random(seed)
    makers = _bad_ticks(rng)
    big = [m for m in makers if m[0] == "big-payload"]
    small = [m for m in makers if m[0] != "big-payload"]
    flood = Flood(topic)
    valid = []
    sources = ["hostile", *SQLISH[:4], "Ünïcödé ✓", "src\u200b"]
    for second in range(valid_per_symbol):
        for symbol in symbols:
            source = sources[second % len(sources)][:32]
            tick = _valid_tick(symbol, START + timedelta(seconds=second), rng, source=source)
            valid.append((symbol.encode(), to_wire(tick), None))
    bad: list[tuple[bytes | None, bytes, str | None]] = []
    for n in range(bad_count):
        kind, maker = big[n // 200 % len(big)] if n % 200 == 199 else small[n % len(small)]
        value = maker()
        assert _contract_refuses(Tick, value), (kind, value[:200])
        bad.append((rng.choice([None, b"BAD", b"\xff\x00", "ключ".encode()]), value, kind))
    flood.records = _interleave(valid, bad, rng)
    return flood


def _valid_text(symbol: str, n: int, news: bool) -> TextItem:
    published = START + timedelta(seconds=5 * n)
    text = [f"${symbol} beats estimates, bullish", f"{SQLISH[n % len(SQLISH)]} {symbol}", "Ünïcödé ✓ \u202e rtl"][n % 3]
    common: dict[str, Any] = {
        "id": f"{'news' if news else 'x'}:hostile-{symbol}-{n}",
        "author": SQLISH[n % len(SQLISH)][:200],
        "url": f"https://example.invalid/{symbol}/{n}",
        "text": text,
        "published_at": published,
        "ingested_at": published + timedelta(seconds=3),
        "symbols": [symbol],
    }
    if news:
        return NewsArticle(source="news", outlet="Wire", title=text, **common)
    return SocialPost(source="x", **common)


def _bad_texts(rng: random.Random, news: bool) -> list[Maker]:
    def base() -> dict[str, Any]:
        data: dict[str, Any] = json.loads(to_wire(_valid_text("HOSTL", rng.randint(0, 999), news)))
        return data

    def field_set(name: str, value: Any, kind: str) -> Maker:
        def make() -> bytes:
            data = base()
            data[name] = value
            return _dumps(data)

        return kind, make

    far_future_ns = int((datetime(2300, 1, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 10**9
    makers: list[Maker] = [
        ("random-bytes", lambda: bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))),
        ("truncated-json", lambda: to_wire(_valid_text("HOSTL", 1, news))[:-7]),
        ("not-an-object", lambda: b"[]"),
        field_set("text", "", "empty-text"),
        field_set("text", 12345, "wrong-type"),
        field_set("text", {"t": "x"}, "wrong-type"),
        field_set("text", "x" * 10_001, "too-long"),
        field_set("id", "", "wrong-type"),
        field_set("author", ["a"], "wrong-type"),
        field_set("url", None, "wrong-type"),
        field_set("source", "evil", "wrong-type"),
        field_set("source", "reddit" if news else "news", "wrong-type"),
        field_set("symbols", [], "unknown-symbol"),
        field_set("symbols", "HOSTL", "wrong-type"),
        field_set("symbols", ["lower"], "unknown-symbol"),
        field_set("symbols", ["HOSTL\n"], "unicode-trick"),
        field_set("symbols", ["ＡＡＰＬ"], "unicode-trick"),
        field_set("symbols", [SQLISH[0]], "sql-looking"),
        field_set("symbols", [1, 2], "wrong-type"),
        field_set("symbols", ["A"] * 21, "too-long"),
        field_set("published_at", 0, "time-far-past"),
        field_set("published_at", far_future_ns, "time-far-future"),
        field_set("ingested_at", 2**63 + 1, "time-overflow"),
        field_set("published_at", "2013-03-04", "wrong-type"),
        field_set("replayed", "perhaps", "wrong-type"),
        field_set("v", 3, "wrong-version"),
        ("extra-field", lambda: _dumps({**base(), "sql": SQLISH[1]})),
        ("big-payload", lambda: _padded(base(), "text")),
        ("missing-field", lambda: _dumps({k: v for k, v in base().items() if k != "text"})),
        ("nan-inf", lambda: _nan_text(base())),
    ]
    if news:
        makers += [field_set("title", "", "empty-text"), field_set("outlet", 7, "wrong-type")]
    else:
        makers += [field_set("engagement", "many", "wrong-type"), field_set("community", ["r"], "wrong-type")]
    return makers


def _nan_text(data: dict[str, Any]) -> bytes:
    data["published_at"] = "\x00X\x00"
    return _dumps(data).replace(b'"\\u0000X\\u0000"', b"NaN")


def text_flood(topics: tuple[str, str], bad_count: int, valid_per_symbol: int, symbols: list[str]) -> list[Flood]:
    """Bad and valid posts on topics[0], articles on topics[1] (bad_count split between them)."""
    rng = random.Random(61)
    floods = []
    for news, topic in ((False, topics[0]), (True, topics[1])):
        makers = _bad_texts(rng, news)
        valid = [
            (symbol.encode(), to_wire(_valid_text(symbol, n, news)), None)
            for n in range(valid_per_symbol)
            for symbol in symbols
        ]
        bad: list[tuple[bytes | None, bytes, str | None]] = []
        share = bad_count // 2 if not news else bad_count - bad_count // 2
        model: type[TextItem] = NewsArticle if news else SocialPost
        big = [m for m in makers if m[0] == "big-payload"]
        small = [m for m in makers if m[0] != "big-payload"]
        for n in range(share):
            kind, maker = big[0] if n % 200 == 199 else small[n % len(small)]
            value = maker()
            assert _contract_refuses(model, value), (kind, value[:200])
            bad.append((b"BAD", value, kind))
        floods.append(Flood(topic, _interleave(valid, bad, rng)))
    return floods


def _interleave(valid: list[Any], bad: list[Any], rng: random.Random) -> list[Any]:
    """Bad records at random places between the valid ones, which keep their order."""
    slots = sorted(rng.randrange(len(valid) + 1) for _ in bad)
    out, b = [], 0
    for i, record in enumerate(valid):
        while b < len(slots) and slots[b] == i:
            out.append(bad[b])
            b += 1
        out.append(record)
    out.extend(bad[b:])
    return out


# --- Kafka in and out -------------------------------------------------------------------------------------------


def produce(settings: Settings, floods: list[Flood]) -> None:
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "message.max.bytes": 1_048_576,
            "linger.ms": 20,
        }
    )
    for flood in floods:
        for key, value, _ in flood.records:
            while True:
                try:
                    producer.produce(flood.topic, key=key, value=value)
                    break
                except BufferError:
                    producer.poll(0.1)
            producer.poll(0)
    left = producer.flush(120)
    assert left == 0, f"{left} records not delivered"


#: A DLQ keeps at least this many first bytes of a record (EventProducer.reject cuts larger ones to that).
DLQ_PREFIX = 900_000


def _dlq_identity(value: bytes, size: int) -> tuple[bytes, int]:
    """What identifies a record in its DLQ: its first bytes, as a DLQ keeps them, and its original size."""
    return value[:DLQ_PREFIX], size


# --- the verdict ---------------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One job's result under the flood."""

    job: str
    bad: int
    dead_lettered: int
    with_reason: int
    missing: int
    unexpected: int
    valid: int
    processed: int
    crashed: str | None
    seconds: float
    missing_kinds: dict[str, int]
    reasons: dict[str, int]
    #: Resident memory (GiB) of this process and its Spark JVM before and after the job's run: flat under a flood.
    rss_gib_before: str | None = None
    rss_gib_after: str | None = None

    @property
    def ok(self) -> bool:
        return (
            self.crashed is None
            and self.missing == 0
            and self.unexpected == 0
            and self.with_reason == self.bad
            and self.processed == self.valid
        )


def check_dead_letters(
    floods: list[Flood], settings: Settings
) -> tuple[int, int, int, int, Counter[str], Counter[str]]:
    """(dead-lettered, with a reason, bad ones missing, valid ones dead-lettered, missing kinds, reason counts)."""
    dead, reasoned, missing, unexpected = 0, 0, 0, 0
    missing_kinds: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for flood in floods:
        kind_of = {_dlq_identity(v, len(v)): k for _, v, k in flood.records if k is not None}
        expected = Counter(_dlq_identity(value, len(value)) for value in flood.bad)
        # (value, mp.reason, the original's size): a record too large to copy whole is cut short in the DLQ, its
        # size in mp.truncated_from.
        got = [
            (letter.value, letter.reason, int(letter.headers.get("mp.truncated_from", len(letter.value))))
            for letter in dead_letters(settings, flood.topic, len(flood.bad), timeout_s=120.0, settle_s=3.0)
        ]
        dead += len(got)
        reasoned += sum(1 for _, reason, _ in got if reason)
        reasons.update(reason.split(":")[0][:60] for _, reason, _ in got)
        seen = Counter(_dlq_identity(value, size) for value, _, size in got)
        for identity, count in (expected - seen).items():
            missing += count
            missing_kinds[str(kind_of[identity])] += count
        unexpected += sum((seen - expected).values())
    return dead, reasoned, missing, unexpected, missing_kinds, reasons


def tree_rss_gib() -> str:
    """Resident memory (GiB) of this process (the harness, which also keeps every record it sent, and the job's
    Python driver) and of its children (the Spark JVM)."""
    import psutil

    me = psutil.Process()
    children = 0
    for proc in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            children += proc.memory_info().rss
    return f"python {me.memory_info().rss / 2**30:.2f} + JVM {children / 2**30:.2f}"


def print_rows(rows: list[Row]) -> None:
    header = f"{'job':<10} {'bad':>7} {'in DLQ':>7} {'reason':>7} {'missing':>7} {'valid':>7} {'processed':>9} verdict"
    print(header)
    for row in rows:
        verdict = "PASS" if row.ok else f"FAIL {row.crashed or ''} missing kinds {dict(row.missing_kinds)}"
        print(
            f"{row.job:<10} {row.bad:>7} {row.dead_lettered:>7} {row.with_reason:>7} {row.missing:>7} {row.valid:>7} "
            f"{row.processed:>9} {verdict}"
        )
        if row.rss_gib_before is not None:
            print(
                f"{'':<10} memory (this process + its Spark JVM): {row.rss_gib_before} GiB before, "
                f"{row.rss_gib_after} GiB after"
            )


def _lake_ticks(settings: Settings, symbols: list[str]) -> int:
    import pyarrow.parquet as pq
    import s3fs

    from marketpulse.stores.objectstore import s3fs_options

    fs = s3fs.S3FileSystem(**s3fs_options(settings))
    landed = 0
    for symbol in symbols:
        for path in fs.glob(f"{settings.s3.buckets['raw']}/ticks/date={START.date()}/symbol={symbol}/*.parquet"):
            with fs.open(path, "rb") as handle:
                landed += pq.read_table(handle).num_rows
    return landed


def _stored_texts(settings: Settings, symbols: list[str]) -> int:
    from marketpulse.stores.cassandra import cassandra_cluster

    cluster = cassandra_cluster(settings)
    try:
        session = cluster.connect(settings.cassandra.keyspace)
        ids: set[str] = set()
        for symbol in symbols:
            rows = session.execute(
                "SELECT item_id FROM sentiment_items WHERE symbol = %s AND day = %s", (symbol, START.date())
            )
            ids.update(row.item_id for row in rows)
        return len(ids)
    finally:
        cluster.shutdown()


def _until_done(queries: list[Any], sinks: Any) -> str | None:
    """Wait for availableNow queries to end; the first failure's text, or None when none failed."""
    crashed = None
    try:
        for query in queries:
            query.awaitTermination(1800)
            if query.exception() is not None and crashed is None:
                crashed = str(query.exception())[:500]
    finally:
        sinks.close()
    return crashed


def run_ticks(spark: Any, settings: Settings, bad_count: int, run_id: str, valid_per_symbol: int = 120) -> Row:
    """The market job (availableNow) over a fresh ticks topic with the flood; the row of its verdict."""
    from marketpulse.config import StreamSettings
    from marketpulse.stream.market_job import start_market_job

    symbols = [f"H{run_id[:5].upper()}{i}" for i in range(3)]
    topic = f"hostile.ticks.{run_id}"
    flood = tick_flood(topic, bad_count, valid_per_symbol, symbols)
    produce(settings, [flood])
    job_settings = settings.model_copy(
        update={
            "stream": StreamSettings(
                checkpoint_root=str(settings.stack.run_dir / "hostile" / run_id), max_offsets_per_trigger=5_000
            )
        }
    )
    started = time.monotonic()
    queries, sinks = start_market_job(spark, job_settings, available_now=True, topic=topic)
    crashed = _until_done(queries, sinks)
    seconds = time.monotonic() - started
    dead, reasoned, missing, unexpected, kinds, reasons = check_dead_letters([flood], settings)
    valid = len(flood.records) - len(flood.bad)
    return Row(
        "ticks",
        len(flood.bad),
        dead,
        reasoned,
        missing,
        unexpected,
        valid,
        _lake_ticks(settings, symbols),
        crashed,
        seconds,
        dict(kinds),
        dict(reasons),
    )


def run_texts(spark: Any, settings: Settings, bad_count: int, run_id: str, valid_per_symbol: int = 20) -> Row:
    """The sentiment job (availableNow, VADER) over fresh text topics with the flood."""
    from marketpulse.stream.sentiment_job import start_sentiment_job

    symbols = [f"T{run_id[:5].upper()}{i}" for i in range(2)]
    topics = (f"hostile.posts.{run_id}", f"hostile.news.{run_id}")
    floods = text_flood(topics, bad_count, valid_per_symbol, symbols)
    produce(settings, floods)
    job_settings = settings.model_copy(
        update={
            "stream": settings.stream.model_copy(
                update={"checkpoint_root": str(settings.stack.run_dir / "hostile" / run_id)}
            ),
            "sentiment": settings.sentiment.model_copy(update={"model": "vader", "max_offsets_per_trigger": 5_000}),
        }
    )
    started = time.monotonic()
    query, sinks = start_sentiment_job(
        spark, job_settings, available_now=True, topics=topics, scores_topic=f"hostile.scores.{run_id}"
    )
    crashed = _until_done([query], sinks)
    seconds = time.monotonic() - started
    dead, reasoned, missing, unexpected, kinds, reasons = check_dead_letters(floods, settings)
    valid = sum(len(f.records) - len(f.bad) for f in floods)
    return Row(
        "texts",
        sum(len(f.bad) for f in floods),
        dead,
        reasoned,
        missing,
        unexpected,
        valid,
        _stored_texts(settings, symbols),
        crashed,
        seconds,
        dict(kinds),
        dict(reasons),
    )


def run_scenario(settings: Settings, count: int, only: str | None = None, rounds: int = 1) -> list[Row]:
    """Scenario 5 on a running stack: `count` bad records per job (ticks; posts + articles), `rounds` times in the
    same Spark session (each round its own topics: memory that keeps growing round after round is a leak)."""
    from marketpulse.stream.session import spark_session

    spark = spark_session(settings, "marketpulse-hostile-input")
    try:
        rows = []
        for _ in range(rounds):
            run_id = uuid.uuid4().hex[:10]
            if only in (None, "ticks"):
                before = tree_rss_gib()
                row = run_ticks(spark, settings, count, run_id, valid_per_symbol=max(120, count // 50))
                rows.append(replace(row, rss_gib_before=before, rss_gib_after=tree_rss_gib()))
            if only in (None, "texts"):
                before = tree_rss_gib()
                row = run_texts(spark, settings, count, run_id, valid_per_symbol=max(20, count // 500))
                rows.append(replace(row, rss_gib_before=before, rss_gib_after=tree_rss_gib()))
        return rows
    finally:
        spark.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000, help="Bad records per job (default 100000).")
    parser.add_argument("--only", choices=["ticks", "texts"], help="Run one job only.")
    parser.add_argument("--rounds", type=int, default=1, help="Floods in a row in one Spark session (memory trend).")
    parser.add_argument("--keep-stack", action="store_true", help="Leave the hostile stack running afterwards.")
    args = parser.parse_args(argv)

    from marketpulse.stack.instances import side_by_side_settings
    from marketpulse.stack.manager import Stack

    settings = side_by_side_settings("hostile", PORT_OFFSET)
    stack = Stack(settings, progress=lambda message: print(f"[hostile stack] {message}", file=sys.stderr))
    started_here = not all(row.healthy for row in stack.status())
    if started_here:
        stack.up()
    try:
        rows = run_scenario(settings, args.count, args.only, args.rounds)
    finally:
        if started_here and not args.keep_stack:
            stack.down()
    print_rows(rows)
    print(json.dumps([{**asdict(row), "ok": row.ok} for row in rows], default=str))
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
