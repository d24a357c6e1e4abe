"""Telemetry for adapters: tag the work of one message with its id, time its handling.

    timer = message_timer(host)            # None when the host does not measure
    with correlated(message.id):           # log lines below carry the message's id
        ...handle it...
    if timer is not None:
        timer.message_handled(kind, action, seconds)

Both are optional for an adapter; the gateway's host measures, a test host need not.
`command_span(action, locker_id)` around a command sent to a locker (from sending to its
reply) makes it a span of the trace in hand when the gateway traces (`[tracing]`), and costs
nothing when it does not; `trace_note(key, value)` adds an attribute to that span, and
`traceparent()` is its W3C context for the command to carry (None when not tracing).
`overload_watcher(host)`: the host's `lane_overloaded`, for `LockerLanes(on_overload=...)`, when
it watches lockers' overload episodes (None when it does not).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from gateway.observability.burst_log import BurstLog
from gateway.observability.correlation import bind as correlated
from gateway.observability.correlation import current as correlation_id
from gateway.observability.tracing import command_span, traceparent
from gateway.observability.tracing import note as trace_note
from gateway.sdk.lanes import LaneOverload

__all__ = [
    "BurstLog",
    "LaneOverload",
    "MessageTimer",
    "OverloadWatcher",
    "command_span",
    "correlated",
    "correlation_id",
    "message_timer",
    "overload_watcher",
    "trace_note",
    "traceparent",
]


@runtime_checkable
class MessageTimer(Protocol):
    def message_handled(self, kind: str, action: str, seconds: float) -> None:
        """One received message handled (answered or applied) in `seconds`. `action` must
        come from a bounded set (the protocol's actions), never from an id."""

    def command_answered(self, action: str, outcome: str, seconds: float) -> None:
        """One command to a locker ended: `outcome` result, error or timeout, `seconds` from
        sending it to its reply (or to giving up)."""


def message_timer(host: object) -> MessageTimer | None:
    """The host's timer if it has one (checked once, when the adapter is made)."""
    return host if isinstance(host, MessageTimer) else None


@runtime_checkable
class OverloadWatcher(Protocol):
    def lane_overloaded(self, overload: LaneOverload) -> None:
        """A locker's overload episode started or ended (twice per episode, never per refused
        message). Called from the receive loop or a lane's task: must not block."""


def overload_watcher(host: object) -> OverloadWatcher | None:
    """The host's overload watcher if it has one (checked once, when the adapter is made)."""
    return host if isinstance(host, OverloadWatcher) else None
