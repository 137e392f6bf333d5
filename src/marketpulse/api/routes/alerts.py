"""Alert rules of the caller's key: create, list, delete, and the alerts they fired."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field, HttpUrl
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

from marketpulse.alerts.engine import RULES_CHANGED_CHANNEL
from marketpulse.alerts.rules import Condition
from marketpulse.alerts.store import AlertEvent, AlertRule, AlertStore
from marketpulse.alerts.targets import resolve_target
from marketpulse.api.auth import ReadKey
from marketpulse.api.errors import NotFoundError
from marketpulse.api.paging import DEFAULT_LIMIT, MAX_LIMIT, Cursor, decode_cursor, encode_cursor
from marketpulse.api.schemas import Page
from marketpulse.contracts.market import SYMBOL_PATTERN

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page.")]
CursorParam = Annotated[str | None, Query(description="`next_cursor` of the previous page.", max_length=512)]


class AlertRuleIn(BaseModel):
    # No NUL: PostgreSQL refuses it in text (it would be a 500 deep in the store; found by schemathesis).
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00]*$")
    symbol: str = Field(pattern=SYMBOL_PATTERN, examples=["AAPL"])
    condition: Condition
    webhook_url: HttpUrl | None = Field(
        None,
        description="POSTed a signed JSON body each time the rule fires. Must resolve to public addresses "
        "(loopback, private, link-local and multicast targets are refused unless the operator allows them).",
    )
    cooldown_s: float = Field(60.0, ge=0, le=86_400, description="Least seconds between two firings.")


class AlertRuleCreated(AlertRule):
    webhook_secret: str | None = Field(description="HMAC key of the webhook signature; shown only now.")


def _store(request: Request) -> AlertStore:
    store = request.app.state.alert_store
    assert isinstance(store, AlertStore)
    return store


async def _rearm(request: Request) -> None:
    """Tell the alert service (another process) to reload the rules now rather than at its next poll."""
    try:
        await request.app.state.resources.aredis.publish(RULES_CHANGED_CHANNEL, "1")
    except RedisError as exc:  # the service still reloads within RELOAD_EVERY_S
        log.warning("alert rule change not announced: %r", exc)


@router.post("", status_code=201, response_model=AlertRuleCreated, summary="Create an alert rule")
async def create_rule(body: AlertRuleIn, key: ReadKey, request: Request) -> AlertRuleCreated:
    """Fires when the condition turns true (not while it stays true), at most once per `cooldown_s`."""
    url = str(body.webhook_url) if body.webhook_url else None
    if url is not None:  # 422 now rather than a silent refusal at every delivery
        await run_in_threadpool(resolve_target, url, request.app.state.settings.api.webhook_allow_hosts)
    rule, secret = await run_in_threadpool(
        _store(request).create, key.key_id, body.name, body.symbol, body.condition, url, body.cooldown_s
    )
    await _rearm(request)
    return AlertRuleCreated(**rule.model_dump(), webhook_secret=secret)


@router.get("", response_model=Page[AlertRule], summary="Alert rules of this key, oldest first")
def list_rules(
    key: ReadKey, request: Request, limit: Limit = DEFAULT_LIMIT, cursor: CursorParam = None
) -> Page[AlertRule]:
    after = decode_cursor(cursor, key_count=1).keys[0] if cursor else None
    rules = _store(request).list_rules(key.key_id, limit + 1, after)
    more = len(rules) > limit
    rules = rules[:limit]
    next_cursor = encode_cursor(Cursor(0, (rules[-1].rule_id,))) if more else None
    return Page[AlertRule](items=rules, next_cursor=next_cursor)


@router.get("/events", response_model=Page[AlertEvent], summary="Alerts fired for this key, newest first")
def list_events(
    key: ReadKey, request: Request, limit: Limit = DEFAULT_LIMIT, cursor: CursorParam = None
) -> Page[AlertEvent]:
    before = decode_cursor(cursor).ts_ms if cursor else None
    events = _store(request).list_events(key.key_id, limit + 1, before)
    more = len(events) > limit
    events = events[:limit]
    next_cursor = encode_cursor(Cursor(events[-1].event_id)) if more else None
    return Page[AlertEvent](items=events, next_cursor=next_cursor)


@router.delete(
    "/{rule_id}",
    status_code=204,
    response_class=Response,
    summary="Delete an alert rule",
    responses={404: {"description": "No such rule for this key"}},
)
async def delete_rule(
    rule_id: Annotated[str, Path(pattern=r"^rule_[0-9a-f]{16}$")], key: ReadKey, request: Request
) -> Response:
    if not await run_in_threadpool(_store(request).delete, key.key_id, rule_id):
        raise NotFoundError(f"no alert rule {rule_id} for this key")
    await _rearm(request)
    return Response(status_code=204)
