"""`marketpulse apikeys ...`: API keys, stored hashed in PostgreSQL with scopes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table

from marketpulse.auth.keys import ApiKeyStore
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
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    with _key_store(ctx) as store:
        key, plain = store.create(name, scope or ["read"], rate)
    console.print(f"created key {key.key_id} ({name}, scopes {', '.join(key.scopes)}); it is shown only now:")
    out.print(plain, markup=False, highlight=False)


@app.command("revoke")
def apikeys_revoke(ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="Key id (apikeys list).")]) -> None:
    """Revoke a key; running APIs refuse it within api.key_cache_ttl_s seconds."""
    with _key_store(ctx) as store:
        key = store.revoke(key_id)
    out.print(f"revoked {key.key_id} ({key.name})")


@app.command("list")
def apikeys_list(ctx: typer.Context) -> None:
    """List keys: id, name, scopes, rate limit, created, revoked (never the keys themselves)."""
    with _key_store(ctx) as store:
        keys = store.list()
    table = Table(title="API keys")
    for column in ("id", "name", "scopes", "rate/s", "created", "revoked"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            key.key_id,
            key.name,
            ",".join(key.scopes),
            f"{key.rate_limit_per_s:g}" if key.rate_limit_per_s else "default",
            key.created_at.isoformat(timespec="seconds"),
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "-",
        )
    out.print(table)
