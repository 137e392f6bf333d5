"""API keys: generated once, stored hashed in PostgreSQL with scopes and a rate limit, verified per request."""

from marketpulse.auth.keys import ApiKey, ApiKeyStore, Scope, generate_key, hash_secret, parse_key

__all__ = ["ApiKey", "ApiKeyStore", "Scope", "generate_key", "hash_secret", "parse_key"]
