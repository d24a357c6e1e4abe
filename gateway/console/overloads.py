"""Lockers' overload episodes as the console shows them, read from the audit trail (written by
gateway/service/lane_overloads.py), so a page shows every instance's, not only its own.

The trail has no index on its action: the read looks at its newest `WINDOW` entries only (a
range of the primary key), which bounds a page view's cost on a trail of millions of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.domain.audit import AuditAction
from gateway.store.tables import audit_log

# The newest audit entries searched for overload episodes.
WINDOW = 20_000
# An episode whose end was never written (its instance stopped dead) stops showing after this.
STALE_AFTER = timedelta(hours=1)
# An episode that ended is still shown this long: the operator sees what just happened.
RECENT = timedelta(minutes=15)
_ACTIONS = (AuditAction.LOCKER_OVERLOADED.value, AuditAction.LOCKER_OVERLOAD_ENDED.value)


@dataclass(frozen=True, slots=True)
class OverloadSeen:
    """A locker's latest overload episode on one gateway instance (`actor`)."""

    locker_id: str
    actor: str
    started_at: datetime
    ended_at: datetime | None = None  # None: going on
    refused: int = 0  # known once it ended

    def words(self) -> str:
        since = f"{self.started_at:%H:%M}"
        if self.ended_at is None:
            return f"Lane overloaded since {since} UTC, messages refused ({self.actor})"
        plural = "" if self.refused == 1 else "s"
        return (
            f"Lane overloaded {since}-{self.ended_at:%H:%M} UTC: {self.refused} message{plural} "
            f"refused, then caught up ({self.actor})"
        )


async def recent_overloads(engine: AsyncEngine, now: datetime) -> list[OverloadSeen]:
    """Episodes going on (started within STALE_AFTER) or ended within RECENT, by locker."""
    a = audit_log.c
    async with engine.connect() as conn:
        head = (await conn.execute(select(func.max(a.position)))).scalar()
        if head is None:
            return []
        stmt = (
            select(a.at, a.action, a.actor, a.subject, a.details)
            .where(
                a.position > int(head) - WINDOW,
                a.action.in_(_ACTIONS),
                a.at >= now - STALE_AFTER - RECENT,
            )
            .order_by(a.position)
        )
        rows = (await conn.execute(stmt)).all()
    latest: dict[tuple[str, str], OverloadSeen] = {}
    for at, action, actor, subject, details in rows:
        key = (str(subject), str(actor))
        if action == AuditAction.LOCKER_OVERLOADED.value:
            latest[key] = OverloadSeen(key[0], key[1], at)
            continue
        info = details if isinstance(details, dict) else {}
        seconds = float(info.get("seconds", 0.0))
        started = latest[key].started_at if key in latest else at - timedelta(seconds=seconds)
        latest[key] = OverloadSeen(key[0], key[1], started, at, int(info.get("refused", 0)))
    shown = [
        seen
        for seen in latest.values()
        if (seen.ended_at is None and seen.started_at >= now - STALE_AFTER)
        or (seen.ended_at is not None and seen.ended_at >= now - RECENT)
    ]
    return sorted(shown, key=lambda seen: (seen.locker_id, seen.started_at))
