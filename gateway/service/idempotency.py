"""Idempotent mutations: a replay returns the first answer, another body under the key is a 409."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.clock import Clock
from gateway.errors import AlreadyExists, ConcurrentUpdate, IdempotencyConflict
from gateway.store import Store, UnitOfWork

JsonBody = dict[str, Any]


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
    idem: IdempotencyKey,
    work: Callable[[UnitOfWork, datetime], Awaitable[JsonBody]],
    *,
    subject: str,
) -> JsonBody:
    """Run `work` once per key; its answer is stored in the same transaction as its effects.

    A transaction that lost a race is run again, and then finds the winner's answer. An
    AlreadyExists is looked at once more for the same reason: a concurrent request with the
    same key may have created the thing. `subject` names it in the final refusal.
    """
    conflict_seen = False
    for _ in range(MAX_ATTEMPTS):
        try:
            async with store.transaction() as tx:
                prior = await prior_answer(tx, carrier_id, idem)
                if prior is not None:
                    return prior
                body = await work(tx, clock())
                await tx.idempotency.put(carrier_id, idem.key, idem.fingerprint, body)
                return body
        except AlreadyExists:
            if conflict_seen:
                raise
            conflict_seen = True
        except ConcurrentUpdate:
            continue
    raise ConcurrentUpdate(f"too much contention on this {subject}; retry later")


IN_PROGRESS: JsonBody = {"inProgress": True}


async def claim(tx: UnitOfWork, carrier_id: str, idem: IdempotencyKey) -> JsonBody | None:
    """For actions that cannot share one transaction with their answer (a door opening):
    returns the stored answer of a replay, or claims the key and returns None. A second
    request while the first still runs is refused rather than acting twice."""
    prior = await prior_answer(tx, carrier_id, idem)
    if prior == IN_PROGRESS:
        raise IdempotencyConflict(
            "the first request with this Idempotency-Key is still running",
            details={"idempotencyKey": idem.key},
        )
    if prior is not None:
        return prior
    await tx.idempotency.put(carrier_id, idem.key, idem.fingerprint, IN_PROGRESS)
    return None
