"""OLP event-journal messages to SDK values: `lastEventSeq` reports and ReplayEvents results."""

from __future__ import annotations

from typing import Any

from adapters.olp.mapping import timestamp
from gateway.sdk import JournalReported, ReplayReport


def journal_report(
    locker_id: str, call: dict[str, Any], *, at_boot: bool
) -> JournalReported | None:
    """The `lastEventSeq` of a Boot or Heartbeat call; None from a locker without a journal."""
    last = call.get("payload", {}).get("lastEventSeq")
    if not isinstance(last, int) or isinstance(last, bool):
        return None
    return JournalReported(
        locker_id=locker_id,
        at=timestamp(call),
        event_id=call["id"],
        seq=call.get("seq"),
        last_event_seq=last,
        at_boot=at_boot,
    )


def replay_report(after_seq: int, result: dict[str, Any]) -> ReplayReport:
    """A ReplayEvents result payload (already validated against its schema)."""
    return ReplayReport(
        after_seq=after_seq,
        replayed=int(result["replayed"]),
        oldest_seq=int(result["oldestSeq"]),
        last_seq=int(result["lastSeq"]),
    )
