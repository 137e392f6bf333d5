"""The dashboard's only data source: the MarketPulse API, called with the dashboard's key."""

from __future__ import annotations

from typing import Any

import httpx

from marketpulse.config import Settings
from marketpulse.errors import MarketPulseError


class ApiUnavailableError(MarketPulseError):
    """The API did not answer or refused the dashboard's request."""

    http_status = 502


class ApiClient:
    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.api_base_url
        headers = {"X-API-Key": settings.dashboard.api_key.get_secret_value()}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=3.0)

    def get(self, path: str, **params: Any) -> Any:
        """JSON body of a GET; None for 404 (a resource that does not exist yet, e.g. no sentiment)."""
        try:
            response = self._http.get(path, params={k: v for k, v in params.items() if v is not None})
        except httpx.HTTPError as exc:
            raise ApiUnavailableError(f"API at {self.base_url} did not answer: {type(exc).__name__}") from exc
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:200]
            raise ApiUnavailableError(f"API answered {response.status_code} to {path}: {message}")
        return response.json()

    def close(self) -> None:
        self._http.close()


_client: ApiClient | None = None


def install_client(client: ApiClient) -> None:
    """Pages are modules Dash imports; they find the app's client here (set once by create_dashboard)."""
    global _client
    _client = client


def api() -> ApiClient:
    assert _client is not None, "create_dashboard installs the API client"
    return _client
