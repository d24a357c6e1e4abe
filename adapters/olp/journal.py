"""OLP event-journal messages to SDK values: `lastEventSeq` reports and ReplayEvents results."""

from __future__ import annotations

from gateway.sdk import JournalReported, ReplayReport
from gateway.sdk.olp_messages import BootCall, HeartbeatCall, ReplayEventsResultPayload


def journal_report(
    locker_id: str, call: BootCall | HeartbeatCall, *, at_boot: bool
) -> JournalReported | None:
    """The `lastEventSeq` of a Boot or Heartbeat call; None from a locker without a journal."""
    last = call.payload.last_event_seq
    if last is None:
        return None
    return JournalReported(
        locker_id=locker_id,
        at=call.ts,
        event_id=call.id,
        seq=call.seq,
        last_event_seq=last,
        at_boot=at_boot,
    )


def replay_report(after_seq: int, result: ReplayEventsResultPayload) -> ReplayReport:
    """A ReplayEvents result payload (already validated against its schema)."""
    return ReplayReport(
        after_seq=after_seq,
        replayed=result.replayed,
        oldest_seq=result.oldest_seq,
        last_seq=result.last_seq,
    )
