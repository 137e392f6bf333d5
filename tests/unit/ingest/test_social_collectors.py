"""X, Reddit and NewsAPI collectors against a local fake speaking their wire formats; dedup, bots, backoff."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from marketpulse.contracts.text import NewsArticle, SocialPost, TextItem
from marketpulse.errors import ConfigError
from marketpulse.ingest.social.base import CollectorRunner, CollectorState
from marketpulse.ingest.social.fakes import FakeSocialServer, Recordings
from marketpulse.ingest.social.filters import DropReason, TextFilter, canonical_url
from marketpulse.ingest.social.linking import default_linker
from marketpulse.ingest.social.news import NewsCollector
from marketpulse.ingest.social.service import build_collectors, pointed_at_fake
from marketpulse.ingest.social.x import XCollector, build_queries
from marketpulse.sections.providers import BackoffSettings
from marketpulse.sections.text import NewsSettings, SocialSettings, XSettings

T0 = datetime(2025, 12, 12, 15, 0, tzinfo=UTC)
SYMBOLS = ["AAPL", "MSFT", "IBM"]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSocialServer]:
    with FakeSocialServer(Recordings.load()) as server:
        yield server


def _settings(fake: FakeSocialServer, x_mode: str = "search") -> SocialSettings:
    base = SocialSettings(symbols=SYMBOLS, backoff=BackoffSettings(base_s=1.0, max_s=8.0), x=XSettings(mode=x_mode))
    return pointed_at_fake(base, fake.url)


def _runner(fake: FakeSocialServer, name: str) -> tuple[CollectorRunner, list[TextItem]]:
    settings = _settings(fake)
    (collector,) = build_collectors([name], settings, default_linker())
    items: list[TextItem] = []
    return CollectorRunner(collector, settings, items.append), items


# --- filters ---------------------------------------------------------------------------------------------------


def test_filter_drops_duplicates_copies_and_bots_but_keeps_templates_about_other_symbols() -> None:
    f = TextFilter(max_posts_per_author_hour=3)
    text = "Apple beats estimates, raises guidance for the holiday quarter $AAPL"
    assert f.check("x:1", "https://x.com/a/status/1", text, "alice", T0, ["AAPL"]) is None
    assert f.check("x:1", "https://x.com/a/status/1", text, "alice", T0, ["AAPL"]) is DropReason.DUPLICATE_ID
    copy = "RT @alice: Apple beats estimates and raises guidance for holiday quarter $AAPL https://t.co/x"
    assert f.check("x:2", "https://x.com/b/status/2", copy, "bob", T0, ["AAPL"]) is DropReason.NEAR_DUPLICATE
    syndicated = "https://www.reuters.com/a/?utm_source=twitter"
    assert f.check("news:1", "https://reuters.com/a", "IBM cuts outlook", "r", T0, ["IBM"]) is None
    assert f.check("news:2", syndicated, "IBM lowers its outlook", "y", T0, ["IBM"]) is DropReason.DUPLICATE_URL
    # one template about two symbols is two texts, and opposite news about one symbol is not a copy
    assert f.check("x:3", "u3", "$GOOG looking strong into earnings, buying calls", "c", T0, ["GOOG"]) is None
    assert f.check("x:4", "u4", "$AAPL looking strong into earnings, buying calls", "c", T0, ["AAPL"]) is None
    assert f.check("x:5", "u5", "IBM shares rise after earnings beat", "d", T0, ["IBM"]) is None
    assert f.check("x:6", "u6", "IBM shares fall after earnings miss", "d", T0, ["IBM"]) is None
    pump = "$AAPL $MSFT $NVDA $TSLA $AMZN $GOOG $META join now"
    assert f.check("x:7", "u7", pump, "e", T0, ["AAPL"]) is DropReason.BOT
    assert f.check("x:8", "u8", "buy $IBM", "alerts_bot", T0, ["IBM"]) is DropReason.BOT


def test_filter_calls_an_author_posting_faster_than_a_human_a_bot() -> None:
    f = TextFilter(max_posts_per_author_hour=3)
    reasons = [
        f.check(f"x:{i}", f"u{i}", f"post number {i} about {word} $IBM", "spammy", T0 + timedelta(minutes=i), ["IBM"])
        for i, word in enumerate(["cloud", "dividends", "consulting", "mainframes", "watson"])
    ]
    assert reasons == [None, None, None, DropReason.BOT, DropReason.BOT]
    # an hour later the author is a human again
    later = T0 + timedelta(hours=2)
    assert f.check("x:99", "u99", "new quarter new IBM", "spammy", later, ["IBM"]) is None


def test_canonical_url_removes_tracking_but_keeps_meaning() -> None:
    assert (
        canonical_url("https://www.Reuters.com/article/x/?utm_source=tw&id=3#top")
        == "https://reuters.com/article/x?id=3"
    )


# --- X -----------------------------------------------------------------------------------------------------------


def test_x_queries_stay_under_the_limit() -> None:
    symbols = [f"S{i:03d}" for i in range(200)]
    queries = build_queries(symbols, "-is:retweet lang:en")
    assert all(len(q) <= 512 for q in queries)
    assert sum(q.count("$") for q in queries) == 200


def test_x_recent_search_pages_links_filters_and_resumes(fake: FakeSocialServer) -> None:
    runner, items = _runner(fake, "x")
    before = len(fake.seen("/2/tweets/search/recent"))
    runner.run_once()
    requests = fake.seen("/2/tweets/search/recent")[before:]
    assert len(requests) == 2  # two pages, the second asked for with next_token
    assert requests[1].query["next_token"] == ["page-1"]
    assert requests[0].headers["authorization"].startswith("Bearer ")
    assert [(i.id, i.symbols) for i in items] == [
        ("x:1867001000000000105", ["AAPL"]),
        ("x:1867001000000000104", ["MSFT"]),
        ("x:1867001000000000100", ["IBM"]),
    ]
    post = items[0]
    assert isinstance(post, SocialPost)
    assert post.url == "https://x.com/danatrades/status/1867001000000000105"
    assert post.published_at == datetime(2025, 12, 12, 15, 4, 11, tzinfo=UTC)
    assert post.engagement == 88
    assert post.ingested_at >= post.published_at
    health = runner.health()
    assert health["dropped"]["near_duplicate"] == 1  # the copy-paste of the first post
    assert health["dropped"]["bot"] == 1  # the pump list
    assert health["dropped"]["unlinked"] == 1  # grandma's apple pie
    assert health["quota"]["remaining"] < 450
    # the next round asks only for newer posts
    runner.run_once()
    assert fake.seen("/2/tweets/search/recent")[-1].query["since_id"] == ["1867001000000000105"]
    assert len(items) == 3


def test_x_429_backs_off_until_the_reset_time_and_reports_it(fake: FakeSocialServer) -> None:
    runner, _ = _runner(fake, "x")
    reset = int(time.time()) + 120
    fake.fail("x", 429, headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})
    delay = runner.run_once()
    assert reset - time.time() < delay <= reset - time.time() + 2
    health = runner.health()
    assert health["state"] == CollectorState.RATE_LIMITED
    assert health["healthy"] is False
    assert health["rate_limited"] == 1
    assert health["retry_at"] is not None
    # after the wait, a successful round makes it healthy again
    runner.run_once()
    assert runner.health()["state"] == CollectorState.WAITING


def test_x_403_and_errors_back_off_with_growing_delays_never_zero(fake: FakeSocialServer) -> None:
    runner, _ = _runner(fake, "x")
    fake.fail("x", 403, times=3)
    delays = [runner.run_once() for _ in range(3)]
    assert runner.health()["state"] == CollectorState.FORBIDDEN
    assert "HTTP 403" in (runner.health()["last_error"] or "")
    assert all(delay >= 0.5 for delay in delays)
    assert delays[2] > delays[0]  # 1 s base doubling: [0.5,1] then [2,4]
    fake.fail("x", 503)
    runner.run_once()
    assert runner.health()["state"] == CollectorState.BACKOFF
    assert runner.health()["errors"] == 1


def test_x_wrong_token_is_refused(fake: FakeSocialServer) -> None:
    collector = XCollector(XSettings(base_url=fake.url, bearer_token=SecretStr("wrong")), ["AAPL"])
    runner = CollectorRunner(collector, SocialSettings(), lambda item: None)
    runner.run_once()
    assert runner.health()["forbidden"] == 1
    assert "401" in (runner.health()["last_error"] or "")


def test_missing_credentials_are_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="MARKETPULSE_SOCIAL__X__BEARER_TOKEN"):
        build_collectors(["x"], SocialSettings(), default_linker())
    with pytest.raises(ConfigError, match="MARKETPULSE_SOCIAL__REDDIT__CLIENT_ID"):
        build_collectors(["reddit"], SocialSettings(), default_linker())
    with pytest.raises(ConfigError, match="MARKETPULSE_SOCIAL__NEWS__API_KEY"):
        build_collectors(["news"], SocialSettings(), default_linker())


# --- Reddit --------------------------------------------------------------------------------------------------------


def test_reddit_oauth_listing_paging_and_rate_headers(fake: FakeSocialServer) -> None:
    runner, items = _runner(fake, "reddit")
    runner.run_once()
    token = fake.seen("/api/v1/access_token")
    assert token and token[-1].method == "POST"
    listing = fake.seen("/r/stocks+wallstreetbets+investing/new")
    assert len(listing) >= 2 and listing[-1].query.get("after") == ["t3_1hcb2x9"]  # praw paged with `after`
    assert [(i.id, i.symbols, getattr(i, "community", None)) for i in items] == [
        ("reddit:t3_1hcb2z1", ["NVDA"], "wallstreetbets"),
        ("reddit:t3_1hcb2x9", ["MSFT"], "investing"),
        ("reddit:t3_1hcb1k2", ["F"], "stocks"),  # "Ford" in the title, not the F-150
    ]
    assert items[0].text.startswith("NVDA to the moon, bought more calls\n\nLoaded up on NVDA calls")
    assert items[2].text == "Ford F-150 recall, how bad is this for Ford?"  # [removed] body left out
    assert runner.health()["dropped"]["unlinked"] == 1  # stickied thread skipped, "[deleted]" question unlinked
    assert runner.health()["quota"]["remaining"] > 0
    runner.run_once()
    assert len(items) == 3  # nothing older than the newest seen comes back


def test_reddit_429_is_rate_limited(fake: FakeSocialServer) -> None:
    runner, _ = _runner(fake, "reddit")
    runner.run_once()
    fake.fail(
        "reddit", 429, headers={"x-ratelimit-reset": "42", "x-ratelimit-remaining": "0", "x-ratelimit-used": "600"}
    )
    delay = runner.run_once()
    assert runner.health()["state"] == CollectorState.RATE_LIMITED
    assert 40 <= delay <= 45


# --- NewsAPI ----------------------------------------------------------------------------------------------------


def test_news_everything_and_headlines_with_syndication_dropped(fake: FakeSocialServer) -> None:
    runner, items = _runner(fake, "news")
    runner.run_once()
    everything = fake.seen("/v2/everything")[-1]
    assert everything.query["sortBy"] == ["publishedAt"]
    assert '"Microsoft"' in everything.query["q"][0]
    assert [i.id for i in items] == [
        "news:https://www.reuters.com/technology/apple-shares-hit-record-2025-12-12/",
        "news:https://www.bloomberg.com/news/articles/2025-12-12/microsoft-slides-after-cloud-growth-misses",
        "news:https://www.cnbc.com/2025/12/12/ibm-cuts-outlook.html",
    ]
    article = items[0]
    assert isinstance(article, NewsArticle)
    assert article.outlet == "Reuters"
    assert article.title == "Apple shares hit record as services revenue beats estimates"
    assert runner.health()["dropped"]["near_duplicate"] == 1  # the Yahoo copy of the Reuters story
    assert runner.health()["dropped"]["unlinked"] == 1  # the apple pie recipe
    assert runner.health()["quota"]["used"] == 2


def test_news_paging_stops_at_maximum_results_reached(fake: FakeSocialServer) -> None:
    settings = _settings(fake)
    news = settings.news.model_copy(update={"page_size": 2, "max_pages": 5})
    collector = NewsCollector(news, SYMBOLS, default_linker())
    texts = collector.fetch()
    pages = [int(r.query["page"][0]) for r in fake.seen("/v2/everything")[-2:]]
    assert pages == [1, 2]  # 4 results in pages of 2: page 2 is the last
    assert len(texts) == 5  # 4 + the one valid headline ("[Removed]" skipped)


def test_news_stops_at_its_daily_quota_until_utc_midnight(fake: FakeSocialServer) -> None:
    settings = _settings(fake)
    news = NewsSettings(base_url=fake.url, api_key=settings.news.api_key, daily_quota=3)
    now = [datetime(2025, 12, 12, 20, 0, tzinfo=UTC)]
    collector = NewsCollector(news, SYMBOLS, default_linker(), clock=lambda: now[0])
    runner = CollectorRunner(collector, SocialSettings(), lambda item: None)
    runner.run_once()  # 2 requests
    served = len(fake.seen("/v2/"))
    runner.run_once()  # the 3rd request is allowed, the 4th is not made
    assert len(fake.seen("/v2/")) == served + 1
    assert runner.health()["state"] == CollectorState.RATE_LIMITED
    assert runner.health()["quota"] == {"used": 3, "limit": 3, "remaining": 0}
    now[0] += timedelta(hours=5)  # the next UTC day
    runner.run_once()
    assert runner.health()["state"] == CollectorState.WAITING


def test_news_rate_limited_body_is_understood(fake: FakeSocialServer) -> None:
    runner, _ = _runner(fake, "news")
    fake.fail("news", 429)
    runner.run_once()
    assert runner.health()["state"] == CollectorState.RATE_LIMITED
    assert "rateLimited" in (runner.health()["last_error"] or "")


def test_healthz_and_metrics_report_a_rate_limited_collector(fake: FakeSocialServer) -> None:
    import socket

    import httpx

    from marketpulse.ingest.social.service import HealthServer

    runner, _ = _runner(fake, "x")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = HealthServer("127.0.0.1", port, [runner])
    try:
        runner.run_once()
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        fake.fail("x", 429, headers={"x-rate-limit-reset": str(int(time.time()) + 60)})
        runner.run_once()
        health = httpx.get(f"http://127.0.0.1:{port}/healthz")
        assert health.status_code == 503
        assert health.json()["collectors"][0]["state"] == "rate_limited"
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert 'marketpulse_social_collector_state{collector="x",state="rate_limited"} 1.0' in metrics
        assert 'marketpulse_social_refused_total{collector="x",status="429"}' in metrics
        assert 'marketpulse_social_dropped_total{collector="x",reason="bot"}' in metrics
    finally:
        server.close()


# --- X filtered stream ----------------------------------------------------------------------------------------


def _rounds_until(runner: CollectorRunner, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not done() and time.monotonic() < deadline:
        runner.run_once()
        time.sleep(0.05)


def test_x_filtered_stream_syncs_rules_and_delivers_matching_posts() -> None:
    with FakeSocialServer(Recordings.load()) as fake:
        fake.rules["1"] = {"id": "1", "value": "($OLD)", "tag": "marketpulse"}  # a rule we no longer want
        fake.rules["2"] = {"id": "2", "value": "someone else's", "tag": "other"}  # not ours: left alone
        settings = _settings(fake, x_mode="stream")
        (collector,) = build_collectors(["x"], settings, default_linker())
        items: list[TextItem] = []
        runner = CollectorRunner(collector, settings, items.append)
        _rounds_until(runner, lambda: len(items) >= 3)
        assert sorted(rule["value"] for rule in fake.rules.values()) == ["($AAPL OR $MSFT OR $IBM)", "someone else's"]
        assert sorted(i.id for i in items) == [
            "x:1867001000000000100",
            "x:1867001000000000104",
            "x:1867001000000000105",
        ]
        assert runner.health()["dropped"]["bot"] == 1 and runner.health()["dropped"]["near_duplicate"] == 1
        # the fake closes the stream after its recording: a disconnect the runner backs off from, then reconnects
        connections = lambda: [r for r in fake.requests if r.path == "/2/tweets/search/stream"]  # noqa: E731
        _rounds_until(runner, lambda: len(connections()) >= 2)
        assert runner.health()["errors"] >= 1
        assert len(connections()) >= 2
        runner.run_once()
        assert len(items) == 3  # the replayed posts of the reconnect are duplicates


def test_x_auto_falls_back_to_recent_search_when_the_tier_has_no_stream() -> None:
    with FakeSocialServer(Recordings.load(), stream_allowed=False) as fake:
        settings = _settings(fake, x_mode="auto")
        (collector,) = build_collectors(["x"], settings, default_linker())
        items: list[TextItem] = []
        runner = CollectorRunner(collector, settings, items.append)
        runner.run_once()
        assert collector.quota()["mode"] == "search"
        assert len(items) == 3
        assert fake.seen("/2/tweets/search/recent")
        assert runner.health()["state"] == CollectorState.WAITING


def test_x_stream_rate_limit_is_reported_with_the_reset_time() -> None:
    with FakeSocialServer(Recordings.load()) as fake:
        settings = _settings(fake, x_mode="stream")
        (collector,) = build_collectors(["x"], settings, default_linker())
        runner = CollectorRunner(collector, settings, lambda item: None)
        reset = int(time.time()) + 90
        fake.fail("x", 429, headers={"x-rate-limit-reset": str(reset)})
        delay = runner.run_once()
        assert runner.health()["state"] == CollectorState.RATE_LIMITED
        assert reset - time.time() < delay <= reset - time.time() + 2
        runner.run_once()  # after the wait, the stream connects again
        assert runner.health()["state"] == CollectorState.WAITING


# --- hostile responses: an unreadable item is dropped and counted, never fatal -----------------------------------

GOOD_TWEET = {"id": "101", "text": "$AAPL beats estimates", "created_at": "2025-12-12T15:00:00.000Z", "author_id": "7"}
HOSTILE_TWEETS = [
    {"id": "102", "created_at": "2025-12-12T15:00:00.000Z"},  # no text
    {"id": "103", "text": "$AAPL", "created_at": "yesterday-ish"},  # a date that does not parse
    {"id": "104", "text": "$AAPL", "created_at": 1765551600},  # a number where a string belongs
    {"text": "$AAPL no id", "created_at": "2025-12-12T15:00:00.000Z"},  # no id
    "a string where a tweet belongs",
    None,
    {"id": "105", "text": "$AAPL", "created_at": "2025-12-12T15:00:00.000Z", "public_metrics": "many"},
]


def test_a_search_page_with_unreadable_posts_keeps_the_readable_ones() -> None:
    from marketpulse.ingest.social.base import Malformed, RawText
    from marketpulse.ingest.social.x import parse_search_page

    fetched = parse_search_page({"data": [GOOD_TWEET, *HOSTILE_TWEETS], "includes": {"users": ["not a user", {}]}})

    assert [text.id for text in fetched if isinstance(text, RawText)] == ["x:101"]
    assert len([text for text in fetched if isinstance(text, Malformed)]) == len(HOSTILE_TWEETS)
    for page in (["a list"], "text", None, {"data": "not a list"}, {"data": [GOOD_TWEET], "includes": "junk"}):
        parsed = parse_search_page(page)
        assert all(isinstance(text, (Malformed, RawText)) for text in parsed), page


def test_a_news_response_with_unreadable_articles_keeps_the_readable_ones() -> None:
    from marketpulse.ingest.social.base import Malformed, RawText
    from marketpulse.ingest.social.news import parse_articles

    good = {"title": "Apple beats", "url": "https://n.example/1", "publishedAt": "2025-12-12T15:00:00Z"}
    removed = {"title": "[Removed]", "url": "https://n.example/2", "publishedAt": "2025-12-12T15:00:00Z"}
    hostile = [
        {"title": "No date", "url": "https://n.example/3"},
        {"title": 42, "url": "https://n.example/4", "publishedAt": "2025-12-12T15:00:00Z"},  # title not a string
        {"title": "Bad source", "url": "https://n.example/5", "publishedAt": "2025-12-12T15:00:00Z", "source": "x"},
        ["not", "an", "article"],
    ]
    fetched = parse_articles({"status": "ok", "articles": [good, removed, *hostile]})

    assert [text.id for text in fetched if isinstance(text, RawText)] == [
        "news:https://n.example/1"
    ]  # removed: skipped
    assert len([text for text in fetched if isinstance(text, Malformed)]) == len(hostile)
    assert all(isinstance(text, Malformed) for text in parse_articles(["not", "a", "response"]))


def test_a_round_with_malformed_items_accepts_the_rest_and_counts_them_dropped() -> None:
    from marketpulse.ingest.social.base import Fetched, TextCollector
    from marketpulse.ingest.social.x import parse_search_page

    class Hostile(TextCollector):
        name = "x"
        poll_interval_s = 30.0

        def fetch(self) -> list[Fetched]:
            return parse_search_page({"data": [GOOD_TWEET, *HOSTILE_TWEETS]})

    items: list[TextItem] = []
    runner = CollectorRunner(Hostile(), SocialSettings(symbols=SYMBOLS), items.append)

    assert runner.run_once() == 30.0  # the round ends normally: no exception, no backoff
    assert [item.id for item in items] == ["x:101"]
    assert runner.dropped[DropReason.MALFORMED.value] == len(HOSTILE_TWEETS)
    assert runner.health()["state"] == CollectorState.WAITING.value and runner.errors == 0
