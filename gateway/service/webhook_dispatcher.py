"""Delivers the webhook outbox: claims due rows, POSTs them signed, retries with back-off.

At least once: a row stays pending until its outcome is written, so a crash mid-send only
means the delivery is sent again once its lease ends. Receivers dedupe on the event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Self

import httpx

from gateway.clock import Clock, utc_now
from gateway.domain.webhooks import retry_delay_s
from gateway.errors import OpenLockerError
from gateway.store import Claimed, Store

log = logging.getLogger(__name__)

USER_AGENT = "OpenLocker-Webhooks/1.0"
_MAX_ERROR = 500  # the schema's bound for lastError
_PURGE_EVERY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class DispatchPolicy:
    """Timing and limits, from the webhook_* settings."""

    poll_interval_s: float = 1.0
    timeout_s: float = 10.0
    lease_s: float = 60.0
    max_attempts: int = 12
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 3600.0
    max_in_flight: int = 32
    retention: timedelta = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: a status (any answer) or an error (no answer)."""

    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookDispatcher:
    """`async with WebhookDispatcher(...) as d:` then run `d.run_forever()` in a TaskGroup."""

    def __init__(
        self,
        *,
        store: Store,
        sign: Callable[[bytes], str],
        policy: DispatchPolicy,
        clock: Clock = utc_now,
        rand: Callable[[], float] = random.random,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._store = store
        self._sign = sign
        self._policy = policy
        self._clock = clock
        self._rand = rand
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._next_purge = clock()

    async def __aenter__(self) -> Self:
        limit = self._policy.max_in_flight
        self._client = httpx.AsyncClient(
            timeout=self._policy.timeout_s,
            follow_redirects=False,  # a redirect is a failure: we sign for the URL we were given
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
            headers={"User-Agent": USER_AGENT},
            transport=self._transport,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run_forever(self) -> None:
        """Keep up to max_in_flight attempts going; poll, or wake when an attempt ends."""
        async with asyncio.TaskGroup() as group:
            while True:
                self._wake.clear()
                room = self._policy.max_in_flight - len(self._in_flight)
                claimed = await self._claim(room) if room > 0 else []
                for item in claimed:
                    task = group.create_task(
                        self._attempt(item), name=f"webhook-delivery-{item.delivery.id}"
                    )
                    self._in_flight.add(task)
                    task.add_done_callback(self._finished)
                if claimed and len(claimed) == room:
                    continue  # the batch was full: more may be due right now
                await self._purge_now_and_then()
                # A finished attempt may have unblocked the next event of its parcel.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._policy.poll_interval_s):
                        await self._wake.wait()

    async def run_once(self) -> int:
        """Claim what is due and attempt it all, waiting for the outcomes; returns how many."""
        claimed = await self._claim(self._policy.max_in_flight)
        async with asyncio.TaskGroup() as group:
            for item in claimed:
                group.create_task(self._attempt(item), name=f"webhook-delivery-{item.delivery.id}")
        return len(claimed)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()

    async def _claim(self, limit: int) -> list[Claimed]:
        now = self._clock()
        lease_until = now + timedelta(seconds=self._policy.lease_s)
        try:
            async with self._store.transaction() as tx:
                return await tx.outbox.claim(now=now, lease_until=lease_until, limit=limit)
        except OpenLockerError as err:
            # A database hiccup must not end the loop; the next poll catches up.
            log.warning("webhook dispatcher could not claim deliveries: %s", err)
            return []

    async def _attempt(self, item: Claimed) -> None:
        try:
            outcome = await self._post(item)
            await self._record(item, outcome)
        except Exception:
            # Never let one delivery take the dispatcher down; its lease ends and it is retried.
            log.exception("webhook delivery %s failed unexpectedly", item.delivery.id)

    async def _post(self, item: Claimed) -> Outcome:
        assert self._client is not None, "use the dispatcher as an async context manager"
        delivery = item.delivery
        # The signature covers these exact bytes; the body is the one stored at enqueue time.
        body = json.dumps(delivery.body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "OLP-Event-Id": delivery.event_id,
            "OLP-Event-Type": delivery.type,
            "OLP-Signature": self._sign(body),
            "OLP-Delivery-Attempt": str(delivery.attempts),
        }
        try:
            # httpx's timeout bounds each phase; this bounds the whole attempt, so a receiver
            # trickling bytes cannot hold it past its lease.
            async with asyncio.timeout(self._policy.timeout_s):
                request = self._client.stream("POST", item.url, content=body, headers=headers)
                async with request as response:
                    # The answer's body is never read: only the status matters.
                    return Outcome(response.status_code, None)
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(None, f"no answer within {self._policy.timeout_s:g} s")
        except httpx.HTTPError as err:
            return Outcome(None, _clip(f"{type(err).__name__}: {err}" if str(err) else repr(err)))

    async def _record(self, item: Claimed, outcome: Outcome) -> None:
        delivery, now = item.delivery, self._clock()
        async with self._store.transaction() as tx:
            if outcome.ok:
                assert outcome.status is not None
                kept = await tx.outbox.mark_delivered(delivery, status=outcome.status, at=now)
            else:
                retry_at = None
                if delivery.attempts < self._policy.max_attempts:
                    delay = retry_delay_s(
                        delivery.attempts,
                        base_s=self._policy.backoff_base_s,
                        cap_s=self._policy.backoff_cap_s,
                        rand=self._rand,
                    )
                    retry_at = now + timedelta(seconds=delay)
                error = outcome.error or f"HTTP {outcome.status}"
                kept = await tx.outbox.mark_failed(
                    delivery, status=outcome.status, error=error, retry_at=retry_at
                )
                if retry_at is None and kept:
                    log.warning(
                        "webhook delivery %s is dead after %d attempts: %s",
                        delivery.id,
                        delivery.attempts,
                        error,
                    )
        if not kept:
            log.info("webhook delivery %s moved on meanwhile; outcome dropped", delivery.id)

    async def _purge_now_and_then(self) -> None:
        now = self._clock()
        if now < self._next_purge:
            return
        self._next_purge = now + _PURGE_EVERY
        try:
            async with self._store.transaction() as tx:
                purged = await tx.outbox.purge(now - self._policy.retention)
        except OpenLockerError as err:
            log.warning("webhook outbox purge failed: %s", err)
            return
        if purged:
            log.info("purged %d settled webhook deliveries", purged)


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 1] + "…"
