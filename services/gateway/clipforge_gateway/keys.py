"""API keys: ``cf_<key_id>_<secret>``, stored as a SHA-256 hash and looked up by key id.

The secret has 256 bits of entropy, so a fast hash is enough (no password stretching needed); the
comparison is constant-time. Plaintext keys are returned once by :func:`create_api_key` and never
stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import asyncpg
from clipforge_common.envelope import new_event_id

KEY_PREFIX = "cf"


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    tenant_id: str
    key_hash: str
    rate_limit_per_minute: int | None
    revoked: bool


def generate_key() -> tuple[str, str]:
    """A new ``(key_id, plaintext)``; the key id is public, the rest is the secret."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return key_id, f"{KEY_PREFIX}_{key_id}_{secret}"


def parse_key(plaintext: str) -> str | None:
    """The key id of a well-formed key, else None."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 16 or not parts[2]:
        return None
    try:
        int(parts[1], 16)
    except ValueError:
        return None
    return parts[1]


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def verify_key(plaintext: str, key_hash: str) -> bool:
    """Constant-time comparison of the presented key's hash with the stored one."""
    return hmac.compare_digest(hash_key(plaintext).encode(), key_hash.encode())


async def create_api_key(pool: asyncpg.Pool, tenant_name: str, *, rate_limit_per_minute: int | None = None) -> str:
    """Create the tenant if needed and a new key for it; returns the plaintext key (shown once)."""
    name = tenant_name.strip()
    if not name:
        raise ValueError("tenant name must not be empty")
    key_id, plaintext = generate_key()
    async with pool.acquire() as conn, conn.transaction():
        tenant_id = await conn.fetchval(
            """INSERT INTO tenants (tenant_id, name) VALUES ($1, $2)
               ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING tenant_id""",
            new_event_id(),
            name,
        )
        await conn.execute(
            "INSERT INTO api_keys (key_id, tenant_id, key_hash, rate_limit_per_minute) VALUES ($1, $2, $3, $4)",
            key_id,
            tenant_id,
            hash_key(plaintext),
            rate_limit_per_minute,
        )
    return plaintext


async def revoke_api_key(pool: asyncpg.Pool, key_id: str) -> bool:
    async with pool.acquire() as conn:
        done = await conn.fetchval(
            "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL RETURNING 1", key_id
        )
    return done is not None


async def tenant_id_for(pool: asyncpg.Pool, tenant_name: str) -> str | None:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT tenant_id FROM tenants WHERE name = $1", tenant_name.strip())


async def load_key(conn: asyncpg.Connection | asyncpg.Pool, key_id: str) -> KeyRecord | None:
    row = await conn.fetchrow(
        "SELECT key_id, tenant_id, key_hash, rate_limit_per_minute, revoked_at FROM api_keys WHERE key_id = $1",
        key_id,
    )
    if row is None:
        return None
    return KeyRecord(
        key_id=row["key_id"],
        tenant_id=row["tenant_id"],
        key_hash=row["key_hash"],
        rate_limit_per_minute=row["rate_limit_per_minute"],
        revoked=row["revoked_at"] is not None,
    )


class KeyCache:
    """Key records trusted in process for ``ttl`` seconds, so the hot path needs no SQL.

    Only hashes are cached. Unknown key ids are cached too (briefly), so guessing ids cannot turn
    into a query flood. Revocation takes effect within ``ttl``.
    """

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, KeyRecord | None]] = {}

    def get(self, key_id: str, now: float | None = None) -> tuple[bool, KeyRecord | None]:
        """``(hit, record)``: a hit may carry None (known not to exist)."""
        entry = self._entries.get(key_id)
        if entry is None or entry[0] <= (time.monotonic() if now is None else now):
            return False, None
        return True, entry[1]

    def put(self, key_id: str, record: KeyRecord | None, now: float | None = None) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # crude but bounded; entries are cheap to reload
        self._entries[key_id] = ((time.monotonic() if now is None else now) + self.ttl, record)

    def drop(self, key_id: str) -> None:
        self._entries.pop(key_id, None)
