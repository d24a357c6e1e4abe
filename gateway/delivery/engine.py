"""The delivery engine: claims due outbox rows, renders them per target, sends, settles.

At least once: a row stays pending until its outcome is written, so a crash mid-send only
means the delivery is sent again once its lease ends; receivers dedupe on the event id. The
outbox keeps a parcel's rows for one target in order and leases keep instances apart; this
loop adds, once for every connector, the back-off, `Retry-After`, `410 Gone`, rate limits,
circuit breakers and dead letters.

Database work per batch, not per attempt: one transaction claims a batch and re-reads its
targets (the route books answer from memory afterwards), one writes the outcomes of the
attempts that ended together (settle.py). The loop polls every `poll_interval_s`, and wakes
at once when an attempt ends or when `wake()` is called: the gateway calls it after every
commit that queued rows in this process, so their first attempt does not wait for the poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Self

from pydantic import ValidationError

from gateway.clock import Clock, utc_now
from gateway.delivery.breaker import BreakerState, TargetState
from gateway.delivery.network_events import RendersNetworkEvents
from gateway.delivery.routes import Route, RouteBook, TargetKind
from gateway.delivery.settle import Settler
from gateway.delivery.stored_events import read_event
from gateway.delivery.transports.base import Outcome, Transport
from gateway.domain.webhooks import is_network_event
from gateway.errors import ConcurrentUpdate, OpenLockerError, Unavailable
from gateway.observability import correlation, tracing
from gateway.observability.metrics import Metrics
from gateway.sdk.connectors import (
    Capability,
    ConnectorEvent,
    MappingError,
    Outbound,
    SkipEvent,
)
from gateway.store import Delivery, Store

__all__ = ["AccessHook", "DeliveryEngine", "EngineSettings"]

log = logging.getLogger(__name__)

AccessHook = Callable[[ConnectorEvent, Route], Awaitable[ConnectorEvent]]
"""Fills `event.access` (a pickup credential) just before a notifier renders it."""

_PURGE_EVERY = timedelta(hours=1)
_LEASE_MARGIN_S = 1.0  # an attempt gives up this long before its lease ends
_MAX_SETTLE_DELAY_S = 0.1  # well inside the lease margin above
# The database could not do it now (an outage, a busy SQLite file, an exhausted pool): an
# expected condition, one WARNING line and a count, never an ERROR with a traceback.
_DATABASE_WEATHER = (Unavailable, ConcurrentUpdate)


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Instance-wide timing; per-target limits are each route's `DeliveryPolicy`."""

    poll_interval_s: float = 1.0
    lease_s: float = 60.0
    max_in_flight: int = 32
    retention: timedelta = timedelta(days=14)
    settle_delay_s: float = 0.005  # how long an outcome may wait for others to share a commit
    settle_batch: int = 64  # outcomes written at once without waiting for more

    def __post_init__(self) -> None:
        if self.poll_interval_s <= 0 or self.max_in_flight < 1 or self.settle_batch < 1:
            raise ValueError("poll_interval_s, max_in_flight and settle_batch must be positive")
        if not 0 <= self.settle_delay_s <= _MAX_SETTLE_DELAY_S:
            raise ValueError(f"settle_delay_s must be within 0 and {_MAX_SETTLE_DELAY_S} s")
        # An attempt gives up _LEASE_MARGIN_S before its lease ends: that margin is the time
        # its outcome has to be written in (the flush delay, a busy database tried again)
        # before another instance may take the row over.
        if self.lease_s <= _LEASE_MARGIN_S + self.settle_delay_s:
            raise ValueError(f"lease_s must be longer than {_LEASE_MARGIN_S} s + settle_delay_s")


