"""Single-use token ids (JWT `jti`): the replay guard for carrier and grant tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from enum import Enum

from sqlalchemy import delete

from gateway.errors import AuthenticationFailed
from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import used_jtis as t

REPLAYED = "token replayed: its jti was used before"


class JtiRepository(Repository):
    async def consume(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        """True the first time (issuer, jti) is seen; False for a replay. Race-free."""
        values = {"issuer": issuer, "jti": jti, "expires_at": expires_at}
        return await insert_if_absent(self._conn, t, values)

    async def purge(self, now: datetime) -> int:
        """Drop ids of tokens expired before `now`; returns how many.

        Pass `now` minus the clock-skew leeway the verifier allows: a token still accepted
        as "not yet expired" must still be found here.
        """
        result = await self._conn.execute(delete(t).where(t.c.expires_at < now))
        return result.rowcount


class _State(Enum):
    PENDING = "pending"  # no committed transaction holds it yet
    CLAIMED = "claimed"  # the insert rides in a transaction not yet ended
    USED = "used"  # committed with that transaction: the request may do anything now
    REFUSED = "refused"  # a replay: the request may open no transaction and answers 401


class PendingJti:
    """A request's token id, recorded in the first transaction the request's task opens.

    This saves the commit of a transaction of its own per request. Exactness rests on three
    rules: the insert is that transaction's first statement, so a replay is refused before the
    transaction did anything (and the unique key makes a concurrent twin wait for, then lose
    to, the first); a transaction that rolls back leaves the id pending, so the request's next
    transaction records it; and whatever the handler did, `settle` records a still pending id
    before the answer leaves (then a replay turns the answer into a 401: a handler that wrote
    nothing has only read). Only the request's own task records it: a task started meanwhile
    (contexts are copied) must not spend, or wait for, the request's token.
    """

    __slots__ = ("_open", "_owner", "_state", "expires_at", "issuer", "jti")

    def __init__(self, *, issuer: str, jti: str, expires_at: datetime) -> None:
        self.issuer = issuer
        self.jti = jti
        self.expires_at = expires_at
        self._owner = asyncio.current_task()
        self._state = _State.PENDING
        self._open = True  # False once the request ended: a copied context holds it inertly

    @property
    def used(self) -> bool:
        return self._state is _State.USED

    @property
    def refused(self) -> bool:
        return self._state is _State.REFUSED

    def claim(self) -> bool:
        """True if the transaction opening now must record the id (then: `record`)."""
        if not self._open or asyncio.current_task() is not self._owner:
            return False
        if self._state is _State.REFUSED:
            raise AuthenticationFailed(REPLAYED)
        if self._state is not _State.PENDING:
            return False
        self._state = _State.CLAIMED
        return True

    async def record(self, jtis: JtiRepository) -> None:
        """The claiming transaction's first statement; raises on a replay."""
        if not await jtis.consume(self.issuer, self.jti, self.expires_at):
            self._state = _State.REFUSED
            raise AuthenticationFailed(REPLAYED)

    def close(self) -> None:
        """The request ended: a task that copied its context must not record the id later."""
        self._open = False

    def ended(self, *, committed: bool) -> None:
        """The claiming transaction committed (the id is spent) or rolled back (it is not)."""
        if self._state is _State.CLAIMED:
            self._state = _State.USED if committed else _State.PENDING


_pending: ContextVar[PendingJti | None] = ContextVar("openlocker_pending_jti", default=None)


@contextmanager
def deferred(pending: PendingJti) -> Iterator[PendingJti]:
    """While the block runs, the task's first transaction records `pending`."""
    token = _pending.set(pending)
    try:
        yield pending
    finally:
        pending.close()
        _pending.reset(token)


def claim_pending() -> PendingJti | None:
    """For Store.transaction: the request's token id this transaction must record, if any."""
    pending = _pending.get()
    return pending if pending is not None and pending.claim() else None
