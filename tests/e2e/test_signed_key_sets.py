"""Signed SetKeySet end to end (issue 12): a real Mosquitto, the gateway, the emulated locker.

A rogue client on the broker can publish on a locker's command topic with a `gw:` source. It
must not be able to install its own grant keys: the locker pins the network root key and
installs only sets that key signed for it (SPEC §9 "Signed key sets"). Each attack waits for
the locker's own `error` reply (the rogue listens where the locker answers), so nothing here
waits a fixed time; then the locker still holds the network's set and refuses the rogue's
grant.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import aiomqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from locker_emulator.olp_client import EmulatedLocker
from locker_emulator.root_trust import RootKey as PinnedRoot

from gateway.domain.audit import AuditAction
from gateway.sdk.keys import KeySet
from gateway.sdk.mqtt import topics
from gateway.tokens.root_key import KEY_SET_JWS_TYPE, key_set_signed_object, sign_detached
from tests.e2e.conftest import LOCKER, Site, eventually
from tests.support.grants import TestIssuer

INSTANCE = "gw-1"  # the gateway's instance name in tests: the rogue claims to be it


def _ts(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@asynccontextmanager
async def rogue(site: Site) -> AsyncIterator[aiomqtt.Client]:
    """A client of the broker listening where the locker answers `gw:gw-1`."""
    async with aiomqtt.Client("127.0.0.1", site.broker.port, identifier="rogue") as client:
        await client.subscribe(topics.gateway_reply(INSTANCE, LOCKER), qos=1)
        yield client


async def send(client: aiomqtt.Client, payload: dict[str, Any]) -> dict[str, Any]:
    """Publish a SetKeySet as `gw:gw-1`; the locker's reply to it (result or error)."""
    now = datetime.now(UTC)
    call = {
        "olp": "1.0",
        "id": str(uuid.uuid4()),
        "kind": "call",
        "action": "SetKeySet",
        "ts": _ts(now),
        "exp": _ts(now + timedelta(seconds=30)),
        "src": f"gw:{INSTANCE}",
        "seq": 1,
        "payload": payload,
    }
    await client.publish(topics.command(LOCKER, "SetKeySet"), json.dumps(call), qos=1)
    async with asyncio.timeout(10):
        async for message in client.messages:
            reply: dict[str, Any] = json.loads(bytes(message.payload))
            if reply.get("corr") == call["id"]:
                return reply
    raise AssertionError("the subscription ended")


def refused_with_security_error(reply: dict[str, Any], *words: str) -> None:
    assert reply["kind"] == "error", reply
    assert reply["error"]["code"] == "SecurityError", reply
    for word in words:
        assert word in reply["error"]["description"], reply


async def keyed(site: Site) -> int:
    """Until the locker holds the network's current key set; returns its version."""
    version = site.gateway.network_keys.version
    await eventually(partial(held, site.locker), version, 15)
    return version


async def held(locker: EmulatedLocker) -> int | None:
    return locker.key_set_version


def kids(locker: EmulatedLocker) -> set[str]:
    key_set = locker.model.grants.key_set
    return set() if key_set is None else set(key_set.keys)


def forged_grant_opens_nothing(site: Site, issuer: TestIssuer) -> None:
    token = issuer.sign(issuer.claims(locker=LOCKER, cmp="S01"))
    verdict = site.locker.present_grant(token)
    assert not verdict.accepted
    assert verdict.reason == "unknown_kid", verdict


async def test_a_genuine_set_is_installed_and_the_locker_pins_the_network_root(site: Site) -> None:
    version = await keyed(site)
    assert kids(site.locker) == {k.kid for k in site.gateway.network_keys.records()}
    assert site.locker.model.root_key is not None
    assert site.locker.model.root_key.kid == site.gateway.root_key.kid
    assert version >= 1


async def test_a_set_signed_by_another_root_is_refused_and_the_locker_keeps_its_keys(
    site: Site,
) -> None:
    version = await keyed(site)
    before = kids(site.locker)
    attacker = TestIssuer(issuer=site.gateway.network_keys.issuer)
    forged = attacker.key_set(version + 100)
    other_root = Ed25519PrivateKey.generate()
    signed = {**forged, "lockerId": LOCKER}
    forged["signature"] = sign_detached(other_root, "rogue-root", KEY_SET_JWS_TYPE, signed)
    async with rogue(site) as client:
        reply = await send(client, forged)
        refused_with_security_error(reply, "rogue-root")
        # The same forged set claiming the real root's kid: the signature does not verify.
        forged["signature"] = sign_detached(
            other_root, site.gateway.root_key.kid, KEY_SET_JWS_TYPE, signed
        )
        refused_with_security_error(await send(client, forged), "does not verify")
    assert site.locker.key_set_version == version
    assert kids(site.locker) == before
    assert site.locker.model.counters.key_sets_refused == 2
    forged_grant_opens_nothing(site, attacker)
    # The locker answered `gw:gw-1`, whose name was taken: the gateway audits both attempts.
    await eventually(partial(forged_reports, site), 2, 10)


