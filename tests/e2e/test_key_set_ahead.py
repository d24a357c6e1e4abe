"""A locker holding a key-set version above the network's is detected and repaired.

Real Mosquitto, real gateway, real emulator. A locker can hold a higher version than the
network (the gateway's database restored from a backup, a rogue push): it refuses every lower
version and answers the same version with other keys "Accepted, unchanged" (SPEC §9), so a
plain push can never reach it. The gateway notices at Boot, audits it, and raises the
network's key-set version past the locker's: the versions only grow, as §9 demands.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from functools import partial

from gateway.domain.audit import AuditAction
from gateway.tokens.network_keys import new_key
from tests.e2e.conftest import LOCKER, Site, eventually
from tests.e2e.test_offline_grants import held_version, issue, keyed, stored_version


async def held_kids(site: Site) -> set[str]:
    key_set = site.locker.model.grants.key_set
    return set() if key_set is None else set(key_set.keys)


async def test_a_locker_ahead_of_the_network_gets_its_keys_and_verifies_its_grants(
    site: Site,
) -> None:
    network = await keyed(site)
    # A rogue push (or the gateway's database restored from a backup): the locker now holds
    # version network + 5 with a key the gateway does not have.
    rogue = new_key(datetime.now(UTC))
    ahead = network + 5
    installed, reason = site.locker.model.grants.install(
        ahead, site.gateway.network_keys.issuer, [dict(rogue.public_jwk)]
    )
    assert installed, reason
    site.locker.go_offline(0.3)
    await asyncio.wait_for(site.locker.wait_booted(), 15)

    # Repaired: the network moved past the locker's version and pushed its own keys.
    await eventually(lambda: asyncio.sleep(0, site.gateway.network_keys.version > ahead), True, 15)
    repaired = site.gateway.network_keys.version
    await eventually(partial(held_version, site.locker), repaired, 15)
    await eventually(lambda: stored_version(site.gateway), repaired, 10)
    network_kids = {str(k["kid"]) for k in site.gateway.network_keys.key_set().keys}
    assert await held_kids(site) == network_kids

    async with site.gateway.store.transaction() as tx:
        seen = await tx.audit.latest(10, action=AuditAction.KEY_SET_AHEAD, subject=LOCKER)
    assert seen
    assert seen[-1].details["reported"] == ahead
    assert seen[-1].details["repaired"] is True
    assert seen[-1].details["network"] == network

    # And a grant the gateway issues opens the door.
    await site.book("AHEAD-1", "S")
    grant = await issue(site, "AHEAD-1")
    verdict = site.locker.present_grant(grant["token"])
    assert verdict.opened, verdict