class DeliveryEngine:
    """`async with DeliveryEngine(...) as e:` then run `e.run_forever()` in a TaskGroup.

    The engine owns the transports it is given ({outbound type: transport}): it enters them
    with itself and closes them when it ends.
    """

    def __init__(
        self,
        *,
        store: Store,
        routes: RouteBook,
        transports: Mapping[type[Outbound], Transport],
        settings: EngineSettings,
        network_id: str,
        actor: str,
        access: AccessHook | None = None,
        clock: Clock = utc_now,
        rand: Callable[[], float] = random.random,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or Metrics()
        self._store = store
        self._routes = routes
        self._transports = dict(transports)
        self._settings = settings
        self._network_id = network_id
        self._access = access
        self._clock = clock
        self._settle = Settler(
            store=store,
            actor=actor,
            clock=clock,
            rand=rand,
            delay_s=settings.settle_delay_s,
            batch=settings.settle_batch,
            on_result=self._settled,
        )
        self._stack = contextlib.AsyncExitStack()
        # Breakers and rate limits per target, in this instance only (see breaker.py): the
        # rows are shared through the database, this health view need not be.
        self._targets: dict[tuple[TargetKind, str], TargetState] = {}
        # Claimed and not yet settled; of those, `_sending` are still before their outcome.
        self._in_flight: set[asyncio.Task[None]] = set()
        self._sending = 0
        self._wake = asyncio.Event()
        self._next_purge = clock()

    async def __aenter__(self) -> Self:
        entered: set[int] = set()
        for transport in self._transports.values():
            if id(transport) not in entered and hasattr(transport, "__aenter__"):
                entered.add(id(transport))
                await self._stack.enter_async_context(transport)  # type: ignore[arg-type]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    def wake(self) -> None:
        """Look for due rows now rather than at the next poll (rows were just committed)."""
        self._wake.set()

    async def run_forever(self) -> None:
        """Keep up to max_in_flight attempts going; poll, or wake when an attempt ends."""
        async with asyncio.TaskGroup() as group:
            settler = group.create_task(self._settle.run_forever(), name="delivery-settle")
            try:
                await self._loop(group)
            finally:
                settler.cancel()

    async def _loop(self, group: asyncio.TaskGroup) -> None:
        while True:
            self._wake.clear()
            # An attempt frees its sending slot once it has its outcome, while that waits for
            # the next flush: sending is not held up by commits. Its row stays leased and its
            # parcel's next row blocked until the flush, so at most twice max_in_flight rows
            # are claimed and unsettled at a time.
            limit = self._settings.max_in_flight
            room = min(limit - self._sending, 2 * limit - len(self._in_flight))
            claimed = await self._claim(room) if room > 0 else []
            for delivery in claimed:
                task = group.create_task(self._attempt(delivery), name=_task_name(delivery))
                self._in_flight.add(task)
                task.add_done_callback(self._finished)
            if claimed and len(claimed) == room:
                continue  # the batch was full: more may be due right now
            await self._purge_now_and_then()
            # A finished attempt may have unblocked the next event of its parcel.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.poll_interval_s):
                    await self._wake.wait()

    async def run_once(self) -> int:
        """Claim what is due and attempt it all, waiting for the outcomes; returns how many."""
        claimed = await self._claim(self._settings.max_in_flight)
        async with asyncio.TaskGroup() as group:
            settler = group.create_task(self._settle.run_forever(), name="delivery-settle")
            try:
                async with asyncio.TaskGroup() as attempts:
                    for delivery in claimed:
                        attempts.create_task(self._attempt(delivery), name=_task_name(delivery))
            finally:
                settler.cancel()
        return len(claimed)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()

    async def _claim(self, limit: int) -> list[Delivery]:
        try:
            async with self._store.transaction() as tx:
                # Read once the transaction holds the database (on SQLite, BEGIN IMMEDIATE
                # waits for the write lock): the lease written is the time really left.
                now = self._clock()
                lease_until = now + timedelta(seconds=self._settings.lease_s)
                claimed = await tx.outbox.claim(now=now, lease_until=lease_until, limit=limit)
                if claimed:
                    # The batch's targets as they are now: a target disabled before this
                    # commit gets none of these rows; the attempts then look up no more.
                    targets = {(TargetKind(d.target_kind), d.target_id) for d in claimed}
                    await self._routes.refresh(tx, targets)
                return claimed
        except _DATABASE_WEATHER as err:
            # A database hiccup must not end the loop; the next poll catches up.
            self._database_unavailable("claim", "claiming due deliveries", err)
            return []
        except OpenLockerError as err:
            log.warning("delivery engine could not claim deliveries: %s", err)
            return []
        except Exception:
            # Anything else (an unreadable row) would escape into the gateway's TaskGroup and
            # stop every locker and the carriers' API; log it each pass and keep serving.
            log.exception("delivery engine could not claim deliveries")
            return []

    async def _attempt(self, delivery: Delivery) -> None:
        # Counted from the lease the claim wrote, not from now: a claim that waited for the
        # database (SQLite's write lock under load) or a task started late has less time
        # left, and an attempt still sending after its lease ended could overtake the retry
        # another instance started, sending a parcel's events out of order.
        lease_until = delivery.next_attempt_at
        left_s = (
            self._settings.lease_s
            if lease_until is None
            else (lease_until - self._clock()).total_seconds()
        )
        deadline = asyncio.get_running_loop().time() + left_s - _LEASE_MARGIN_S
        self._sending += 1
        sending = True

        def sent() -> None:
            nonlocal sending
            if sending:
                sending = False
                self._sending -= 1
                self._wake.set()

        try:
            # The id of what queued the row (an HTTP request, a locker message), else the
            # event's: every log line of this attempt carries it.
            with (
                correlation.bind(delivery.correlation_id or delivery.event_id),
                # A child of the span that queued the row (its traceparent, kept in the row).
                tracing.delivery_span(
                    delivery.traceparent,
                    f"{delivery.target_kind}:{delivery.target_id}",
                    delivery.type,
                    delivery.event_id,
                    delivery.attempts,
                ),
            ):
                await self._deliver(delivery, deadline, sent)
        except _DATABASE_WEATHER as err:
            # The outcome could not be written: the row stays leased, then is sent again.
            what = f"settling event {delivery.event_id}"
            self._database_unavailable("settle", what, err)
        except Exception as err:
            # Never let one delivery take the engine down; its lease ends and it is retried.
            # Only the type: an exception's text may quote the event, personal data included.
            log.error(
                "delivery of event %s failed unexpectedly: %s",
                delivery.event_id,
                type(err).__name__,
            )
        finally:
            sent()  # paths that settle without sending free their slot here

    async def _deliver(self, delivery: Delivery, deadline: float, sent: Callable[[], None]) -> None:
        kind = TargetKind(delivery.target_kind)
        try:
            route = await self._routes.route(kind, delivery.target_id)
        except _DATABASE_WEATHER as err:
            # Not the target's fault: no attempt spent; due again at once (if the database
            # takes that), else once the lease ends.
            self._database_unavailable("route", f"routing event {delivery.event_id}", err)
            await self._settle.release(delivery, self._clock())
            return
        except Exception as err:
            # A route that cannot be built now (a database hiccup, a secret file missing):
            # a failed attempt on the default schedule, so it ends dead rather than looping.
            log.error("no route for %s %s: %s", kind, delivery.target_id, type(err).__name__)
            error = f"the {kind} target {delivery.target_id} has no route: {type(err).__name__}"
            await self._settle.failed(delivery, error)
            return
        if route is None:
            await self._settle.dead(delivery, f"the {kind} target {delivery.target_id} is gone")
            return
        if route.carrier_id != delivery.carrier_id:
            # The target now belongs to another carrier: this row's parcel (and recipient)
            # must never reach it. Start-up refuses such a move; this is the last fence.
            await self._settle.dead(
                delivery, f"the {kind} target {delivery.target_id} belongs to another carrier"
            )
            return
        state = self._state(route)
        if not state.breaker.admit(self._clock()):
            await self._settle.release(delivery, state.breaker.held_until(self._clock()))
            return
        outcome: Outcome | None = None
        try:
            if not await self._take_rate(state, delivery, deadline):
                return
            outbound = await self._render(delivery, route)
            if outbound is None:
                return
            outcome = await self._send(outbound, route, delivery, deadline)
        except _LeaseEnded:
            # Our delay, not the endpoint's failure: no attempt spent, nothing for the breaker.
            await self._settle.release(delivery, self._clock())
            return
        finally:
            if outcome is None:
                # Settled without a word from the endpoint (skipped, unmappable, held back):
                # if this was the probe of an open circuit, the next attempt probes instead.
                state.breaker.abandoned()
        self._judge(state, route, outcome)
        tracing.note("openlocker.delivered", outcome.ok)
        if outcome.status is not None:
            tracing.note("http.response.status_code", outcome.status)
        sent()  # only the outcome's write is left: the slot can send another row
        await self._settle.outcome(delivery, route, outcome)
        if outcome.gone:
            # Disabled now (committed): rows of this batch not yet started see it at once.
            self._routes.disabled(route.kind, route.target_id)

    def _database_unavailable(self, step: str, what: str, err: Exception) -> None:
        self._metrics.delivery_database_unavailable(step)
        log.warning(
            "delivery engine: database unavailable while %s (%s: %s); retried later",
            what,
            type(err).__name__,
            err,
        )

    def _settled(self, delivery: Delivery, result: str, status: int | None) -> None:
        self._metrics.delivery(delivery.target_kind, result)
        log.info(
            "delivery %s of event %s (%s) to %s %s, attempt %d: %s%s",
            delivery.id,
            delivery.event_id,
            delivery.type,
            delivery.target_kind,
            delivery.target_id,
            delivery.attempts,
            result,
            "" if status is None else f" (HTTP {status})",
        )

    def _judge(self, state: TargetState, route: Route, outcome: Outcome) -> None:
        """The endpoint's health after an outcome: the circuit breaker's count."""
        breaker = state.breaker
        if outcome.gone:
            self._targets.pop((route.kind, route.target_id), None)
        elif outcome.ok:
            if breaker.state is not BreakerState.CLOSED:
                log.info("%s %s answers again; its circuit is closed", route.kind, route.target_id)
            breaker.succeeded()
        elif not outcome.permanent and breaker.failed(self._clock()):
            log.warning(
                "%s %s failed %d times in a row; its circuit is open for %g s",
                route.kind,
                route.target_id,
                breaker.consecutive,
                route.policy.breaker_reset_s,
            )

    def _state(self, route: Route) -> TargetState:
        key = (route.kind, route.target_id)
        state = self._targets.get(key)
        if state is None or state.policy != route.policy:
            state = self._targets[key] = TargetState.for_policy(route.policy)
        return state

    async def _take_rate(self, state: TargetState, delivery: Delivery, deadline: float) -> bool:
        """Wait for the target's rate budget; give the row back when the wait would be long."""
        limiter, policy = state.limiter, state.policy
        if limiter is None:
            return True
        if not limiter.has_capacity():
            rate = policy.rate_per_s or 1.0
            # Enough attempts already wait on this target: do not tie up more of our slots.
            budget = deadline - asyncio.get_running_loop().time() - policy.timeout_s
            if state.waiting >= max(1, policy.rate_burst) or budget <= 0:
                retry_at = self._clock() + timedelta(seconds=(state.waiting + 1) / rate)
                state.breaker.abandoned()
                await self._settle.release(delivery, retry_at)
                return False
            state.waiting += 1
            try:
                async with asyncio.timeout(budget):
                    await limiter.acquire()
                return True
            except TimeoutError:
                state.breaker.abandoned()
                await self._settle.release(delivery, self._clock() + timedelta(seconds=1 / rate))
                return False
            finally:
                state.waiting -= 1
        await limiter.acquire()  # capacity is there: returns at once
        return True

    async def _render(self, delivery: Delivery, route: Route) -> Outbound | None:
        """The connector's request for this row, or None when the row was settled instead."""
        if is_network_event(delivery.type):
            connector = route.connector
            if not isinstance(connector, RendersNetworkEvents):
                await self._settle.skipped(
                    delivery, f"connector {connector.name} takes no network events"
                )
                return None
            return connector.render_network_event(
                delivery.body, event_id=delivery.event_id, event_type=delivery.type
            )
        try:
            event = read_event(delivery, route, network_id=self._network_id)
        except ValidationError as err:
            # Never the validation text: it may quote the recipient's data.
            await self._settle.dead(
                delivery, f"the stored event is not readable ({err.error_count()} problems)"
            )
            return None
        connector = route.connector
        if (
            self._access is not None
            and Capability.RECIPIENT_NOTIFICATIONS in connector.capabilities
        ):
            try:
                event = await self._access(event, route)
            except SkipEvent as skip:
                # The parcel moved on (picked up, expired) before the message went out.
                await self._settle.skipped(delivery, skip.reason)
                return None
            except Exception as err:
                log.error(
                    "no pickup credential for event %s: %s", delivery.event_id, type(err).__name__
                )
                error = f"pickup credential unavailable: {type(err).__name__}"
                await self._settle.outcome(delivery, route, Outcome(ok=False, error=error))
                return None
        try:
            return connector.render(event)
        except SkipEvent as skip:
            await self._settle.skipped(delivery, skip.reason)
        except MappingError as err:
            # The same event would fail the same way on every retry: a dead letter at once.
            await self._settle.dead(delivery, _mapping_error(err))
        except Exception as err:
            log.error(
                "connector %s failed on event %s: %s",
                connector.name,
                delivery.event_id,
                type(err).__name__,
            )
            failure = Outcome(
                ok=False, error=f"connector {connector.name} failed: {type(err).__name__}"
            )
            await self._settle.outcome(delivery, route, failure)
        return None

    async def _send(
        self, outbound: Outbound, route: Route, delivery: Delivery, deadline: float
    ) -> Outcome:
        transport = self._transports.get(type(outbound))
        if transport is None:
            return Outcome(
                ok=False, error=f"no transport for {type(outbound).__name__} in this gateway"
            )
        outcome = await self._send_once(transport, outbound, route, delivery, deadline)
        if outcome.status == 401 and route.auth.unauthorized():
            # Credentials went stale (a revoked token): the plugin dropped them; one more try
            # within the same attempt, with fresh ones.
            outcome = await self._send_once(transport, outbound, route, delivery, deadline)
        return outcome

    async def _send_once(
        self,
        transport: Transport,
        outbound: Outbound,
        route: Route,
        delivery: Delivery,
        deadline: float,
    ) -> Outcome:
        # The transport bounds itself by the policy's timeout; this bounds it by the lease, so
        # another instance never sends the row while this attempt is still going.
        budget = deadline - asyncio.get_running_loop().time()
        if delivery.next_attempt_at is not None:  # the lease, on the clock that wrote it
            left_s = (delivery.next_attempt_at - self._clock()).total_seconds()
            budget = min(budget, left_s - _LEASE_MARGIN_S)
        if budget <= 0:
            # Not even the first byte: another instance may hold the row by now.
            raise _LeaseEnded
        try:
            async with asyncio.timeout(budget):
                return await transport.send(
                    outbound, route, event_id=delivery.event_id, attempt=delivery.attempts
                )
        except TimeoutError:
            return Outcome(ok=False, error="the attempt outlasted its lease")
        except Exception as err:
            log.error(
                "transport for %s failed on event %s: %s",
                type(outbound).__name__,
                delivery.event_id,
                type(err).__name__,
            )
            return Outcome(ok=False, error=f"transport failed: {type(err).__name__}")

    async def _purge_now_and_then(self) -> None:
        now = self._clock()
        if now < self._next_purge:
            return
        self._next_purge = now + _PURGE_EVERY
        try:
            async with self._store.transaction() as tx:
                purged = await tx.outbox.purge(now - self._settings.retention)
        except _DATABASE_WEATHER as err:
            self._database_unavailable("purge", "purging settled deliveries", err)
            return
        except OpenLockerError as err:
            log.warning("outbox purge failed: %s", err)
            return
        except Exception:
            log.exception("outbox purge failed")  # as for claims: never end the loop
            return
        if purged:
            log.info("purged %d settled deliveries", purged)


class _LeaseEnded(Exception):
    """The attempt's lease ran out before it could send (a stall on our side)."""


def _mapping_error(err: MappingError) -> str:
    pointers = [issue.pointer for issue in err.issues if issue.pointer]
    return f"{err.description} (at {pointers[0]})" if pointers else err.description


def _task_name(delivery: Delivery) -> str:
    return f"delivery-{delivery.id}"