async def forged_reports(site: Site) -> int:
    async with site.gateway.store.transaction() as tx:
        rows = await tx.audit.page(limit=500)
    return sum(
        1
        for r in rows
        if r.action == AuditAction.KEY_SET_REFUSED
        and r.subject == LOCKER
        and r.details.get("forged") is True
        and r.actor == f"locker:{LOCKER}"
    )


async def test_an_unsigned_set_is_refused(site: Site) -> None:
    version = await keyed(site)
    attacker = TestIssuer(issuer=site.gateway.network_keys.issuer)
    async with rogue(site) as client:
        refused_with_security_error(await send(client, attacker.key_set(version + 1)), "not signed")
    assert site.locker.key_set_version == version
    forged_grant_opens_nothing(site, attacker)
    await eventually(partial(forged_reports, site), 1, 10)


async def test_a_genuine_set_signed_for_another_locker_is_refused_here(site: Site) -> None:
    """Replay: the real root's signature, but for another locker (and a version ahead)."""
    version = await keyed(site)
    real = site.gateway.network_keys.key_set()
    ahead = KeySet(version=version + 1, issuer=real.issuer, keys=real.keys)
    for_other = site.gateway.root_key.sign_key_set(ahead, "KRK-MAIN-01")
    payload = {
        "version": ahead.version,
        "issuer": ahead.issuer,
        "keys": [dict(k) for k in ahead.keys],
        "signature": for_other.signature,
    }
    async with rogue(site) as client:
        refused_with_security_error(await send(client, payload), "does not verify")
        # The same set signed for this locker installs: the test can tell the two apart.
        payload["signature"] = site.gateway.root_key.sign_key_set(ahead, LOCKER).signature
        reply = await send(client, payload)
    assert reply["kind"] == "result", reply
    assert reply["payload"]["status"] == "Accepted", reply
    assert site.locker.key_set_version == version + 1


async def test_a_root_rotation_reaches_the_locker_endorsed_by_the_old_root(site: Site) -> None:
    await keyed(site)
    old_kid = site.gateway.root_key.kid
    await site.gateway.root_key.rotate(actor="operator")
    new_kid = site.gateway.root_key.kid
    assert new_kid != old_kid

    async def pinned() -> str | None:
        root = site.locker.model.root_key
        return None if root is None else root.kid

    # The version moved with the rotation: the distributor pushes, signed by the new root.
    await eventually(pinned, new_kid, 20)
    await keyed(site)
    # A set signed by the old root now opens nothing: the locker moved on.
    stale = site.gateway.network_keys.key_set()
    signed = key_set_signed_object(
        KeySet(version=stale.version + 1, issuer=stale.issuer, keys=stale.keys), LOCKER
    )
    async with rogue(site) as client:
        payload = {k: v for k, v in signed.items() if k != "lockerId"}
        payload["signature"] = sign_detached(
            Ed25519PrivateKey.generate(), old_kid, KEY_SET_JWS_TYPE, signed
        )
        refused_with_security_error(await send(client, payload), old_kid)


async def test_a_push_the_locker_refuses_is_audited_at_the_gateway(site: Site) -> None:
    """A locker pinned to another root refuses the gateway's own set: a security event."""
    await keyed(site)
    stranger = Ed25519PrivateKey.generate()
    site.locker.model.root_key = PinnedRoot.from_jwk(TestIssuer(key=stranger).jwk)
    await site.gateway.network_keys.rotate(actor="operator")  # a new version: a push follows

    async def refused() -> list[str]:
        async with site.gateway.store.transaction() as tx:
            rows = await tx.audit.page(limit=500)
        return [r.subject for r in rows if r.action == AuditAction.KEY_SET_REFUSED][:1]

    await eventually(refused, [LOCKER], 20)
    assert site.locker.model.counters.key_sets_refused >= 1
    # The next sweep is refused again (the counter says so), but audited once per version.
    before = site.locker.model.counters.key_sets_refused
    assert await site.gateway.key_distributor.sweep(site.gateway.network_keys.key_set()) == 0
    assert site.locker.model.counters.key_sets_refused > before
    async with site.gateway.store.transaction() as tx:
        rows = await tx.audit.page(limit=500)
    assert sum(1 for r in rows if r.action == AuditAction.KEY_SET_REFUSED) == 1
