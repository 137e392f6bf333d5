"""Alert rules and fired alerts in PostgreSQL (tables alert_rules, alert_events), owned by an API key."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter

from marketpulse.alerts.rules import Condition
from marketpulse.config import Settings
from marketpulse.errors import MarketPulseError
from marketpulse.stores.postgres import GuardedConnection

_conditions: TypeAdapter[Any] = TypeAdapter(Condition)


class AlertStoreUnavailableError(MarketPulseError):
    """PostgreSQL, where alert rules live, did not answer."""

    http_status = 503


class AlertRule(BaseModel):
    rule_id: str
    key_id: str
    name: str
    symbol: str
    condition: Condition
    webhook_url: str | None = None
    cooldown_s: float
    created_at: datetime


class AlertEvent(BaseModel):
    event_id: int
    rule_id: str
    symbol: str
    fired_at: datetime
    observed: dict[str, Any] = Field(description="The values the conditions read when the rule fired.")
    webhook_status: str = Field(description="none (no webhook), pending, delivered or failed.")
    webhook_attempts: int


@dataclass(frozen=True)
class PendingDelivery:
    """A fired alert whose webhook was neither delivered nor given up on (its process stopped mid-retry)."""

    event: AlertEvent
    rule: AlertRule
    url: str
    secret: str
    attempts_made: int


_RULE_COLUMNS = "rule_id, key_id, name, symbol, condition, webhook_url, cooldown_s, created_at"
_EVENT_COLUMNS = "event_id, rule_id, symbol, fired_at, observed, webhook_status, webhook_attempts"


def _rule(row: Any) -> AlertRule:
    rule_id, key_id, name, symbol, condition, webhook_url, cooldown_s, created_at = row
    return AlertRule(
        rule_id=rule_id,
        key_id=key_id,
        name=name,
        symbol=symbol,
        condition=_conditions.validate_python(condition),
        webhook_url=webhook_url,
        cooldown_s=cooldown_s,
        created_at=created_at,
    )


def _event(row: Any) -> AlertEvent:
    event_id, rule_id, symbol, fired_at, observed, status, attempts = row
    return AlertEvent(
        event_id=event_id,
        rule_id=rule_id,
        symbol=symbol,
        fired_at=fired_at,
        observed=observed,
        webhook_status=status,
        webhook_attempts=attempts,
    )


class AlertStore:
    """Alert rules and their firings in PostgreSQL, through one guarded connection."""

    def __init__(self, settings: Settings) -> None:
        self._db = GuardedConnection(settings, "alerts", AlertStoreUnavailableError)
        self._execute = self._db.execute

    def create(
        self,
        key_id: str,
        name: str,
        symbol: str,
        condition: Any,
        webhook_url: str | None,
        cooldown_s: float,
    ) -> tuple[AlertRule, str | None]:
        """Store a rule; returns it and the webhook signing secret (shown once), if it has a webhook."""
        rule_id = "rule_" + secrets.token_hex(8)
        secret = "whsec_" + secrets.token_urlsafe(24) if webhook_url else None
        rows = self._execute(
            f"INSERT INTO alert_rules (rule_id, key_id, name, symbol, condition, webhook_url, webhook_secret, "
            f"cooldown_s) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_RULE_COLUMNS}",
            (
                rule_id,
                key_id,
                name,
                symbol,
                json.dumps(condition.model_dump(mode="json")),
                webhook_url,
                secret,
                cooldown_s,
            ),
        )
        return _rule(rows[0]), secret

    def list_rules(self, key_id: str, limit: int, after: str | None) -> list[AlertRule]:
        """Rules of a key, oldest first, after the rule id `after` (keyset paging)."""
        rows = self._execute(
            f"SELECT {_RULE_COLUMNS} FROM alert_rules WHERE key_id = %s AND deleted_at IS NULL "
            "AND (%s::text IS NULL OR rule_id > %s) ORDER BY rule_id LIMIT %s",
            (key_id, after, after, limit),
        )
        return [_rule(row) for row in rows]

    def delete(self, key_id: str, rule_id: str) -> bool:
        rows = self._execute(
            "UPDATE alert_rules SET deleted_at = now() WHERE key_id = %s AND rule_id = %s AND deleted_at IS NULL "
            "RETURNING rule_id",
            (key_id, rule_id),
        )
        return bool(rows)

    def active_rules(self) -> list[tuple[AlertRule, str | None]]:
        """Every live rule with its webhook secret (for the engine)."""
        rows = self._execute(
            f"SELECT {_RULE_COLUMNS}, webhook_secret FROM alert_rules WHERE deleted_at IS NULL ORDER BY rule_id"
        )
        return [(_rule(row[:8]), row[8]) for row in rows]

    def record_event(self, rule: AlertRule, observed: dict[str, Any]) -> AlertEvent:
        status = "pending" if rule.webhook_url else "none"
        rows = self._execute(
            f"INSERT INTO alert_events (rule_id, key_id, symbol, observed, webhook_status) "
            f"VALUES (%s, %s, %s, %s, %s) RETURNING {_EVENT_COLUMNS}",
            (rule.rule_id, rule.key_id, rule.symbol, json.dumps(observed, default=str), status),
        )
        return _event(rows[0])

    def record_delivery(self, event_id: int, status: str, attempts: int) -> None:
        self._execute(
            "UPDATE alert_events SET webhook_status = %s, webhook_attempts = %s WHERE event_id = %s",
            (status, attempts, event_id),
        )

    def pending_deliveries(self, fired_before: datetime) -> list[PendingDelivery]:
        """Webhooks still `pending` for alerts fired before `fired_before` (this run's own are in flight)."""
        event_columns = ", ".join(f"e.{c}" for c in _EVENT_COLUMNS.split(", "))
        rule_columns = ", ".join(f"r.{c}" for c in _RULE_COLUMNS.split(", "))
        rows = self._execute(
            f"SELECT {event_columns}, {rule_columns}, r.webhook_secret FROM alert_events e "
            "JOIN alert_rules r USING (rule_id) WHERE e.webhook_status = 'pending' AND e.fired_at < %s "
            "AND r.webhook_url IS NOT NULL AND r.webhook_secret IS NOT NULL ORDER BY e.event_id",
            (fired_before,),
        )
        pending = []
        for row in rows:
            event, rule, secret = _event(row[:7]), _rule(row[7:15]), row[15]
            pending.append(PendingDelivery(event, rule, rule.webhook_url or "", secret, event.webhook_attempts))
        return pending

    def list_events(self, key_id: str, limit: int, before: int | None) -> list[AlertEvent]:
        """Fired alerts of a key, newest first, older than event id `before` (keyset paging)."""
        rows = self._execute(
            f"SELECT {_EVENT_COLUMNS} FROM alert_events WHERE key_id = %s "
            "AND (%s::bigint IS NULL OR event_id < %s) ORDER BY event_id DESC LIMIT %s",
            (key_id, before, before, limit),
        )
        return [_event(row) for row in rows]

    def close(self) -> None:
        self._db.close()
