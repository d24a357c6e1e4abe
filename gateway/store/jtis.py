"""Single-use token ids (JWT `jti`): the replay guard for carrier and grant tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import used_jtis as t


class JtiRepository(Repository):
    async def consume(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        """True the first time (issuer, jti) is seen; False for a replay. Race-free."""
        values = {"issuer": issuer, "jti": jti, "expires_at": expires_at}
        return await insert_if_absent(self._conn, t, values)

    async def purge(self, now: datetime) -> int:
        """Drop ids of tokens expired before `now`; returns how many.

        Pass `now` minus the clock-skew leeway the verifier allows: a token still accepted
        as "not yet expired" must still be found here.
        """
        result = await self._conn.execute(delete(t).where(t.c.expires_at < now))
        return result.rowcount
