"""The carriers' keys cached in memory: one statement per request, rotations seen in time."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from gateway.auth.carrier_keys import CarrierKeyCache
from gateway.auth.carrier_tokens import CarrierAuthenticator, _select_key
from gateway.errors import AuthenticationFailed
from gateway.service.carriers import CarrierService
from gateway.store import Store
from tests.http.conftest import NETWORK
from tests.support.carriers import TestCarrier


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        sql = str(args[2])
        if not sql.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE is sent as a statement
            seen.append(sql)

    engine = store.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def authenticator(store: Store, ticks: Ticks) -> CarrierAuthenticator:
    keys = CarrierKeyCache(
        store=store, ttl=timedelta(seconds=5), min_reload=timedelta(seconds=1), monotonic=ticks
    )
    return CarrierAuthenticator(store=store, network_id=NETWORK, keys=keys)


def bearer(carrier: TestCarrier) -> str:
    return f"Bearer {carrier.token()}"


async def test_a_cached_carrier_costs_only_the_jti_insert(store: Store) -> None:
    acme = TestCarrier.ed25519("acme", NETWORK)
    await CarrierService(store=store).register("acme", acme.jwks)
    auth = authenticator(store, Ticks())
    with statements(store) as first:
        await auth.authenticate(bearer(acme))
    assert any("FROM carriers" in s for s in first)
    with statements(store) as second:
        identity = await auth.authenticate(bearer(acme))
    assert identity.carrier_id == "acme"
    assert len(second) == 1, second
    assert "INSERT INTO used_jtis" in second[0], second


async def test_a_replay_is_still_refused_with_the_keys_cached(store: Store) -> None:
    acme = TestCarrier.ed25519("acme", NETWORK)
    await CarrierService(store=store).register("acme", acme.jwks)
    auth = authenticator(store, Ticks())
    token = bearer(acme)
    await auth.authenticate(token)
    with pytest.raises(AuthenticationFailed, match="replayed"):
        await auth.authenticate(token)


async def test_a_key_added_elsewhere_is_used_at_once(store: Store) -> None:
    """A rotation made by another process: the new kid is not cached, so the carrier is re-read
    before the token is refused."""
    old = TestCarrier.ed25519("acme", NETWORK, kid="old")
    carriers = CarrierService(store=store)
    await carriers.register("acme", old.jwks)
    ticks = Ticks()
    auth = authenticator(store, ticks)
    await auth.authenticate(bearer(old))
    new = TestCarrier.ed25519("acme", NETWORK, kid="new")
    await carriers.replace_keys("acme", new.jwks)
    ticks.now += 1.5  # past min_reload, well within the TTL
    assert (await auth.authenticate(bearer(new))).carrier_id == "acme"


async def test_unknown_kids_reload_at_most_once_per_min_reload(store: Store) -> None:
    acme = TestCarrier.ed25519("acme", NETWORK, kid="k1")
    await CarrierService(store=store).register("acme", acme.jwks)
    ticks = Ticks()
    auth = authenticator(store, ticks)
    await auth.authenticate(bearer(acme))
    stranger = TestCarrier.ed25519("acme", NETWORK, kid="made-up")
    with statements(store) as seen:
        for _ in range(3):
            with pytest.raises(AuthenticationFailed, match="no registered key matches"):
                await auth.authenticate(bearer(stranger))
    assert sum("FROM carriers" in s for s in seen) == 0, "reloaded within min_reload"
    ticks.now += 1.5
    with (
        statements(store) as seen,
        pytest.raises(AuthenticationFailed, match="no registered key matches"),
    ):
        await auth.authenticate(bearer(stranger))
    assert sum("FROM carriers" in s for s in seen) == 1


async def test_a_removed_key_is_refused_once_the_ttl_has_passed(store: Store) -> None:
    old = TestCarrier.ed25519("acme", NETWORK, kid="k1")
    carriers = CarrierService(store=store)
    await carriers.register("acme", old.jwks)
    ticks = Ticks()
    auth = authenticator(store, ticks)
    await auth.authenticate(bearer(old))
    await carriers.replace_keys("acme", TestCarrier.ed25519("acme", NETWORK, kid="k2").jwks)
    ticks.now += 4.0  # the bound this cache accepts: the old key passes within the TTL
    await auth.authenticate(bearer(old))
    ticks.now += 1.5
    with pytest.raises(AuthenticationFailed, match="no registered key matches"):
        await auth.authenticate(bearer(old))


async def test_a_carrier_registered_after_a_miss_is_found(store: Store) -> None:
    acme = TestCarrier.ed25519("acme", NETWORK)
    auth = authenticator(store, Ticks())
    with pytest.raises(AuthenticationFailed, match="unknown issuer"):
        await auth.authenticate(bearer(acme))
    await CarrierService(store=store).register("acme", acme.jwks)
    assert (await auth.authenticate(bearer(acme))).carrier_id == "acme"


async def test_a_registered_key_is_parsed_once_not_per_request(store: Store) -> None:
    """Parsing a JWK (PyJWT's algorithm table, the cryptography key) was ~6 % of the gateway's
    CPU per parcel lifecycle when done per request: the parsed key is reused."""
    acme = TestCarrier.ed25519("acme", NETWORK)
    header = {"alg": acme.alg, "kid": acme.kid}
    first = _select_key(acme.jwks, header)
    assert _select_key(acme.jwks, header) is first
    assert _select_key(copy.deepcopy(acme.jwks), header) is first  # same members, same key


async def test_a_key_replaced_under_the_same_kid_is_not_served_from_the_parsed_keys(
    store: Store,
) -> None:
    """The parsed keys are keyed by the key's members, not its kid: new material under an old
    kid is parsed afresh, and the old key's tokens are refused once the TTL has passed."""
    old = TestCarrier.ed25519("acme", NETWORK, kid="k1")
    carriers = CarrierService(store=store)
    await carriers.register("acme", old.jwks)
    ticks = Ticks()
    auth = authenticator(store, ticks)
    await auth.authenticate(bearer(old))
    new = TestCarrier.ed25519("acme", NETWORK, kid="k1")
    await carriers.replace_keys("acme", new.jwks)
    ticks.now += 5.5
    assert (await auth.authenticate(bearer(new))).carrier_id == "acme"
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(bearer(old))
