"""A loopback fake of the X v2, Reddit and NewsAPI HTTP APIs, serving recorded-shape payloads.

One threaded HTTP server speaks all three wire formats: X `GET /2/tweets/search/recent` (bearer token,
`next_token` paging, `since_id`, `x-rate-limit-*` headers), Reddit `POST /api/v1/access_token` (client
credentials) and `GET /r/<subs>/new` (bearer token, `after` paging, `x-ratelimit-*` headers), NewsAPI
`GET /v2/everything` and `/v2/top-headlines` (`X-Api-Key`, `page`/`pageSize`, its JSON error bodies).
Credentials are checked like the real services (401 with their bodies). `fail(...)` scripts the next
responses of a route (429 with reset headers, 403, 500) to test backoff. Every request is recorded.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

FAKE_X_TOKEN = "fake-x-bearer"
FAKE_REDDIT_ID, FAKE_REDDIT_SECRET = "fake-reddit-id", "fake-reddit-secret"
FAKE_NEWS_KEY = "fake-news-key"
_REDDIT_TOKEN = "fake-reddit-access-token"

#: Recorded payloads that ship with the package (package data).
DEFAULT_RECORDINGS = Path(__file__).parent / "recordings"

X_UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
X_FORBIDDEN = {
    "client_id": "31415926",
    "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a "
    "Twitter developer App that is attached to a Project. You can create a project via the developer portal.",
    "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
    "title": "Client Forbidden",
    "required_enrollment": "Appropriate Level of API Access",
    "reason": "client-not-enrolled",
    "type": "https://api.twitter.com/2/problems/client-forbidden",
}
X_UNAVAILABLE = {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503}
X_TOO_MANY = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
NEWS_ERRORS = {
    401: {
        "status": "error",
        "code": "apiKeyInvalid",
        "message": "Your API key is invalid or incorrect. Check your key, or go to https://newsapi.org to create a "
        "free API key.",
    },
    426: {
        "status": "error",
        "code": "maximumResultsReached",
        "message": "You have requested too many results. Developer accounts are limited to a max of 100 results.",
    },
    429: {
        "status": "error",
        "code": "rateLimited",
        "message": "You have been rate limited. Developer accounts are limited to 100 requests over a 24 hour period.",
    },
    500: {
        "status": "error",
        "code": "unexpectedError",
        "message": "This shouldn't happen, and if it does then it's "
        "our fault, not yours. Try the request again shortly.",
    },
}


@dataclass
class Recordings:
    """The payloads the fake serves (X pages, Reddit listing pages, NewsAPI responses)."""

    x_pages: list[dict[str, Any]]
    reddit_pages: list[dict[str, Any]]
    news_everything: dict[str, Any]
    news_headlines: dict[str, Any]

    @classmethod
    def load(cls, folder: Path = DEFAULT_RECORDINGS) -> Recordings:
        def read(name: str) -> Any:
            return json.loads((folder / name).read_text(encoding="utf-8"))

        return cls(
            x_pages=read("x_recent_search.json")["pages"],
            reddit_pages=read("reddit_new.json")["pages"],
            news_everything=read("newsapi_everything.json"),
            news_headlines=read("newsapi_top_headlines.json"),
        )


@dataclass
class Failure:
    """A scripted response: status, extra headers, JSON body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass
class SeenRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class FakeSocialServer:
    """Use as `with FakeSocialServer(Recordings.load()) as fake: fake.url`."""

    def __init__(self, recordings: Recordings, *, rate_limit: int = 450, stream_allowed: bool = True) -> None:
        self.recordings = recordings
        self.rate_limit = rate_limit
        #: False: the filtered stream answers 403 client-not-enrolled, like a tier without it.
        self.stream_allowed = stream_allowed
        #: Filtered-stream rules: id -> {"id", "value", "tag"}.
        self.rules: dict[str, dict[str, str]] = {}
        self.requests: list[SeenRequest] = []
        self._failures: dict[str, deque[Failure]] = {}
        self._lock = threading.Lock()
        self._remaining: dict[str, int] = {"x": rate_limit, "reddit": 600}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # chunked streams and keep-alive, as the real APIs

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:  # quiet: requests carry credentials
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-social", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail(self, route: str, status: int, *, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """The next `times` requests to route ('x', 'reddit', 'news') answer status with the provider's body."""
        bodies: dict[str, dict[int, Any]] = {
            "x": {
                401: X_UNAUTHORIZED,
                403: X_FORBIDDEN,
                429: X_TOO_MANY,
                503: X_UNAVAILABLE,
            },
            "reddit": {
                403: {"message": "Forbidden", "error": 403},
                429: {"message": "Too Many Requests", "error": 429},
            },
            "news": NEWS_ERRORS,
        }
        body = bodies[route].get(status, {"error": status})
        with self._lock:
            queue = self._failures.setdefault(route, deque())
            for _ in range(times):
                queue.append(Failure(status, dict(headers or {}), body))

    def seen(self, path_prefix: str) -> list[SeenRequest]:
        """Requests whose path starts with path_prefix, in order."""
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    # --- routing ------------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query)
        headers = {key.lower(): value for key, value in handler.headers.items()}
        length = int(headers.get("content-length", 0) or 0)
        body = handler.rfile.read(length).decode() if length else ""
        with self._lock:
            self.requests.append(SeenRequest(method, parts.path, query, headers))
        route = self._route(parts.path)
        if route is None:
            self._send(handler, 404, {"error": "not found"})
            return
        scripted = self._next_failure(route)
        if scripted is not None:
            self._send(handler, scripted.status, scripted.body, scripted.headers)
            return
        if route == "x":
            self._x(handler, query, headers)
        elif route == "x-rules":
            self._x_rules(handler, method, headers, body)
        elif route == "x-stream":
            self._x_stream(handler, headers)
        elif route == "reddit-token":
            self._reddit_token(handler, headers, body)
        elif route == "reddit":
            self._reddit(handler, query, headers)
        else:
            self._news(handler, parts.path, query, headers)

    @staticmethod
    def _route(path: str) -> str | None:
        if path == "/2/tweets/search/recent":
            return "x"
        if path == "/2/tweets/search/stream/rules":
            return "x-rules"
        if path == "/2/tweets/search/stream":
            return "x-stream"
        if path == "/api/v1/access_token":
            return "reddit-token"
        if path.startswith("/r/") and path.rstrip("/").endswith("/new"):
            return "reddit"
        if path in ("/v2/everything", "/v2/top-headlines"):
            return "news"
        return None

    def _next_failure(self, route: str) -> Failure | None:
        key = "reddit" if route.startswith("reddit") and route != "reddit-token" else route
        key = "x" if route == "x-stream" else key
        with self._lock:
            queue = self._failures.get(key)
            return queue.popleft() if queue else None

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("content-type", "application/json; charset=utf-8")
        handler.send_header("content-length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    # --- X ------------------------------------------------------------------------------------------

    def _x(self, handler: BaseHTTPRequestHandler, query: dict[str, list[str]], headers: dict[str, str]) -> None:
        if headers.get("authorization") != f"Bearer {FAKE_X_TOKEN}":
            self._send(handler, 401, X_UNAUTHORIZED)
            return
        pages = self.recordings.x_pages
        token = query.get("next_token", [""])[0]
        index = int(token.rsplit("-", 1)[1]) if token.startswith("page-") else 0
        page = json.loads(json.dumps(pages[index]))
        since = int(query.get("since_id", ["0"])[0])
        page["data"] = [tweet for tweet in page.get("data", []) if int(tweet["id"]) > since]
        meta = page.setdefault("meta", {})
        meta["result_count"] = len(page["data"])
        if index + 1 < len(pages) and page["data"]:
            meta["next_token"] = f"page-{index + 1}"
        else:
            meta.pop("next_token", None)
        if not page["data"]:
            page = {"meta": {"result_count": 0}}
        self._send(handler, 200, page, self._rate_headers("x", "x-rate-limit"))

    def _x_rules(self, handler: BaseHTTPRequestHandler, method: str, headers: dict[str, str], body: str) -> None:
        if headers.get("authorization") != f"Bearer {FAKE_X_TOKEN}":
            self._send(handler, 401, X_UNAUTHORIZED)
            return
        sent = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        if method == "GET":
            rules = list(self.rules.values())
            payload: dict[str, Any] = {"meta": {"sent": sent, "result_count": len(rules)}}
            if rules:
                payload["data"] = rules
            self._send(handler, 200, payload)
            return
        request = json.loads(body or "{}")
        if "delete" in request:
            ids = request["delete"].get("ids", [])
            deleted = [rule_id for rule_id in ids if self.rules.pop(rule_id, None) is not None]
            summary = {"deleted": len(deleted), "not_deleted": len(ids) - len(deleted)}
            self._send(handler, 200, {"meta": {"sent": sent, "summary": summary}})
            return
        created = []
        for rule in request.get("add", []):
            rule_id = str(1_600_000_000_000_000_000 + len(self.rules) + 1)
            self.rules[rule_id] = {
                "id": rule_id,
                "value": rule["value"],
                **({"tag": rule["tag"]} if "tag" in rule else {}),
            }
            created.append(self.rules[rule_id])
        summary = {"created": len(created), "not_created": 0, "valid": len(created), "invalid": 0}
        self._send(handler, 201, {"data": created, "meta": {"sent": sent, "summary": summary}})

    def _x_stream(self, handler: BaseHTTPRequestHandler, headers: dict[str, str]) -> None:
        """Every recorded post whose cashtags match a rule, one JSON object per line with keep-alives, then close."""
        if headers.get("authorization") != f"Bearer {FAKE_X_TOKEN}":
            self._send(handler, 401, X_UNAUTHORIZED)
            return
        if not self.stream_allowed:
            self._send(handler, 403, X_FORBIDDEN)
            return
        handler.send_response(200)
        handler.send_header("content-type", "application/json; charset=utf-8")
        handler.send_header("transfer-encoding", "chunked")
        handler.end_headers()

        def chunk(data: bytes) -> None:
            handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            handler.wfile.flush()

        chunk(b"\r\n")  # a keep-alive, as X sends every 20 s
        for page in self.recordings.x_pages:
            users = {user["id"]: user for user in page.get("includes", {}).get("users", [])}
            for tweet in page.get("data", []):
                matching = [
                    {"id": rule["id"], "tag": rule.get("tag", "")}
                    for rule in self.rules.values()
                    if any(tag in tweet["text"] for tag in rule["value"].strip("()").split(" OR "))
                ]
                if not matching:
                    continue
                user = users.get(tweet["author_id"])
                message = {"data": tweet, "includes": {"users": [user] if user else []}, "matching_rules": matching}
                chunk(json.dumps(message).encode() + b"\r\n")
        chunk(b"")  # end of the chunked body: X closed the stream

    def _rate_headers(self, route: str, prefix: str) -> dict[str, str]:
        with self._lock:
            self._remaining[route] = max(self._remaining[route] - 1, 0)
            remaining = self._remaining[route]
        if prefix == "x-rate-limit":
            reset = str(int(time.time()) + 900)
            return {
                f"{prefix}-limit": str(self.rate_limit),
                f"{prefix}-remaining": str(remaining),
                f"{prefix}-reset": reset,
            }
        # Reddit: used, remaining (a float) and seconds until the window resets.
        return {
            f"{prefix}-used": str(600 - remaining),
            f"{prefix}-remaining": f"{remaining}.0",
            f"{prefix}-reset": "300",
        }

    # --- Reddit -------------------------------------------------------------------------------------

    def _reddit_token(self, handler: BaseHTTPRequestHandler, headers: dict[str, str], body: str) -> None:
        expected = base64.b64encode(f"{FAKE_REDDIT_ID}:{FAKE_REDDIT_SECRET}".encode()).decode()
        if headers.get("authorization") != f"Basic {expected}" or "grant_type=client_credentials" not in body:
            self._send(handler, 401, {"message": "Unauthorized", "error": 401})
            return
        self._send(
            handler, 200, {"access_token": _REDDIT_TOKEN, "token_type": "bearer", "expires_in": 86400, "scope": "*"}
        )

    def _reddit(self, handler: BaseHTTPRequestHandler, query: dict[str, list[str]], headers: dict[str, str]) -> None:
        if headers.get("authorization") != f"bearer {_REDDIT_TOKEN}":
            self._send(
                handler, 401, {"message": "Unauthorized", "error": 401}, {"www-authenticate": 'Bearer realm="reddit"'}
            )
            return
        pages = self.recordings.reddit_pages
        after = query.get("after", [None])[0]
        index = 0
        if after:
            for i, page in enumerate(pages):
                if page["data"]["after"] == after:
                    index = i + 1
        payload = pages[index] if index < len(pages) else {"kind": "Listing", "data": {"after": None, "children": []}}
        self._send(handler, 200, payload, self._rate_headers("reddit", "x-ratelimit"))

    # --- NewsAPI ------------------------------------------------------------------------------------

    def _news(
        self, handler: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> None:
        # NewsAPI takes the key as X-Api-Key, Authorization (what newsapi-python sends) or the apiKey parameter.
        offered = {headers.get("x-api-key"), headers.get("authorization"), query.get("apiKey", [None])[0]}
        if FAKE_NEWS_KEY not in offered:
            self._send(handler, 401, NEWS_ERRORS[401])
            return
        recorded = self.recordings.news_everything if path == "/v2/everything" else self.recordings.news_headlines
        page = int(query.get("page", ["1"])[0])
        size = int(query.get("pageSize", ["100"])[0])
        if page * size > 100 and page > 1:
            self._send(handler, 426, NEWS_ERRORS[426])
            return
        articles = recorded["articles"][(page - 1) * size : page * size]
        self._send(handler, 200, {"status": "ok", "totalResults": recorded["totalResults"], "articles": articles})
