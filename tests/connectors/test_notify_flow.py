"""Recipient e-mails end to end: outbox -> engine -> access hook -> notifier -> real SMTP server."""

from __future__ import annotations

import base64
import json
import re
from email.message import EmailMessage
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from connectors.notify_common import QR_CID, qr_png
from gateway.domain.audit import AuditAction
from gateway.domain.door import OpenPurpose
from gateway.domain.enums import ParcelAction
from gateway.domain.webhooks import DeliveryState
from tests.connectors.notify_support import EMAIL, NAME, PERSONAL
from tests.connectors.notify_world import (
    LOCKER,
    World,
    no_personal_data_in_logs,
    recipient,
    world,
)

__all__ = ["no_personal_data_in_logs", "world"]  # fixtures, used by name

CODE = re.compile(r"Kod odbioru: (\d+)")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_with_jwks(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Check an EdDSA compact JWS against a published JWKS, independently of gateway.tokens."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    [jwk] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    assert (header["alg"], jwk["kty"], jwk["crv"]) == ("EdDSA", "OKP", "Ed25519")
    public = Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    public.verify(b64url_decode(signature_b64), f"{header_b64}.{payload_b64}".encode())
    claims: dict[str, Any] = json.loads(b64url_decode(payload_b64))
    return claims


def parts(message: EmailMessage) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("text/plain", "text/html"):
            found[kind] = part.get_content()
        elif kind == "image/png":
            found["png"] = (part["Content-ID"], part.get_content())
    return found


async def redeemable(world: World, code: str) -> bool:
    async with world.store.transaction() as tx:
        used = await world.codes.redeem(tx, LOCKER, code)
    return used is not None and used.purpose is OpenPurpose.PICKUP


async def test_ready_mail_carries_a_code_that_opens_and_a_grant_that_verifies(
    world: World,
) -> None:
    await world.attach_email()
    uid = await world.ready("NP-1", recipient())

    assert await world.deliver() == 1

    [mail] = world.smtp.received
    assert mail.rcpt_tos == (EMAIL,)
    message = mail.message
    assert message["To"] == EMAIL
    assert message["Subject"] == "Twoja paczka NP-1 czeka do odbioru w Centrum 01"
    assert message["Content-Language"] == "pl"
    assert message["Auto-Submitted"] == "auto-generated"
    found = parts(message)
    assert NAME in found["text/plain"]
    code = CODE.search(found["text/plain"]).group(1)  # type: ignore[union-attr]
    assert code in found["text/html"]
    assert f"cid:{QR_CID}" in found["text/html"]
    content_id, png = found["png"]
    assert content_id == f"<{QR_CID}>"

    # The QR in the mail is exactly the grant the hook issued for this very delivery...
    [event] = world.issued
    assert event.access is not None
    assert event.access.code == code
    assert event.access.qr == f"OLPG1:{event.access.grant}"
    assert png == qr_png(event.access.qr)
    # ...a grant for this parcel's door that the network's published keys verify...
    claims = verify_with_jwks(event.access.grant or "", world.keys.public_jwks())
    parcel = await world.parcels.get("acme", "NP-1")
    assert (claims["aud"], claims["sub"], claims["cmp"]) == (LOCKER, uid, parcel.compartment_code)
    assert claims["act"] == "pickup"
    # ...and the code opens the door once.
    assert await redeemable(world, code)
    assert not await redeemable(world, code)
    [row] = await world.rows()
    assert row.state is DeliveryState.DELIVERED


async def test_credentials_are_audited_as_the_notifier_not_the_carrier(world: World) -> None:
    await world.attach_email()
    uid = await world.ready("NP-2", recipient())
    await world.deliver()
    async with world.store.transaction() as tx:
        entries = [e for e in await tx.audit.latest(50) if e.subject == uid]
    issued = {e.action: e.actor for e in entries if e.actor.startswith("gateway:notifier")}
    assert issued == {
        AuditAction.CODE_ISSUED: "gateway:notifier/mail",
        AuditAction.GRANT_ISSUED: "gateway:notifier/mail",
    }


async def test_opt_out_sends_nothing_and_issues_no_code(world: World) -> None:
    await world.attach_email()
    await world.ready("NP-3", recipient(opt_out=True))
    await world.deliver()

    assert world.smtp.attempts == 0
    [row] = await world.rows()
    assert row.state is DeliveryState.SKIPPED
    assert row.last_error is not None
    assert "opted out" in row.last_error
    assert world.issued[0].access is None  # a working code was not revoked for nothing


async def test_no_recipient_or_no_email_is_skipped(world: World) -> None:
    await world.attach_email()
    await world.ready("NP-4", None)
    await world.ready("NP-5", recipient(email=None))
    await world.deliver()
    assert world.smtp.attempts == 0
    rows = await world.rows()
    assert [r.state for r in rows] == [DeliveryState.SKIPPED] * 2
    assert not any(p in (r.last_error or "") for r in rows for p in PERSONAL)


async def test_a_4xx_is_retried_with_a_fresh_code_and_the_first_still_works(
    world: World,
) -> None:
    await world.attach_email()
    await world.ready("NP-6", recipient())
    world.smtp.fail_next("451 4.3.0 Mailbox busy for zofia.recipient@example.org")

    await world.deliver()
    [row] = await world.rows()
    assert (row.state, row.attempts, row.last_status) == (DeliveryState.PENDING, 1, 451)
    assert row.last_error is not None
    assert "451 4.3.0" in row.last_error
    assert "zofia" not in row.last_error  # the server's text quoted the address; we do not
    assert world.smtp.received == []

    world.clock.advance(61)  # past the capped back-off
    await world.deliver()
    [mail] = world.smtp.received
    [row] = await world.rows()
    assert row.state is DeliveryState.DELIVERED
    first, second = (e.access.code or "" for e in world.issued if e.access)
    assert first != second
    assert second in parts(mail.message)["text/plain"]
    assert await redeemable(world, second)
    # Not replaced: an attempt that failed on our side may still have reached the recipient.
    assert await redeemable(world, first)


async def test_a_5xx_is_dead_at_once(world: World) -> None:
    await world.attach_email()
    await world.ready("NP-7", recipient())
    world.smtp.fail_next("550 5.1.1 <zofia.recipient@example.org>: Recipient address rejected")

    await world.deliver()
    [row] = await world.rows()
    assert (row.state, row.attempts, row.last_status) == (DeliveryState.DEAD, 1, 550)
    assert row.last_error is not None
    assert "550 5.1.1" in row.last_error
    assert not any(p in row.last_error for p in PERSONAL)


async def test_picked_up_confirmation_carries_no_credential(world: World) -> None:
    await world.attach_email()
    uid = await world.ready("NP-8", recipient(language="en"))
    await world.deliver()
    await world.parcels.apply_action(uid, ParcelAction.PICK_UP)
    await world.deliver()

    _ready, done = world.smtp.received
    assert done.message["Subject"] == "Parcel NP-8 has been picked up"
    assert "png" not in parts(done.message)
    assert world.issued[-1].access is None


async def test_a_ready_event_sent_after_pickup_is_skipped(world: World) -> None:
    await world.attach_email(events=["parcel.ready_for_pickup"])
    uid = await world.ready("NP-9", recipient())
    await world.parcels.apply_action(uid, ParcelAction.PICK_UP)  # before the engine ran

    await world.deliver()
    assert world.smtp.attempts == 0
    [row] = await world.rows()
    assert row.state is DeliveryState.SKIPPED
    assert row.last_error is not None
    assert "no longer waiting" in row.last_error


async def test_recipient_reaches_notifiers_only(world: World) -> None:
    await world.attach_email()
    await world.attach("hooks", "olp-webhooks", {"url": "https://carrier.example/hooks"}, None)
    await world.ready("NP-10", recipient())
    [mail_row] = [r for r in await world.rows("mail") if r.type == "parcel.ready_for_pickup"]
    hook_rows = await world.rows("hooks")
    assert mail_row.body["recipient"]["email"] == EMAIL
    assert hook_rows
    assert all("recipient" not in r.body for r in hook_rows)
    assert not any(p in json.dumps(r.body) for r in hook_rows for p in PERSONAL)


async def test_an_expired_parcel_never_hands_the_recipient_a_collect_code(world: World) -> None:
    await world.attach_email(events=["parcel.ready_for_pickup"])
    uid = await world.ready("NP-11", recipient())
    world.clock.advance(73 * 3600)
    assert await world.parcels.expire_due() == 1  # now `expired`: its door is the courier's

    await world.deliver()
    assert world.smtp.attempts == 0
    [row] = await world.rows()
    assert row.state is DeliveryState.SKIPPED
    async with world.store.transaction() as tx:
        issued = [e for e in await tx.audit.latest(50) if e.subject == uid]
    assert not [e for e in issued if e.action is AuditAction.CODE_ISSUED]


async def test_no_code_is_issued_for_a_recipient_without_an_address(world: World) -> None:
    await world.attach_email()
    uid = await world.ready("NP-12", recipient(email=None))
    carrier_code = await world.codes.issue("acme", "NP-12")  # the carrier handed out its own

    await world.deliver()
    [row] = await world.rows()
    assert row.state is DeliveryState.SKIPPED
    assert await redeemable(world, carrier_code.code)  # not revoked by a message never sent
    async with world.store.transaction() as tx:
        issued = [e for e in await tx.audit.latest(50) if e.subject == uid]
    assert not [e for e in issued if e.actor.startswith("gateway:notifier")]
