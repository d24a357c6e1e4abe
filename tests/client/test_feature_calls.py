"""The calls of issue 14's network features through the client, against a real gateway."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.client import CarrierApiError, CarrierClient, OtherEvent, parse_event
from gateway.spec import DEFAULT_SPEC_DIR
from gateway.wire import WebhookEventOut
from gateway.wire.bundles import WebhookBundleEventOut
from gateway.wire.courier import WebhookCourierEventOut
from gateway.wire.holds import WebhookHoldEventOut
from gateway.wire.webhooks import WebhookLockerEventOut
from tests.http.conftest import Site


async def test_precheck_hold_and_book_into_the_hold(acme: CarrierClient) -> None:
    soon = datetime.now(UTC) + timedelta(hours=2)
    check = await acme.precheck("WAW-CENTRAL-01", size_class="S", weight_g=500, at=soon)
    assert check.verdict == "accepted"
    assert check.locker_id == "WAW-CENTRAL-01"
    too_big = await acme.precheck(
        "WAW-CENTRAL-01", dimensions_mm={"length": 3000, "width": 3000, "height": 3000}
    )
    assert too_big.verdict == "does_not_fit"
    with pytest.raises(ValueError, match="size_class, dimensions_mm"):
        await acme.precheck("WAW-CENTRAL-01")

    hold = await acme.create_hold("WAW-CENTRAL-01", size_class="S", ttl_seconds=600)
    assert hold.state == "active"
    assert (await acme.hold(hold.hold_id)).hold_id == hold.hold_id
    parcel = await acme.book(
        "HELD-1", locker_id="WAW-CENTRAL-01", size_class="S", hold_id=hold.hold_id
    )
    assert parcel.state == "reserved"
    assert (await acme.hold(hold.hold_id)).state == "converted"
    other = await acme.create_hold("WAW-CENTRAL-01", size_class="M")
    released = await acme.release_hold(other.hold_id)
    assert released.state == "released"
    with pytest.raises(CarrierApiError) as unknown:
        await acme.hold("no-such-hold")
    assert unknown.value.status == 404


async def test_bundles_courier_rounds_manifest_and_self_service(
    site: Site, acme: CarrierClient
) -> None:
    bundle = await acme.create_bundle(
        "BND-1",
        locker_id="WAW-CENTRAL-01",
        parcels=[
            {"parcelId": "BND-1-A", "sizeClass": "S"},
            {"parcelId": "BND-1-B", "sizeClass": "XS"},
        ],
    )
    assert sorted(p.parcel_id for p in bundle.parcels) == ["BND-1-A", "BND-1-B"]
    assert (await acme.bundle("BND-1")).counts.total == 2
    code = await acme.bundle_code("BND-1")
    assert sorted(code.parcel_ids) == ["BND-1-A", "BND-1-B"]
    grant = await acme.bundle_grant("BND-1", purpose="deposit")
    assert (grant.action, sorted(grant.parcel_ids)) == ("deposit", ["BND-1-A", "BND-1-B"])

    session = await acme.open_courier_session("WAW-CENTRAL-01", courier_ref="van-7")
    assert session.code is not None
    assert session.state == "open"
    assert (await acme.courier_session(session.session_id)).courier_ref == "van-7"
    again = await acme.courier_session_code(session.session_id)
    assert again.code != session.code
    with pytest.raises(CarrierApiError) as offline:  # the locker is not connected
        await acme.open_courier_next_door(session.session_id)
    assert offline.value.code == "Unavailable"
    closed = await acme.close_courier_session(session.session_id)
    assert closed.state == "closed"
    with pytest.raises(CarrierApiError) as over:
        await acme.open_courier_next_door(session.session_id)
    assert over.value.code == "IllegalTransition"

    manifest = await acme.collection_manifest(["WAW-CENTRAL-01", "KRK-MAIN-01"])
    assert [m.locker_id for m in manifest.lockers] == ["WAW-CENTRAL-01", "KRK-MAIN-01"]

    link = await acme.self_service_link("BND-1-A")
    assert link.token in link.url
    assert link.expires_at > datetime.now(UTC)


def test_webhook_bodies_of_every_family_are_typed_and_unknown_ones_kept() -> None:
    other = parse_event(b'{"eventId": "e-1", "type": "returns.dropped_off", "x": 1}')
    assert isinstance(other, OtherEvent)
    assert (other.event_id, other.type, other.data["x"]) == ("e-1", "returns.dropped_off", 1)


EVENT_BODIES = {
    "webhook-event": WebhookEventOut,
    "webhook-locker-event": WebhookLockerEventOut,
    "webhook-hold-event": WebhookHoldEventOut,
    "webhook-bundle-event": WebhookBundleEventOut,
    "webhook-courier-event": WebhookCourierEventOut,
}


@pytest.mark.parametrize(
    "example",
    sorted(
        path
        for name in EVENT_BODIES
        for path in (DEFAULT_SPEC_DIR / "examples" / name).glob("*.json")
    ),
    ids=lambda path: f"{path.parent.name}/{path.stem}",
)
def test_every_published_webhook_example_parses_to_its_family(example: Path) -> None:
    event = parse_event(example.read_bytes())
    assert type(event) is EVENT_BODIES[example.parent.name]
    assert event.event_id == json.loads(example.read_bytes())["eventId"]


def test_every_webhook_body_schema_has_a_family() -> None:
    schemas = {p.stem for p in DEFAULT_SPEC_DIR.glob("webhook-*event.json")}
    assert schemas == set(EVENT_BODIES)


async def test_holds_listed_and_returns_without_a_label(acme: CarrierClient) -> None:
    await acme.create_hold("WAW-CENTRAL-01", size_class="S")
    await acme.create_hold("KRK-MAIN-01", size_class="M")
    held = await acme.list_holds(locker_id="KRK-MAIN-01", state="active")
    assert [h.locker_id for h in held.items] == ["KRK-MAIN-01"]

    ret = await acme.create_return("WAW-CENTRAL-01", reference="RMA-1", size_class="S")
    assert ret.state == "awaiting_dropoff"
    assert ret.code is not None
    assert ret.qr is not None
    again = await acme.return_code(ret.return_id)
    assert again.code is not None
    assert again.code != ret.code
    labelled = await acme.bind_return_label(ret.return_id, "JJD0001234567890")
    assert labelled.label == "JJD0001234567890"
    fetched = await acme.get_return(ret.return_id)
    assert (fetched.label, fetched.code) == ("JJD0001234567890", None)  # clear code shown once
    with pytest.raises(CarrierApiError) as twice:
        await acme.create_return("WAW-CENTRAL-01", reference="RMA-1", size_class="S")
    assert twice.value.code == "AlreadyExists"
