"""Passwords, pseudonyms and CSRF tokens: the small cryptographic pieces of the review app."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections import Counter

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown user as slow as one for a known user.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Return whether ``password`` matches ``password_hash`` (None: an unknown user, always False)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


#: Hex digits of a pseudonym: 64 bits, so two of a million addresses share an alias with odds of about 3e-8
#: (24 bits gave 10 collisions among 20,000 addresses, merging two people's mail under one alias).
PSEUDONYM_HEX_DIGITS = 16
#: A secret key must be at least this long and carry about this much entropy, as a random key does.
MIN_SECRET_KEY_BYTES = 32
MIN_SECRET_KEY_BITS = 128


def pseudonym(value: str, secret_key: str, prefix: str = "User") -> str:
    """Return a stable alias like ``User-3F9A1C4B07D2E85A`` for an address: an HMAC of it, keyed by the secret."""
    if not value.strip():
        return f"{prefix}-unknown"
    digest = hmac.new(secret_key.encode(), value.strip().lower().encode(), hashlib.sha256).hexdigest()
    return f"{prefix}-{digest[:PSEUDONYM_HEX_DIGITS].upper()}"


def new_secret_key() -> str:
    """Return a fresh secret key: 32 random bytes as 64 hex digits."""
    return secrets.token_hex(32)


def secret_key_problem(key: str) -> str | None:
    """Return why ``key`` is too weak to sign sessions and key pseudonyms, or None when it will do.

    A key must be at least 32 bytes long, and its characters must not repeat like a typed phrase or
    a padded word does: the estimate is length x the Shannon entropy of its character frequencies.
    """
    n = len(key.encode())
    if n < MIN_SECRET_KEY_BYTES:
        return f"it is {n} bytes long; use at least {MIN_SECRET_KEY_BYTES} random bytes"
    counts = Counter(key)
    bits = -len(key) * sum(c / len(key) * math.log2(c / len(key)) for c in counts.values())
    if bits < MIN_SECRET_KEY_BITS:
        return f"its characters repeat too much (about {bits:.0f} bits; a random key has {MIN_SECRET_KEY_BITS}+)"
    return None


def token_digest(token: str) -> str:
    """Return the SHA-256 hex digest under which a session token is stored (the token itself never is)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_session_token() -> str:
    """Return a fresh random session token (32 bytes)."""
    return secrets.token_urlsafe(32)


def new_csrf_token() -> str:
    """Return a fresh random synchronizer token for one session."""
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Return whether the submitted CSRF token equals the session's (constant-time)."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
