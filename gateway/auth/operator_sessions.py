"""Operator sign-in: password login with attempt limits, server-side sessions, API tokens.

Every outcome that matters is in the audit chain: sign-ins, failures (with the lockout they
caused), sign-outs. Of the sign-ins a lock refuses only the first is audited and the rest are
counted, or anyone could grow the (hash-chained, serialised) audit chain at request rate.
Attempt counters live in the database, keyed per account and per client address (an IPv6
client's /64), so the limits hold whichever instance a load balancer picks. The client address
is the edge's to find (`gateway.http.client_address`: the TCP peer, or what a trusted proxy
forwarded).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from gateway.auth.operator_secrets import (
    DEFAULT_HASHING,
    TOKEN_PREFIX,
    PasswordHashing,
    csrf_token,
    digest,
    new_session_id,
    verify_password,
)
from gateway.clock import Clock, utc_now
from gateway.domain import one_time_passwords
from gateway.domain.audit import AuditAction
from gateway.domain.operators import (
    LoginCounter,
    LoginPolicy,
    Operator,
    Role,
    SessionPolicy,
    address_key,
)
from gateway.errors import AuthenticationFailed
from gateway.store import Store, UnitOfWork
from gateway.store.operators import SessionRecord

log = logging.getLogger(__name__)


# Rows deleted per transaction by the housekeeping purge.
PURGE_BATCH = 500


class Via(StrEnum):
    SESSION = "session"
    TOKEN = "token"  # noqa: S105 - a kind of credential, not one


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated operator: `role` is what this credential may do (a token's role is
    capped by its operator's current one); `session_id` is set for cookie sessions only."""

    operator: Operator
    role: Role
    via: Via
    session_id: str | None = None
    token_id: str | None = None
    expires_at: datetime | None = None

    @property
    def actor(self) -> str:
        """Who acts, for the audit chain: the operator, and which of their API tokens when one
        was used (its public id, never the secret), so a leaked token's actions stand out."""
        if self.token_id is not None:
            return f"operator:{self.operator.id}/token:{self.token_id}"
        return f"operator:{self.operator.id}"

    @property
    def must_change_password(self) -> bool:
        """A session opened with a one-time password: it may only set the operator's own.
        (An API token predates the reset and is the admin's to revoke with it.)"""
        return self.via is Via.SESSION and self.operator.must_change_password

    @property
    def csrf(self) -> str | None:
        return None if self.session_id is None else csrf_token(self.session_id)


class LoginLocked(AuthenticationFailed):
    """Too many failed sign-ins for the account or the client address."""

    def __init__(self, until: datetime) -> None:
        super().__init__(
            "too many failed sign-ins for this account or address; try again after "
            f"{until.isoformat(timespec='seconds')}",
            details={"lockedUntil": until.isoformat()},
        )
        self.until = until


@dataclass(frozen=True, slots=True)
class _Attempt:
    refused_until: datetime | None = None  # locked before this attempt: not even checked
    locks_until: datetime | None = None  # this attempt, if wrong, starts a lock
    address_lock: datetime | None = None  # the lock it started on the client address
    first_refusal: bool = False  # the first this lock refused: audited (later ones counted)
    # Sign-ins refused by locks now over, per key: reported in this attempt's audit entry.
    refused_before: tuple[tuple[str, int], ...] = ()


