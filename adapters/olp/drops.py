"""Why the OLP adapter refused or skipped a locker's message: one reason, one counter each.

Nothing a locker sends is dropped silently (DESIGN "The event pipeline"): every message that
does not reach the gateway's pipeline or a waiting caller is counted here under its reason,
besides the log line at the call site (a QoS 1 duplicate gets no log line: it is normal).
A call refused with an OLP error reply is counted too. `OlpStats.dropped` exposes the counts.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum


class DropReason(StrEnum):
    FOREIGN_TOPIC = "foreign-topic"  # under olp/v1/ but not a topic of the binding
    TOO_LARGE = "too-large"  # over SPEC §9's size limit (a call is answered FormatViolation)
    FORMAT_VIOLATION = "format-violation"  # not JSON, too deep, or against its schema
    FORGED_SRC = "forged-src"  # `src` is not the locker whose topic carried it
    DUPLICATE = "duplicate"  # a (src, id) seen within the dedupe window (QoS 1 redelivery)
    EXPIRED_CALL = "expired-call"  # a call received after its `exp`
    NOT_BOOTED = "not-booted"  # an event or call (answered SecurityError) before Boot
    UNKNOWN_CALL = "unknown-call"  # a call OLP v1 lacks (answered NotSupported)
    UNKNOWN_EVENT = "unknown-event"  # an event OLP v1 lacks, or one the gateway does not model
    WRONG_TOPIC = "wrong-topic"  # a valid message on a topic meant for another kind
    BAD_REPLY = "bad-reply"  # a reply to the gateway that failed to decode
    FORGED_REPLY = "forged-reply"  # a reply whose `src` is not the locker of its topic
    UNKNOWN_REPLY = "unknown-reply"  # a reply nobody waits for (late, or a made-up `corr`)
    INTERNAL_ERROR = "internal-error"  # a bug met by one message: logged with its traceback


class Drops:
    """Counts per reason since start (cheap: called from the MQTT receive loop)."""

    def __init__(self) -> None:
        self._counts: Counter[DropReason] = Counter()

    def count(self, reason: DropReason) -> None:
        self._counts[reason] += 1

    def snapshot(self) -> dict[str, int]:
        return {str(reason): n for reason, n in sorted(self._counts.items()) if n}

    @property
    def total(self) -> int:
        return sum(self._counts.values())
