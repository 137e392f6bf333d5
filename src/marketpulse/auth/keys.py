"""API keys `mpk_<id>_<secret>`: the id finds the row, the secret is checked against its SHA-256.

A key is 256 random bits, so a fast hash is enough (slow hashes like bcrypt protect low-entropy passwords from
guessing; nobody guesses 2^256). Only the hash is stored; the plain key is shown once, at creation.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from marketpulse.config import Settings
from marketpulse.errors import MarketPulseError

Scope = Literal["read", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)
KEY_PREFIX = "mpk"
_KEY_PATTERN = re.compile(rf"^{KEY_PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")


class ApiKeyError(MarketPulseError):
    """An API key operation was refused (unknown key, bad scope); the message says which."""

    http_status = 400


class UnknownApiKeyError(ApiKeyError):
    """No key has this id."""

    http_status = 404


class KeyStoreUnavailableError(MarketPulseError):
    """PostgreSQL, where keys live, did not answer."""

    http_status = 503


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    name: str
    scopes: tuple[str, ...]
    rate_limit_per_s: float | None
    created_at: datetime
    revoked_at: datetime | None

    def allows(self, scope: str) -> bool:
        """admin implies read."""
        return scope in self.scopes or "admin" in self.scopes


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key() -> tuple[str, str, str]:
    """(key_id, secret, the plain key to hand to the client)."""
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    return key_id, secret, f"{KEY_PREFIX}_{key_id}_{secret}"


def parse_key(plain: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key, else None."""
    match = _KEY_PATTERN.match(plain)
    return (match.group(1), match.group(2)) if match else None


def redact(text: str) -> str:
    """Text with every API key's secret replaced, for anything that may reach a log."""
    return re.sub(rf"({KEY_PREFIX}_[0-9a-f]{{12}}_)[A-Za-z0-9_-]+", r"\1<redacted>", text)


def _row_to_key(row: Any) -> ApiKey:
    key_id, name, scopes, rate, created_at, revoked_at = row
    return ApiKey(key_id, name, tuple(scopes), rate, created_at, revoked_at)


class ApiKeyStore:
    """The api_keys table. One autocommit connection guarded by a lock, reopened after a failure."""

    def __init__(self, settings: Settings) -> None:
        from marketpulse.stores.postgres import GuardedConnection

        self._db = GuardedConnection(settings, "API keys", KeyStoreUnavailableError)
        self._execute = self._db.execute

    def create(self, name: str, scopes: list[str], rate_limit_per_s: float | None = None) -> tuple[ApiKey, str]:
        """Store a new key; returns it and the plain key, which is never stored nor shown again."""
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise ApiKeyError(f"scopes must be a non-empty subset of {', '.join(SCOPES)}; got {', '.join(scopes)}")
        if rate_limit_per_s is not None and rate_limit_per_s <= 0:
            raise ApiKeyError("rate limit must be positive")
        key_id, secret, plain = generate_key()
        rows = self._execute(
            "INSERT INTO api_keys (key_id, name, secret_sha256, scopes, rate_limit_per_s) VALUES (%s, %s, %s, %s, %s) "
            "RETURNING key_id, name, scopes, rate_limit_per_s, created_at, revoked_at",
            (key_id, name, hash_secret(secret), sorted(set(scopes)), rate_limit_per_s),
        )
        return _row_to_key(rows[0]), plain

    def revoke(self, key_id: str) -> ApiKey:
        rows = self._execute(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = %s "
            "RETURNING key_id, name, scopes, rate_limit_per_s, created_at, revoked_at",
            (key_id,),
        )
        if not rows:
            raise UnknownApiKeyError(f"no API key with id {key_id!r} (marketpulse apikeys list shows them)")
        return _row_to_key(rows[0])

    def list(self) -> list[ApiKey]:
        rows = self._execute(
            "SELECT key_id, name, scopes, rate_limit_per_s, created_at, revoked_at FROM api_keys ORDER BY created_at"
        )
        return [_row_to_key(row) for row in rows]

    def verify(self, plain: str) -> ApiKey | None:
        """The key if it exists, is not revoked and its secret matches; else None (the caller says 401)."""
        parsed = parse_key(plain)
        if parsed is None:
            return None
        key_id, secret = parsed
        rows = self._execute(
            "SELECT key_id, name, scopes, rate_limit_per_s, created_at, revoked_at, secret_sha256 "
            "FROM api_keys WHERE key_id = %s",
            (key_id,),
        )
        if not rows or not hmac.compare_digest(rows[0][6], hash_secret(secret)):
            return None
        key = _row_to_key(rows[0][:6])
        return None if key.revoked_at is not None else key

    def close(self) -> None:
        self._db.close()


def local_key(settings: Settings, name: str, scopes: list[str]) -> str:
    """A key for this machine's own use (the dashboard, the examples `platform up` prints), kept in the stack's
    ignored run folder (mode 0600) and reused while it stays valid; a new one is created otherwise."""
    path = settings.stack.run_dir / "keys" / f"{name}.key"
    store = ApiKeyStore(settings)
    try:
        if path.exists():
            plain = path.read_text().strip()
            if store.verify(plain) is not None:
                return plain
        _, plain = store.create(name, scopes)
    finally:
        store.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(plain + "\n")
    return plain