class OperatorAuth:
    """Checks passwords, sessions and tokens; knows nothing of HTTP (cookies are the edge's)."""

    def __init__(
        self,
        *,
        store: Store,
        sessions: SessionPolicy,
        logins: LoginPolicy,
        clock: Clock = utc_now,
        passwords: PasswordHashing | None = None,
        purge_batch: int = PURGE_BATCH,
    ) -> None:
        if purge_batch < 1:
            raise ValueError("purge_batch must be at least 1")
        self._purge_batch = purge_batch
        self._store = store
        self._passwords = passwords or DEFAULT_HASHING
        self.sessions = sessions
        self._logins = logins
        self._clock = clock

    async def login(self, operator_id: str, password: str, client: str) -> Principal:
        """A new session for a correct password; AuthenticationFailed (or LoginLocked) else.

        Each attempt is counted as a failure *before* the password is checked, and taken back
        only once it proved right (the account's count is reset, the address's keeps its other
        failures): concurrent guesses (each argon2 check takes a
        while) are counted one by one under the counters' row locks, so a burst gets no more
        checks than the limit allows. While locked even the right password is refused, or a
        lockout would not slow a guesser down at all.
        """
        now = self._clock()
        # The address first, here and on success (one lock order, no deadlock): a locked
        # address is refused before a counter is made for whatever id it typed.
        keys = (address_key(client), f"account:{operator_id}")
        async with self._store.transaction() as tx:
            attempt = await self._count_attempt(tx, keys, now)
            if attempt.first_refusal:
                await _audit_failure(tx, operator_id, client, "locked", None)
            record = await tx.operators.get(operator_id)
        if attempt.refused_until is not None:
            raise LoginLocked(attempt.refused_until)
        stored = record.password_hash if record is not None else None
        # A missing account is checked against a dummy hash at today's cost: same time.
        good = await verify_password(stored or self._passwords.dummy, password)
        good = good and stored is not None
        # A one-time password past its deadline signs in no more (the admin issues another).
        lapsed = good and one_time_passwords.expired(stored, now)
        good = good and not lapsed
        rehashed = await self._rehashed(stored, password) if good else None
        if not good or record is None or not record.operator.active:
            reason = "disabled" if good and record is not None else "wrong-credentials"
            reason = "one-time-password-expired" if lapsed else reason
            async with self._store.transaction() as tx:
                await _audit_failure(
                    tx, operator_id, client, reason, attempt.locks_until, attempt.refused_before
                )
            if attempt.locks_until is not None:
                raise LoginLocked(attempt.locks_until)
            raise AuthenticationFailed("wrong operator id or password")
        session_id = new_session_id()
        expires = self.sessions.expiry(now, now)
        async with self._store.transaction() as tx:
            # The check ran outside a transaction: a reset or a disable that committed
            # meanwhile ended every session, and must end this one before it starts.
            again = await tx.operators.get(operator_id, for_update=True)
            stale = again is None or again.password_hash != stored or not again.operator.active
            record = again or record
            if stale:
                await _audit_failure(
                    tx, operator_id, client, "changed-meanwhile", None, attempt.refused_before
                )
            else:
                await self._start_session(tx, attempt, session_id, operator_id, now, client)
                if rehashed is not None and stored is not None:
                    await tx.operators.rehash_password(operator_id, stored, rehashed)
        if stale:
            raise AuthenticationFailed("wrong operator id or password")
        operator = record.operator
        return Principal(operator, operator.role, Via.SESSION, session_id, expires_at=expires)

    async def _rehashed(self, stored: str | None, password: str) -> str | None:
        """The password hashed again at today's cost if its hash was made at another one
        (`[operators] password_*` changed); the password is at hand only at a sign-in.

        A concurrent sign-in that checked the old hash then sees a changed hash and is
        refused as "changed-meanwhile": rare (the first sign-ins after a change, at once),
        and a retry succeeds."""
        if stored is None or not self._passwords.needs_rehash(stored):
            return None
        log.info("operator password hash: stored again at the configured argon2id cost")
        return await asyncio.to_thread(self._passwords.hash, password)

    async def _start_session(
        self,
        tx: UnitOfWork,
        attempt: _Attempt,
        session_id: str,
        operator_id: str,
        now: datetime,
        client: str,
    ) -> None:
        address = await tx.operators.claim_counter(address_key(client))
        await tx.operators.save_counter(address.forgiven(attempt.address_lock, now, self._logins))
        account = await tx.operators.claim_counter(f"account:{operator_id}")
        await tx.operators.save_counter(account.succeeded())
        expires = self.sessions.expiry(now, now)
        session = SessionRecord(digest(session_id), operator_id, now, now, expires)
        await tx.operators.add_session(session, client)
        # Expired sessions are refused on use and purged by housekeeping (`purge_expired`).
        details: dict[str, object] = {"client": client}
        if attempt.refused_before:
            details["refusedWhileLocked"] = dict(attempt.refused_before)
        await tx.audit.append(
            AuditAction.OPERATOR_LOGIN,
            actor=f"operator:{operator_id}",
            subject=operator_id,
            details=details,
        )

    async def _count_attempt(
        self, tx: UnitOfWork, keys: tuple[str, ...], now: datetime
    ) -> _Attempt:
        """Refused if a key is locked (the refusal counted on its row); else counted as a
        failure on every key (a lock this attempt starts applies if the password proves
        wrong)."""
        counters = []
        for key in keys:
            counter = await tx.operators.claim_counter(key)
            if counter.locked(now) and counter.locked_until is not None:
                refused = counter.refused()
                await tx.operators.save_counter(refused)
                first = refused.failures == 1
                return _Attempt(refused_until=counter.locked_until, first_refusal=first)
            counters.append(counter)
        # Read before `failed` below starts a new window and with it forgets the count.
        refused_before = tuple(
            (c.key, n) for c in counters if (n := c.refused_by_last_lock(now)) > 0
        )
        locks_until: datetime | None = None
        address_lock: datetime | None = None
        for counter in counters:
            after = counter.failed(now, self._logins)
            await tx.operators.save_counter(after)
            if after.lockouts > counter.lockouts and after.locked_until is not None:
                locks_until = max(locks_until or after.locked_until, after.locked_until)
                if counter.key.startswith("address:"):
                    address_lock = after.locked_until
        return _Attempt(
            locks_until=locks_until, address_lock=address_lock, refused_before=refused_before
        )

    async def session(self, session_id: str) -> Principal | None:
        """The session's operator, None if unknown, expired (idle or absolute) or disabled.

        Each use moves the idle deadline; the write is skipped while the last one is recent
        (a tenth of the idle time, at most a minute), which only ever shortens a session.
        """
        now = self._clock()
        id_hash = digest(session_id)
        async with self._store.transaction() as tx:
            found = await tx.operators.session(id_hash)
            if found is None:
                return None
            if now >= self.sessions.expiry(found.created_at, found.last_seen_at):
                await tx.operators.end_session(id_hash)
                return None
            record = await tx.operators.get(found.operator_id)
            if record is None or not record.operator.active:
                await tx.operators.end_session(id_hash)
                return None
            throttle = min(self.sessions.idle / 10, _MAX_TOUCH_LAG)
            if now - found.last_seen_at >= throttle:
                expires = self.sessions.expiry(found.created_at, now)
                await tx.operators.touch_session(id_hash, now, expires)
            else:
                expires = self.sessions.expiry(found.created_at, found.last_seen_at)
        operator = record.operator
        return Principal(operator, operator.role, Via.SESSION, session_id, expires_at=expires)

    async def logout(self, principal: Principal) -> None:
        if principal.session_id is None:
            return
        async with self._store.transaction() as tx:
            await tx.operators.end_session(digest(principal.session_id))
            await tx.audit.append(
                AuditAction.OPERATOR_LOGOUT,
                actor=principal.actor,
                subject=principal.operator.id,
            )

    async def token(self, presented: str) -> Principal | None:
        """The API token's operator and role, None if unknown, expired, revoked or disabled."""
        if not presented.startswith(TOKEN_PREFIX):
            return None
        now = self._clock()
        async with self._store.transaction() as tx:
            found = await tx.operators.token_by_hash(digest(presented))
            if found is None or not found.usable(now):
                return None
            record = await tx.operators.get(found.operator_id)
            if record is None or not record.operator.active:
                return None
            await tx.operators.token_used(found.id, now)
        operator = record.operator
        # Never above the operator's role today: a demoted operator's old token is demoted too.
        role = found.role if operator.role.allows(found.role) else operator.role
        return Principal(operator, role, Via.TOKEN, token_id=found.id, expires_at=found.expires_at)

    async def purge_expired(self) -> Purged:
        """Expired sessions and stale attempt counters (housekeeping), `purge_batch` rows a
        transaction: a backlog (a spray of sign-ins from many addresses, a night of expired
        sessions) never holds the write lock, or the audit chain's, for long.

        A counter is stale once untouched for a window plus the longest lock: it is neither
        locked nor counting, and a back-off that old is forgotten. Refusals its last lock
        counted and no later attempt reported are audited as it goes."""
        now = self._clock()
        stale_before = now - self._logins.window - self._logins.lockout_cap
        sessions = counters = 0
        while True:
            async with self._store.transaction() as tx:
                ended = await tx.operators.purge_sessions(now, limit=self._purge_batch)
            sessions += ended
            if ended < self._purge_batch:
                break
        while True:
            async with self._store.transaction() as tx:
                purged = await tx.operators.purge_counters(stale_before, limit=self._purge_batch)
                for counter in purged:
                    refused = counter.refused_by_last_lock(now)
                    if refused > 1:  # the first refusal has its own entry already
                        await _audit_refusals(tx, counter, refused)
            counters += len(purged)
            if len(purged) < self._purge_batch:
                break
        return Purged(sessions=sessions, counters=counters)


