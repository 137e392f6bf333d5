"""A requests Session that sends a client library's calls to a configured host.

tweepy and newsapi-python hard-code their API hosts; they take a `requests.Session`, though. Pointing that
session at `base_url` is how settings choose between the real service and a local fake, with the library's
own request building, paging and error mapping left as they are.
"""

from __future__ import annotations

from typing import Any

import requests

#: Seconds to wait for a provider to connect and to answer.
TIMEOUT_S = (10.0, 30.0)


class RewritingSession(requests.Session):
    """Replaces the `real` URL prefix with `base_url` in every request, and sets a timeout."""

    def __init__(self, real: str, base_url: str) -> None:
        super().__init__()
        self.real = real.rstrip("/")
        self.base_url = base_url.rstrip("/")

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        verb = method.decode() if isinstance(method, bytes) else method
        text = url.decode() if isinstance(url, bytes) else url
        if text.startswith(self.real):
            text = self.base_url + text[len(self.real) :]
        kwargs.setdefault("timeout", TIMEOUT_S)
        return super().request(verb, text, *args, **kwargs)
