"""Passwords, pseudonyms and CSRF tokens: the small cryptographic pieces of the review app."""

from __future__ import annotations

import hashlib
import hmac
import secrets

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


def pseudonym(value: str, secret_key: str, prefix: str = "User") -> str:
    """Return a stable alias like ``User-3F9A1C`` for an address: an HMAC of it, keyed by the secret.

    Six hex digits (16.7 M values) keep collisions unlikely across a city's staff directory.
    """
    if not value.strip():
        return f"{prefix}-unknown"
    digest = hmac.new(secret_key.encode(), value.strip().lower().encode(), hashlib.sha256).hexdigest()
    return f"{prefix}-{digest[:6].upper()}"


def new_csrf_token() -> str:
    """Return a fresh random synchronizer token for one session."""
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Return whether the submitted CSRF token equals the session's (constant-time)."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