@dataclass(frozen=True, slots=True)
class Purged:
    """What one housekeeping purge deleted."""

    sessions: int
    counters: int


# Sessions used more often than this are not written back on every request.
_MAX_TOUCH_LAG = SessionPolicy().idle / 30  # one minute with the default idle time


async def _audit_failure(
    tx: UnitOfWork,
    operator_id: str,
    client: str,
    reason: str,
    until: datetime | None,
    refused_before: tuple[tuple[str, int], ...] = (),
) -> None:
    details: dict[str, object] = {"client": client, "reason": reason}
    if until is not None:
        details["lockedUntil"] = until.isoformat()
    if refused_before:
        details["refusedWhileLocked"] = dict(refused_before)
    # The subject is the id typed, which may not exist: the trail shows what was tried.
    await tx.audit.append(
        AuditAction.OPERATOR_LOGIN_FAILED,
        actor="operator",
        subject=operator_id or "-",
        details=details,
    )


async def _audit_refusals(tx: UnitOfWork, counter: LoginCounter, refused: int) -> None:
    """The count of a lock's refusals no later attempt reported, as its counter is purged."""
    kind, _, value = counter.key.partition(":")
    details: dict[str, object] = {
        "reason": "locked",
        "refusedWhileLocked": {counter.key: refused},
    }
    if counter.locked_until is not None:
        details["lockedUntil"] = counter.locked_until.isoformat()
    if kind == "address":
        details["client"] = value
    await tx.audit.append(
        AuditAction.OPERATOR_LOGIN_FAILED,
        actor="operator",
        subject=value if kind == "account" else "-",
        details=details,
    )
