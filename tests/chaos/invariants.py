"""What must hold after a chaos run, as pure checks over records: each returns its violations.

The records come from three independent witnesses: the gateway's database, the emulated
hardware (physical opens) and the carriers' webhook receiver, plus what the carriers were
answered. A check never trusts the gateway's own account when a witness can say otherwise.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

# States a parcel may rest in for ever once the run settled.
TERMINAL = frozenset(
    {
        "picked_up",
        "cancelled",
        "reservation_expired",
        "deposit_failed",
        "pickup_failed",
        "expired",
        "collected",
        "returned",
        "redirected",
        "dropped_off",
    }
)


@dataclass(frozen=True, slots=True)
class Violation:
    check: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.subject}: {self.message}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What the workload knows of one parcel it tried to book."""

    parcel_id: str
    booked: bool  # answered 201
    completed: bool  # picked up, as the recipient saw it
    reason: str | None = None  # why it stopped short (explains a non-terminal state)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParcelRow:
    parcel_id: str
    state: str
    locker_id: str
    compartment_code: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PhysicalOpen:
    """One lock release the emulated hardware performed."""

    locker_id: str
    compartment_code: str
    purpose: str  # deposit | pickup | ... (the command's purpose or the grant's act)
    at: datetime
    via: str  # "command <id>" or "grant <jti>"
    exp: datetime | None = None  # the command's exp; None for a grant checked offline


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """One final HTTP answer to a POST, by its Idempotency-Key."""

    key: str
    status: int
    body: str  # canonical JSON (sorted keys) or the raw text
    via: str = ""  # which instance answered, when (evidence for a changed answer)


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One webhook request the receiver answered 2xx, in arrival order."""

    parcel_id: str
    seq: int


def lost_or_stuck(
    outcomes: Iterable[Outcome], rows: Mapping[str, Sequence[ParcelRow]]
) -> list[Violation]:
    """Every parcel answered 201 is in the database once, at rest or with a reason; a parcel
    the recipient took is `picked_up` there."""
    found: list[Violation] = []
    for one in outcomes:
        stored = rows.get(one.parcel_id, ())
        if not one.booked:
            if stored and stored[0].state not in TERMINAL and one.reason is None:
                found.append(Violation("stuck", one.parcel_id, "stored though its booking failed"))
            continue
        if not stored:
            found.append(Violation("lost", one.parcel_id, "answered 201 but not in the database"))
            continue
        state = stored[0].state
        if one.completed and state != "picked_up":
            found.append(Violation("lost", one.parcel_id, f"picked up but stored as {state}"))
        elif state not in TERMINAL and one.reason is None:
            found.append(Violation("stuck", one.parcel_id, f"left in {state} with no reason"))
    return found


def duplicate_parcels(
    rows: Mapping[str, Sequence[ParcelRow]], answers: Iterable[Answer]
) -> list[Violation]:
    """One row per parcel id, and every final answer to one Idempotency-Key is the same."""
    found = [
        Violation("duplicate", parcel_id, f"{len(stored)} rows")
        for parcel_id, stored in rows.items()
        if len(stored) > 1
    ]
    by_key: dict[str, dict[tuple[int, str], list[str]]] = defaultdict(dict)
    for answer in answers:
        by_key[answer.key].setdefault((answer.status, answer.body), []).append(answer.via)
    for key, distinct in sorted(by_key.items()):
        if len(distinct) > 1:
            statuses = sorted(status for status, _ in distinct)
            # The evidence: every distinct answer in full, where it came from, what differs.
            shown = "; ".join(
                f"{status} {body} (from {', '.join(filter(None, vias)) or '?'})"
                for (status, body), vias in distinct.items()
            )
            found.append(
                Violation(
                    "idempotency",
                    key,
                    f"{len(distinct)} different answers {statuses}"
                    f"{_differing(list(distinct))}: {shown}",
                )
            )
    return found


def _differing(answers: Sequence[tuple[int, str]]) -> str:
    """The top-level JSON fields whose values differ between the answers ('' if not JSON)."""
    try:
        bodies = [json.loads(body) for _, body in answers]
    except ValueError:
        return ""
    if not all(isinstance(body, dict) for body in bodies):
        return ""
    fields = sorted({name for body in bodies for name in body})
    differ = [f for f in fields if len({json.dumps(b.get(f), sort_keys=True) for b in bodies}) > 1]
    return f", differing in {differ}" if differ else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Holding:
    """A parcel holds a compartment from the moment its booking was answered: the compartment
    was given to it before that and after the previous holder's last open."""

    parcel_id: str
    locker_id: str
    compartment_code: str
    since: datetime


def owner_at(holdings: Iterable[Holding], one: PhysicalOpen) -> str | None:
    """The parcel that held the opened compartment when it opened."""
    held = [
        h
        for h in holdings
        if (h.locker_id, h.compartment_code) == (one.locker_id, one.compartment_code)
        and h.since <= one.at
    ]
    return max(held, key=lambda h: h.since).parcel_id if held else None


def double_opens(opens: Iterable[PhysicalOpen], holdings: Sequence[Holding]) -> list[Violation]:
    """At most one physical open per parcel and purpose (one grant, code or open request each:
    the workload asks again only once the earlier one can no longer open), and none of a door
    no parcel holds."""
    found: list[Violation] = []
    seen: dict[tuple[str, str], list[PhysicalOpen]] = defaultdict(list)
    for one in opens:
        owner = owner_at(holdings, one)
        if owner is None:
            found.append(
                Violation(
                    "stray-open",
                    f"{one.locker_id}/{one.compartment_code}",
                    f"opened ({one.via}, {one.purpose}) but no parcel holds it",
                )
            )
            continue
        seen[(owner, one.purpose)].append(one)
    for (owner, purpose), several in sorted(seen.items()):
        if len(several) > 1:
            how = ", ".join(f"{o.via} at {o.at.isoformat()}" for o in several)
            found.append(
                Violation("double-open", owner, f"{purpose} door opened {len(several)}x: {how}")
            )
    return found


def late_opens(opens: Iterable[PhysicalOpen]) -> list[Violation]:
    """No door opened after its command's `exp`."""
    return [
        Violation(
            "late-open",
            f"{one.locker_id}/{one.compartment_code}",
            f"{one.via} opened at {one.at.isoformat()}, after its exp {one.exp.isoformat()}",
        )
        for one in opens
        if one.exp is not None and one.at > one.exp
    ]


def webhooks_in_order(
    events: Mapping[str, Sequence[int]], deliveries: Iterable[Delivery]
) -> list[Violation]:
    """Every stored parcel event reached the receiver at least once, and per parcel the first
    delivery of each event came in event order (redeliveries are allowed)."""
    found: list[Violation] = []
    firsts: dict[str, list[int]] = defaultdict(list)
    for one in deliveries:
        if one.seq not in firsts[one.parcel_id]:
            firsts[one.parcel_id].append(one.seq)
    for parcel_id, seqs in sorted(events.items()):
        got = firsts.get(parcel_id, [])
        missing = sorted(set(seqs) - set(got))
        if missing:
            found.append(Violation("webhook-lost", parcel_id, f"events {missing} never delivered"))
        if got != sorted(got):
            found.append(Violation("webhook-order", parcel_id, f"first deliveries in order {got}"))
    return found


def audit_chain(problem: str | None) -> list[Violation]:
    """The hash chain verified (`problem` is the verifier's complaint, None when intact)."""
    return [] if problem is None else [Violation("audit", "audit_log", problem)]
