"""Operator secrets: argon2id password hashes, and the random session ids, CSRF tokens and API
tokens that are stored only as SHA-256 digests."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.domain import one_time_passwords
from gateway.domain.operators import Argon2Cost

# API tokens carry this prefix: the admin API tells them from carrier JWTs (which start with
# "ey") without parsing, and secret scanners can find a leaked one.
TOKEN_PREFIX = "olpo_"  # noqa: S105 - a prefix, not a secret


class PasswordHashing:
    """Hashes and checks operator passwords at one cost. A hash records its own parameters
    (the PHC string), so a hash made at another cost still verifies; `needs_rehash` tells
    sign-in to store it again at today's cost."""

    def __init__(self, *, cost: Argon2Cost | None = None) -> None:
        self.cost = cost or Argon2Cost()
        # `dummy` is verified when the account does not exist, so that a miss costs the same
        # time as a wrong password at this cost: timing does not tell which accounts exist.
        self._hasher = PasswordHasher(
            time_cost=self.cost.time_cost,
            memory_cost=self.cost.memory_cost,
            parallelism=self.cost.parallelism,
        )
        # Made once, here (not on the event loop at a sign-in): ~one hash's time.
        self.dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return False  # not ours to judge: it never verifies anyway


DEFAULT_HASHING = PasswordHashing()
# Verifying reads the cost from the hash itself: one verifier serves every cost.
_VERIFIER = PasswordHasher()


def hash_password(password: str) -> str:
    """A hash at the default cost (the CLI's `OperatorService` without settings uses the
    configured one; this is for callers that have none)."""
    return DEFAULT_HASHING.hash(password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if `password` matches; run in a thread: argon2 is CPU-heavy by design. The hash
    carries its own cost; a None hash is checked against a dummy and is always False."""
    return await asyncio.to_thread(_verify, stored_hash, password)


def _verify(stored_hash: str | None, password: str) -> bool:
    # A one-time password's hash is marked (gateway/domain/one_time_passwords); its deadline
    # is the caller's to check, with its clock.
    try:
        _VERIFIER.verify(one_time_passwords.phc(stored_hash or DEFAULT_HASHING.dummy), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return stored_hash is not None


def digest(secret: str) -> str:
    """What the database keeps of a session id or API token: its SHA-256 (the secrets are
    256-bit random, so a fast hash suffices; argon2 is for low-entropy passwords)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(session_id: str) -> str:
    """The session's synchronizer token: derived from the session id, so it is bound to the
    session, needs no storage, and a reader of the database (which holds only the id's digest
    under another label) cannot compute it."""
    mac = hashlib.sha256(b"openlocker-csrf\x00" + session_id.encode()).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def csrf_matches(session_id: str, presented: str | None) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(csrf_token(session_id).encode(), presented.encode())


def new_api_token() -> tuple[str, str]:
    """(public id, secret token): the id names the token in lists and for revoking."""
    return f"ot_{secrets.token_hex(6)}", TOKEN_PREFIX + secrets.token_urlsafe(32)
