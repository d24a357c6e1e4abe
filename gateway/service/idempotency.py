"""Idempotent mutations: a replay returns the first answer, another body under the key is a 409.

The answer a replay returns is JSON the edge rendered (services never render wire JSON): the
edge hands a service an `Idempotent[T]`, the key plus its renderer for the service's typed result
T, and gets back an `Answered[T]`. `run_idempotent` stores the rendered answer in the transaction
that makes the effect, so the effect and its answer exist together or not at all. Actions that
cannot share one transaction with their answer (opening a door) `claim` the key first and
`settle` it in the transaction that records the outcome.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from gateway.clock import Clock
from gateway.errors import AlreadyExists, ConcurrentUpdate, IdempotencyConflict, OpenLockerError
from gateway.store import Store, UnitOfWork

T = TypeVar("T")

JsonBody = dict[str, Any]
"""An answer as stored for replays: the JSON body the edge rendered for the first request."""


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """The caller's key plus a fingerprint of what it asked, to tell a replay from a reuse."""

    key: str
    fingerprint: str

    @classmethod
    def for_request(cls, key: str, method: str, path: str, body: Any) -> IdempotencyKey:
        canonical = json.dumps(
            {"method": method.upper(), "path": path, "body": body},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return cls(key, hashlib.sha256(canonical.encode()).hexdigest())


@dataclass(frozen=True, slots=True)
class Idempotent(Generic[T]):
    """One idempotent request as the edge hands it to a service: its key, and how the edge
    renders the service's result into the answer that this and every replay receive."""

    key: IdempotencyKey
    render: Callable[[T], JsonBody]


@dataclass(frozen=True, slots=True)
class Answered(Generic[T]):
    """What an idempotent service call returns.

    `result` is the typed result of the work this call did; None for a replay, which did
    nothing. `answer` is the rendered first answer, the same for every request with the key.
    """

    result: T | None
    answer: JsonBody

    @property
    def replayed(self) -> bool:
        return self.result is None


async def prior_answer(tx: UnitOfWork, carrier_id: str, idem: IdempotencyKey) -> JsonBody | None:
    """The stored answer for a replay, None for a new key; IdempotencyConflict on reuse."""
    record = await tx.idempotency.get(carrier_id, idem.key)
    if record is None:
        return None
    if record.fingerprint != idem.fingerprint:
        raise IdempotencyConflict(
            "this Idempotency-Key was used for a different request",
            details={"idempotencyKey": idem.key},
        )
    return record.response


# A transaction that lost a race (the same Idempotency-Key twice at once) is retried this often.
MAX_ATTEMPTS = 5


async def run_idempotent(
    store: Store,
    clock: Clock,
    carrier_id: str,
    request: Idempotent[T],
    work: Callable[[UnitOfWork, datetime], Awaitable[T]],
    *,
    subject: str,
    optimistic: bool = False,
) -> Answered[T]:
    """Run `work` once per key; its rendered answer is stored in the transaction of its effects.

    A transaction that lost a race is run again, and then finds the winner's answer. An
    AlreadyExists is looked at once more for the same reason: a concurrent request with the
    same key may have created the thing. `subject` names it in the final refusal.

    `optimistic`: a new key is the common case, so the key is looked up only when `work` or
    the answer's insert fails (a replay books its parcel id again, or finds the locker full;
    the key was taken meanwhile): one statement less per success, the same statement as
    before for a failure. The lookup runs in the failed transaction, which then rolls back,
    `work`'s effects with it, and the answer is what a lookup first would have given: the
    stored answer, an IdempotencyConflict for a reused key, else the failure itself. Only for
    work whose failures leave its transaction usable (errors raised in Python, not by the
    database) and whose effects are all in that transaction.
    """
    idem = request.key
    conflict_seen = False
    for _ in range(MAX_ATTEMPTS):
        try:
            async with store.transaction() as tx:
                if not optimistic:
                    prior = await prior_answer(tx, carrier_id, idem)
                    if prior is not None:
                        return Answered(None, prior)
                try:
                    result = await work(tx, clock())
                    answer = request.render(result)
                    await tx.idempotency.put(carrier_id, idem.key, idem.fingerprint, answer)
                except OpenLockerError:
                    if not optimistic:
                        raise
                    prior = await prior_answer(tx, carrier_id, idem)
                    if prior is None:
                        raise
                    raise _Stored(prior) from None  # leaves the transaction: rolled back
                return Answered(result, answer)
        except _Stored as stored:
            return Answered(None, stored.answer)
        except AlreadyExists:
            if conflict_seen:
                raise
            conflict_seen = True
        except ConcurrentUpdate:
            continue
    raise ConcurrentUpdate(f"too much contention on this {subject}; retry later")


class _Stored(Exception):  # not an error: the way out of a transaction
    """Carries a replay's stored answer out of the transaction that found it (and rolls back
    what that transaction did before it looked)."""

    def __init__(self, answer: JsonBody) -> None:
        super().__init__("a stored answer")
        self.answer = answer


IN_PROGRESS: JsonBody = {"inProgress": True}


def in_progress(**refs: Any) -> JsonBody:
    """The marker of a claimed key, with what the action needs to settle a claim its request
    never settled (a gateway killed mid-action): e.g. the door session and its deadline."""
    return IN_PROGRESS | refs


def is_in_progress(answer: JsonBody) -> bool:
    return answer.get("inProgress") is True


async def claim(tx: UnitOfWork, carrier_id: str, idem: IdempotencyKey) -> JsonBody | None:
    """For actions that cannot share one transaction with their answer (a door opening):
    returns the stored answer of a replay, or claims the key and returns None. A second
    request while the first still runs is refused rather than acting twice. The caller ends
    the claim with `settle` once the action is done, or `tx.idempotency.release` if it failed
    before acting."""
    prior = await prior_answer(tx, carrier_id, idem)
    if prior is not None and is_in_progress(prior):
        raise IdempotencyConflict(
            "the first request with this Idempotency-Key is still running",
            details={"idempotencyKey": idem.key},
        )
    if prior is not None:
        return prior
    await tx.idempotency.put(carrier_id, idem.key, idem.fingerprint, IN_PROGRESS)
    return None


async def settle(tx: UnitOfWork, carrier_id: str, request: Idempotent[T], result: T) -> Answered[T]:
    """Store the answer of a `claim`ed key, in the transaction that records the action's
    outcome: from then on every request with the key gets this answer."""
    answer = request.render(result)
    await tx.idempotency.replace(carrier_id, request.key.key, answer)
    return Answered(result, answer)
