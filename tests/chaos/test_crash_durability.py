"""What the gateway acknowledged survives a PostgreSQL crash, whatever the server's defaults.

Found by the long chaos run (`python -m bench.chaos --long --seed 1`): one booking's
Idempotency-Key got two different 201 bodies, and a parcel was left `reserved` after its
deposit had shown as `ready_for_pickup`. Both came from commits the database acknowledged and
then lost in a crash (`pg_ctl stop -m immediate`): the chaos rig's cluster, like many a tuned
or test server, runs with `synchronous_commit = off`, so a commit is answered before its WAL
is written, and a crash forgets the last few hundred milliseconds of answered commits. The
gateway answered 201 (or acknowledged the door's event) for work the database then no longer
had; the retried POST booked the parcel again, in another compartment.

The gateway now insists on durable commits for its own sessions (gateway/store/engine.py),
as it does on SQLite (`synchronous=FULL`).
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gateway.domain.enums import ParcelAction, ParcelState, SizeClass
from gateway.domain.parcel import Parcel
from gateway.domain.sizes import SizeRequirement
from gateway.http import render
from gateway.service.idempotency import IdempotencyKey, Idempotent
from gateway.service.parcels import NewParcel, ParcelService
from gateway.store import Store
from tests.chaos.rig import NETWORK, lockers_layout, provision
from tests.conftest import PG_ADMIN_URL, PG_CONNECT_TIMEOUT_S
from tests.support.carriers import TestCarrier
from tests.support.postgres_cluster import PostgresCluster, PostgresMissing, require_binaries
from tests.support.requirements import missing

pytestmark = pytest.mark.postgres

BOOKINGS = 40  # the last ones land inside the window an asynchronous commit leaves open
LOCKER = "CHAOS-01"


def _booking(carrier_id: str, n: int) -> tuple[NewParcel, Idempotent[Parcel]]:
    cmd = NewParcel(
        carrier_id=carrier_id,
        parcel_id=f"DURABLE-{n:03d}",
        locker_id=LOCKER,
        need=SizeRequirement(size_class=SizeClass.S),
    )
    key = f"book-DURABLE-{n:03d}"
    return cmd, Idempotent(IdempotencyKey(key, key), render.parcel)


@pytest.fixture
def cluster() -> PostgresCluster:
    try:
        require_binaries()
    except PostgresMissing as err:
        missing("postgres", str(err))
    return PostgresCluster()


async def test_what_the_gateway_answered_before_a_database_crash_is_still_there_after_it(
    cluster: PostgresCluster,
) -> None:
    """(b) a booking answered 201 is replayed after the crash, not booked again; (c) a
    deposit the door's close applied is still applied (the parcel does not fall back to
    `reserved`)."""
    carrier = TestCarrier.ed25519("carrier-1", NETWORK)
    with cluster as pg:  # configured as the chaos rig's: synchronous_commit = off
        admin = await asyncpg.connect(pg.admin_url)
        try:
            assert await admin.fetchval("SHOW synchronous_commit") == "off"
            await admin.execute('CREATE DATABASE "durable"')
        finally:
            await admin.close()
        url = pg.url("durable")
        await provision(url, lockers_layout(1, BOOKINGS + 2), [carrier])
        async with Store.connect(url) as store:
            parcels = ParcelService(
                store=store, reservation_ttl=timedelta(hours=1), pickup_window=timedelta(days=2)
            )
            first = {}
            for n in range(BOOKINGS):
                cmd, idem = _booking(carrier.carrier_id, n)
                first[n] = await parcels.create(cmd, idem)
            await asyncio.to_thread(pg.restart, "immediate")  # a crash right after the 201s

            changed = []
            for n in range(BOOKINGS):
                cmd, idem = _booking(carrier.carrier_id, n)
                again = await parcels.create(cmd, idem)
                if not again.replayed or again.answer != first[n].answer:
                    changed.append(f"{cmd.parcel_id}: {first[n].answer} then {again.answer}")
            assert not changed, (
                f"{len(changed)} of {BOOKINGS} bookings answered 201 were lost in the crash "
                "and booked again:\n" + "\n".join(changed)
            )

            # Every door closes on its parcel (what a DoorClosed with the item applies), then
            # the database crashes right after the last one.
            uids = {
                n: (await parcels.get(carrier.carrier_id, f"DURABLE-{n:03d}")).uid for n in first
            }
            for uid in uids.values():
                moved = await parcels.apply_action(uid, ParcelAction.DEPOSIT)
                assert moved.state is ParcelState.READY_FOR_PICKUP
            await asyncio.to_thread(pg.restart, "immediate")

            fell_back = []
            for n in range(BOOKINGS):
                parcel = await parcels.get(carrier.carrier_id, f"DURABLE-{n:03d}")
                if parcel.state is not ParcelState.READY_FOR_PICKUP:
                    fell_back.append(f"{parcel.parcel_id}: {parcel.state}")
            assert not fell_back, (
                f"{len(fell_back)} of {BOOKINGS} applied deposits were lost in the crash:\n"
                + "\n".join(fell_back)
            )
            async with store.engine.connect() as conn:
                mode = (await conn.execute(text("SHOW synchronous_commit"))).scalar()
            assert mode == "on", "the gateway's session does not ask for durable commits"


@pytest.mark.parametrize(
    ("server", "session"),
    [("off", "on"), ("on", "on"), ("local", "local"), ("remote_apply", "remote_apply")],
)
async def test_the_gateway_session_commits_durably_whatever_the_database_default(
    server: str, session: str
) -> None:
    """A database whose default is `synchronous_commit = off` gets durable commits from the
    gateway's sessions; a stronger or other durable setting is left as the operator chose."""
    try:
        admin = await asyncpg.connect(PG_ADMIN_URL, timeout=PG_CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, asyncpg.PostgresError) as err:
        missing("postgres", f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {err!r}")
    name = f"openlocker_durable_{secrets.token_hex(4)}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = {server}')
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        async with Store.connect(url) as store, store.engine.connect() as conn:
            assert (await conn.execute(text("SHOW synchronous_commit"))).scalar() == session
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
