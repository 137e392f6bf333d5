"""The collector process (`marketpulse ingest social|news`): collectors -> Kafka, /metrics and /healthz.

Each collector runs its polling loop in a thread; the main thread serves `/metrics` (Prometheus) and
`/healthz` (every collector's state: 200 when all poll normally, 503 while one is rate limited, refused
or failing) until SIGTERM/SIGINT, then stops the loops and flushes what was accepted.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr

from marketpulse.config import Settings
from marketpulse.contracts import Topics
from marketpulse.contracts.text import NewsArticle, TextItem
from marketpulse.errors import ConfigError
from marketpulse.ingest.producer import EventProducer
from marketpulse.ingest.social import fakes
from marketpulse.ingest.social.base import CollectorRunner, TextCollector
from marketpulse.ingest.social.fakes import DEFAULT_RECORDINGS, FakeSocialServer, Recordings
from marketpulse.ingest.social.linking import SymbolLinker
from marketpulse.ingest.social.news import NewsCollector
from marketpulse.ingest.social.reddit import RedditCollector
from marketpulse.ingest.social.x import XCollector
from marketpulse.ingest.social.x_stream import XAutoCollector, XStreamCollector
from marketpulse.sections.text import SocialSettings, XSettings
from marketpulse.stores.redis_store import redis_client

#: Which collectors each CLI command runs.
GROUPS: dict[str, tuple[str, ...]] = {"social": ("x", "reddit"), "news": ("news",)}


class KafkaTextSink:
    """Posts to social.posts, articles to news.articles, keyed by their first symbol."""

    def __init__(self, producer: EventProducer, topics: tuple[str, str] = (Topics.SOCIAL_POSTS, Topics.NEWS_ARTICLES)):
        self.producer = producer
        self.posts_topic, self.news_topic = topics
        self.sent = 0
        self._lock = threading.Lock()  # collectors run in threads; librdkafka is thread-safe, our counter is not

    def __call__(self, item: TextItem) -> None:
        topic = self.news_topic if isinstance(item, NewsArticle) else self.posts_topic
        self.producer.send(topic, item, key=item.symbols[0])
        with self._lock:
            self.sent += 1


class RedisSeenIds:
    """`first_seen(id)`: SET NX with a TTL in Redis, True only the first time an id is offered (thread-safe)."""

    def __init__(self, settings: Settings) -> None:
        self.client = redis_client(settings)
        self.prefix = settings.social.seen_prefix
        self.ttl_s = settings.social.seen_ttl_s

    def __call__(self, item_id: str) -> bool:
        return bool(self.client.set(f"{self.prefix}:{item_id}", 1, nx=True, ex=self.ttl_s))

    def close(self) -> None:
        self.client.close()


def build_collectors(names: Sequence[str], settings: SocialSettings, linker: SymbolLinker) -> list[TextCollector]:
    """The named collectors (ConfigError if one lacks its credentials or a symbol is not in the table)."""
    for symbol in settings.symbols:
        linker.search_terms(symbol)  # ConfigError for a symbol the reference table does not know
    collectors: list[TextCollector] = []
    for name in names:
        if name == "x":
            kinds: dict[str, Callable[[XSettings, Sequence[str]], TextCollector]] = {
                "auto": XAutoCollector,
                "stream": XStreamCollector,
                "search": XCollector,
            }
            collectors.append(kinds[settings.x.mode](settings.x, settings.symbols))
        elif name == "reddit":
            collectors.append(RedditCollector(settings.reddit))
        elif name == "news":
            collectors.append(NewsCollector(settings.news, settings.symbols, linker))
        else:
            raise ConfigError(f"unknown collector {name!r}; choose x, reddit or news")
    return collectors


def pointed_at_fake(settings: SocialSettings, url: str) -> SocialSettings:
    """settings with every provider's host and keys replaced by the local fake's."""
    return settings.model_copy(
        update={
            "x": settings.x.model_copy(update={"base_url": url, "bearer_token": SecretStr(fakes.FAKE_X_TOKEN)}),
            "reddit": settings.reddit.model_copy(
                update={
                    "oauth_url": url,
                    "reddit_url": url,
                    "client_id": SecretStr(fakes.FAKE_REDDIT_ID),
                    "client_secret": SecretStr(fakes.FAKE_REDDIT_SECRET),
                }
            ),
            "news": settings.news.model_copy(update={"base_url": url, "api_key": SecretStr(fakes.FAKE_NEWS_KEY)}),
        }
    )


@contextlib.contextmanager
def fake_providers(recordings: Path | None) -> Iterator[str]:
    """A local fake of all three APIs serving the recordings; yields its URL."""
    try:
        loaded = Recordings.load(recordings or DEFAULT_RECORDINGS)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"cannot read the social recordings in {recordings or DEFAULT_RECORDINGS}: {exc}") from exc
    with FakeSocialServer(loaded) as fake:
        yield fake.url


class HealthServer:
    """/metrics and /healthz of the collector process, served from a thread."""

    def __init__(self, host: str, port: int, runners: Sequence[CollectorRunner]) -> None:
        def health() -> tuple[int, dict[str, Any]]:
            reports = [runner.health() for runner in runners]
            healthy = all(report["healthy"] for report in reports)
            return (200 if healthy else 503), {"status": "ok" if healthy else "degraded", "collectors": reports}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    status, body, kind = 200, generate_latest(), CONTENT_TYPE_LATEST
                elif self.path == "/healthz":
                    status, payload = health()
                    body, kind = json.dumps(payload).encode(), "application/json"
                else:
                    status, body, kind = 404, b"not found", "text/plain"
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        try:
            self.server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise ConfigError(
                f"the collector /metrics port {port} is taken ({exc.strerror}); "
                "give this process its own with MARKETPULSE_SOCIAL__METRICS_PORT=<port>"
            ) from exc
        self.thread = threading.Thread(target=self.server.serve_forever, name="collector-health", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_collectors(
    group: str,
    settings: Settings,
    *,
    fake: bool = False,
    recordings: Path | None = None,
    rounds: int | None = None,
    report: Callable[[str], None] = print,
) -> list[CollectorRunner]:
    """Run the group's collectors into Kafka until a signal (or `rounds` rounds each); return the runners."""
    names = GROUPS.get(group)
    if names is None:
        raise ConfigError(f"unknown collector group {group!r}; choose social or news")
    with contextlib.ExitStack() as stack:
        social = settings.social
        if fake:
            social = pointed_at_fake(social, stack.enter_context(fake_providers(recordings)))
        linker = SymbolLinker()
        producer = EventProducer(settings, f"marketpulse-{group}")
        sink = KafkaTextSink(producer)
        seen = RedisSeenIds(settings)
        stack.callback(seen.close)
        runners = [
            CollectorRunner(c, social, sink, linker=linker, first_seen=seen)
            for c in build_collectors(names, social, linker)
        ]
        health = HealthServer(settings.stack.host, social.metrics_port, runners)
        stack.callback(health.close)
        threads = [threading.Thread(target=r.run, args=(rounds,), name=f"collector-{r.name}") for r in runners]

        def stop(_signum: int, _frame: object) -> None:
            for runner in runners:
                runner.stop()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        for thread in threads:
            thread.start()
        report(f"collecting {', '.join(names)} for {', '.join(social.symbols)}; /healthz on port {social.metrics_port}")
        for thread in threads:
            thread.join()
        for runner in runners:
            runner.collector.close()
        producer.flush()
        for runner in runners:
            h = runner.health()
            report(f"{h['collector']}: {h['accepted']} sent, dropped {h['dropped']}, state {h['state']}")
    return runners
