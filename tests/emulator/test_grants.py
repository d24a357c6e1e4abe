"""The emulated locker's offline grant check: SetKeySet, the scanner, refusals, replay, outages."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from locker_emulator import EmulatorBank, Spec
from locker_emulator.grants import GrantVault, Refusal
from locker_emulator.physics import Compartment

from tests.emulator.conftest import ROOT, make_bank
from tests.emulator.fake_gateway import FakeGateway, is_event
from tests.support.grants import TestIssuer, b64url, tamper, unsigned
from tests.support.mosquitto import Mosquitto

LOCKER = "EMU-001"
NET = TestIssuer()


async def install(gateway: FakeGateway, payload: dict[str, Any]) -> dict[str, Any]:
    """Send SetKeySet, signed for LOCKER by the pinned root unless it is signed already, and
    return the locker's reply message."""
    if "signature" not in payload:
        payload = ROOT.sign(payload, LOCKER)
    command = await gateway.command(LOCKER, "SetKeySet", payload)
    return (await gateway.reply_to(command)).message


@pytest.fixture
async def keyed(bank: EmulatorBank, gateway: FakeGateway) -> EmulatorBank:
    """The booted EMU-001 holding key set 1 of NET."""
    reply = await install(gateway, NET.key_set(1))
    assert reply["payload"] == {"status": "Accepted", "version": 1}, reply
    return bank


# ----- SetKeySet over MQTT -----


async def test_set_key_set_installs_reports_and_refuses_older_versions(
    bank: EmulatorBank, gateway: FakeGateway
) -> None:
    locker = bank[LOCKER]
    assert locker.key_set_version is None
    rotated = TestIssuer(issuer=NET.issuer)
    reply = await install(gateway, NET.key_set(5, rotated))
    assert reply["kind"] == "result"
    assert reply["payload"] == {"status": "Accepted", "version": 5}
    await gateway.wait_for(lambda s: s.action == "State" and s.payload["keySetVersion"] == 5)
    older = await install(gateway, NET.key_set(4))
    assert older["payload"]["status"] == "Rejected"
    assert older["payload"]["version"] == 5
    assert "older" in older["payload"]["reason"]
    same = await install(gateway, NET.key_set(5))
    assert same["payload"] == {"status": "Accepted", "version": 5}
    twice = {**NET.key_set(6), "keys": [NET.jwk, NET.jwk]}
    duplicate = await install(gateway, twice)
    assert duplicate["payload"]["status"] == "Rejected"
    assert "kid" in duplicate["payload"]["reason"]
    # A private member breaks the schema itself: FormatViolation, and nothing installed.
    private = await install(gateway, {**NET.key_set(7), "keys": [NET.private_jwk]})
    assert private["kind"] == "error"
    assert private["error"]["code"] == "FormatViolation"
    foreign = await install(gateway, {**NET.key_set(7), "keys": [{**NET.jwk, "crv": "P-256"}]})
    assert foreign["error"]["code"] == "FormatViolation"
    assert locker.key_set_version == 5
    # The version survives a reconnect and is reported in the next Boot.
    locker.go_offline(0.2, power_loss=True)
    await gateway.wait_for(
        lambda s: s.action == "Boot" and s.payload.get("keySetVersion") == 5, within=10
    )
    assert locker.key_set_version == 5


# ----- the scanner -----


async def test_a_grant_opens_its_door_and_door_opened_names_it(
    keyed: EmulatorBank, gateway: FakeGateway
) -> None:
    locker = keyed[LOCKER]
    token = NET.grant(locker=LOCKER, cmp="A02", act="deposit", sub="uid-42")
    verdict = locker.present_grant("OLPG1:" + token)
    assert verdict.accepted, verdict
    assert verdict.opened, verdict
    assert locker.compartment("A02").door == "open"
    opened = await gateway.wait_for(is_event("DoorOpened"))
    assert opened.payload["compartmentCode"] == "A02"
    jti = verdict.jti
    assert opened.payload["grant"] == {"jti": jti, "act": "deposit", "sub": "uid-42"}
    locker.deposit("A02")
    closed = await gateway.wait_for(is_event("DoorClosed"))
    assert closed.payload == {"compartmentCode": "A02", "itemSensor": "present"}
    assert closed.message["seq"] > opened.message["seq"]
    # Now occupied: a pickup grant for it works, a second deposit does not.
    deposit = locker.present_grant(NET.grant(locker=LOCKER, cmp="A02", act="deposit"))
    assert (deposit.accepted, deposit.reason) == (False, Refusal.WRONG_ACTION)
    pickup = locker.present_grant(NET.grant(locker=LOCKER, cmp="A02", act="pickup"))
    assert pickup.opened


def duplicated(issuer: TestIssuer, name: str, value: str) -> str:
    """A validly signed grant whose payload names `name` twice (the second a forgery)."""
    claims = issuer.claims(locker=LOCKER, cmp="A01")
    body = json.dumps(claims)[:-1] + f', "{name}": "{value}-evil"}}'
    head = b64url(json.dumps({"alg": "EdDSA", "typ": "olp-grant+jwt", "kid": issuer.kid}).encode())
    signing_input = f"{head}.{b64url(body.encode())}"
    return f"{signing_input}.{b64url(issuer.key.sign(signing_input.encode()))}"


