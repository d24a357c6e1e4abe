"""Network key rotation with overlap, shared by every instance through the database."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.domain.audit import AuditAction
from gateway.domain.door import OpenPurpose
from gateway.errors import IllegalTransition, NotFound
from gateway.sdk.keys import KeySet
from gateway.service.housekeeping import GRANT_REPORT_GRACE, Housekeeping
from gateway.service.parcels import ParcelService
from gateway.store import GrantRecord, Store
from gateway.tokens.grants import GrantRefusal, GrantRefused, GrantVerifier
from gateway.tokens.network_keys import MAX_PUBLISHED_KEYS, NetworkKeys, public_key_of
from tests.support.clock import MovableClock
from tests.tokens.grant_helpers import LOCKER, NETWORK, grant_signed_by

LEAD = timedelta(hours=1)


def keys_on(store: Store, clock: MovableClock, lead: timedelta = LEAD) -> NetworkKeys:
    return NetworkKeys(store=store, issuer=NETWORK, publish_lead=lead, clock=clock)


def verifier(keys: NetworkKeys, clock: MovableClock) -> GrantVerifier:
    return GrantVerifier(keys=keys.verification_keys(), issuer=NETWORK, clock=clock)


async def audit_actions(store: Store) -> list[tuple[str, str]]:
    async with store.transaction() as tx:
        return [(r.action, r.subject) for r in await tx.audit.latest(100)]


async def test_two_instances_agree_on_version_and_signer_after_refresh(store: Store) -> None:
    clock = MovableClock()
    a, b = keys_on(store, clock, timedelta(0)), keys_on(store, clock, timedelta(0))
    await a.ensure()
    await b.ensure()
    assert (a.version, a.kid) == (b.version, b.kid) == (1, a.kid)
    assert not await b.refresh()  # nothing changed

    new = await a.rotate()
    assert a.kid == new.kid  # lead 0: signs at once
    assert (b.version, b.kid) != (a.version, a.kid)  # b has not looked yet
    assert await b.refresh()
    assert (b.version, b.kid) == (a.version, a.kid) == (2, new.kid)
    assert b.public_jwks() == a.public_jwks()
    assert not await b.refresh()


async def test_a_rotated_key_is_published_at_once_but_signs_after_the_lead(store: Store) -> None:
    clock = MovableClock()
    keys = keys_on(store, clock)
    await keys.ensure()
    old = keys.kid
    new = await keys.rotate()

    assert new.activates_at == new.created_at + LEAD
    published = {jwk["kid"] for jwk in keys.public_jwks()["keys"]}
    assert published == {old, new.kid}
    key_set = keys.key_set()
    assert isinstance(key_set, KeySet)
    assert key_set.version == 2
    assert key_set.issuer == NETWORK
    assert {k["kid"] for k in key_set.keys} == {old, new.kid}
    assert all("d" not in k for k in key_set.keys)
    assert keys.kid == old  # still the old key signing

    # A locker holding the set verifies a grant of the new key before it signs anything.
    early = grant_signed_by(new.kid, keys, clock)
    assert verifier(keys, clock).verify(early, locker_id=LOCKER).aud == LOCKER

    clock.advance(LEAD.total_seconds() + 1)
    assert keys.kid == new.kid
    assert keys.signing_key().kid == new.kid


async def test_webhooks_are_signed_by_the_current_signer(store: Store) -> None:
    clock = MovableClock()
    keys = keys_on(store, clock)
    await keys.ensure()
    new = await keys.rotate()
    clock.advance(LEAD.total_seconds())
    signature = keys.sign_detached(b'{"event":1}')
    header_b64, _, sig_b64 = signature.split(".")
    assert f'"kid":"{new.kid}"' in base64.urlsafe_b64decode(header_b64 + "==").decode()
    body_b64 = base64.urlsafe_b64encode(b'{"event":1}').rstrip(b"=").decode()
    public: Ed25519PublicKey = public_key_of(new.public_jwk)
    raw_sig = base64.urlsafe_b64decode(sig_b64 + "=" * (-len(sig_b64) % 4))
    public.verify(raw_sig, f"{header_b64}.{body_b64}".encode())  # raises if it does not verify


async def test_retire_removes_a_key_and_its_grants_stop_verifying(store: Store) -> None:
    clock = MovableClock()
    keys = keys_on(store, clock)
    await keys.ensure()
    old = keys.kid
    old_grant = grant_signed_by(old, keys, clock)
    new = await keys.rotate()
    clock.advance(LEAD.total_seconds())

    retired = await keys.retire(old)
    assert retired.retired_at is not None
    assert keys.version == 3
    assert [jwk["kid"] for jwk in keys.public_jwks()["keys"]] == [new.kid]
    with pytest.raises(GrantRefused) as caught:
        verifier(keys, clock).verify(old_grant, locker_id=LOCKER)
    assert caught.value.reason is GrantRefusal.UNKNOWN_KID

    actions = await audit_actions(store)
    assert (AuditAction.KEY_CREATED.value, new.kid) in actions
    assert (AuditAction.KEY_RETIRED.value, old) in actions


async def test_the_last_signing_key_cannot_be_retired(store: Store) -> None:
    clock = MovableClock()
    keys = keys_on(store, clock)
    await keys.ensure()
    only = keys.kid
    with pytest.raises(IllegalTransition, match="last key able to sign"):
        await keys.retire(only)
    pending = await keys.rotate()
    # The new key is published but does not sign yet: retiring the old one would leave none.
    with pytest.raises(IllegalTransition, match="last key able to sign"):
        await keys.retire(only)
    clock.advance(LEAD.total_seconds())
    await keys.retire(only)
    assert keys.kid == pending.kid
    assert keys.version == 3
    with pytest.raises(IllegalTransition, match="last key able to sign"):
        await keys.retire(pending.kid)
    assert keys.version == 3


async def test_retiring_unknown_or_retired_keys_is_refused(store: Store) -> None:
    clock = MovableClock()
    keys = keys_on(store, clock, timedelta(0))
    await keys.ensure()
    first = keys.kid
    await keys.rotate()
    await keys.retire(first)
    with pytest.raises(IllegalTransition, match="retired already"):
        await keys.retire(first)
    with pytest.raises(NotFound):
        await keys.retire("no-such-kid")
    assert keys.version == 3  # refusals change nothing


async def test_a_key_set_never_grows_past_what_lockers_accept(store: Store) -> None:
    clock = MovableClock()
    keys = keys_on(store, clock, timedelta(0))
    await keys.ensure()
    for _ in range(MAX_PUBLISHED_KEYS - 1):
        await keys.rotate()
    with pytest.raises(IllegalTransition, match="retire one first"):
        await keys.rotate()
    assert len(keys.key_set().keys) == MAX_PUBLISHED_KEYS


async def test_instances_starting_together_create_one_key(store: Store) -> None:
    clock = MovableClock()
    many = [keys_on(store, clock) for _ in range(4)]
    await asyncio.gather(*(k.ensure() for k in many))
    assert len({(k.kid, k.version) for k in many}) == 1


async def test_a_verifier_from_the_key_set_holds_what_a_locker_holds(store: Store) -> None:
    clock = MovableClock()
    keys = keys_on(store, clock)
    await keys.ensure()
    pending = await keys.rotate()
    from_set = GrantVerifier.for_key_set(keys.key_set(), clock=clock)
    for kid in (keys.kid, pending.kid):
        assert from_set.verify(grant_signed_by(kid, keys, clock), locker_id=LOCKER).iss == NETWORK


async def test_housekeeping_refreshes_keys_and_purges_old_grants(store: Store) -> None:
    clock = MovableClock()
    here, there = keys_on(store, clock, timedelta(0)), keys_on(store, clock, timedelta(0))
    await here.ensure()
    await there.ensure()
    parcels = ParcelService(
        store=store,
        reservation_ttl=timedelta(hours=1),
        pickup_window=timedelta(hours=1),
        clock=clock,
    )
    housekeeping = Housekeeping(
        store=store,
        parcels=parcels,
        idempotency_retention=timedelta(hours=1),
        network_keys=here,
        clock=clock,
    )
    now = clock()
    expired_long_ago = now - GRANT_REPORT_GRACE - timedelta(hours=1)
    async with store.transaction() as tx:
        for jti, exp in (("old-grant-aaaaaaaaa", expired_long_ago), ("recent-grant-aaaaaa", now)):
            await tx.grants.add(
                GrantRecord(
                    jti=jti,
                    parcel_uid="uid",
                    locker_id=LOCKER,
                    compartment_code="A01",
                    action=OpenPurpose.PICKUP,
                    kid=here.kid,
                    not_before=exp - timedelta(hours=1),
                    expires_at=exp,
                    issued_at=exp - timedelta(hours=1),
                )
            )
    rotated = await there.rotate()

    await housekeeping.run_once()

    assert here.kid == rotated.kid
    assert here.version == there.version
    async with store.transaction() as tx:
        assert await tx.grants.get("old-grant-aaaaaaaaa") is None
        # Expired, but a locker that was offline may still report using it.
        assert await tx.grants.get("recent-grant-aaaaaa") is not None
