"""API keys `mpk_<id>_<secret>`: the id finds the row, the secret is checked against its SHA-256.

A key is 256 random bits, so a fast hash is enough (slow hashes like bcrypt protect low-entropy passwords from
guessing; nobody guesses 2^256). Only the hash is stored; the plain key is shown once, at creation.

A key may carry an expiry (`expires_at`); an expired key is refused like a revoked one. Rotation issues a new
key with the old one's name, scopes and rate and lets the old one expire after an overlap window, so clients
switch over without a moment in which neither key works.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from marketpulse.config import Settings
from marketpulse.errors import MarketPulseError
from marketpulse.stores.postgres import GuardedConnection

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
    expires_at: datetime | None = None
    #: The key that replaced this one (`apikeys rotate`); None unless it was rotated.
    replaced_by: str | None = None

    def allows(self, scope: str) -> bool:
        """admin implies read."""
        return scope in self.scopes or "admin" in self.scopes

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC))

    def refusal(self, now: datetime | None = None) -> str | None:
        """Why this (matching) key may not be used now, or None when it may."""
        if self.revoked_at is not None:
            return "the API key is revoked"
        if self.expires_at is not None and self.expired(now):
            return f"the API key expired at {self.expires_at.astimezone(UTC).isoformat(timespec='seconds')}"
        return None


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


def describe_presented(plain: str) -> str:
    """What a log may say about a key a client presented: its id when it is well-formed, else only its length
    (a malformed "key" may be some other secret pasted into the header; none of it is logged)."""
    parsed = parse_key(plain)
    return f"key id {parsed[0]}" if parsed else f"a malformed key ({len(plain)} characters)"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$")
_UNIT_S = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str) -> timedelta:
    """'90s', '15m', '12h', '30d', '2w' -> timedelta (the CLI's --expires-in and --overlap)."""
    match = _DURATION.match(text)
    if match is None:
        raise ApiKeyError(f"not a duration: {text!r} (use e.g. 90s, 15m, 12h, 30d, 2w)")
    return timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])


_COLUMNS = "key_id, name, scopes, rate_limit_per_s, created_at, revoked_at, expires_at, replaced_by"


def _row_to_key(row: Any) -> ApiKey:
    key_id, name, scopes, rate, created_at, revoked_at, expires_at, replaced_by = row
    return ApiKey(key_id, name, tuple(scopes), rate, created_at, revoked_at, expires_at, replaced_by)


class ApiKeyStore:
    """The api_keys table. One autocommit connection guarded by a lock, reopened after a failure."""

    def __init__(self, settings: Settings) -> None:
        self._db = GuardedConnection(settings, "API keys", KeyStoreUnavailableError)
        self._execute = self._db.execute

    def create(
        self,
        name: str,
        scopes: list[str],
        rate_limit_per_s: float | None = None,
        expires_in: timedelta | None = None,
    ) -> tuple[ApiKey, str]:
        """Store a new key (expiring `expires_in` from now, or never); returns it and the plain key, which is never
        stored nor shown again."""
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise ApiKeyError(f"scopes must be a non-empty subset of {', '.join(SCOPES)}; got {', '.join(scopes)}")
        if rate_limit_per_s is not None and rate_limit_per_s <= 0:
            raise ApiKeyError("rate limit must be positive")
        if expires_in is not None and expires_in <= timedelta(0):
            raise ApiKeyError("a key's lifetime must be positive")
        key_id, secret, plain = generate_key()
        rows = self._execute(
            "INSERT INTO api_keys (key_id, name, secret_sha256, scopes, rate_limit_per_s, expires_at) "
            f"VALUES (%s, %s, %s, %s, %s, now() + %s::interval) RETURNING {_COLUMNS}",
            (key_id, name, hash_secret(secret), sorted(set(scopes)), rate_limit_per_s, expires_in),
        )
        return _row_to_key(rows[0]), plain

    def rotate(
        self, key_id: str, overlap: timedelta, expires_in: timedelta | None = None
    ) -> tuple[ApiKey, ApiKey, str]:
        """A new key with the old one's name, scopes and rate; the old one stays valid for `overlap` more (never
        longer than it already would), then expires. Returns (old key as now stored, new key, new plain key)."""
        if overlap < timedelta(0):
            raise ApiKeyError("the overlap of a rotation cannot be negative")
        old = self.get(key_id)
        if old.refusal() is not None:
            raise ApiKeyError(f"key {key_id} cannot be rotated: {old.refusal()} (create a new one instead)")
        new, plain = self.create(old.name, list(old.scopes), old.rate_limit_per_s, expires_in)
        rows = self._execute(
            "UPDATE api_keys SET expires_at = least(coalesce(expires_at, 'infinity'), now() + %s::interval), "
            f"replaced_by = %s WHERE key_id = %s RETURNING {_COLUMNS}",
            (overlap, new.key_id, key_id),
        )
        return _row_to_key(rows[0]), new, plain

    def get(self, key_id: str) -> ApiKey:
        rows = self._execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = %s", (key_id,))
        if not rows:
            raise UnknownApiKeyError(f"no API key with id {key_id!r} (marketpulse apikeys list shows them)")
        return _row_to_key(rows[0])

    def revoke(self, key_id: str) -> ApiKey:
        rows = self._execute(
            f"UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = %s RETURNING {_COLUMNS}",
            (key_id,),
        )
        if not rows:
            raise UnknownApiKeyError(f"no API key with id {key_id!r} (marketpulse apikeys list shows them)")
        return _row_to_key(rows[0])

    def list(self) -> list[ApiKey]:
        rows = self._execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at")
        return [_row_to_key(row) for row in rows]

    def lookup(self, plain: str) -> ApiKey | None:
        """The stored key whose secret matches `plain` (revoked or expired included), else None."""
        parsed = parse_key(plain)
        if parsed is None:
            return None
        key_id, secret = parsed
        rows = self._execute(f"SELECT {_COLUMNS}, secret_sha256 FROM api_keys WHERE key_id = %s", (key_id,))
        if not rows or not hmac.compare_digest(rows[0][-1], hash_secret(secret)):
            return None
        return _row_to_key(rows[0][:-1])

    def verify(self, plain: str) -> ApiKey | None:
        """The key if it exists, its secret matches and it is neither revoked nor expired; else None."""
        key = self.lookup(plain)
        return key if key is not None and key.refusal() is None else None

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