def _refusals(now: int) -> dict[str, tuple[str, Refusal]]:
    stranger = TestIssuer(issuer=NET.issuer)
    good = NET.grant(locker=LOCKER, cmp="A01")
    return {
        "wrong compartment": (NET.grant(locker=LOCKER, cmp="Z99"), Refusal.WRONG_COMPARTMENT),
        "wrong act (pickup from empty)": (
            NET.grant(locker=LOCKER, cmp="A01", act="pickup"),
            Refusal.WRONG_ACTION,
        ),
        "service act": (NET.grant(locker=LOCKER, cmp="A01", act="service"), Refusal.WRONG_ACTION),
        "other locker": (NET.grant(locker="EMU-002", cmp="A01"), Refusal.WRONG_AUDIENCE),
        "other network": (
            TestIssuer(issuer="elsewhere", kid=NET.kid, key=NET.key).grant(
                locker=LOCKER, cmp="A01"
            ),
            Refusal.WRONG_ISSUER,
        ),
        "expired": (
            NET.grant(locker=LOCKER, cmp="A01", now=now - 3600, ttl=600),
            Refusal.EXPIRED,
        ),
        "not yet valid": (
            NET.grant(locker=LOCKER, cmp="A01", nbf=now + 600, ttl=1200),
            Refusal.NOT_YET_VALID,
        ),
        "unknown kid": (stranger.grant(locker=LOCKER, cmp="A01"), Refusal.UNKNOWN_KID),
        "foreign key, known kid": (
            TestIssuer(issuer=NET.issuer, kid=NET.kid).grant(locker=LOCKER, cmp="A01"),
            Refusal.BAD_SIGNATURE,
        ),
        "alg none": (
            unsigned(NET.claims(locker=LOCKER, cmp="A01"), NET.kid),
            Refusal.MALFORMED,
        ),
        "alg HS256": (
            NET.sign(
                NET.claims(locker=LOCKER, cmp="A01"),
                header={"alg": "HS256", "typ": "olp-grant+jwt", "kid": NET.kid},
            ),
            Refusal.BAD_ALGORITHM,
        ),
        "wrong typ": (
            NET.sign(
                NET.claims(locker=LOCKER, cmp="A01"),
                header={"alg": "EdDSA", "typ": "JWT", "kid": NET.kid},
            ),
            Refusal.BAD_TYPE,
        ),
        "tampered payload": (tamper(good, cmp="A03"), Refusal.BAD_SIGNATURE),
        "truncated": (good[: len(good) // 2], Refusal.MALFORMED),
        "no signature": (good.rsplit(".", 1)[0], Refusal.MALFORMED),
        "oversized": (good + "A" * 5000, Refusal.OVERSIZED),
        "garbage": ("not a grant at all", Refusal.MALFORMED),
        "crit header": (
            NET.sign(
                NET.claims(locker=LOCKER, cmp="A01"),
                header={"alg": "EdDSA", "typ": "olp-grant+jwt", "kid": NET.kid, "crit": ["x"]},
            ),
            Refusal.MALFORMED,
        ),
        "duplicate claim": (duplicated(NET, "aud", LOCKER), Refusal.MALFORMED),
        "claim of the wrong type": (
            NET.sign(NET.claims(locker=LOCKER, cmp="A01") | {"exp": "soon"}),
            Refusal.MALFORMED,
        ),
    }


async def test_bad_grants_open_nothing_and_say_why(
    keyed: EmulatorBank, gateway: FakeGateway
) -> None:
    locker = keyed[LOCKER]
    journaled = locker.model.journal.last_seq
    for name, (token, reason) in _refusals(int(time.time())).items():
        verdict = locker.present_grant(token)
        assert not verdict.accepted, name
        # alg none has an empty signature part: not even three usable parts.
        assert verdict.reason == reason, (name, verdict)
        assert not verdict.opened
        assert all(c.door == "closed" for c in locker.model.compartments.values()), name
        display = locker.display
        assert display is not None
        assert display["message"] == "CodeRejected"
        assert display["text"].startswith("Grant refused: "), display
    notes = [e.get("note", "") for e in locker.log_entries() if e["topic"] == "grant"]
    assert len(notes) == len(_refusals(int(time.time())))
    assert all(note.startswith("refused: ") for note in notes)
    # Every event is journaled the moment it happens, before it goes on the wire: no door
    # event at all means none can reach the gateway later.
    assert locker.model.journal.last_seq == journaled
    assert gateway.where(is_event("DoorOpened")) == []


async def test_alg_none_with_a_signature_part_is_refused_for_its_algorithm(
    keyed: EmulatorBank,
) -> None:
    claims = NET.claims(locker=LOCKER, cmp="A01")
    token = unsigned(claims, NET.kid) + "c2ln"
    verdict = keyed[LOCKER].present_grant(token)
    assert verdict.reason == Refusal.BAD_ALGORITHM


async def test_a_used_grant_stays_used_across_reconnect_and_power_loss(
    keyed: EmulatorBank, gateway: FakeGateway
) -> None:
    locker = keyed[LOCKER]
    token = NET.grant(locker=LOCKER, cmp="A01")
    assert locker.present_grant(token).opened
    locker.close("A01")
    again = locker.present_grant(token)
    assert (again.accepted, again.reason) == (False, Refusal.REPLAYED)
    locker.go_offline(0.2, power_loss=True)
    async with asyncio.timeout(10):
        await locker.wait_until(lambda: not locker.online)
        await locker.wait_booted()
    after = locker.present_grant(token)
    assert (after.accepted, after.reason) == (False, Refusal.REPLAYED)
    assert locker.key_set_version == 1


async def test_no_key_set_no_grant(bank: EmulatorBank) -> None:
    verdict = bank[LOCKER].present_grant(NET.grant(locker=LOCKER, cmp="A01"))
    assert (verdict.accepted, verdict.reason) == (False, Refusal.NO_KEY_SET)


async def test_cut_off_from_the_broker_it_still_opens_and_reports_in_order_later(
    broker: Mosquitto, keyed: EmulatorBank, gateway: FakeGateway
) -> None:
    locker = keyed[LOCKER]
    broker.stop()
    async with asyncio.timeout(10):
        await locker.wait_until(lambda: not locker.online)
    verdict = locker.present_grant(NET.grant(locker=LOCKER, cmp="A03", sub="uid-offline"))
    assert verdict.opened
    locker.deposit("A03")
    assert len(locker.model.outbox) >= 2
    broker.start()
    async with asyncio.timeout(15):
        await locker.wait_booted()
    opened = await gateway.wait_for(
        lambda s: is_event("DoorOpened")(s) and s.payload.get("grant") is not None, within=10
    )
    closed = await gateway.wait_for(is_event("DoorClosed"), within=10)
    assert opened.payload["grant"]["sub"] == "uid-offline"
    assert opened.message["seq"] < closed.message["seq"]


async def test_control_api_presents_grants(
    broker: Mosquitto, spec: Spec, gateway: FakeGateway
) -> None:
    async with make_bank(broker, spec, control_port=0) as bank:
        async with asyncio.timeout(5):
            await bank.wait_all_booted()
        assert (await install(gateway, NET.key_set(2)))["payload"]["status"] == "Accepted"
        assert bank.control_url is not None
        async with aiohttp.ClientSession(base_url=bank.control_url) as http:
            token = NET.grant(locker=LOCKER, cmp="A01")
            async with http.post(f"/lockers/{LOCKER}/grant", json={"token": token}) as ok:
                assert ok.status == 200
                body = await ok.json()
            assert body["accepted"]
            assert body["opened"]
            assert body["compartmentCode"] == "A01"
            bank[LOCKER].close("A01")
            async with http.post(f"/lockers/{LOCKER}/grant", json={"token": token}) as replay:
                assert replay.status == 403
                assert (await replay.json())["reason"] == "replayed"
            async with http.post(f"/lockers/{LOCKER}/grant", json={"code": "1"}) as bad:
                assert bad.status == 400
            async with http.get(f"/lockers/{LOCKER}") as shown:
                assert (await shown.json())["keySetVersion"] == 2


# ----- the vault, without MQTT -----


def _compartments(**doors: Compartment) -> dict[str, Compartment]:
    return dict(doors)


def test_vault_install_rules() -> None:
    vault = GrantVault()
    assert vault.install(3, "net", [NET.jwk]) == (True, None)
    accepted, reason = vault.install(2, "net", [NET.jwk])
    assert not accepted
    assert reason is not None
    assert "older" in reason
    accepted, reason = vault.install(4, "net", [NET.private_jwk])
    assert not accepted
    assert reason is not None
    assert "private" in reason
    accepted, reason = vault.install(4, "net", [{**NET.jwk, "kty": "EC"}])
    assert not accepted
    assert reason is not None
    assert "Ed25519" in reason
    accepted, reason = vault.install(4, "net", [{**NET.jwk, "x": "AAAA"}])
    assert not accepted
    assert reason is not None
    assert "32-byte" in reason
    assert vault.install(4, "net", []) == (False, "a key set holds at least one key")
    assert vault.version == 3


def test_vault_leeway_and_forgetting_used_grants() -> None:
    vault = GrantVault()
    vault.install(1, NET.issuer, [NET.jwk])
    doors = _compartments(A01=Compartment(code="A01", size_class="S"))
    now = int(time.time())
    # Expired 10 s ago: still inside the 30 s leeway; 60 s ago: outside.
    late = NET.grant(locker=LOCKER, cmp="A01", now=now - 610, ttl=600)
    grant = vault.check(late, locker_id=LOCKER, compartments=doors, now=now)
    vault.mark_used(grant, now)
    assert grant.jti in vault.used
    # Once its grant could no longer be accepted anyway, the id is forgotten.
    vault.forget_expired(now + 60)
    assert grant.jti not in vault.used
