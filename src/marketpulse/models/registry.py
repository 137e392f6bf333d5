"""Model registry in object storage: `models/<name>/<version>/{model.pt,meta.json}` and a `production` pointer.

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
from marketpulse.stores.objectstore import s3_client


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

    def __init__(self, settings: Settings) -> None:
        self.client = s3_client(settings)
        self.bucket = settings.s3.buckets["models"]

    def _key(self, name: str, *parts: str) -> str:
        return "/".join(["models", name, *parts])

    def save(self, name: str, weights: bytes, meta: dict[str, Any], version: str | None = None) -> str:
        """Store a new version (weights first, metadata last: meta.json marks a complete upload)."""
        version = version or datetime.now(UTC).strftime("v%Y%m%dT%H%M%S")
        self.client.put_object(Bucket=self.bucket, Key=self._key(name, version, "model.pt"), Body=weights)
        body = json.dumps({**meta, "name": name, "version": version}, indent=2, default=str).encode()
        self.client.put_object(Bucket=self.bucket, Key=self._key(name, version, "meta.json"), Body=body)
        return version

    def versions(self, name: str) -> list[str]:
        """Complete versions of `name`, oldest first."""
        paginator = self.client.get_paginator("list_objects_v2")
        found = set()
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(name) + "/"):
            for obj in page.get("Contents", []):
                parts = obj["Key"].split("/")
                if len(parts) == 4 and parts[3] == "meta.json":
                    found.add(parts[2])
        return sorted(found)

    def promote(self, name: str, version: str) -> None:
        """Point `production` at version (which must exist)."""
        if version not in self.versions(name):
            raise ModelNotFoundError(f"model {name} has no version {version}; known: {self.versions(name)}")
        self.client.put_object(Bucket=self.bucket, Key=self._key(name, "production"), Body=version.encode())

    def production_version(self, name: str) -> str | None:
        """The version `production` points at, or None when nothing was promoted yet."""
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(name, "production"))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None
        return str(body.decode().strip())

    def load(self, name: str, version: str | None = None) -> ModelArtifact:
        """A version's weights and metadata (default: production)."""
        version = version or self.production_version(name)
        if version is None:
            raise ModelNotFoundError(f"model {name} has no production version; train one: marketpulse train price")
        try:
            weights = self.client.get_object(Bucket=self.bucket, Key=self._key(name, version, "model.pt"))[
                "Body"
            ].read()
            meta = json.loads(
                self.client.get_object(Bucket=self.bucket, Key=self._key(name, version, "meta.json"))["Body"].read()
            )
        except self.client.exceptions.NoSuchKey as exc:
            raise ModelNotFoundError(f"model {name} version {version} is incomplete or missing") from exc
        return ModelArtifact(name, version, weights, meta)
