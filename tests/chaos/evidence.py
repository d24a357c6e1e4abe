"""The evidence behind a chaos violation: what each witness recorded about the parcel involved.

A violation says what broke; to find why, one needs the parcel's history from every side: its
row, events, door sessions, idempotency keys and audit entries in the database; the physical
opens of its compartment (the emulated hardware); what its carrier, courier and recipient did
and were answered (the workload's trace); and the gateway log lines that name it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from tests.chaos.invariants import PhysicalOpen, Violation

# Checks whose subject names a parcel (or an Idempotency-Key carrying its id).
ABOUT_A_PARCEL = frozenset({"lost", "stuck", "duplicate", "idempotency", "double-open"})
TS = re.compile(r'"ts": "([0-9T:.-]+)')  # the gateways' JSON log lines
LOG_LINES = 60  # per parcel, the first ones (the start of a story matters most) and the last


def parcel_of(violation: Violation, parcel_ids: Iterable[str]) -> str | None:
    """The parcel a violation is about: its subject, or the longest parcel id the subject (an
    Idempotency-Key such as `book-CARRIER-1-00206`) contains."""
    if violation.check not in ABOUT_A_PARCEL:
        return None
    inside = [pid for pid in parcel_ids if pid in violation.subject]
    return max(inside, key=len) if inside else None


def _row(record: asyncpg.Record) -> str:
    return json.dumps({k: _plain(v) for k, v in dict(record).items()}, sort_keys=True)


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, dict | list):
        return value
    return str(value)


async def from_database(database_url: str, parcel_id: str) -> list[str]:
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        out: list[str] = []
        parcels = await conn.fetch("SELECT * FROM parcels WHERE parcel_id = $1", parcel_id)
        out += [f"parcel {_row(p)}" for p in parcels]
        for parcel in parcels:
            uid = parcel["uid"]
            for e in await conn.fetch(
                "SELECT seq, type, from_state, to_state, at, details FROM parcel_events"
                " WHERE parcel_uid = $1 ORDER BY seq",
                uid,
            ):
                out.append(f"event {_row(e)}")
            # Its own door sessions, and any other one of its compartment while it held it.
            for d in await conn.fetch(
                "SELECT * FROM door_sessions WHERE parcel_uid = $1"
                " OR (locker_id = $2 AND compartment_code = $3 AND requested_at >= $4)"
                " ORDER BY id",
                uid,
                parcel["locker_id"],
                parcel["compartment_code"],
                parcel["created_at"],
            ):
                mine = "" if d["parcel_uid"] == uid else " (another parcel's)"
                out.append(f"door session{mine} {_row(d)}")
            for a in await conn.fetch(
                "SELECT position, at, action, actor, subject, details FROM audit_log"
                " WHERE subject = $1 OR subject = $2 OR subject LIKE '%' || $1 || '%'"
                " ORDER BY position",
                parcel_id,
                uid,
            ):
                out.append(f"audit {_row(a)}")
        for k in await conn.fetch(
            "SELECT carrier_id, key, created_at, response FROM idempotency_keys"
            " WHERE key LIKE '%' || $1 || '%' ORDER BY created_at",
            parcel_id,
        ):
            out.append(f"idempotency key {_row(k)}")
        return out
    finally:
        await conn.close()


def from_hardware(
    opens: Sequence[PhysicalOpen], locker_id: str, code: str | None, since: datetime
) -> list[str]:
    """The physical opens of the parcel's compartment from its booking on."""
    return [
        f"physical open {o.compartment_code} {o.purpose} at {o.at:%H:%M:%S.%f} via {o.via}"
        + (f" (exp {o.exp:%H:%M:%S.%f})" if o.exp else "")
        for o in opens
        if o.locker_id == locker_id and o.compartment_code == code and o.at >= since
    ]


def faults_during(faults: Sequence[tuple[datetime, str]], since: datetime) -> list[str]:
    """The faults injected from the parcel's booking on (a minute's margin before)."""
    start = since - timedelta(minutes=1)
    return [f"fault {at:%H:%M:%S.%f} {what}" for at, what in faults if at >= start]


def from_logs(logs: Iterable[Path], needles: Sequence[str], since: datetime) -> list[str]:
    """The gateway log lines naming the parcel (its id, uid, or its locker's keypad), from a
    minute before its booking on, in time order."""
    start = f"{since - timedelta(minutes=1):%Y-%m-%dT%H:%M:%S}"
    found: list[tuple[str, str]] = []
    for log in logs:
        with log.open(errors="replace") as lines:
            for line in lines:
                if not any(needle in line for needle in needles):
                    continue
                stamp = TS.search(line)
                at = stamp.group(1) if stamp else ""
                if at and at < start:
                    continue
                found.append((at, f"{log.name}: {line.rstrip()[:600]}"))
    found.sort(key=lambda pair: pair[0])
    return _clip([text for _, text in found])


def _clip(found: list[str]) -> list[str]:
    if len(found) > 2 * LOG_LINES:
        skipped = len(found) - 2 * LOG_LINES
        found = [*found[:LOG_LINES], f"... {skipped} lines ...", *found[-LOG_LINES:]]
    return found
