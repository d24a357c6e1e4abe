"""Housekeeping deletes expired operator sessions and stale sign-in counters, a batch per
transaction; a sign-in no longer sweeps them in its own transaction."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Table, func, select

from gateway.auth.operator_sessions import OperatorAuth, Purged
from gateway.domain.operators import LoginPolicy
from gateway.service.housekeeping import Housekeeping
from gateway.store.tables import login_attempts, operator_sessions
from tests.admin.conftest import IDLE_S, AdminSite, problem


async def rows(site: AdminSite, table: Table) -> int:
    async with site.gateway.store.engine.connect() as conn:
        found = await conn.execute(select(func.count()).select_from(table))
        return int(found.scalar_one())


def purging_in_twos(site: AdminSite) -> OperatorAuth:
    """The gateway's sign-in rules, purging two rows a transaction."""
    o = site.gateway.settings.operators
    return OperatorAuth(
        store=site.gateway.store,
        sessions=site.gateway.operator_auth.sessions,
        logins=LoginPolicy(
            max_failures=o.login_max_failures,
            window=o.login_window,
            lockout_base=o.login_lockout_base,
            lockout_cap=o.login_lockout_cap,
        ),
        clock=site.clock,
        purge_batch=2,
    )


async def test_housekeeping_deletes_expired_sessions_in_batches(admin_site: AdminSite) -> None:
    for _ in range(5):
        await admin_site.desk("vera")
    admin_site.clock.advance(IDLE_S + 1)
    live = await admin_site.desk("oscar")
    # The sign-in left the expired ones alone: its transaction stays short.
    assert await rows(admin_site, operator_sessions) == 6

    housekeeping = Housekeeping(
        store=admin_site.gateway.store,
        parcels=admin_site.gateway.parcels,
        idempotency_retention=timedelta(days=1),
        operator_auth=purging_in_twos(admin_site),
        clock=admin_site.clock,
    )
    await housekeeping.run_once()

    assert await rows(admin_site, operator_sessions) == 1
    assert (await live.get("/v1/admin/session")).status_code == 200


async def test_one_batch_deletes_at_most_its_limit(admin_site: AdminSite) -> None:
    for _ in range(3):
        await admin_site.desk("vera")
    admin_site.clock.advance(IDLE_S + 1)
    async with admin_site.gateway.store.transaction() as tx:
        assert await tx.operators.purge_sessions(admin_site.clock(), limit=2) == 2
    assert await rows(admin_site, operator_sessions) == 1


async def test_stale_counters_are_purged_in_batches(admin_site: AdminSite) -> None:
    desk = await admin_site.desk()
    for name in ("nobody", "noone"):
        problem(await desk.login(name, "guess"), 401, "SecurityError")
    assert await rows(admin_site, login_attempts) == 3  # two accounts and the address
    o = admin_site.gateway.settings.operators
    admin_site.clock.advance((o.login_window + o.login_lockout_cap).total_seconds() + 1)

    purged = await purging_in_twos(admin_site).purge_expired()

    assert purged == Purged(sessions=0, counters=3)
    assert await rows(admin_site, login_attempts) == 0
