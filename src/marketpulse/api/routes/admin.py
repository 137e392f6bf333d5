"""Key administration (admin scope): list keys and revoke one. Keys are created with `marketpulse apikeys create`,
so a plain key never travels through the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from marketpulse.api.auth import AdminKey, Authenticator
from marketpulse.api.schemas import Page

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class ApiKeyOut(BaseModel):
    key_id: str
    name: str
    scopes: list[str]
    rate_limit_per_s: float | None
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None
    replaced_by: str | None = None


def _authenticator(request: Request) -> Authenticator:
    authenticator = request.app.state.authenticator
    assert isinstance(authenticator, Authenticator)
    return authenticator


@router.get("/keys", response_model=Page[ApiKeyOut], summary="Every API key (never their secrets)")
async def list_keys(_: AdminKey, request: Request) -> Page[ApiKeyOut]:
    keys = await run_in_threadpool(_authenticator(request).store.list)
    items = [ApiKeyOut(**{**key.__dict__, "scopes": list(key.scopes)}) for key in keys]
    return Page[ApiKeyOut](items=items, next_cursor=None)


@router.post("/keys/{key_id}/revoke", response_model=ApiKeyOut, summary="Revoke a key")
async def revoke_key(
    key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")], _: AdminKey, request: Request
) -> ApiKeyOut:
    authenticator = _authenticator(request)
    key = await run_in_threadpool(authenticator.store.revoke, key_id)
    authenticator.forget()
    return ApiKeyOut(**{**key.__dict__, "scopes": list(key.scopes)})
