"""Messages from lockers already acted on: QoS 1 may deliver twice, to any instance."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import inbox as t


class InboxRepository(Repository):
    async def first_time(self, src: str, message_id: str) -> bool:
        """Record the message; False if it was processed before (then do nothing)."""
        values = {"src": src, "message_id": message_id, "received_at": self._clock()}
        return await insert_if_absent(self._conn, t, values)

    async def purge(self, older_than: datetime) -> int:
        result = await self._conn.execute(delete(t).where(t.c.received_at < older_than))
        return result.rowcount
