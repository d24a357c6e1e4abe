"""SQL statements and transactions per booking, counted with SQLAlchemy event hooks.

Runs the gateway on SQLite (or PostgreSQL), books parcels through the HTTP API and prints how
many statements and transactions each booking sent to the database; `--show` lists the
statements of the last booking. The count is the lever behind reservations/s: each statement
is one round trip to the database's thread or server. `--flow open` and `--flow lifecycle`
count a remote open (the HTTP request and the locker's DoorOpened, until the gateway is quiet)
and a whole lifecycle (book, open, deposit, open, take) against an emulated locker, with the
gateway's background pollers left out and the parcel's state read through an engine the hooks
do not count (bench/door_transactions.py): deterministic figures on a loaded machine.
Usage: python -m bench.sql_counts [--bookings 20] [--database sqlite|postgresql] [--show]
       [--flow booking|open|lifecycle]
"""

from __future__ import annotations

import argparse

import httpx

from bench.support import (
    GATEWAY_NETWORK,
    StatementLog,
    bench_settings,
    database,
    event_loop_choice,
    run,
)
from gateway.app import Gateway
from gateway.client import nodelay_transport
from gateway.domain.compartment import Compartment
from gateway.domain.enums import SizeClass
from gateway.domain.locker import Location, Locker
from gateway.domain.sizes import STANDARD_SIZES
from tests.support.carriers import TestCarrier


async def count(kind: str, bookings: int, show: bool) -> None:
    carrier = TestCarrier.ed25519("bench", GATEWAY_NETWORK)
    with StatementLog.attached() as log:
        await _count(kind, bookings, show, carrier, log)


async def _count(
    kind: str, bookings: int, show: bool, carrier: TestCarrier, log: StatementLog
) -> None:
    async with database(kind) as url, Gateway(settings=bench_settings(url)) as gateway:
        await gateway.carriers.register("bench", carrier.jwks)
        spec = STANDARD_SIZES[SizeClass.S]
        doors = [
            Compartment("BENCH-1", f"C{n:05d}", SizeClass.S, spec.inside, spec.max_weight_g)
            for n in range(bookings)
        ]
        await gateway.lockers.provision(Locker("BENCH-1", "Bench", Location(0, 0)), doors)
        async with httpx.AsyncClient(
            base_url=gateway.base_url, transport=nodelay_transport()
        ) as client:
            per_booking: list[tuple[int, int]] = []
            last: list[str] = []
            for n in range(bookings):
                statements, begins = log.mark()
                body = {"parcelId": f"SQL-{n:05d}", "lockerId": "BENCH-1", "sizeClass": "S"}
                headers = carrier.auth() | {"Idempotency-Key": f"sql-{n:05d}"}
                response = await client.post("/v1/parcels", json=body, headers=headers)
                if response.status_code != 201:
                    raise RuntimeError(response.text)
                after_statements, after_begins = log.mark()
                per_booking.append((after_statements - statements, after_begins - begins))
                last = log.statements[statements:after_statements]
    # The first bookings warm caches (carrier keys, JTI table): report the steady state.
    steady = per_booking[len(per_booking) // 2 :]
    statements_each = sum(s for s, _ in steady) / len(steady)
    transactions_each = sum(b for _, b in steady) / len(steady)
    print(f"{kind}: POST /v1/parcels (steady state over {len(steady)} bookings)")
    print(f"  SQL statements per booking     {statements_each:5.1f}")
    print(f"  transactions per booking       {transactions_each:5.1f}")
    if show:
        for statement in last:
            print(f"    {statement[:160]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=20)
    parser.add_argument("--flow", choices=["booking", "open", "lifecycle"], default="booking")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--show", action="store_true", help="list the last booking's statements")
    event_loop_choice(parser)
    args = parser.parse_args()
    if args.flow == "booking":
        run(count(args.database, args.bookings, args.show), args.event_loop)
    else:
        from bench.sql_flows import count_flow  # the emulated locker: only for these flows

        run(count_flow(args.database, args.flow, args.bookings, args.show), args.event_loop)


if __name__ == "__main__":
    main()
