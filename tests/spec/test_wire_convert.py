"""Converters from the domain produce schema-valid bodies; requests become domain inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from gateway.domain.compartment import Compartment
from gateway.domain.enums import (
    CompartmentState,
    Direction,
    DoorState,
    ItemSensor,
    ParcelAction,
    ParcelState,
    SizeClass,
)
from gateway.domain.locker import Location, Locker, SizeAvailability
from gateway.domain.parcel import Parcel, announce, transition
from gateway.domain.sizes import Dimensions, SizeRequirement
from gateway.errors import ErrorCode, FieldIssue, IllegalTransition, ValidationFailed
from gateway.spec import Spec
from gateway.wire import (
    CreateParcelIn,
    Envelope,
    ExtendParcelIn,
    HealthOut,
    LockerListOut,
    ParcelEventListOut,
    compartment_to_wire,
    dump,
    event_to_wire,
    locker_to_wire,
    parcel_to_wire,
    problem_from_error,
)

T0 = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)


def new_parcel(**changes: object) -> Parcel:
    fields: dict[str, object] = {
        "uid": "u-1",
        "carrier_id": "acme",
        "parcel_id": "CP473120950PL",
        "direction": Direction.LAST_MILE,
        "state": ParcelState.ANNOUNCED,
        "locker_id": "WAW-MOK-01",
        "need": SizeRequirement(
            size_class=SizeClass.S, dimensions=Dimensions(300, 90, 420), weight_g=800
        ),
        "created_at": T0,
        "updated_at": T0,
    }
    fields.update(changes)
    return Parcel(**fields)  # type: ignore[arg-type]


def test_parcel_emits_nulls_and_utc_z(spec: Spec) -> None:
    body = dump(parcel_to_wire(new_parcel()))
    spec.validate("parcel", body)
    assert body["compartmentCode"] is None
    assert body["pickupUntil"] is None
    assert body["createdAt"] == "2025-03-14T09:26:53Z"
    assert body["requested"] == {
        "sizeClass": "S",
        "dimensionsMm": {"length": 420, "width": 300, "height": 90},
        "weightG": 800,
    }
    assert "uid" not in body
    assert "carrier_id" not in body
    assert "carrierId" not in body


def test_optional_requested_members_are_omitted(spec: Spec) -> None:
    parcel = new_parcel(need=SizeRequirement(size_class=SizeClass.M))
    body = dump(parcel_to_wire(parcel))
    assert body["requested"] == {"sizeClass": "M"}
    spec.validate("parcel", body)


def test_offsets_are_normalised_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    body = dump(parcel_to_wire(new_parcel(updated_at=datetime(2025, 3, 14, 10, 0, 0, 5, cet))))
    assert body["updatedAt"] == "2025-03-14T09:00:00.000005Z"


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError, match="no UTC offset"):
        parcel_to_wire(new_parcel(created_at=datetime(2025, 3, 14, 9, 26, 53)))


def test_history_converts(spec: Spec) -> None:
    first = announce(new_parcel(), T0)
    reserved = transition(first.parcel, ParcelAction.RESERVE, T0 + timedelta(seconds=1))
    failed = transition(
        reserved.parcel, ParcelAction.FAIL_DEPOSIT, T0 + timedelta(hours=1), fault=True
    )
    events = [event_to_wire(t.event) for t in (first, reserved, failed)]
    body = dump(ParcelEventListOut(parcel_id="CP473120950PL", items=events))
    spec.validate("parcel-event-list", body)
    assert [e["type"] for e in body["items"]] == [
        "parcel.announced",
        "parcel.reserved",
        "parcel.deposit_failed",
    ]
    assert body["items"][0]["fromState"] is None
    assert body["items"][2]["details"] == {"fault": True}


def test_locker_distance_only_when_near(spec: Spec) -> None:
    locker = Locker(
        id="WAW-MOK-01",
        name="Mokotów",
        location=Location(52.2297, 21.0122),
        features=frozenset({"accessible", "24h"}),
    )
    counts = [SizeAvailability(SizeClass.M, 0, 6), SizeAvailability(SizeClass.S, 4, 10)]
    plain = dump(locker_to_wire(locker, counts, None))
    near = dump(locker_to_wire(locker, counts, 412.66))
    assert "distanceM" not in plain
    assert "address" not in plain["location"]
    assert near["distanceM"] == 412.7
    assert plain["features"] == ["24h", "accessible"]
    assert [a["sizeClass"] for a in plain["availability"]] == ["S", "M"]
    spec.validate("locker-list", dump(LockerListOut(items=[], next_cursor=None)))
    spec.validate("locker", near)


def test_compartment_converts(spec: Spec) -> None:
    box = Compartment(
        locker_id="WAW-MOK-01",
        code="B07",
        size_class=SizeClass.M,
        inside=Dimensions(380, 410, 640),
        max_weight_g=20_000,
        state=CompartmentState.OUT_OF_SERVICE,
        door=DoorState.JAMMED,
    )
    body = dump(compartment_to_wire(box))
    spec.validate("compartment", body)
    assert body["insideMm"] == {"width": 380, "height": 410, "depth": 640}
    assert body["itemSensor"] == ItemSensor.UNKNOWN.value


def test_create_request_to_domain() -> None:
    body = {
        "parcelId": "p1",
        "lockerId": "L1",
        "dimensionsMm": {"length": 420, "width": 300, "height": 120},
        "weightG": 3100,
        "reservationTtlSeconds": 7200,
    }
    request = CreateParcelIn.model_validate(body)
    assert request.direction is Direction.LAST_MILE
    assert request.reserve is True
    assert request.size_requirement() == SizeRequirement(
        dimensions=Dimensions(width_mm=300, height_mm=120, depth_mm=420), weight_g=3100
    )
    assert request.reservation_ttl() == timedelta(hours=2)
    assert request.pickup_window() is None


@pytest.mark.parametrize(
    "body",
    [
        {"parcelId": "p1", "lockerId": "L1"},
        {"parcelId": "p1", "lockerId": "L1", "sizeClass": "S", "extra": 1},
        {
            "parcelId": "p1",
            "lockerId": "L1",
            "sizeClass": "S",
            "direction": "first_mile",
            "reserve": False,
        },
    ],
)
def test_models_refuse_what_the_schema_refuses(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CreateParcelIn.model_validate(body)


def test_extend_accepts_offsets_and_keeps_utc() -> None:
    request = ExtendParcelIn.model_validate({"pickupUntil": "2025-03-20T19:00:00+01:00"})
    assert request.pickup_until == datetime(2025, 3, 20, 18, tzinfo=UTC)
    assert request.pickup_until.tzinfo is UTC


def test_problem_from_validation_failure(spec: Spec) -> None:
    error = ValidationFailed("invalid x", issues=(FieldIssue("/weightG", "must be at most 1"),))
    body = dump(problem_from_error(error, instance="/v1/parcels"))
    spec.validate("problem", body)
    assert body["status"] == 422
    assert body["code"] == "PropertyConstraintViolation"
    assert body["type"] == "https://openlocker.dev/olp/v1/errors#PropertyConstraintViolation"
    assert body["errors"] == [{"pointer": "/weightG", "detail": "must be at most 1"}]


def test_problem_without_issues(spec: Spec) -> None:
    body = dump(problem_from_error(IllegalTransition("cannot pick_up a reserved parcel")))
    spec.validate("problem", body)
    assert body["title"] == "Illegal transition"
    assert body["status"] == 409
    assert "errors" not in body
    assert "instance" not in body


def test_envelope_rules_mirror_the_schema(spec: Spec) -> None:
    call = Envelope(id="m1", kind="call", action="OpenCompartment", ts=T0, src="gw-1", seq=1)
    body = dump(call)
    spec.validate("envelope", body)
    assert body["olp"] == "1.0"
    assert body["payload"] == {}
    assert "corr" not in body
    with pytest.raises(ValidationError, match="corr"):
        Envelope(id="m2", kind="result", action="OpenCompartment", ts=T0, src="L1", seq=2)
    with pytest.raises(ValidationError, match="error"):
        Envelope(id="m3", kind="error", action="X", corr="m1", ts=T0, src="L1", seq=3)
    err = Envelope.model_validate(
        {
            "id": "m4",
            "kind": "error",
            "action": "X",
            "corr": "m1",
            "ts": "2025-03-14T09:26:53Z",
            "src": "L1",
            "seq": 4,
            "error": {"code": "Timeout", "description": "no answer"},
        }
    )
    assert err.error is not None
    assert err.error.code is ErrorCode.TIMEOUT
    spec.validate("envelope", dump(err))


def test_health_body(spec: Spec) -> None:
    assert dump(HealthOut()) == {"status": "ok"}
    spec.validate("health", dump(HealthOut()))
