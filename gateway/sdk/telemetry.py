"""Telemetry for adapters: tag the work of one message with its id, time its handling.

    timer = message_timer(host)            # None when the host does not measure
    with correlated(message.id):           # log lines below carry the message's id
        ...handle it...
    if timer is not None:
        timer.message_handled(kind, action, seconds)

Both are optional for an adapter; the gateway's host measures, a test host need not.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from gateway.observability.burst_log import BurstLog
from gateway.observability.correlation import bind as correlated
from gateway.observability.correlation import current as correlation_id

__all__ = ["BurstLog", "MessageTimer", "correlated", "correlation_id", "message_timer"]


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
