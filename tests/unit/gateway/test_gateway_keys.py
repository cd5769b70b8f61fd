"""API keys: format, hashing, constant-time comparison and the in-process record cache."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from clipforge_gateway import keys
from clipforge_gateway.keys import KeyCache, KeyRecord, generate_key, hash_key, parse_key, verify_key


def test_generated_keys_parse_back_to_their_id_and_are_unique() -> None:
    seen = set()
    for _ in range(200):
        key_id, plaintext = generate_key()
        assert plaintext.startswith(f"cf_{key_id}_")
        assert parse_key(plaintext) == key_id
        assert len(plaintext.split("_", 2)[2]) >= 43  # 32 random bytes, base64url
        seen.add(plaintext)
    assert len(seen) == 200


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "cf",
        "cf_",
        "cf_0123456789abcdef",
        "cf_0123456789abcdef_",
        "xx_0123456789abcdef_s",
        "cf_zzzz_secret",
        "cf_0123456789abcdeg_secret",
        "Bearer cf_0123456789abcdef_s",
    ],
)
def test_malformed_keys_have_no_id(bad: str) -> None:
    assert parse_key(bad) is None


def test_only_a_hash_is_kept_and_it_verifies_the_exact_key() -> None:
    _, plaintext = generate_key()
    stored = hash_key(plaintext)
    assert stored == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in stored
    assert verify_key(plaintext, stored)
    assert not verify_key(plaintext[:-1], stored)
    assert not verify_key(plaintext + "x", stored)
    _, other = generate_key()
    assert not verify_key(other, stored)


def test_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(keys.hmac, "compare_digest", spy)
    _, plaintext = generate_key()
    assert verify_key(plaintext, hash_key(plaintext))
    assert not verify_key("cf_0123456789abcdef_wrong", hash_key(plaintext))
    assert len(calls) == 2


def test_key_cache_expires_and_remembers_unknown_ids() -> None:
    cache = KeyCache(ttl=10)
    record = KeyRecord("k1", "t1", "h", None, False)
    assert cache.get("k1", now=0) == (False, None)
    cache.put("k1", record, now=0)
    cache.put("unknown", None, now=0)
    assert cache.get("k1", now=9.9) == (True, record)
    assert cache.get("unknown", now=5) == (True, None)
    assert cache.get("k1", now=10) == (False, None)
    cache.put("k1", record, now=0)
    cache.drop("k1")
    assert cache.get("k1", now=1) == (False, None)


def test_key_cache_can_be_disabled_and_stays_bounded() -> None:
    assert KeyCache(ttl=0).get("k") == (False, None)
    off = KeyCache(ttl=0)
    off.put("k", None)
    assert off.get("k") == (False, None)
    small = KeyCache(ttl=10, max_entries=3)
    for i in range(10):
        small.put(str(i), None, now=0)
    assert len(small._entries) <= 3
