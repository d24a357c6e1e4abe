"""A carrier token's jti rides in the request's first transaction: no commit of its own, and a
replay is still refused exactly once, concurrent twins included, on both engines."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from gateway.app import Gateway
from tests.http.conftest import NETWORK, Site, provision, settings_for
from tests.support.carriers import TestCarrier

LOCKER = "WAW-CENTRAL-01"


async def test_one_token_sent_twice_at_once_books_one_parcel(site: Site) -> None:
    for round_ in range(3):  # the locker has 3 S compartments
        headers = site.acme.auth()

        async def book(n: int, headers: dict[str, str] = headers, r: int = round_) -> int:
            body = {"parcelId": f"TWIN-{r}-{n}", "lockerId": LOCKER, "sizeClass": "S"}
            twin = headers | {"Idempotency-Key": f"twin-{r}-{n}"}
            response = await site.client.post("/v1/parcels", json=body, headers=twin)
            if response.status_code == 401:
                assert "replayed" in response.json()["detail"], response.text
            return response.status_code

        statuses = await asyncio.gather(book(0), book(1))
        assert sorted(statuses) == [201, 401], statuses
        found = [(await site.get(f"/v1/parcels/TWIN-{round_}-{n}")).status_code for n in range(2)]
        assert sorted(found) == [200, 404], found  # the refused twin left nothing behind


async def test_one_token_sent_twice_at_once_reads_once(site: Site) -> None:
    for _ in range(4):
        headers = site.acme.auth()
        responses = await asyncio.gather(
            site.client.get("/v1/lockers", headers=headers),
            site.client.get(f"/v1/lockers/{LOCKER}", headers=headers),
        )
        assert sorted(r.status_code for r in responses) == [200, 401]


async def test_a_token_whose_request_failed_is_spent(site: Site) -> None:
    # 404 from inside the handler's transaction (rolled back): the id is recorded after it.
    headers = site.acme.auth()
    missing = await site.client.post(
        "/v1/parcels/NO-SUCH/open", json={}, headers=headers | {"Idempotency-Key": "no-such-1"}
    )
    assert missing.status_code == 404, missing.text
    again = await site.client.get("/v1/lockers", headers=headers)
    assert again.status_code == 401
    assert "replayed" in again.json()["detail"]
    # 422 before any transaction: spent as well.
    headers = site.acme.auth()
    invalid = await site.client.post("/v1/parcels", json={"nope": 1}, headers=headers)
    assert invalid.status_code == 422, invalid.text
    assert (await site.client.get("/v1/lockers", headers=headers)).status_code == 401


async def test_a_replay_of_a_used_token_changes_nothing(site: Site) -> None:
    headers = site.acme.auth()
    body = {"parcelId": "ONCE-1", "lockerId": LOCKER, "sizeClass": "M"}
    first = await site.client.post(
        "/v1/parcels", json=body, headers=headers | {"Idempotency-Key": "once-key-1"}
    )
    assert first.status_code == 201, first.text
    body = {"parcelId": "ONCE-2", "lockerId": LOCKER, "sizeClass": "M"}
    replay = await site.client.post(
        "/v1/parcels", json=body, headers=headers | {"Idempotency-Key": "once-key-2"}
    )
    assert replay.status_code == 401
    assert (await site.get("/v1/parcels/ONCE-2")).status_code == 404


class Transactions:
    """Each transaction's statements, per connection, from hooks on the Engine class (set
    before the gateway starts: adding a listener to a running engine races its users)."""

    def __init__(self) -> None:
        self.done: list[list[str]] = []
        self._open: dict[int, list[str]] = {}

    def begin(self, conn: Connection) -> None:
        self._open[id(conn)] = []
        self.done.append(self._open[id(conn)])

    def execute(self, conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("BEGIN") and id(conn) in self._open:
            self._open[id(conn)].append(statement)

    def of(self, marker: str) -> list[list[str]]:
        return [tx for tx in self.done if any(marker in s for s in tx)]


async def test_the_token_costs_no_transaction_of_its_own(database_url: str) -> None:
    acme = TestCarrier.ed25519("acme", NETWORK)
    seen = Transactions()
    event.listen(Engine, "begin", seen.begin)
    event.listen(Engine, "before_cursor_execute", seen.execute)
    try:
        async with (
            Gateway(settings=settings_for(database_url)) as gateway,
            httpx.AsyncClient(base_url=gateway.base_url) as client,
        ):
            await gateway.carriers.register("acme", acme.jwks)
            await provision(gateway, "waw-central.yaml")
            body = {"parcelId": "ONE-TX", "lockerId": LOCKER, "sizeClass": "M"}
            headers = acme.auth() | {"Idempotency-Key": "one-tx-key"}
            booked = await client.post("/v1/parcels", json=body, headers=headers)
            assert booked.status_code == 201, booked.text
            read = await client.get("/v1/parcels/ONE-TX", headers=acme.auth())
            assert read.status_code == 200, read.text
    finally:
        event.remove(Engine, "begin", seen.begin)
        event.remove(Engine, "before_cursor_execute", seen.execute)
    with_jti = seen.of("INSERT INTO used_jtis")
    assert len(with_jti) == 2, with_jti
    booking, reading = with_jti
    # Each id is the first statement of the request's own (first) transaction, not alone.
    assert "INSERT INTO used_jtis" in booking[0]
    assert any("INSERT INTO parcels" in s for s in booking), booking
    assert "INSERT INTO used_jtis" in reading[0]
    assert any("FROM parcels" in s for s in reading), reading
