"""Model registry in object storage: `models/<name>/<version>/{model.pt,meta.json}`, a `production` pointer
and its promotion history (for rollback).

Versions are UTC timestamps (sortable, unique per second); promotion rewrites one small pointer object,
so a reader sees either the old or the new production version, never a half-written one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marketpulse.config import Settings
from marketpulse.errors import MarketPulseError
from marketpulse.stores.objectstore import ObjectBucket


class ModelNotFoundError(MarketPulseError):
    """No such model, version or production pointer in the registry."""

    http_status = 404


@dataclass(frozen=True)
class ModelArtifact:
    """A stored model: its weights and what we know about it."""

    name: str
    version: str
    weights: bytes
    meta: dict[str, Any]


class ModelRegistry:
    """Reads and writes models in the `<prefix>-models` bucket."""

    def __init__(self, settings: Settings, objects: ObjectBucket | None = None) -> None:
        # Any S3 API through boto3, or the lake's fsspec filesystem (ADLS on Azure).
        self.objects = objects or ObjectBucket(settings, settings.s3.buckets["models"])
        self.bucket = self.objects.bucket
        self.client = self.objects.client  # boto3 on an S3 API (None on ADLS)

    def _key(self, name: str, *parts: str) -> str:
        return "/".join(["models", name, *parts])

    def save(self, name: str, weights: bytes, meta: dict[str, Any], version: str | None = None) -> str:
        """Store a new version (weights first, metadata last: meta.json marks a complete upload)."""
        version = version or datetime.now(UTC).strftime("v%Y%m%dT%H%M%S")
        self.objects.put(self._key(name, version, "model.pt"), weights)
        body = json.dumps({**meta, "name": name, "version": version}, indent=2, default=str).encode()
        self.objects.put(self._key(name, version, "meta.json"), body)
        return version

    def versions(self, name: str) -> list[str]:
        """Complete versions of `name`, oldest first."""
        found = set()
        for key in self.objects.keys(self._key(name) + "/"):
            parts = key.split("/")
            if len(parts) == 4 and parts[3] == "meta.json":
                found.add(parts[2])
        return sorted(found)

    def promote(self, name: str, version: str, reason: str = "manual") -> None:
        """Point `production` at version (which must exist) and append it to the promotion history."""
        if version not in self.versions(name):
            raise ModelNotFoundError(f"model {name} has no version {version}; known: {self.versions(name)}")
        history = self.history(name)
        history.append({"version": version, "at": datetime.now(UTC).isoformat(), "reason": reason})
        self._put_json(self._key(name, "production.history.json"), history)
        # The pointer is written last: readers only ever follow it, so they never see a half-done promotion.
        self.objects.put(self._key(name, "production"), version.encode())

    def history(self, name: str) -> list[dict[str, Any]]:
        """Every promotion of `name`, oldest first (version, at, reason)."""
        found = self._get_json(self._key(name, "production.history.json"))
        return list(found) if isinstance(found, list) else []

    def rollback(self, name: str) -> str:
        """Point `production` back at the version promoted before the current one; return it."""
        current = self.production_version(name)
        earlier = [entry["version"] for entry in self.history(name) if entry["version"] != current]
        if current is None or not earlier:
            raise ModelNotFoundError(f"model {name} has no earlier production version to roll back to")
        self.promote(name, earlier[-1], reason=f"rollback from {current}")
        return str(earlier[-1])

    def meta(self, name: str, version: str) -> dict[str, Any]:
        """A version's metadata only (cheap: no weights)."""
        found = self._get_json(self._key(name, version, "meta.json"))
        if not isinstance(found, dict):
            raise ModelNotFoundError(f"model {name} has no version {version}")
        return found

    def names(self) -> list[str]:
        """Every model name in the registry."""
        return self.objects.children("models/")

    def put_bytes(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        """Any other object of the models bucket (evaluation reports)."""
        self.objects.put(key, body, content_type)

    def get_bytes(self, key: str) -> bytes:
        body = self.objects.get(key)
        if body is None:
            raise ModelNotFoundError(f"no object {key} in the registry")
        return body

    def list_keys(self, prefix: str) -> list[str]:
        return self.objects.keys(prefix)

    def _put_json(self, key: str, value: Any) -> None:
        self.objects.put(key, json.dumps(value, indent=2, default=str).encode())

    def _get_json(self, key: str) -> Any:
        body = self.objects.get(key)
        return None if body is None else json.loads(body)

    def production_version(self, name: str) -> str | None:
        """The version `production` points at, or None when nothing was promoted yet."""
        body = self.objects.get(self._key(name, "production"))
        return None if body is None else str(body.decode().strip())

    def load(self, name: str, version: str | None = None) -> ModelArtifact:
        """A version's weights and metadata (default: production)."""
        version = version or self.production_version(name)
        if version is None:
            raise ModelNotFoundError(f"model {name} has no production version; train one: marketpulse train price")
        weights = self.objects.get(self._key(name, version, "model.pt"))
        meta = self.objects.get(self._key(name, version, "meta.json"))
        if weights is None or meta is None:
            raise ModelNotFoundError(f"model {name} version {version} is incomplete or missing")
        return ModelArtifact(name, version, weights, json.loads(meta))
