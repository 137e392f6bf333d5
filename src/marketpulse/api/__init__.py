"""The API (FastAPI): REST and WebSocket over Redis, Cassandra and PostgreSQL. `create_app(settings)` builds it.

`create_app` is imported lazily so that modules the app itself uses (the alert engine imports `api.live`) can
import parts of this package without a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from marketpulse.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from marketpulse.api.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
