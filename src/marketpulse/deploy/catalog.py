"""terraform/modules/catalog/catalog.json: the topics and bucket areas every environment provisions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from marketpulse.deploy.errors import TerraformError


@dataclass(frozen=True)
class TopicSpec:
    """One topic as Terraform provisions it."""

    name: str
    retention_ms: int
    dead_letter: bool


@dataclass(frozen=True)
class Catalog:
    """The names read by the Terraform catalog module, read the same way from Python."""

    bucket_areas: tuple[str, ...]
    topics: tuple[TopicSpec, ...]

    def topic_names(self, prefix: str = "") -> list[str]:
        return [f"{prefix}{topic.name}" for topic in self.topics]

    def buckets(self, bucket_prefix: str) -> dict[str, str]:
        return {area: f"{bucket_prefix}-{area}" for area in self.bucket_areas}


def load_catalog(path: Path) -> Catalog:
    """Parse catalog.json, expanding each topic with dlq=true into the topic and its `.dlq` topic."""
    try:
        raw = json.loads(path.read_text())
        topics: list[TopicSpec] = []
        for name, entry in raw["topics"].items():
            topics.append(TopicSpec(name, int(entry["retention_hours"]) * 3_600_000, False))
            if entry["dlq"]:
                topics.append(TopicSpec(f"{name}.dlq", int(raw["dlq_retention_hours"]) * 3_600_000, True))
        return Catalog(tuple(raw["bucket_areas"]), tuple(topics))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TerraformError(f"{path} is not a valid topic/bucket catalog: {exc}") from exc
