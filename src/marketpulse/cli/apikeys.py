"""`marketpulse apikeys ...`: API keys, stored hashed in PostgreSQL with scopes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table

from marketpulse.auth.keys import ApiKeyStore, parse_duration
from marketpulse.cli.console import console, out
from marketpulse.cli.settings import settings_of

app = typer.Typer(help="API keys (stored hashed in PostgreSQL, with scopes).", no_args_is_help=True)


@contextmanager
def _key_store(ctx: typer.Context) -> Iterator[ApiKeyStore]:
    store = ApiKeyStore(settings_of(ctx))
    try:
        yield store
    finally:
        store.close()


@app.command("create")
def apikeys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who or what uses the key (shown in lists).")],
    scope: Annotated[list[str] | None, typer.Option("--scope", help="read or admin; repeat for both.")] = None,
    rate: Annotated[float | None, typer.Option(help="Requests/s allowed; default api.rate_limit_per_s.")] = None,
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="Lifetime, e.g. 90d or 12h; default: never expires.")
    ] = None,
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    lifetime = parse_duration(expires_in) if expires_in else None
    with _key_store(ctx) as store:
        key, plain = store.create(name, scope or ["read"], rate, lifetime)
    until = f", expires {key.expires_at.isoformat(timespec='seconds')}" if key.expires_at else ""
    console.print(f"created key {key.key_id} ({name}, scopes {', '.join(key.scopes)}{until}); it is shown only now:")
    out.print(plain, markup=False, highlight=False)


@app.command("rotate")
def apikeys_rotate(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="Key id to replace (apikeys list).")],
    overlap: Annotated[
        str, typer.Option(help="How long the old key keeps working beside the new one, e.g. 24h or 7d.")
    ] = "24h",
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="Lifetime of the new key; default: never expires.")
    ] = None,
) -> None:
    """Issue a new key with the same name, scopes and rate; the old one expires after the overlap (no downtime:
    clients switch to the new key meanwhile). The new key is printed once."""
    window = parse_duration(overlap)
    lifetime = parse_duration(expires_in) if expires_in else None
    with _key_store(ctx) as store:
        old, new, plain = store.rotate(key_id, window, lifetime)
    assert old.expires_at is not None, "a rotated key always has an expiry"
    console.print(
        f"key {old.key_id} ({old.name}) now expires {old.expires_at.isoformat(timespec='seconds')}; "
        f"its replacement {new.key_id} is shown only now:"
    )
    out.print(plain, markup=False, highlight=False)


@app.command("revoke")
def apikeys_revoke(ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="Key id (apikeys list).")]) -> None:
    """Revoke a key; running APIs refuse it within api.key_cache_ttl_s seconds."""
    with _key_store(ctx) as store:
        key = store.revoke(key_id)
    out.print(f"revoked {key.key_id} ({key.name})")


@app.command("list")
def apikeys_list(ctx: typer.Context) -> None:
    """List keys: id, name, scopes, rate limit, created, expires, revoked (never the keys themselves)."""
    with _key_store(ctx) as store:
        keys = store.list()
    table = Table(title="API keys")
    for column in ("id", "name", "scopes", "rate/s", "created", "expires", "revoked"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            key.key_id,
            key.name,
            ",".join(key.scopes),
            f"{key.rate_limit_per_s:g}" if key.rate_limit_per_s else "default",
            key.created_at.isoformat(timespec="seconds"),
            key.expires_at.isoformat(timespec="seconds") if key.expires_at else "-",
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "-",
        )
    out.print(table)
