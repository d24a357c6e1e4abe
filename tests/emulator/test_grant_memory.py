"""The locker's grant vault at its edges: the expiry boundary, a full memory.

Pure: the vault alone, no MQTT. The gateway's verifier is the reference for the boundary, so
one token is checked by both implementations at the same instant.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from locker_emulator import grants as vault_module
from locker_emulator.grants import GrantRefused, GrantVault, Refusal
from locker_emulator.physics import Compartment

from gateway.tokens.grants import GrantRefusal, GrantVerifier
from gateway.tokens.grants import GrantRefused as GatewayRefused
from tests.support.grants import TestIssuer

LOCKER = "EMU-001"
NET = TestIssuer()


def _vault() -> GrantVault:
    vault = GrantVault()
    assert vault.install(1, NET.issuer, [NET.jwk]) == (True, None)
    return vault


def _doors() -> dict[str, Compartment]:
    # Occupied: a pickup fits, and keeps fitting however often the check runs.
    return {"A01": Compartment(code="A01", size_class="S", item_inside=True)}


def test_expiry_boundary_matches_the_gateway_verifier() -> None:
    now = int(time.time())
    # exp + leeway == now: the moment the grant stops being acceptable (RFC 7519 §4.1.4).
    token = NET.grant(locker=LOCKER, cmp="A01", act="pickup", now=now - 630, ttl=600)
    with pytest.raises(GatewayRefused) as refused_by_gateway:
        _gateway_at(now).verify(token, locker_id=LOCKER)
    assert refused_by_gateway.value.reason is GrantRefusal.EXPIRED
    with pytest.raises(GrantRefused) as refused_by_locker:
        _vault().check(token, locker_id=LOCKER, compartments=_doors(), now=now)
    assert refused_by_locker.value.reason is Refusal.EXPIRED
    # One second earlier both still accept it.
    assert _vault().check(token, locker_id=LOCKER, compartments=_doors(), now=now - 1)
    assert _gateway_at(now - 1).verify(token, locker_id=LOCKER).jti


def _gateway_at(now: int) -> GrantVerifier:
    return GrantVerifier(
        keys={NET.kid: NET.key.public_key()},
        issuer=NET.issuer,
        clock=lambda: datetime.fromtimestamp(now, UTC),
    )


def test_a_full_jti_memory_refuses_rather_than_forgets_a_live_grant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(vault_module, "USED_LIMIT", 2)
    vault, doors, now = _vault(), _doors(), int(time.time())
    tokens = [NET.grant(locker=LOCKER, cmp="A01", act="pickup", now=now) for _ in range(3)]
    for token in tokens[:2]:
        vault.mark_used(vault.check(token, locker_id=LOCKER, compartments=doors, now=now), now)
    # The memory is full of grants still valid: forgetting one would let it open again.
    with pytest.raises(GrantRefused) as full:
        vault.check(tokens[2], locker_id=LOCKER, compartments=doors, now=now)
    assert full.value.reason is Refusal.JTI_MEMORY_FULL
    for token in tokens[:2]:
        with pytest.raises(GrantRefused) as replay:
            vault.check(token, locker_id=LOCKER, compartments=doors, now=now)
        assert replay.value.reason is Refusal.REPLAYED
    # Once the used grants have expired, there is room again.
    later = now + 600 + vault_module.LEEWAY_SECONDS + 1
    fresh = NET.grant(locker=LOCKER, cmp="A01", act="pickup", now=later)
    assert vault.check(fresh, locker_id=LOCKER, compartments=doors, now=later).jti
